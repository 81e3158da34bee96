"""Bad data read as what it means, or refused in one clear line (issue #14, items 1-6):
decimal commas, currency, thousands separators and percent signs; a junk cell in a
number target; a header of numbers; an unterminated quote; catalog name or file;
files that are not regular files."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import datasets
from datasets import DatasetError


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def column(ds, name: str) -> list[float]:
    return ds.X[:, ds.feature_names.index(name)].tolist()


# ------------------------------------------------- 1. numbers as people write them
def test_a_semicolon_file_with_decimal_commas_reads_numbers(tmp_path):
    path = write(tmp_path, "price;qty;y\n1,5;2,25;0\n2,5;3,25;1\n3,75;1,5;0\n-0,5;1.250,5;1\n")
    ds = datasets.from_csv(path, target="y")
    assert ds.feature_names == ["price", "qty"]
    assert column(ds, "price") == [1.5, 2.5, 3.75, -0.5]
    assert column(ds, "qty") == [2.25, 3.25, 1.5, 1250.5]
    assert any("'price'" in n and "decimal comma" in n and "'1,5' -> 1.5" in n for n in ds.notes)
    by_default = datasets.from_csv(path)       # 'price' is named like a target: a regression now
    assert by_default.task == "regression" and by_default.y.tolist() == [1.5, 2.5, 3.75, -0.5]


def test_currency_thousands_and_percent_are_numbers(tmp_path):
    path = write(tmp_path, 'amount,rate,y\n"$166,070",12%,1\n"$1,000",5%,0\n'
                           '"$2,500.50",7.5%,1\n€40,100%,0\n')
    ds = datasets.from_csv(path)
    assert ds.feature_names == ["amount", "rate"]
    assert column(ds, "amount") == [166070.0, 1000.0, 2500.5, 40.0]
    assert column(ds, "rate") == pytest.approx([0.12, 0.05, 0.075, 1.0])
    notes = " | ".join(ds.notes)
    assert "'amount'" in notes and "currency" in notes and "thousands" in notes
    assert "'$166,070' -> 166070" in notes
    assert "'rate'" in notes and "percent" in notes and "'12%' -> 0.12" in notes


def test_a_comma_file_keeps_commas_as_thousands_only_in_groups_of_three(tmp_path):
    # "1,5" in a comma-separated file is not a number: it stays text (one-hot)
    path = write(tmp_path, 'a,b,y\n"1,5","1,500",0\n"2,5","12,000,000",1\n"3,5",7,0\n')
    ds = datasets.from_csv(path)
    assert column(ds, "b") == [1500.0, 12_000_000.0, 7.0]
    assert [n for n in ds.feature_names if n.startswith("a_")] == ["a_1,5", "a_2,5", "a_3,5"]


def test_a_header_less_decimal_comma_file_keeps_its_first_row(tmp_path):
    path = write(tmp_path, "1,5;2,25;0\n2,5;3,25;1\n3,75;1,5;0\n")
    ds = datasets.from_csv(path, target=2)
    assert len(ds) == 3 and column(ds, "col_0") == [1.5, 2.5, 3.75]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 2)),
                       min_size=3, max_size=12))
def test_formatted_numbers_read_back_as_the_numbers_written(tmp_path, values):
    def european(v: float) -> str:        # 1.234.567,89
        whole, frac = f"{abs(v):,.2f}".split(".")
        return ("-" if v < 0 else "") + whole.replace(",", ".") + "," + frac

    def dollars(v: float) -> str:         # -$1,234,567.89
        return ("-" if v < 0 else "") + f"${abs(v):,.2f}"

    rows = [f"{european(v)};{i % 2}" for i, v in enumerate(values)]
    ds = datasets.from_csv(write(tmp_path, "x;y\n" + "\n".join(rows) + "\n"), target="y")
    assert np.allclose(column(ds, "x"), values, rtol=1e-6)
    rows = [f'"{dollars(v)}",{i % 2}' for i, v in enumerate(values)]
    ds = datasets.from_csv(write(tmp_path, "x,y\n" + "\n".join(rows) + "\n"), target="y")
    assert np.allclose(column(ds, "x"), values, rtol=1e-6)


# ------------------------------------------------- 2. a junk cell in a number target
def test_a_number_target_with_a_junk_cell_stays_a_regression(tmp_path):
    rng = np.random.default_rng(14)
    y = rng.normal(size=150).round(4)
    rows = [f"{a:.3f},{b:.3f},{t}" for a, b, t in zip(*rng.normal(size=(2, 150)), y)]
    rows[70] = rows[70].rsplit(",", 1)[0] + ",-"
    ds = datasets.from_csv(write(tmp_path, "a,b,y\n" + "\n".join(rows) + "\n"))
    assert ds.task == "regression" and len(ds) == 149
    assert np.allclose(ds.y, np.delete(y, 70))
    assert any("dropped 1 row" in n and "'y'" in n and "'-' on line 72" in n for n in ds.notes)


def test_a_text_target_is_still_classes(tmp_path):
    ds = datasets.from_csv(write(tmp_path, "x,y\n1,cat\n2,dog\n3,cat\n4,bird\n"))
    assert ds.task == "multiclass" and ds.class_names == ["bird", "cat", "dog"]


# ------------------------------------------------- 3. a header of numbers
def test_a_header_of_numbers_with_a_name_above_numbers_is_a_header(tmp_path):
    rng = np.random.default_rng(3)
    rows = [",".join(f"{v:.3f}" for v in r) for r in rng.normal(size=(50, 4))]
    path = write(tmp_path, "2019,2020,2021,price\n" + "\n".join(rows) + "\n")
    assert datasets.csv_columns(path) == ["2019", "2020", "2021", "price"]
    ds = datasets.from_csv(path)
    assert ds.target_name == "price" and ds.task == "regression" and len(ds) == 50
    assert ds.feature_names == ["2019", "2020", "2021"]
    assert datasets.from_csv(path, target="price").target_name == "price"
    assert any("header" in n and "'price'" in n for n in ds.notes)


def test_a_text_cell_over_text_is_still_data(tmp_path):
    path = write(tmp_path, "ann,1.5,0\nbob,2.5,1\ncid,3.5,0\n")
    assert datasets.csv_columns(path) == ["col_0", "col_1", "col_2"]


# ------------------------------------------------- 4. an unterminated quote
@pytest.mark.parametrize("text,line", [
    ('a,b,y\n1,2,x\n3,4,z\n5,6,"oops\n', 4),
    ('a,b,y\n1,2,x\n3,4,"z\n5,6,x\n7,8,z\n', 3),      # the quote swallows the lines below it
])
def test_an_unterminated_quote_is_refused_naming_its_line(tmp_path, text, line):
    path = write(tmp_path, text)
    for call in (datasets.from_csv, datasets.csv_columns, datasets.read_features):
        with pytest.raises(DatasetError, match=f"{path}: line {line}: a quoted field is never "
                                               f"closed"):
            call(path)


def test_a_quoted_field_over_two_lines_is_fine(tmp_path):
    ds = datasets.from_csv(write(tmp_path, 'a,note,y\n1,"two\nlines",0\n2,one,1\n3,"x",0\n'))
    assert len(ds) == 3


def test_a_quoted_cell_cut_by_the_columns_prefix_is_not_unterminated(tmp_path, monkeypatch):
    from datasets import csv_import

    path = write(tmp_path, 'a,note,y\n' + '1,x,0\n' * 20 + '2,"a note\nover\nlines",1\n')
    monkeypatch.setattr(csv_import, "_COLUMNS_PREFIX", len('a,note,y\n' + '1,x,0\n' * 20) + 12)
    assert datasets.csv_columns(path) == ["a", "note", "y"]
    assert datasets.likely_target(path) == ("y", "named like a target")


# ------------------------------------------------- 5. catalog name or file
ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m tui ...` from this checkout, run in ``cwd``, with no store."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(cwd),
           "DEEPTERM_LOG": os.devnull}
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("ref,is_file", [
    ("wages", False), ("Wages", False), ("multi_gauss", False), ("my data", False),
    ("./wages", True), ("data/wages", True), ("wages.csv", True), ("prices.TXT", True),
    ("/tmp/x", True), (Path("wages"), True), (".csv", False), ("wages.", False),
])
def test_one_rule_tells_a_catalog_name_from_a_file(ref, is_file):
    assert datasets.is_file_reference(ref) is is_file


def test_a_file_named_like_a_catalog_dataset_does_not_replace_it(tmp_path, monkeypatch):
    from engine import Layer, ModelSpec
    from engine.runs import resolve_dataset
    from engine.sweeps import load_dataset

    write(tmp_path, "x,wage\n" + "".join(f"{i},{i * 1.5}\n" for i in range(10)), name="wages")
    monkeypatch.chdir(tmp_path)
    spec = ModelSpec(input_dim=9, layers=[Layer(1)], loss="mse")
    assert resolve_dataset("wages", spec)[0]["rows"] == 534       # engine.train's resolution
    assert len(load_dataset("wages")) == 534                        # sweeps'
    catalog = datasets.open_dataset("wages")
    assert len(catalog) == 534 and catalog.target_name == "wage_per_hour"
    assert any("'wages' is the catalog dataset" in n and "./wages" in n for n in catalog.notes)
    for ref in ("./wages", tmp_path / "wages"):
        assert len(datasets.open_dataset(ref)) == 10
        assert len(load_dataset(ref)) == 10
    assert resolve_dataset("./wages", ModelSpec(input_dim=1, layers=[Layer(1)], loss="mse"))[0][
        "rows"] == 10


def test_an_unknown_name_that_is_a_file_here_says_how_to_read_it(tmp_path, monkeypatch):
    write(tmp_path, "x,y\n1,2\n3,4\n", name="mydata")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match=r"no such dataset 'mydata'.*write \./mydata"):
        datasets.open_dataset("mydata")
    with pytest.raises(DatasetError, match=r"no such dataset 'nothing'.*\(\./data, my\.csv\)"):
        datasets.open_dataset("nothing")
    with pytest.raises(DatasetError, match="a CSV file takes the options"):
        datasets.open_dataset("./mydata", {"n": 5})
    assert datasets.open_dataset("circle", {"n": 40}).options == {"n": 40}


def test_the_command_line_follows_the_rule_and_says_so(tmp_path):
    write(tmp_path, "x,wage\n" + "".join(f"{i},{i * 1.5}\n" for i in range(10)), name="wages")
    common = ["--layers", "4", "--epochs", "1", "--no-store"]
    catalog = cli("train", "--dataset", "wages", *common, cwd=tmp_path)
    assert catalog.returncode == 0, catalog.stderr
    assert "training wages (534 rows)" in catalog.stdout
    assert "note: 'wages' is the catalog dataset; the file 'wages' in this folder is not read" \
        in catalog.stdout
    own = cli("train", "--dataset", "./wages", *common, cwd=tmp_path)
    assert own.returncode == 0, own.stderr
    assert "(10 rows)" in own.stdout and "catalog" not in own.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_the_command_line_names_a_fifo_for_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    proc = cli("train", "--dataset", "pipe.csv", "--no-store", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Error: pipe.csv: not a regular file but a named pipe (FIFO); give a CSV file"]


# ------------------------------------------------- 6. not a regular file
def test_a_device_is_refused_at_once():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    start = time.perf_counter()
    for call in (datasets.from_csv, datasets.csv_columns, datasets.likely_target,
                 datasets.read_features):
        with pytest.raises(DatasetError, match="/dev/zero: not a regular file"):
            call("/dev/zero")
    assert time.perf_counter() - start < 1.0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException | object] = []

    def read() -> None:
        try:
            outcome.append(datasets.from_csv(fifo))
        except BaseException as exc:       # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():        # the reader waits for a writer: give it one that ends at once
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        pytest.fail("from_csv waited on a FIFO")
    assert isinstance(outcome[0], DatasetError)
    assert f"{fifo}: not a regular file" in str(outcome[0])
