"""The catalog: every shipped and synthetic dataset loads offline with the stated
shape, columns and class balance; wages equals the course's file value for value."""

from __future__ import annotations

import numpy as np
import pytest

import datasets
from datasets import Dataset, DatasetError

WAGES_COLUMNS = ["union", "education_yrs", "experience_yrs", "age", "female", "marr", "south",
                 "manufacturing", "construction"]
TITANIC_FEATURES = ["pclass", "age", "sibsp", "parch", "fare", "male", "age_was_missing",
                    "embarked_from_cherbourg", "embarked_from_queenstown",
                    "embarked_from_southampton"]
SYNTHETIC = ["circle", "xor", "gauss", "spiral", "plane", "multi_gauss"]




def test_list_datasets_names_tasks_and_sizes():
    infos = {i.name: i for i in datasets.list_datasets()}
    assert list(infos) == ["wages", "titanic", "mnist", "customers", *SYNTHETIC]
    expect = {
        "wages": ("regression", 534, 9), "titanic": ("binary", 1309, 10),
        "mnist": ("multiclass", 2500, 784), "customers": ("regression", 4, 2),
        "circle": ("binary", 500, 2), "xor": ("binary", 500, 2), "gauss": ("binary", 500, 2),
        "spiral": ("binary", 500, 2), "plane": ("regression", 500, 2),
        "multi_gauss": ("regression", 500, 2),
    }
    for name, (task, rows, features) in expect.items():
        info = infos[name]
        assert (info.task, info.rows, info.features) == (task, rows, features), name
        assert info.description and "\n" not in info.description
        assert info.source and info.licence
    assert "CC BY-SA 3.0" in infos["mnist"].licence and "LeCun" in infos["mnist"].licence


def test_every_dataset_loads_offline_as_listed(no_network):
    for info in datasets.list_datasets():
        ds = datasets.load(info.name)
        assert isinstance(ds, Dataset)
        assert ds.X.shape == (info.rows, info.features) and ds.X.dtype == np.float32
        assert ds.y.shape == (info.rows,) and ds.task == info.task
        assert np.all(np.isfinite(ds.X))
        assert len(ds.feature_names) == info.features
        if ds.task == "regression":
            assert ds.y.dtype == np.float32 and ds.class_names == [] and ds.n_classes == 0
            assert ds.class_balance() == {}
        else:
            assert ds.y.dtype == np.int64
            assert sum(ds.class_balance().values()) == info.rows
        assert list(ds.frame.columns) == [*ds.feature_names, ds.target_name]
        assert len(ds.frame) == info.rows


def test_wages_columns_and_values():
    ds = datasets.load("wages")
    assert ds.feature_names == WAGES_COLUMNS and ds.target_name == "wage_per_hour"
    assert ds.task == "regression" and ds.image_shape is None
    assert ds.frame["wage_per_hour"].iloc[:3].tolist() == [5.10, 4.95, 6.67]
    assert ds.frame["education_yrs"].iloc[:3].tolist() == [8, 9, 12]
    assert int(ds.frame["female"].sum()) == 245 and int(ds.frame["union"].sum()) == 96


def test_wages_equals_the_course_file_value_for_value(course_data):
    import pandas as pd

    course = pd.read_csv(course_data / "hourly_wages.csv")
    ds = datasets.load("wages")
    ours = ds.frame[list(course.columns)]
    assert ours.shape == course.shape == (534, 10)
    for col in course.columns:
        assert ours[col].tolist() == course[col].tolist(), col
    assert np.array_equal(ds.X, course[WAGES_COLUMNS].to_numpy(np.float32))
    assert np.array_equal(ds.y, course["wage_per_hour"].to_numpy(np.float32))


def test_titanic_columns_balance_and_filled_ages():
    ds = datasets.load("titanic")
    assert ds.feature_names == TITANIC_FEATURES and ds.target_name == "survived"
    assert ds.class_names == ["died", "survived"]
    assert ds.class_balance() == {"died": 809, "survived": 500}
    f = ds.frame
    assert int(f["age_was_missing"].sum()) == 263
    known = f.loc[f["age_was_missing"] == 0, "age"]
    filled = f.loc[f["age_was_missing"] == 1, "age"].unique()
    assert len(filled) == 1 and filled[0] == pytest.approx(known.mean(), rel=1e-12)
    assert int(f["male"].sum()) == 843
    embarked = f[["embarked_from_cherbourg", "embarked_from_queenstown",
                  "embarked_from_southampton"]].sum()
    assert embarked.tolist() == [270, 123, 914]          # 2 passengers have no port: all zeros
    assert f["pclass"].value_counts().sort_index().tolist() == [323, 277, 709]
    # the stored order is shuffled, so a validation split holds every class of passenger
    assert set(f["pclass"].iloc[-393:]) == {1, 2, 3}


def test_mnist_images_and_the_course_preset():
    ds = datasets.load("mnist", n=5000)          # every image shipped
    assert ds.X.shape == (5000, 784) and ds.image_shape == (28, 28)
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.all(np.isin(np.round(ds.X * 255), np.arange(256)))
    assert ds.class_names == [str(d) for d in range(10)]
    assert set(ds.class_balance().values()) == {500}
    assert ds.images().shape == (5000, 28, 28)
    course = datasets.load("mnist")             # the course's 2500 by default
    assert course.X.shape == (2500, 784) and datasets.load("mnist", n=2500).X.shape == (2500, 784)
    assert set(course.class_balance().values()) == {250}
    # validation_split=0.3 trains on 1750 and validates on 750, every digit in both
    assert datasets.training_rows(2500, 0.3) == 1750
    assert np.bincount(course.y[1750:], minlength=10).min() >= 60
    assert np.array_equal(course.X, ds.X[:2500])
    assert ds.frame.shape == (5000, 785) and ds.frame["pixel_0"].dtype == np.int64


def test_customers_is_the_course_toy_data():
    ds = datasets.load("customers")
    assert ds.feature_names == ["accounts", "children"] and ds.target_name == "transactions"
    assert ds.X.tolist() == [[0, 3], [1, 2], [-1, -2], [4, 0]]
    assert ds.y.tolist() == [1, 3, 5, 7]
    assert ds.X_predict.tolist() == [[3, 5], [1, -1], [0, 0], [8, 4]]


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_sets_are_seeded_and_take_n_noise_seed(name):
    a = datasets.load(name, n=200, noise=0.1, seed=0)
    b = datasets.load(name, n=200, noise=0.1, seed=0)
    c = datasets.load(name, n=200, noise=0.1, seed=1)
    assert a.X.shape == (200, 2) and a.feature_names == ["x1", "x2"]
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    assert np.abs(a.X).max() < 12
    if a.task == "binary":
        assert min(a.class_balance().values()) >= 60
    else:
        assert -1.0 <= a.y.min() < 0 < a.y.max() <= 1.0


def test_synthetic_clean_sets_follow_their_rule():
    circle = datasets.load("circle", n=400, noise=0.0, seed=3)
    r = np.hypot(circle.X[:, 0], circle.X[:, 1])
    assert np.array_equal(circle.y, (r < 3.0).astype(int))
    xor = datasets.load("xor", n=400, seed=3)
    assert np.array_equal(xor.y, (xor.X[:, 0] * xor.X[:, 1] >= 0).astype(int))
    plane = datasets.load("plane", n=400, seed=3)
    assert np.allclose(plane.y, (plane.X[:, 0] + plane.X[:, 1]) / 12, atol=1e-6)
    gauss = datasets.load("gauss", n=400, seed=3)
    assert gauss.X[gauss.y == 1].mean(axis=0) == pytest.approx([2, 2], abs=0.2)
    # noise flips labels near the circle's gap
    noisy = datasets.load("circle", n=400, noise=0.3, seed=3)
    r = np.hypot(noisy.X[:, 0], noisy.X[:, 1])
    assert 0.03 < np.mean(noisy.y != (r < 3.0)) < 0.4


@pytest.mark.parametrize("name,options,words", [
    ("nope", {}, ["no dataset named 'nope'", "wages", "circle"]),
    ("mnist", {"n": 0}, ["n must be a whole number from 1 to 5000"]),
    ("mnist", {"n": 5001}, ["1 to 5000"]),
    ("mnist", {"n": 2.5}, ["whole number"]),
    ("mnist", {"rows": 3}, ["no option 'rows'", "n"]),
    ("wages", {"n": 3}, ["no option 'n'"]),
    ("circle", {"noise": -0.1}, ["noise must be a number from 0 to 1"]),
    ("circle", {"noise": float("nan")}, ["noise"]),
    ("circle", {"n": 3}, ["n must be"]),
    ("spiral", {"seed": -1}, ["seed"]),
    ("gauss", {"colour": 1}, ["no option 'colour'", "n, noise, seed"]),
])
def test_bad_load_arguments_are_dataset_errors(name, options, words):
    with pytest.raises(DatasetError) as err:
        datasets.load(name, **options)
    for w in words:
        assert w in str(err.value)
    assert isinstance(err.value, ValueError)


def test_targets_for_each_loss():
    ds = datasets.load("titanic")
    onehot = ds.targets_for("categorical_crossentropy")
    assert onehot.shape == (1309, 2) and onehot.dtype == np.float32
    assert np.array_equal(onehot.argmax(axis=1), ds.y) and np.all(onehot.sum(axis=1) == 1)
    sparse = ds.targets_for("sparse_categorical_crossentropy")
    assert sparse.dtype == np.int64 and np.array_equal(sparse, ds.y)
    for loss in ("binary_crossentropy", "mse", "mae"):
        t = ds.targets_for(loss)
        assert t.shape == (1309,) and t.dtype == np.float32
    mnist = datasets.load("mnist", n=20)
    assert mnist.targets_for("categorical_crossentropy").shape == (20, 10)
    with pytest.raises(DatasetError, match="binary_crossentropy"):
        mnist.targets_for("binary_crossentropy")
    wages = datasets.load("wages")
    assert wages.targets_for("mean_squared_error").shape == (534,)
    with pytest.raises(DatasetError, match="regression"):
        wages.targets_for("categorical_crossentropy")
    with pytest.raises(DatasetError, match="loss must be"):
        wages.targets_for("hinge")


def test_loaded_arrays_are_independent_copies():
    a = datasets.load("wages")
    a.X[0, 0] = 99
    assert datasets.load("wages").X[0, 0] == 0
