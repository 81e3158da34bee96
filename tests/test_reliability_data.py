"""Bad data read as what it means, or refused in one clear line (issue #14, items 1-6):
decimal commas, currency, thousands separators and percent signs; a junk cell in a
number target; a header of numbers; an unterminated quote; catalog name or file;
files that are not regular files."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import datasets
from datasets import DatasetError


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def column(ds, name: str) -> list[float]:
    return ds.X[:, ds.feature_names.index(name)].tolist()


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
