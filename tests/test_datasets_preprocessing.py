"""Preprocessing: standardisation fitted on the training rows only (never the
validation tail) and kept with the model; targets as the loss needs them; the
output layer suggested per task."""

from __future__ import annotations

import json

import numpy as np
import pytest

import datasets
from datasets import Dataset, DatasetError, Standardizer


def make(X, y, task="regression", classes=()):
    return Dataset(name="t", X=X, y=y, task=task, feature_names=[f"f{j}" for j in range(len(X[0]))],
                   target_name="y", class_names=classes)


SPLITS = [0.0, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.7, 0.9, 0.99]


def test_training_rows_follow_the_engines_validation_split():
    from engine.data import split_validation
    from engine.errors import FitError

    for n in range(1, 120):
        X = np.zeros((n, 1))
        for split in SPLITS:
            n_train = datasets.training_rows(n, split)
            if split == 0.0:
                assert n_train == n
                continue
            try:
                X_train, _, X_val, _ = split_validation(X, X[:, 0], split)
            except FitError:
                assert n_train in (0, n)
                continue
            assert n_train == len(X_train) and n - n_train == len(X_val), (n, split)
    assert datasets.training_rows(2500, 0.3) == 1750 and datasets.training_rows(534, 0.3) == 373
    for bad in (1.0, -0.1, float("nan"), True, "0.3", None):
        with pytest.raises(DatasetError, match="validation_split"):
            datasets.training_rows(10, bad)


def test_standardizer_is_fitted_on_the_training_rows_only():
    rng = np.random.default_rng(0)
    X = rng.normal([5.0, -3.0, 100.0], [2.0, 0.5, 30.0], size=(100, 3)).astype(np.float32)
    X[70:] += 1000.0                                     # the validation tail is far away
    ds = make(X, rng.normal(size=100))
    Xs, y, std = datasets.prepare(ds, "mse", validation_split=0.3, standardize=True)
    assert std.feature_names == ["f0", "f1", "f2"]
    assert np.allclose(std.mean_, X[:70].astype(np.float64).mean(axis=0))
    assert np.allclose(std.scale_, X[:70].astype(np.float64).std(axis=0))
    train, val = Xs[:70], Xs[70:]
    assert np.allclose(train.mean(axis=0), 0, atol=1e-5) and np.allclose(train.std(axis=0), 1, atol=1e-5)
    assert np.all(val.mean(axis=0) > 5)                  # the tail never informed the scaling
    assert Xs.dtype == np.float32 and Xs.shape == X.shape
    assert np.array_equal(y, ds.y)
    # without a split every row trains; without standardize X is untouched
    _, _, all_rows = datasets.prepare(ds, "mse", standardize=True)
    assert np.allclose(all_rows.mean_, X.astype(np.float64).mean(axis=0))
    X0, _, none = datasets.prepare(ds, "mse", validation_split=0.3)
    assert none is None and X0 is ds.X
    with pytest.raises(DatasetError, match="no training rows"):
        datasets.prepare(make(X[:1], [1.0]), "mse", validation_split=0.5, standardize=True)


def test_a_constant_feature_is_only_centred_and_inverse_transform_round_trips():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    std = Standardizer().fit(X)
    Z = std.transform(X)
    assert Z[:, 1].tolist() == [0, 0, 0] and std.scale_[1] == 1.0
    assert np.allclose(Z[:, 0], [-1.2247449, 0, 1.2247449])
    assert np.allclose(std.inverse_transform(Z), X)
    assert np.allclose(std.fit_transform(X), Z)


def test_standardizer_round_trips_through_json():
    X = np.random.default_rng(1).normal(3, 4, size=(50, 4))
    std = Standardizer(["a", "b", "c", "d"]).fit(X[:35])
    saved = json.loads(json.dumps(std.to_dict()))
    assert saved["kind"] == "standardize" and saved["feature_names"] == ["a", "b", "c", "d"]
    back = Standardizer.from_dict(saved)
    assert back.feature_names == ["a", "b", "c", "d"]
    new = np.random.default_rng(2).normal(size=(7, 4))
    assert np.array_equal(back.transform(new), std.transform(new))


def test_standardizer_is_kept_with_the_model_for_later_predictions(tmp_path):
    from engine import Layer, ModelSpec, build

    ds = datasets.load("wages")
    units, activation, loss, metrics = datasets.suggest_output(ds)
    X, y, std = datasets.prepare(ds, loss, validation_split=0.3, standardize=True)
    spec = ModelSpec(input_dim=ds.n_features, layers=[Layer(8, "relu"), Layer(units, activation)],
                     loss=loss, metrics=metrics)
    model = build(spec, seed=0)
    model.metadata["preprocessing"] = std.to_dict()
    model.fit(X, y, epochs=2, validation_split=0.3)
    path = tmp_path / "wages_model"
    model.save(path)
    loaded = type(model).load(path)
    again = Standardizer.from_dict(loaded.metadata["preprocessing"])
    new_rows = ds.X[-5:]                                  # raw rows, as a user would give them
    assert np.allclose(loaded.predict(again.transform(new_rows)), model.predict(X[-5:]))


@pytest.mark.parametrize("bad,words", [
    (None, "not a saved Standardizer"),
    ({"kind": "minmax"}, "not a saved Standardizer"),
    ({"kind": "standardize"}, "damaged"),
    ({"kind": "standardize", "mean": [0, 1], "scale": [1]}, "damaged"),
    ({"kind": "standardize", "mean": [0], "scale": [0]}, "damaged"),
    ({"kind": "standardize", "mean": [float("nan")], "scale": [1]}, "damaged"),
    ({"kind": "standardize", "mean": ["x"], "scale": [1]}, "damaged"),
])
def test_a_damaged_saved_standardizer_is_a_dataset_error(bad, words):
    with pytest.raises(DatasetError, match=words):
        Standardizer.from_dict(bad)


def test_standardizer_misuse_is_a_dataset_error():
    std = Standardizer()
    for call in (lambda: std.transform([[1.0]]), lambda: std.inverse_transform([[1.0]]),
                 std.to_dict):
        with pytest.raises(DatasetError, match="before fit"):
            call()
    with pytest.raises(DatasetError, match="at least one training row"):
        std.fit(np.zeros((0, 3)))
    with pytest.raises(DatasetError, match="2-D"):
        std.fit([1.0, 2.0])
    with pytest.raises(DatasetError, match="NaN or infinity"):
        std.fit([[1.0], [float("inf")]])
    with pytest.raises(DatasetError, match="numbers"):
        std.fit([["a"], ["b"]])
    with pytest.raises(DatasetError, match="2 feature names but X_train has 1 columns"):
        Standardizer(["a", "b"]).fit([[1.0], [2.0]])
    std.fit([[1.0, 2.0], [3.0, 5.0]])
    with pytest.raises(DatasetError, match="X has 3 features, but the Standardizer was fitted on 2"):
        std.transform([[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("name,expected", [
    ("wages", (1, "linear", "mse", ["mae"])),
    ("plane", (1, "linear", "mse", ["mae"])),
    ("titanic", (2, "softmax", "categorical_crossentropy", ["accuracy"])),
    ("circle", (2, "softmax", "categorical_crossentropy", ["accuracy"])),
    ("mnist", (10, "softmax", "categorical_crossentropy", ["accuracy"])),
])
def test_suggest_output_per_task(name, expected):
    ds = datasets.load(name, n=40) if name in ("mnist", "plane", "circle") else datasets.load(name)
    assert datasets.suggest_output(ds) == expected
    units, _, loss, _ = expected
    y = ds.targets_for(loss)
    if loss == "categorical_crossentropy":
        assert y.shape == (len(ds), units) and np.array_equal(y.argmax(axis=1), ds.y)
    else:
        assert y.shape == (len(ds),) and y.dtype == np.float32


def test_targets_for_csv_classes(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text("w,pet\n1,dog\n2,cat\n3,bird\n4,cat\n")
    ds = datasets.from_csv(path)
    assert ds.class_names == ["bird", "cat", "dog"]
    onehot = ds.targets_for("categorical_crossentropy")
    assert onehot.tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
    assert ds.targets_for("sparse_categorical_crossentropy").tolist() == [2, 1, 0, 1]
    _, y, _ = datasets.prepare(ds, "sparse_categorical_crossentropy")
    assert y.dtype == np.int64 and y.tolist() == [2, 1, 0, 1]
    binary = make([[0.0], [1.0], [2.0]], [1, 0, 1], task="binary", classes=["no", "yes"])
    assert binary.targets_for("binary_crossentropy").tolist() == [1.0, 0.0, 1.0]
    assert binary.targets_for("categorical_crossentropy").tolist() == [[0, 1], [1, 0], [0, 1]]
