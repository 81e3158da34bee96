"""The command line end to end: `python -m tui ...` in subprocesses (exit codes,
output, the store they leave), plus the store faults a subprocess cannot
stage (read-only, full disk) through click's runner in this process."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.store import ENV_VAR, RunStore

ROOT = Path(__file__).resolve().parents[1]
CIRCLE = ["--dataset", "circle", "--dataset-option", "n=100", "--layers", "8"]


def deepterm(*args: str, store: Path | None = None, env: dict | None = None,
             input: str | None = None) -> subprocess.CompletedProcess:
    """Run the CLI; never lets it near the user's own store."""
    full_env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    full_env["XDG_DATA_HOME"] = str(store.parent if store else ROOT / ".no-store-here")
    full_env["DEEPTERM_LOG"] = os.devnull   # TensorFlow's native lines: not in the user's log
    full_env.update(env or {})
    extra = ["--store", str(store)] if store is not None else []
    return subprocess.run([sys.executable, "-m", "tui", *args, *extra], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, input=input, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def epoch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("epoch ")]


def run_id_of(text: str) -> str:
    found = re.search(r"^run ([0-9a-f]{10}) ", text, re.M)
    assert found, text
    return found.group(1)


def circle_run(store: RunStore, epochs: int = 4, **kw):
    """A run made in this process, as `deepterm train` would make it."""
    import datasets
    from tui.cli import run_config

    ds = datasets.load("circle", n=100)
    spec = run_config(ds, "circle", None, {"n": 100}, [8], "relu", kw.pop("optimizer", "adam"),
                      kw.pop("lr", 0.01), None).spec(2)
    return engine.train(spec, ds, store=store, epochs=epochs, validation_split=0.3, **kw)


@pytest.fixture
def filled(tmp_path):
    """A store holding two runs on circle (4 and 6 epochs)."""
    store = RunStore(tmp_path / "runs.db")
    first = circle_run(store, epochs=4, label="adam")
    second = circle_run(store, epochs=6, optimizer="sgd", lr=0.1, label="sgd")
    return store, first, second


# -- train ------------------------------------------------------------------------------------


def test_train_prints_one_line_per_epoch_then_final_metrics_and_the_run_id(tmp_path):
    store = tmp_path / "runs.db"
    proc = deepterm("train", *CIRCLE, "--epochs", "5", "--batch-size", "16", store=store)
    assert proc.returncode == 0, proc.stderr
    lines = epoch_lines(proc.stdout)
    assert [line.split()[1] for line in lines] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    run = RunStore(store).get(run_id_of(proc.stdout))
    assert run.status == "completed" and run.epochs_done == 5
    assert run.dataset["name"] == "circle" and run.dataset["rows"] == 100
    assert run.spec.loss == "categorical_crossentropy" and run.spec.output_dim == 2
    assert run.fit["batch_size"] == 16
    for line, loss, val_loss in zip(lines, run.history.history["loss"],
                                    run.history.history["val_loss"]):
        assert f"loss {loss:.4f}" in line and f"val_loss {val_loss:.4f}" in line
    final = re.search(r"^final .*val_accuracy (\S+)", proc.stdout, re.M)
    assert final and float(final.group(1)) == pytest.approx(
        run.final["val_accuracy"], abs=1e-4)
    assert "\x1b[" not in proc.stdout  # no progress bar, no colours when not on a terminal


def test_early_stopping_exits_0_and_keeps_the_run_as_early_stopped(tmp_path):
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", "titanic", "--epochs", "40", "--patience", "1",
                    store=store)
    assert proc.returncode == 0, proc.stderr
    run = RunStore(store).get(run_id_of(proc.stdout))
    assert run.status == "early_stopped" and run.epochs_done < 40
    assert len(epoch_lines(proc.stdout)) == run.epochs_done
    assert "stopped early" in proc.stdout


@pytest.mark.parametrize("patience, why", [
    (0, "at the first epoch without val_loss improvement"),
    (1, "no val_loss improvement for 1 epoch"),
    (2, "no val_loss improvement for 2 epochs"),
])
def test_early_stopping_says_why_in_words_that_fit_the_patience(tmp_path, patience, why):
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", "titanic", "--layers", "8", "--epochs", "60",
                    "--patience", str(patience), store=store)
    assert proc.returncode == 0, proc.stderr
    run = RunStore(store).get(run_id_of(proc.stdout))
    assert run.status == "early_stopped" and run.fit["patience"] == patience
    assert f"run {run.id} stopped early after {run.epochs_done} of 60 epochs ({why}) in " \
        in proc.stdout
    val_loss = run.history.history["val_loss"]
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    assert len(val_loss) - 1 - best == max(patience, 1)   # epochs without improvement at the end


def test_a_diverging_run_exits_1_with_one_line_and_is_kept_as_diverged(tmp_path):
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", "wages", "--optimizer", "sgd", "--lr", "1e6",
                    "--epochs", "5", store=store)
    assert proc.returncode == 1
    assert "diverged" in one_line_error(proc) and "--lr" in proc.stderr
    (run,) = RunStore(store).list()
    assert run.status == "diverged" and run.epochs_done < 5
    assert run.id in proc.stdout


@pytest.mark.parametrize("args, words", [
    (["train", "--dataset", "titanic", "--lr", "-1"], "--lr must be a finite number > 0"),
    (["train", "--dataset", "no-such-set"], "no such dataset"),
    (["train", "--dataset", "titanic", "--target", "age"], "--target"),
    (["train", "--dataset", "circle", "--dataset-option", "n=2"], "n must be"),
    (["train", "--dataset", "titanic", "--epochs", "0"], "epochs"),
    (["train", "--dataset", "wages", "--loss", "categorical_crossentropy"], "regression"),
    (["runs", "show", "feedface00"], "deepterm runs list"),
    (["sweep", "--experiment", "depth", "--layers", "8"], "drop --layers"),
    (["sweep", "--dataset", "titanic", "--setting", "units", "--values", "10,0"], "units values"),
    (["sweep", "--dataset", "titanic", "--setting", "learning_rate", "--values", "0.01,20"],
     "learning_rate values must be at most 10, got '20'"),
])
def test_bad_arguments_exit_2_with_a_one_line_reason(tmp_path, args, words):
    store = tmp_path / "runs.db"
    RunStore(store).list()  # an existing, empty store: the unknown id is the only fault
    circle_run(RunStore(store), epochs=1)
    proc = deepterm(*args, store=store)
    assert proc.returncode == 2, proc.stderr
    assert words in one_line_error(proc)
    assert [r.epochs_done for r in RunStore(store).list()] == [1]  # nothing trained or kept


@pytest.mark.parametrize("layers", ["0", "8,0", "0,8", "-4", "8,-1", "", "8,,4", "abc"])
def test_layers_refuses_0_and_negatives_with_a_one_line_reason(layers):
    proc = deepterm("train", *CIRCLE[:4], "--layers", layers, "--epochs", "1", "--no-store")
    assert proc.returncode == 2
    assert one_line_error(proc) == (
        f"Error: --layers takes hidden layer sizes, whole numbers >= 1 separated by commas "
        f"(e.g. 50,32), or 'none' for no hidden layer; image layers go first: "
        f"conv{{filters}}x{{kernel}}[s{{stride}}][same], pool{{size}}, then flatten "
        f"(e.g. conv8x3,pool2,flatten,64); got {layers!r}")
    assert proc.stdout == ""     # refused before anything trained


def test_layers_none_trains_without_a_hidden_layer():
    proc = deepterm("train", *CIRCLE[:4], "--layers", "None", "--epochs", "1", "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert "training circle (100 rows): 2 -> 2 softmax;" in proc.stdout


def test_target_0_picks_the_first_column_of_a_file_without_a_header(tmp_path):
    data = tmp_path / "headerless.csv"
    rng = np.random.default_rng(3)
    rows = [(int(label), *rng.integers(0, 9, size=3)) for label in np.arange(60) % 3]
    data.write_text("".join(",".join(map(str, row)) + "\n" for row in rows))
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", str(data), "--target", "0", "--layers", "4",
                    "--epochs", "1", store=store)
    assert proc.returncode == 0, proc.stderr
    assert "training headerless (60 rows): 3 -> 4 relu -> 3 softmax;" in proc.stdout
    run = RunStore(store).get(run_id_of(proc.stdout))
    assert run.dataset["target_name"] == "col_0" and run.dataset["n_classes"] == 3
    out_of_range = deepterm("train", "--dataset", str(data), "--target", "4", "--no-store")
    assert out_of_range.returncode == 2
    assert "target column '4' does not exist: no column has that name, and the file has 4 " \
        "columns (0..3)" in one_line_error(out_of_range)


@pytest.mark.parametrize("name, target, output", [
    ("hourly_wages.csv", "wage_per_hour", "9 -> 4 relu -> 1 linear; mse"),
    ("titanic_all_numeric.csv", "survived", "10 -> 4 relu -> 2 softmax"),
    ("mnist.csv", "col_0", "784 -> 4 relu -> 10 softmax"),   # no header row: the label first
])
def test_without_target_the_course_files_train_on_their_own_target(course_data, tmp_path, name,
                                                                   target, output):
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", str(course_data / name), "--layers", "4",
                    "--epochs", "1", store=store)
    assert proc.returncode == 0, proc.stderr
    training = next(line for line in proc.stdout.splitlines() if line.startswith("training "))
    assert output in training
    run = RunStore(store).get(run_id_of(proc.stdout))
    assert run.dataset["target_name"] == target


def _messy_csv(path: Path) -> float:
    """200 rows: 5 without a label, 3 more without x1, a text column city; returns the
    mean of x1 over the rows that keep their label."""
    rng = np.random.default_rng(7)
    x1 = rng.normal(10, 2, size=200).round(2)
    x2 = rng.normal(size=200).round(3)
    city = rng.choice(["oslo", "rome", "lima"], size=200)
    label = rng.integers(0, 2, size=200)
    no_label, no_x1 = [3, 50, 51, 120, 199], [10, 11, 160]
    lines = ["x1,x2,city,label"]
    for i in range(200):
        lines.append(f"{'' if i in no_x1 else x1[i]},{x2[i]},{city[i]},"
                     f"{'' if i in no_label else label[i]}")
    path.write_text("\n".join(lines) + "\n")
    kept = [i for i in range(200) if i not in no_label and i not in no_x1]
    return float(x1[kept].mean())


def _expected_notes(mean: float) -> list[str]:
    return ["note: no target given: chose 'label' (named like a target)",
            "note: dropped 5 rows with no 'label'",
            "note: task inferred from 'label': binary (2 different values)",
            f"note: filled 3 missing values of 'x1' with the mean {mean:g} and flagged them in "
            f"'x1_was_missing'",
            "note: one-hot encoded 'city' into 3 columns"]


def test_train_prints_what_csv_import_did_on_stdout_before_training(tmp_path):
    data = tmp_path / "messy.csv"
    mean = _messy_csv(data)
    proc = deepterm("train", "--dataset", str(data), "--layers", "4", "--epochs", "1",
                    "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[:5] == _expected_notes(mean)
    assert lines[5].startswith("training messy (195 rows): 6 -> 4 relu -> 2 softmax;")


def test_a_sweep_on_a_csv_prints_its_notes_before_the_runs(tmp_path):
    data = tmp_path / "messy.csv"
    mean = _messy_csv(data)
    proc = deepterm("sweep", "--dataset", str(data), "--target", "label", "--setting", "units",
                    "--values", "2,4", "--epochs", "1", "--no-chart", "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[:4] == _expected_notes(mean)[1:]     # the target was named: no choice to note
    assert lines[4].startswith("sweep sweep-") and "messy, 2 runs over units (2, 4)" in lines[4]


@pytest.mark.parametrize("option, value, error", [
    ("--lr", "-1", "--lr must be a finite number > 0, got -1.0"),
    ("--lr", "inf", "--lr must be a finite number > 0, got inf"),
    ("--batch-size", "0", "--batch-size must be a whole number >= 1, got 0"),
    ("--patience", "-1", "--patience must be a whole number >= 0, got -1"),
    ("--seed", "-1", "--seed must be a whole number >= 0, got -1"),
])
def test_errors_name_the_option_and_offer_nothing_a_command_line_cannot_type(option, value,
                                                                             error):
    proc = deepterm("train", *CIRCLE, "--epochs", "1", option, value, "--no-store")
    assert proc.returncode == 2
    assert one_line_error(proc) == f"Error: {error}"


def test_the_library_still_offers_none_for_the_default_learning_rate():
    from engine import Layer, ModelSpec

    with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0 \(or None "
                                         r"for the optimizer's default\), got -1"):
        ModelSpec(input_dim=2, layers=[Layer(1)], learning_rate=-1)


def test_click_usage_errors_exit_2():
    proc = deepterm("train", "--dataset", "titanic", "--optimizer", "nadam")
    assert proc.returncode == 2 and "'nadam' is not one of" in proc.stderr


# -- runs ----------------------------------------------------------------------------------------


def test_runs_list_show_and_export(filled, tmp_path):
    store, first, second = filled
    listed = deepterm("runs", "list", store=store.path)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:3] == ["ID", "CREATED", "(UTC)"]
    assert [r.split()[0] for r in rows[1:]] == [second.id, first.id]  # newest first
    assert "sgd" in rows[1] and "6/6" in rows[1] and "completed" in rows[1]

    shown = deepterm("runs", "show", first.id[:4], store=store.path)
    assert shown.returncode == 0, shown.stderr
    assert f"run        {first.id}  completed" in shown.stdout
    assert "2 -> 8 relu -> 2 softmax" in shown.stdout
    history = shown.stdout.split("\n\n")[1].splitlines()
    assert history[0].split() == ["epoch", *first.history.history]
    assert len(history) == 1 + 4
    assert f"{first.history.history['val_loss'][3]:.4f}" in history[4]

    csv_text = deepterm("runs", "export", first.id, store=store.path)
    assert csv_text.returncode == 0, csv_text.stderr
    assert csv_text.stdout.splitlines()[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert len(csv_text.stdout.splitlines()) == 5
    assert csv_text.stderr == ""


def test_runs_export_counts_epochs_from_1_and_confirms_a_file_on_stdout(filled, tmp_path):
    """As runs show and the progress lines do; stderr stays for errors."""
    store, first, second = filled
    csv_text = deepterm("runs", "export", first.id, store=store.path)
    rows = [line.split(",") for line in csv_text.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert [float(row[2]) for row in rows] == first.history.history["loss"]
    assert [float(row[4]) for row in rows] == first.history.history["val_loss"]

    out = tmp_path / "second.json"
    exported = deepterm("runs", "export", second.id, "-o", str(out), store=store.path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == f"wrote {out}\n" and exported.stderr == ""
    data = json.loads(out.read_text())
    assert data["id"] == second.id and data["label"] == "sgd"
    assert data["history"]["history"]["loss"] == second.history.history["loss"]
    assert data["history"]["epoch"] == [1, 2, 3, 4, 5, 6]
    assert data["best_epoch"] == second.best_epoch + 1
    assert data["epochs_done"] == 6

    out_csv = tmp_path / "first.csv"
    written = deepterm("runs", "export", first.id, "-o", str(out_csv), store=store.path)
    assert written.stdout == f"wrote {out_csv}\n" and written.stderr == ""
    assert out_csv.read_text().splitlines() == csv_text.stdout.splitlines()


def test_runs_delete_asks_first_unless_yes(filled):
    store, first, second = filled
    refused = deepterm("runs", "delete", first.id, store=store.path, input="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert len(store) == 2
    done = deepterm("runs", "delete", first.id, "--yes", store=store.path)
    assert done.returncode == 0 and f"deleted {first.id}" in done.stdout
    assert [r.id for r in store.list()] == [second.id]


# -- compare, datasets ----------------------------------------------------------------------------


def test_compare_draws_both_curves_with_a_legend_and_a_table(filled):
    store, first, second = filled
    proc = deepterm("compare", first.id, second.id, "--metric", "loss", "--width", "90",
                    "--height", "20", store=store.path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "loss per epoch" in lines[0]
    box = [line for line in lines if "│" in line or "┤" in line]
    assert len(box) >= 15
    legend = [line for line in box if first.id[:6] in line or second.id[:6] in line]
    assert len(legend) == 2 and "•" in legend[0] and "x" in legend[1]
    plotted = "".join(box)
    assert plotted.count("•") > 10 and plotted.count("x") > 10
    table = lines[-2:]
    assert table[0].split()[:2] == ["•", first.id] and table[1].split()[:2] == ["x", second.id]
    assert table[1].split()[-1] == f"{min(second.history.history['loss']):.4f}"


def test_compare_refuses_a_curve_a_run_does_not_have(filled):
    store, first, _ = filled
    proc = deepterm("compare", first.id, "--metric", "mae", store=store.path)
    assert proc.returncode == 2
    assert "no 'mae' curve" in one_line_error(proc)


def test_datasets_lists_the_catalog():
    import datasets

    proc = deepterm("datasets")
    assert proc.returncode == 0, proc.stderr
    first_words = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    for info in datasets.list_datasets():
        assert info.name in first_words
    titanic = next(line for line in proc.stdout.splitlines() if line.startswith("titanic "))
    assert titanic.split()[1:3] == ["binary", "1,309"]


# -- sweep -----------------------------------------------------------------------------------------


def _table_rows(text: str, first: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def test_a_course_experiment_prints_its_table_and_keeps_its_runs(tmp_path):
    store = tmp_path / "runs.db"
    proc = deepterm("sweep", "--experiment", "learning-rates", "--epochs", "2", store=store)
    assert proc.returncode == 0, proc.stderr
    rows = _table_rows(proc.stdout, "RUN ")
    assert [r[0] for r in rows] == ["learning_rate=1e-06", "learning_rate=0.01", "learning_rate=1"]
    runs = [RunStore(store).get(r[-1]) for r in rows]
    for row, run in zip(rows, runs):
        assert row[1] == f"{run.n_params:,}" == "11,402"      # 10-100-100-2
        assert row[2] == f"{min(run.history.history['val_loss']):.4f}"
        assert run.epochs_done == 2 and run.fit["validation_split"] == 0.3
    assert len({run.group for run in runs}) == 1 and runs[0].group.startswith("learning-rates-")
    assert len({run.fit["initial_weights"] for run in runs}) == 1   # one starting point
    assert [run.spec.learning_rate for run in runs] == [1e-6, 0.01, 1.0]
    assert "val_loss per epoch" in proc.stdout and f"--group {runs[0].group}" in proc.stdout
    assert len(epoch_lines_of_sweep(proc.stdout)) == 3 * 2


def epoch_lines_of_sweep(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"learning_rate=\S+  epoch ", line)]


def test_a_sweep_of_any_setting_without_a_store(tmp_path):
    store = tmp_path / "runs.db"
    proc = deepterm("sweep", *CIRCLE, "--setting", "units", "--values", "4,16", "--epochs", "2",
                    "--no-chart", "--no-store", store=store)
    assert proc.returncode == 0, proc.stderr
    rows = _table_rows(proc.stdout, "RUN ")
    assert [(r[0], r[1]) for r in rows] == [("units=4", "22"), ("units=16", "82")]
    assert "per epoch" not in proc.stdout and not store.exists()


def test_the_sweep_help_names_every_experiment():
    from engine.sweeps import EXPERIMENTS
    from tui.cli import sweep_command

    option = next(p for p in sweep_command.params if p.name == "experiment")
    for name in EXPERIMENTS:
        assert name in option.help


# -- store faults ---------------------------------------------------------------------------------


def _damaged(path: Path) -> None:
    path.write_bytes(b"not a database at all\n" * 300)


def _too_new(path: Path) -> None:
    circle_run(RunStore(path), epochs=1)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every byte in the file itself


@pytest.mark.parametrize("make, words", [(_damaged, "damaged"), (_too_new, "newer deepterm")])
def test_an_unusable_store_exits_1_with_one_line_and_is_left_untouched(tmp_path, make, words):
    path = tmp_path / "runs.db"
    make(path)
    before = path.read_bytes()
    listed = deepterm("runs", "list", store=path)
    trained = deepterm("train", *CIRCLE, "--epochs", "2", store=path)
    for proc in (listed, trained):
        assert proc.returncode == 1
        assert words in one_line_error(proc)
    assert path.read_bytes() == before


def test_a_locked_store_exits_1_with_one_line_and_loses_nothing(filled):
    store, first, second = filled
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = deepterm("train", *CIRCLE, "--epochs", "2", store=store.path,
                        env={"DEEPTERM_STORE_TIMEOUT": "0.2"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1
    assert "locked by another process" in one_line_error(proc)
    assert {r.id for r in store.list()} == {first.id, second.id}


def _invoke(args: list[str]):
    from click.testing import CliRunner

    from tui.cli import cli

    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_a_read_only_store_exits_1_with_one_line(filled, monkeypatch):
    store, first, _ = filled
    real_open = RunStore._open

    def query_only(self):  # the file refuses writes, as on a read-only mount
        conn = real_open(self)
        conn.execute("PRAGMA query_only = ON")
        return conn

    monkeypatch.setattr(RunStore, "_open", query_only)
    result = _invoke(["runs", "delete", first.id, "--yes", "--store", str(store.path)])
    assert result.exit_code == 1
    assert re.fullmatch(r"Error: .*read-only.*\n", result.output), result.output
    result = _invoke(["runs", "list", "--store", str(store.path)])  # reading still works
    assert result.exit_code == 0 and first.id in result.output
    monkeypatch.undo()
    assert len(store) == 2


@pytest.mark.parametrize("slack, words", [(0, "disk is full"),
                                           (10, "completed but could not be saved")])
def test_a_full_disk_exits_1_with_one_line_and_keeps_what_was_written(filled, monkeypatch,
                                                                      slack, words):
    """slack 0: the store cannot take the new run at all; 10 pages: it takes the
    run and its epochs, not the 200 KB of weights at the end."""
    store, first, second = filled
    pages = sqlite3.connect(store.path).execute("PRAGMA page_count").fetchone()[0]
    real_open = RunStore._open

    def tiny_disk(self):  # SQLite may not grow the file: SQLITE_FULL
        conn = real_open(self)
        conn.execute(f"PRAGMA max_page_count = {pages + slack}")
        return conn

    monkeypatch.setattr(RunStore, "_open", tiny_disk)
    result = _invoke(["train", "--dataset", "mnist", "--dataset-option", "n=200", "--layers",
                      "64", "--epochs", "2", "--save-weights", "--store", str(store.path)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and words in errors[0] and "disk is full" in errors[0]
    assert "Traceback" not in result.output
    monkeypatch.undo()
    kept = {r.id: r for r in store.list()}
    assert kept[first.id].history.history == first.history.history
    assert kept[second.id].history.history == second.history.history
    new = [r for r in kept.values() if r.id not in (first.id, second.id)]
    assert [r.epochs_done for r in new] == ([] if slack == 0 else [2])


# -- the entry point ------------------------------------------------------------------------------


def test_the_app_path_stays_light_and_the_cli_loads_only_click_at_import():
    code = ("import sys; import tui.__main__; a = set(sys.modules); import tui.cli; "
            "b = set(sys.modules); heavy = ('click', 'numpy', 'datasets', 'pandas', 'rich', "
            "'plotext', 'textual'); "
            "print(sorted(m for m in heavy if m in a)); print(sorted(m for m in heavy if m in b))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[]", "['click']"]


def test_the_store_can_be_named_before_the_command_or_by_the_variable(filled, tmp_path,
                                                                     monkeypatch):
    from click.testing import CliRunner

    from tui.cli import cli

    store, first, second = filled
    other = RunStore(tmp_path / "other.db")
    third = circle_run(other, epochs=1)
    monkeypatch.setenv(ENV_VAR, str(other.path))

    def ids(args):
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return {line.split()[0] for line in result.output.splitlines()[1:]}

    assert ids(["runs", "list"]) == {third.id}                                   # the variable
    assert ids(["--store", str(store.path), "runs", "list"]) == {first.id, second.id}
    assert ids(["--store", str(store.path), "runs", "list", "--store", str(other.path)]) \
        == {third.id}                                                            # nearest wins


def test_help_names_every_command_and_the_exit_codes():
    result = _invoke(["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1]
    assert [line.split()[0] for line in commands.strip().splitlines()[:7]] == [
        "compare", "datasets", "predict", "runs", "serve", "sweep", "train"]
    words = " ".join(result.output.split())
    assert "2 bad arguments, 130 Ctrl+C" in words


def test_the_cli_reads_the_store_variable_the_engine_reads():
    from tui import cli

    assert cli.ENV_VAR == ENV_VAR
