"""What a dataset reference names: a catalog dataset or a CSV file, by one rule.

The rule (``is_file_reference``): a reference names a file when it is a path
object (``pathlib.Path``, any ``os.PathLike``), or when its text holds a path
separator (``/``, or ``\\`` on Windows) or ends with an extension (a dot and one
to ten letters or digits: ``my.csv``, ``data.txt``). Anything else is a catalog
name, whatever files the current folder holds: ``wages`` is always the course
dataset, and ``./wages`` is the file called wages. What is in the folder only
adds words: a catalog dataset whose name is also a file there carries a note
saying the file was not read, and an unknown name that is a file there says how
to name it.

The engine (``engine.train``, ``engine.sweeps``) and the command line all ask
``open_dataset`` (or ``is_file_reference``), so a name means the same everywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .catalog import dataset_names, load
from .core import Dataset, DatasetError
from .csv_import import from_csv

_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")
#: the options ``from_csv`` takes besides the path
CSV_OPTIONS = ("target", "task", "max_bytes", "name")


def is_file_reference(ref: str | os.PathLike) -> bool:
    """Whether ``ref`` names a file (see the module's rule) rather than a catalog dataset."""
    if not isinstance(ref, str):
        if isinstance(ref, os.PathLike):
            return True
        raise DatasetError(f"a dataset is a catalog name or a CSV file path, got "
                           f"{type(ref).__name__}")
    separators = {"/", os.sep, os.altsep} - {None}
    if any(sep in ref for sep in separators):
        return True
    stem, ext = os.path.splitext(ref.strip())
    return bool(stem) and _EXTENSION.fullmatch(ext) is not None


def open_dataset(ref: str | os.PathLike, options: Mapping[str, Any] | None = None) -> Dataset:
    """The Dataset ``ref`` names: ``from_csv(ref, **options)`` for a file (options:
    target, task, max_bytes, name), ``load(ref, **options)`` for a catalog name (its
    options are then kept as ``Dataset.options``, to be stored with a run)."""
    options = dict(options or {})
    if is_file_reference(ref):
        unknown = sorted(set(options) - set(CSV_OPTIONS))
        if unknown:
            raise DatasetError(f"{os.fspath(ref)}: a CSV file takes the options "
                               f"{', '.join(CSV_OPTIONS)}; got {', '.join(unknown)}")
        return from_csv(ref, **options)
    name = os.fspath(ref)
    here = os.path.lexists(name)          # a file (or anything) of that name in this folder
    if name.strip().lower() not in dataset_names():
        hint = (f"; to read the file {name!r} in this folder, write ./{name}" if here else
                "; a CSV file is named with a path or an extension (./data, my.csv)")
        raise DatasetError(f"no such dataset {name!r}: the catalog has "
                           f"{', '.join(dataset_names())}{hint}")
    ds = load(name, **options)
    if options:
        ds.options = dict(options)
    if here:
        ds.notes.append(f"{name!r} is the catalog dataset; the file {name!r} in this folder is "
                        f"not read (write ./{name} to read it)")
    return ds
