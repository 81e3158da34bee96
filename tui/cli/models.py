"""Commands that take a trained model elsewhere: ``deepterm predict`` (a stored run's
predictions on a CSV file's rows), and what ``deepterm runs export`` does with
``--model`` (a .keras or .onnx file) and ``--format tensorboard``.

    deepterm predict 3fa1 --csv titanic_pred.csv -o predictions.csv
    deepterm runs export 3fa1 --model titanic.onnx
    deepterm runs export --format tensorboard logs

Registered on ``tui.cli.commands.cli`` when ``tui.cli`` is imported.
"""

from __future__ import annotations

from pathlib import Path

import click

from engine.text import printable

from .commands import BadInput, Failure, cli, open_store, store_option, warn_damaged, write_file


@cli.command("predict")
@click.argument("run_id")
@click.option("--csv", "csv_path", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="the rows to predict: a CSV file with the training data's feature columns")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the predictions to this CSV file (default: stdout)")
@store_option
def predict_command(run_id, csv_path, output, store_path) -> None:
    """Predict with a stored run's model on the rows of a CSV file.

    The file's columns are matched to the training data's by name (its target
    column, when there, is left out), or by position when they are named
    0..n-1 or the file has no header and there are exactly as many as the
    training data had besides its target. They are encoded, filled and
    standardized as the training data was. One output row per input row: a
    probability per class (p_CLASS) and the predicted class, or the predicted
    value for regression. The run must have kept its weights (train
    --save-weights; the app's runs keep theirs).

    \b
    Examples:
      deepterm predict 3fa1 --csv titanic_pred.csv
      deepterm predict 3fa1 --csv new.csv -o predictions.csv
    """
    from engine.predict import model_of_run, predict_csv

    store = open_store(store_path, must_exist=True)
    run = store.get(run_id, weights=True)
    table = predict_csv(model_of_run(run), csv_path)
    text = table.to_csv()
    # with the CSV on stdout, the notes go to stderr, as warnings do
    for note in table.notes:
        click.echo(f"{'' if output else 'deepterm: '}note: {printable(note)}", err=output is None)
    if output is None:
        click.echo(text, nl=False)
        return
    write_file(output, text, "the predictions")
    click.echo(f"wrote {output}: {len(table.outputs)} predictions")


def export_run_model(store, run_id: str, path: Path) -> None:
    """`runs export ID --model FILE`: the stored run's trained model as a .keras or .onnx
    file, and a line saying what its input takes."""
    from engine.export import export_model
    from engine.predict import model_of_run

    run = store.get(run_id, weights=True)
    model = model_of_run(run)
    kind = export_model(model, path)
    spec = model.spec
    scaled = "standardized " if model.metadata.get("preprocessing") else ""
    click.echo(f"wrote {path}: {kind} model of run {run.id}, input ({spec.input_dim} "
               f"{scaled}features) -> output ({spec.output_dim})")
    if scaled:
        where = "its deepterm_export.json entry" if kind == "Keras" else \
            "its metadata 'deepterm.preprocessing'"
        click.echo(f"note: standardize new rows first, as `deepterm predict` does: (x - mean) / "
                   f"scale with the training rows' mean and scale, kept in the file ({where})")


def export_tensorboard(store, folder: Path, run_ids: tuple[str, ...]) -> None:
    """`runs export --format tensorboard DIR [ID...]`: the runs (every readable one when
    no id is given) as TensorBoard event files under DIR."""
    from engine.tensorboard_export import export_runs

    if run_ids:
        runs = [store.get(run_id) for run_id in run_ids]
    else:
        listed = store.list()
        warn_damaged(listed.damaged)
        runs = [store.get(r.id) for r in listed]
    if not runs:
        raise BadInput(f"no runs in {store.path} to export")
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"{folder}: not a folder; --format tensorboard writes into a folder")
    try:
        written = export_runs(runs, folder)
    except OSError as exc:
        raise Failure(f"{exc.filename or folder}: cannot write the event files "
                      f"({exc.strerror or exc})") from None
    groups = {r.group for r in runs if r.group}
    swept = f" ({len(groups)} sweep{'s' if len(groups) > 1 else ''} in their own folders)" \
        if groups else ""
    click.echo(f"wrote {len(written)} run{'s' if len(written) > 1 else ''} to {folder}{swept}; "
               f"view them with: tensorboard --logdir {folder}")
