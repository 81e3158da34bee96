"""How a table's columns became a model's features, kept so that new rows can be
encoded the same way (``deepterm predict``, the results screen's "Predict on a CSV").

``from_csv`` records, for each column of the file besides the target, what the import
did with it (``FeatureEncoding.columns``):

- ``number``: kept as it is (True/False as 1/0); when it had missing values, the mean
  of its present values was filled in and a ``<name>_was_missing`` flag added
  (``fill`` holds that mean);
- ``one_hot``: text, one 0/1 feature per value seen (``categories``); a missing value
  is all zeros;
- ``dropped``: not used (no values, or too many text values).

A catalog dataset's features are its columns (``FeatureEncoding.identity``).

New rows are read by ``FeatureEncoding.read_csv`` with the same reader as ``from_csv``
and matched to the training columns by one rule (``match_columns``):

1. by name (exact, else the one name that differs only in case); the training
   target's column, when the file has it, is left out; a column the import dropped
   may be there or not;
2. otherwise by position, when the file's columns carry no names of their own
   (pandas' default header ``0,1,...,n-1``, or no header row) and there are exactly as
   many as the training data had columns besides its target: the course's
   titanic_pred.csv (columns ``0``..``9``) against the Titanic data. A note says so.

Anything else (a column missing, an unknown column, another number of unnamed
columns) is one DatasetError naming what is missing or extra.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core import DatasetError

KINDS = ("number", "one_hot", "dropped")


@dataclass(frozen=True)
class Column:
    """One source column and the features it became."""

    name: str
    kind: str = "number"
    features: tuple[str, ...] = ()
    fill: float | None = None               # number: the mean filled in (then a flag feature)
    categories: tuple[str, ...] = ()        # one_hot: the values seen, in feature order

    def to_dict(self) -> dict[str, Any] | str:
        """JSON-ready; a column of numbers kept as it is, under its own name, is just
        its name (a file of 784 pixel columns stays short)."""
        if self.kind == "number" and self.fill is None and self.features == (self.name,):
            return self.name
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "features": list(self.features)}
        if self.fill is not None:
            out["fill"] = self.fill
        if self.categories:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Column:
        if isinstance(data, str):
            return cls(data, "number", (data,))
        if not isinstance(data, dict) or data.get("kind") not in KINDS or "name" not in data:
            raise DatasetError(f"not a recorded feature column: {data!r:.80}")
        fill = data.get("fill")
        return cls(name=str(data["name"]), kind=data["kind"],
                   features=tuple(str(f) for f in data.get("features") or ()),
                   fill=None if fill is None else float(fill),
                   categories=tuple(str(c) for c in data.get("categories") or ()))


@dataclass
class FeatureEncoding:
    """The columns a model's features came from, in order, and the target's name."""

    columns: list[Column]
    target: str | None = None

    @classmethod
    def identity(cls, feature_names: list[str], target: str | None = None) -> FeatureEncoding:
        """Each feature is a column of numbers of the same name (a catalog dataset)."""
        return cls([Column(str(n), "number", (str(n),)) for n in feature_names], target)

    @classmethod
    def of(cls, dataset: Any) -> FeatureEncoding:
        """The encoding a Dataset was imported with (``identity`` for the catalog's)."""
        found = getattr(dataset, "encoding", None)
        if isinstance(found, FeatureEncoding):
            return found
        return cls.identity(list(dataset.feature_names), getattr(dataset, "target_name", None))

    @property
    def feature_names(self) -> list[str]:
        return [f for c in self.columns for f in c.features]

    @property
    def used(self) -> list[Column]:
        """The columns that make features (not the dropped ones)."""
        return [c for c in self.columns if c.kind != "dropped"]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns], "target": self.target}

    @classmethod
    def from_dict(cls, data: Any) -> FeatureEncoding:
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise DatasetError(f"not a recorded feature encoding: {data!r:.80}")
        target = data.get("target")
        return cls([Column.from_dict(c) for c in data["columns"]],
                   None if target is None else str(target))

    # -- new rows ---------------------------------------------------------------------

    def match_columns(self, names: list[str], header: bool, where: str = "the file"
                      ) -> tuple[dict[str, int], list[str]]:
        """{training column name: index in ``names``} for every used column, and notes;
        DatasetError when the columns do not match (see the module's rule)."""
        wanted = [c.name for c in self.columns]
        index = {n: j for j, n in enumerate(names)}
        folded: dict[str, list[int]] = {}
        for j, n in enumerate(names):
            folded.setdefault(n.casefold(), []).append(j)
        found: dict[str, int] = {}
        for name in wanted:
            if name in index:
                found[name] = index[name]
            elif len(folded.get(name.casefold(), ())) == 1:
                found[name] = folded[name.casefold()][0]
        notes: list[str] = []
        k = len(names)
        unnamed = names in ([str(j) for j in range(k)], [str(j) for j in range(1, k + 1)]) or \
            (not header and names == [f"col_{j}" for j in range(k)])
        if unnamed and not set(wanted) & set(names):
            how = f"named {names[0]}..{names[-1]}" if header else "without a header row"
            if len(names) != len(wanted):
                raise DatasetError(
                    f"{where}: its {len(names)} columns ({how}) are matched to the training "
                    f"columns by position, but the model was trained on {len(wanted)}: "
                    f"{_listed(wanted)}")
            pairs = ", ".join(f"{n!r} as {w!r}" for n, w in zip(names[:3], wanted))
            notes.append(f"the file's columns are {how}: matched to the training columns by "
                         f"position ({pairs}{', ...' if len(names) > 3 else ''})")
            return {name: j for j, name in enumerate(wanted)}, notes
        missing = [c.name for c in self.used if c.name not in found]
        taken = set(found.values())
        extra = [n for j, n in enumerate(names) if j not in taken]
        target_here = [n for n in extra if self.target is not None
                       and n.casefold() == self.target.casefold()]
        extra = [n for n in extra if n not in target_here]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column{'s' if len(missing) > 1 else ''} {_listed(missing)}")
            if extra:
                parts.append(f"column{'s' if len(extra) > 1 else ''} {_listed(extra)} not in the "
                             f"training data")
            raise DatasetError(f"{where}: {'; '.join(parts)} (the model was trained on the "
                               f"columns {_listed(wanted, 12)})")
        if target_here:
            notes.append(f"column {target_here[0]!r} is the training target: not used")
        return found, notes

    def read_csv(self, path: str | os.PathLike, max_bytes: int | None = None
                 ) -> tuple[np.ndarray, list[str]]:
        """``(X float32 (n_rows, n_features), notes)``: a CSV file's rows encoded as the
        training data was. DatasetError names the file and what does not fit."""
        from . import csv_import as ci

        p = ci._as_path(path)
        limit = ci.DEFAULT_MAX_BYTES if max_bytes is None else ci._check_max_bytes(max_bytes)
        table = ci._table(ci._read_text(p, limit)[0], p, min_width=1)
        found, notes = self.match_columns(list(table.names), table.header, str(p))
        notes = table.notes + notes
        rows = np.arange(table.n_rows)
        out: list[np.ndarray] = []
        for column in self.used:
            j = found[column.name]
            if column.kind == "one_hot":
                cols, note = _one_hot(column, table.strings(j), table, j)
            else:
                cols, note = _number(column, table, j, rows)
            out.extend(cols)
            if note:
                notes.append(note)
        X = np.column_stack(out).astype(np.float32) if out else np.empty((table.n_rows, 0),
                                                                          np.float32)
        return X, notes


def _number(column: Column, table: Any, j: int, rows: np.ndarray) -> tuple[list[np.ndarray], str]:
    """A number column's feature (and its _was_missing flag when training filled it)."""
    from . import csv_import as ci

    where = f"{table.path}: column {table.names[j]!r}"
    parsed = table.parsed(j)
    ci._check_finite(parsed, table, table.names[j], rows)
    absent = parsed.missing | parsed.text
    if parsed.kind == "text":
        first = int(np.flatnonzero(parsed.text)[0])
        raise DatasetError(f"{where} holds text ({table.strings(j)[first]!r} on line "
                           f"{table.lines[first]}); the model was trained on numbers there")
    if not absent.any():
        return [parsed.values] + ([np.zeros(len(rows))] if column.fill is not None else []), ""
    first = int(np.flatnonzero(absent)[0])
    cell = table.strings(j)[first]
    if column.fill is None:
        what = "is empty" if parsed.missing[first] else f"holds {cell!r}"
        raise DatasetError(f"{where} {what} on line {table.lines[first]}; the training data had "
                           f"no missing values there, so there is no value to fill in")
    values = np.where(absent, column.fill, parsed.values)
    note = (f"filled {int(absent.sum())} missing values of {table.names[j]!r} with the training "
            f"mean {column.fill:g} and flagged them in {column.features[-1]!r}")
    return [values, absent.astype(np.float64)], note


def _one_hot(column: Column, cells: list[str], table: Any, j: int) -> tuple[list[np.ndarray], str]:
    """One 0/1 feature per training category; a missing or unseen value is all zeros."""
    from .csv_import import MISSING

    arr = np.asarray(cells, dtype=object)
    known = set(column.categories)
    unseen = [i for i, c in enumerate(cells) if c not in known and c.lower() not in MISSING]
    note = ""
    if unseen:
        note = (f"{len(unseen)} values of {table.names[j]!r} were not in the training data "
                f"({cells[unseen[0]]!r} on line {table.lines[unseen[0]]}): encoded as all zeros")
    return [(arr == c).astype(np.float64) for c in column.categories], note


def _listed(items: list[str], most: int = 5) -> str:
    shown = [repr(i) for i in items[:most]]
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(shown) + more


__all__ = ["Column", "FeatureEncoding"]
