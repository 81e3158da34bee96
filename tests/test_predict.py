"""Predictions on new rows (issue 20, point 1): a CSV file's columns matched to the
training columns, encoded, filled and standardized as the training data was, in the
library (engine.predict) and through `deepterm predict`."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import datasets
from engine import RunStore, runner
from engine.predict import MissingWeights, PredictError, model_of_run, predict_csv
from engine.recipe import RunConfig
from engine.store import ENV_VAR

ROOT = Path(__file__).resolve().parents[1]


def deepterm(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(store.parent)
    env["DEEPTERM_LOG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "tui", *args, "--store", str(store)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def train(config: RunConfig, store: RunStore | None = None, save_weights: bool = True):
    """A run trained in this thread through the runner, as the app and `train` train."""
    config = config.for_dataset(config.load_dataset())
    return runner.run(config, store=store, save_weights=save_weights, executor="thread")


def read_predictions(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return header, np.array([[float(c) for c in r[:-1]] for r in body]), [r[-1] for r in body]


# -- the course's titanic_pred.csv --------------------------------------------------------------


def test_titanic_pred_gets_the_predictions_of_its_rows_prepared_as_training_did(course_data,
                                                                                tmp_path):
    """The course's exercise: a Titanic model trained on titanic_all_numeric.csv predicts
    titanic_pred.csv, whose columns are named 0..9 (matched by position): the numbers
    are model.predict on those rows standardized with the training rows' own mean and
    standard deviation, computed here independently with pandas."""
    train_file = course_data / "titanic_all_numeric.csv"
    pred_file = course_data / "titanic_pred.csv"
    store = RunStore(tmp_path / "runs.db")
    run = train(RunConfig(dataset=None, csv_path=str(train_file), csv_target="survived",
                          hidden=((16, "relu"),), epochs=4, optimizer="adam", standardize=True),
                store)

    frame = pd.read_csv(train_file).drop(columns="survived").astype(float)
    n_train = int(np.floor(len(frame) * 0.7))           # the rows before the validation cut
    mean, std = frame[:n_train].mean().to_numpy(), frame[:n_train].std(ddof=0).to_numpy()
    new = pd.read_csv(pred_file).astype(float).to_numpy()
    expected = run.model.predict(((new - mean) / std).astype(np.float32))

    table = predict_csv(run.model, pred_file)
    assert table.outputs.shape == (91, 2)
    np.testing.assert_allclose(table.outputs, expected, rtol=0, atol=1e-6)
    assert any("matched to the training columns by position" in note and "'0' as 'pclass'" in note
               for note in table.notes), table.notes
    assert table.header == ["p_0", "p_1", "predicted"]   # the file's classes are 0 and 1

    # the same through the command line, from the stored run and its weights
    out = tmp_path / "predictions.csv"
    proc = deepterm("predict", run.id[:6], "--csv", str(pred_file), "-o", str(out),
                    store=tmp_path / "runs.db")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert f"wrote {out}: 91 predictions" in proc.stdout
    assert "note: the file's columns are named 0..9" in proc.stdout
    header, probs, predicted = read_predictions(out)
    assert header == ["p_0", "p_1", "predicted"]
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
    assert predicted == [str(k) for k in expected.argmax(axis=1)]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_a_catalog_run_predicts_a_file_by_column_names_in_any_order(course_data, tmp_path):
    """The catalog's Titanic data has the course file's column names: its columns are
    found by name whatever their order, and the target column, when there, is left out."""
    run = train(RunConfig(dataset="titanic", hidden=((8, "relu"),), epochs=2))
    ds = datasets.load("titanic")
    frame = pd.read_csv(course_data / "titanic_all_numeric.csv")
    shuffled = tmp_path / "shuffled.csv"
    frame[list(reversed(frame.columns))].head(30).to_csv(shuffled, index=False)

    table = predict_csv(run.model, shuffled)
    rows = frame[ds.feature_names].head(30).astype(float).to_numpy()
    scaler = datasets.Standardizer.from_dict(run.model.metadata["preprocessing"])
    np.testing.assert_allclose(table.outputs, run.model.predict(scaler.transform(rows)),
                               rtol=0, atol=1e-6)
    assert table.header == ["p_died", "p_survived", "predicted"]
    assert "column 'survived' is the training target: not used" in table.notes
    # and titanic_pred.csv's unnamed columns by position
    assert predict_csv(run.model, course_data / "titanic_pred.csv").outputs.shape == (91, 2)


# -- the import's encoding and filling ---------------------------------------------------------


def _mixed_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 60
    colour = rng.choice(["red", "green", "blue"], size=n)
    size = rng.normal(10, 2, size=n).round(2).astype(object)
    size[[3, 17]] = ""                                  # two missing: filled with the mean
    label = np.where(colour == "red", "yes", "no")
    pd.DataFrame({"colour": colour, "size": size, "empty": [""] * n,
                  "label": label}).to_csv(path, index=False)
    return path


def test_new_rows_get_the_training_imports_one_hot_columns_fill_and_flags(tmp_path):
    """A text column is one-hot encoded with the training file's values (an unseen value
    or a missing one is all zeros); a missing number gets the training mean and its
    _was_missing flag; a column the import dropped may be left out."""
    train_file = _mixed_csv(tmp_path / "train.csv")
    ds = datasets.from_csv(train_file, target="label")
    assert ds.feature_names == ["colour_blue", "colour_green", "colour_red", "size",
                                "size_was_missing"]
    fill = float(pd.read_csv(train_file)["size"].mean())
    new = tmp_path / "new.csv"
    new.write_text("size,colour\n8.5,green\n,red\n12,purple\n9,\n")

    X, notes = ds.encoding.read_csv(new)
    np.testing.assert_allclose(X, np.array([
        [0, 1, 0, 8.5, 0], [0, 0, 1, fill, 1], [0, 0, 0, 12, 0], [0, 0, 0, 9, 0]],
        dtype=np.float32), rtol=1e-6)
    assert any("not in the training data ('purple' on line 4)" in n for n in notes), notes
    assert any(f"filled 1 missing values of 'size' with the training mean {fill:g}" in n
               for n in notes), notes

    # the encoding travels with the model, and through a stored run
    store = RunStore(tmp_path / "runs.db")
    run = train(RunConfig(dataset=None, csv_path=str(train_file), csv_target="label", epochs=2),
                store)
    stored = model_of_run(store.get(run.id, weights=True))
    scaler = datasets.Standardizer.from_dict(run.model.metadata["preprocessing"])
    expected = run.model.predict(scaler.transform(X))
    np.testing.assert_allclose(predict_csv(run.model, new).outputs, expected, atol=1e-6)
    np.testing.assert_allclose(predict_csv(stored, new).outputs, expected, atol=1e-6)
    assert predict_csv(stored, new).header == ["p_no", "p_yes", "predicted"]


@pytest.mark.parametrize("text, words", [
    ("size\n1\n", "missing column 'colour'"),
    ("colour,size,price\nred,1,3\n", "column 'price' not in the training data"),
    ("0,1\nred,1\n", "its 2 columns (named 0..1) are matched to the training columns by "
                     "position, but the model was trained on 3: 'colour', 'size', 'empty'"),
    ("colour,size\nred,big\n", "column 'size' holds text ('big' on line 2)"),
    ("colour,size\n", "a header line but no data rows"),
])
def test_a_file_that_does_not_fit_is_one_error_naming_what_is_wrong(tmp_path, text, words):
    ds = datasets.from_csv(_mixed_csv(tmp_path / "train.csv"), target="label")
    new = tmp_path / "new.csv"
    new.write_text(text)
    with pytest.raises(datasets.DatasetError) as info:
        ds.encoding.read_csv(new)
    assert words in str(info.value)
    assert str(new) in str(info.value)


def test_a_missing_value_where_training_had_none_is_refused(tmp_path):
    run = train(RunConfig(dataset="wages", epochs=1))
    new = tmp_path / "wages_new.csv"
    frame = pd.DataFrame([datasets.load("wages").X[0]], columns=datasets.load("wages").feature_names)
    frame["age"] = [None]
    frame.to_csv(new, index=False)
    with pytest.raises(PredictError, match="column 'age' is empty on line 2; the training data "
                                           "had no missing values there"):
        predict_csv(run.model, new)


def test_a_regression_run_predicts_one_value_per_row(tmp_path):
    run = train(RunConfig(dataset="wages", epochs=1, standardize=False))
    ds = datasets.load("wages")
    new = tmp_path / "wages_new.csv"
    pd.DataFrame(ds.X[:5], columns=ds.feature_names).to_csv(new, index=False)
    table = predict_csv(run.model, new)
    assert table.header == ["predicted"]
    np.testing.assert_allclose(table.outputs, run.model.predict(ds.X[:5]), atol=1e-6)
    assert [float(r[0]) for r in table.rows()] == pytest.approx(table.outputs[:, 0].tolist(),
                                                                rel=1e-7)


# -- stored runs, and the command line's errors -------------------------------------------------


def test_a_run_without_weights_is_one_error_exit_1(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = train(RunConfig(dataset="titanic", epochs=1), store, save_weights=False)
    with pytest.raises(MissingWeights, match=f"run {run.id} kept no weights"):
        model_of_run(store.get(run.id, weights=True))
    new = tmp_path / "new.csv"
    new.write_text("pclass\n1\n")
    proc = deepterm("predict", run.id, "--csv", str(new), store=tmp_path / "runs.db")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Error: run {run.id} kept no weights")
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


def test_cli_predict_to_stdout_and_its_errors(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = train(RunConfig(dataset="wages", epochs=1), store)
    ds = datasets.load("wages")
    new = tmp_path / "new.csv"
    pd.DataFrame(ds.X[:3], columns=ds.feature_names).to_csv(new, index=False)
    proc = deepterm("predict", run.id, "--csv", str(new), store=tmp_path / "runs.db")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "predicted" and len(lines) == 4
    scaler = datasets.Standardizer.from_dict(run.model.metadata["preprocessing"])
    np.testing.assert_allclose([float(v) for v in lines[1:]],
                               run.model.predict(scaler.transform(ds.X[:3]))[:, 0], rtol=1e-6)

    bad = tmp_path / "bad.csv"
    pd.DataFrame(ds.X[:3, :8], columns=ds.feature_names[:8]).to_csv(bad, index=False)
    proc = deepterm("predict", run.id, "--csv", str(bad), store=tmp_path / "runs.db")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"Error: {bad}: missing column 'construction' (the model was "
                                   f"trained on the columns {', '.join(map(repr, ds.feature_names))})")


def test_a_run_recorded_before_encodings_were_kept_is_prepared_from_its_recipe(tmp_path):
    """A stored run without the encoding and the Standardizer in its record (older
    deepterm) gets them by preparing its recipe again: the same numbers."""
    store = RunStore(tmp_path / "runs.db")
    run = train(RunConfig(dataset="titanic", epochs=1), store)
    old = store.get(run.id, weights=True)
    del old.fit["preprocessing"]
    old.dataset.pop("class_names")
    model = model_of_run(old)
    assert model.metadata["preprocessing"] == run.model.metadata["preprocessing"]
    assert model.metadata["features"] == run.model.metadata["features"]
    new = tmp_path / "rows.csv"
    pd.DataFrame(datasets.load("titanic").X[:5],
                 columns=datasets.load("titanic").feature_names).to_csv(new, index=False)
    np.testing.assert_allclose(predict_csv(model, new).outputs,
                               predict_csv(run.model, new).outputs, atol=1e-6)
