"""Import a learner's CSV file as a Dataset.

What happens to the file, in order:

1. Read and check: it must exist, be a regular file (a device such as /dev/zero, a
   FIFO or a socket is refused before anything is read), be under ``max_bytes``, be
   UTF-8 text (a BOM is fine), not binary (no NUL bytes), not empty.
2. Split into rows (comma, or ';' or tab when the first line has no comma; quoted
   fields; blank lines skipped). Every row must have as many fields as the first,
   and every quote that opens a field must close it.
   Rows are read in chunks, and a chunk's column whose cells are all numbers is
   kept as float64 rather than as text, so a big file of numbers takes about six
   times its size in memory (not twenty).
3. Numbers as people write them: in a ';'-separated file whose first rows hold a
   decimal comma (``1,5``), every number is read that way (``1.250,5`` is 1250.5);
   elsewhere commas, apostrophes or spaces may separate thousands in groups of
   three (``"166,070"``); currency signs go (``$166,070``) and a percent sign
   divides by 100 (``12%`` is 0.12). A column is read so when that makes it
   numbers (at least 90 % of its cells), and a note says how, with an example.
4. Header detection: the first line is a header when a text cell of it stands
   above a column with no text below (its other cells may be numbers: years as
   names), or when its text cells stand above number columns more often than its
   numbers stand above numbers (a file of text columns: when its values do not
   recur below), or when it numbers the columns 0..k-1 / 1..k (pandas' default
   names). A first line that pandas once turned
   into a header by making duplicates unique (``0, 0.1, 0.2, ..., 253.13``) is
   read back as the integers it was, when those columns hold integers below.
5. The target (a column name or index; by default the column ``likely_target``
   picks: one named like a target, else a header-less file's first column, else
   the last): rows with no target are dropped, and so are rows whose target is a
   stray text cell in a column of numbers (at most 10 % of it, such as '-'); the
   task is inferred (two values -> binary; a few (<= 20) integers or text ->
   multiclass; other numbers -> regression) or given.
6. Features: numbers stay numbers; True/False -> 1/0; a number column with a few
   (<= 10 %) stray text cells reads them as missing; a missing number becomes the
   column's mean plus a ``<name>_was_missing`` flag column; text columns are
   one-hot encoded (up to 50 values; a missing value is all zeros); a text
   column with more values, or with no values at all, is dropped. Each such step
   is recorded in ``Dataset.notes``.

Every problem raises DatasetError naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
import os
import re
import stat
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .core import TASKS, Dataset, DatasetError, _choices
from .encoding import Column, FeatureEncoding

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
MAX_ONE_HOT = 50          # text columns with more distinct values are dropped
AUTO_MULTICLASS_MAX = 20  # an integer target with at most this many values is multiclass
MAX_CLASSES = 200         # the most classes a classification target may have
COERCE_TEXT_FRACTION = 0.1
DEFAULT_MAX_BYTES = 1_000_000_000
_COLUMNS_PREFIX = 4_000_000   # csv_columns reads at most this much of a file
HEAD_ROWS = 200           # header detection looks at the first line and the HEAD_ROWS below
CHUNK_CELLS = 250_000     # rows are read in chunks of about this many cells; a chunk's
                          # column whose every cell is a number is kept as float64
_F32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------- reading text
def _as_path(path: Any) -> Path:
    if isinstance(path, Path):
        return path
    if isinstance(path, str | os.PathLike):
        return Path(path)
    raise DatasetError(f"path must be a file path (str or Path), got {type(path).__name__}")


def _check_max_bytes(max_bytes: Any) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise DatasetError(f"max_bytes must be a positive whole number of bytes, got {max_bytes!r}")
    return max_bytes


def _regular(path: Path, st: os.stat_result) -> os.stat_result:
    """``st`` when it is a regular file's; a device (/dev/zero never ends), a FIFO or a
    socket (reading waits for a writer) is refused at once."""
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else
                "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "something else")
        raise DatasetError(f"{path}: not a regular file but {kind}; give a CSV file")
    return st


def _open_nonblocking(name: str, flags: int) -> int:
    """os.open that does not wait when ``name`` became a FIFO after it was checked."""
    return os.open(name, flags | getattr(os, "O_NONBLOCK", 0))


def _read_text(path: Path, max_bytes: int, prefix: int | None = None) -> tuple[str, bool]:
    """(the file's text, whether it is all of it); ``prefix`` reads only its first bytes
    (cut at a line end)."""
    try:
        if path.is_dir():
            raise DatasetError(f"{path}: is a folder, not a CSV file")
        _regular(path, path.stat())      # before opening: opening a FIFO waits for a writer
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    limit = prefix if prefix is not None else max_bytes + 1
    try:
        with open(path, "rb", opener=_open_nonblocking) as fh:
            # what was opened is what is read: a regular file, of this size
            size = _regular(path, os.fstat(fh.fileno())).st_size
            if size > max_bytes:
                raise DatasetError(f"{path}: the file is {size:,} bytes, above the limit of "
                                   f"{max_bytes:,} bytes (max_bytes)")
            # read(limit) would set aside `limit` bytes (1 GB) however small the file
            blocks = [fh.read(min(limit, size + 1))]
            total = len(blocks[0])
            while blocks[-1] and total < limit:    # a file that grew while it was read
                blocks.append(fh.read(min(limit - total, 1 << 24)))
                total += len(blocks[-1])
        data = blocks[0] if len(blocks) == 1 else b"".join(blocks)
        del blocks
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if prefix is None and len(data) > max_bytes:
        raise DatasetError(f"{path}: the file is over the limit of {max_bytes:,} bytes (max_bytes)")
    truncated = prefix is not None and len(data) == prefix and size > prefix
    if truncated:
        data = data[: data.rfind(b"\n") + 1] or data
    if not data.strip():
        raise DatasetError(f"{path}: the file is empty")
    if b"\x00" in data:
        raise DatasetError(f"{path}: this is a binary file (it contains NUL bytes), not CSV text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start} is not valid UTF-8); save it as UTF-8 CSV") from None
    controls = sum(1 for ch in text[:100_000] if ord(ch) < 32 and ch not in "\t\n\r")
    if controls > max(8, len(text[:100_000]) // 100):
        raise DatasetError(f"{path}: this looks like a binary file ({controls} control "
                           f"characters), not CSV text")
    return text, not truncated


# ------------------------------------------------- numbers as people write them
_CURRENCY = "$€£¥₹₩₽₺₪₫฿¢₴₦₱"
_FORMATTED = re.compile(
    rf"(?P<sign>[-+\u2212]?)(?P<cur>[{_CURRENCY}]?)\s*(?P<sign2>[-+\u2212]?)"
    r"(?P<num>\d(?:[\d.,'\u00a0\u202f ]*[\d.,])?|[.,]\d+)"
    rf"\s*(?P<cur2>[{_CURRENCY}]?)\s*(?P<pct>%?)")
_GROUPS = r"\d{1,3}(?P<sep>[%s])\d{3}(?:(?P=sep)\d{3})*"
#: the digits of a number with a decimal point: 166,070 or 2,500.50 (thousands in groups of
#: three, separated by commas, apostrophes or spaces), 12.5, .5
_POINT_NUM = re.compile(r"(?:%s|\d+)(?:\.\d*)?|\.\d+" % (_GROUPS % ",'\u00a0\u202f "))
#: ... with a decimal comma: 1.250,5 (thousands separated by points, apostrophes or spaces),
#: 1,5, ,5
_COMMA_NUM = re.compile(r"(?:%s|\d+)(?:,\d*)?|,\d+" % (_GROUPS % ".'\u00a0\u202f "))
_SIGNED_COMMA_NUM = re.compile(rf"[-+]?(?:{_COMMA_NUM.pattern})")
DECIMAL_COMMA = "a decimal comma"
THOUSANDS = "thousands separators"
CURRENCY = "currency signs"
PERCENT = "percent signs"
_FORMATS = (DECIMAL_COMMA, THOUSANDS, CURRENCY, PERCENT)


def _formatted(s: str, decimal_comma: bool) -> tuple[float, list[str]] | None:
    """A number written with currency signs, thousands separators, a percent sign
    (12% is 0.12) or, in a file with ``decimal_comma``, a decimal comma: (its value,
    which of these it has); None for a plain number or for anything else."""
    m = _FORMATTED.fullmatch(s)
    if m is None or (m["sign"] and m["sign2"]) or (m["cur"] and m["cur2"]):
        return None
    digits = m["num"]
    n = (_COMMA_NUM if decimal_comma else _POINT_NUM).fullmatch(digits)
    if n is None:
        return None
    kinds = []
    if n["sep"]:
        kinds.append(THOUSANDS)
        digits = digits.replace(n["sep"], "")
    if decimal_comma and "," in digits:
        kinds.append(DECIMAL_COMMA)
        digits = digits.replace(",", ".")
    if m["cur"] or m["cur2"]:
        kinds.append(CURRENCY)
    if m["pct"]:
        kinds.append(PERCENT)
    if not kinds:
        return None
    value = float(digits)
    if (m["sign"] or m["sign2"]) in ("-", "\u2212"):
        value = -value
    return (value / 100 if m["pct"] else value), kinds


def _comma_float(s: str) -> float:
    """``float`` for a file with decimal commas: '2,5' -> 2.5, '1.250,5' -> 1250.5,
    '1.234' -> 1234 (a thousands point); '1.5' (no valid thousands) stays 1.5."""
    if "," in s or "." in s:
        m = _SIGNED_COMMA_NUM.fullmatch(s)
        if m is not None:
            if m["sep"]:
                s = s.replace(m["sep"], "")
            s = s.replace(",", ".")
    return float(s)


def _uses_decimal_comma(rows: list[list[str]], delimiter: str) -> bool:
    """A ';'-separated file whose first rows hold a number with a decimal comma."""
    if delimiter != ";":
        return False
    for row in rows[1:]:         # the first row may be a header
        for cell in row:
            if "," in cell:
                f = _formatted(cell, True)
                if f is not None and DECIMAL_COMMA in f[1]:
                    return True
    return False


def _delimiter(text: str) -> str:
    """',', or ';' or tab when the first line has no comma. A first line with more than
    one of them (``1,5;2,25;0``: decimal commas) is split each way for its first lines:
    the split that gives every line as many fields, then the one that gives more
    numbers, wins (ties in the order ',', ';', tab)."""
    head = list(itertools.islice((line for line in io.StringIO(text, newline="")
                                  if line.strip()), 20))
    found = [d for d in (",", ";", "\t") if head and d in head[0]]
    if len(found) < 2:
        return found[0] if found else ","

    def score(d: str) -> tuple[bool, int]:
        try:
            rows = list(csv.reader(head, delimiter=d, skipinitialspace=True))
        except csv.Error:
            return False, 0
        numbers = sum(_cell_kind(c.strip(), d == ";") == "number" for row in rows for c in row)
        return len({len(row) for row in rows}) == 1, numbers

    return max(found, key=score)


def _iter_rows(text: str, delimiter: str, path: Path, complete: bool = True):
    """(line number, stripped cells) for each row that is not blank.

    A quote that is never closed is refused when the rows of a ``complete`` file
    run out: the csv module would take everything from the quote to the end of the
    file as one cell. The first megabytes of a file (not ``complete``) may end
    inside a quoted cell that the rest of the file closes: that last row is left out."""
    source = io.StringIO(text, newline="")
    reader = csv.reader(source, delimiter=delimiter, skipinitialspace=True)
    start = end = 0            # where the last row read starts and ends in ``text``
    first_line = line = 0      # the lines it spans (a quoted cell may hold line breaks)
    pending = None             # each row waits for the next, so a cut last row can be left out
    try:
        for row in reader:
            start, end = end, source.tell()
            first_line, line = line + 1, reader.line_num
            cells = [c.strip() for c in row]
            if any(cells):
                if pending is not None:
                    yield pending
                pending = (line, cells)
    except csv.Error as exc:
        raise DatasetError(f"{path}: line {reader.line_num}: cannot split into fields ({exc})") \
            from None
    if '"' in text[start:end] and _unterminated(text[start:end], delimiter):
        if complete:
            raise DatasetError(f"{path}: line {first_line}: a quoted field is never closed (a "
                               f"\" opens it and no \" ends it, so the rest of the file would be "
                               f"one cell); close the quote or remove it")
        if pending is not None and pending[0] == line:
            pending = None
    if pending is not None:
        yield pending


def _unterminated(row_text: str, delimiter: str) -> bool:
    """Whether one row's text ends inside a quoted field."""
    strict = csv.reader(io.StringIO(row_text, newline=""), delimiter=delimiter,
                        skipinitialspace=True, strict=True)
    try:
        for _ in strict:
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)    # strict's word for an open quote at EOF
    return False


class _Column:
    """One column's cells, in pieces: lists of text, or float64 arrays for the pieces
    whose every cell ``number`` reads (so a big file of numbers is not held as
    millions of Python strings). ``number`` is ``float``, or ``_comma_float`` in a
    file with decimal commas; ``formats`` says how its numbers were written
    (``_FORMATS``) and ``example`` is a cell that shows it, with its value."""

    def __init__(self) -> None:
        self.pieces: list[Any] = []
        self.number: Any = float
        self.formats: set[str] = set()
        self.example: tuple[str, float] | None = None

    def add(self, cells: Sequence[str]) -> None:
        try:
            self.pieces.append(np.fromiter(map(self.number, cells), np.float64, len(cells)))
        except ValueError:
            self.pieces.append(list(cells))
            return
        if self.number is not float:
            self._decimal_commas(cells)

    def _decimal_commas(self, cells: Sequence[str]) -> None:
        """Note which cells ``_comma_float`` read otherwise than ``float`` would."""
        for c in cells:
            if ("," in c or "." in c) and (f := _formatted(c, True)) is not None:
                self.formats.update(f[1])
                self.example = self.example or (c, f[0])
                if self.formats >= {DECIMAL_COMMA, THOUSANDS}:
                    return

    def finish(self) -> None:
        """Read the first (text) piece as numbers when it can be; read numbers written
        with currency signs, thousands separators, percent signs or a decimal comma;
        merge number pieces."""
        later, self.example = self.example, None    # an example from the first rows, if any
        if self.pieces and isinstance(self.pieces[0], list):
            first = self.pieces[0]
            try:
                self.pieces[0] = np.fromiter(map(self.number, first), np.float64, len(first))
            except ValueError:
                pass
            else:
                if self.number is not float:
                    self._decimal_commas(first)
        if any(isinstance(p, list) for p in self.pieces):
            self._read_formatted()
        self.example = self.example or later
        if len(self.pieces) > 1 and all(isinstance(p, np.ndarray) for p in self.pieces):
            self.pieces = [np.concatenate(self.pieces)]

    def _read_formatted(self) -> None:
        """Rewrite the text cells that are numbers written with currency signs,
        thousands separators, percent signs or a decimal comma as plain numbers, when
        the column is then numbers (at least 90 % of its present cells); a text
        column is left as it is."""
        decimal_comma = self.number is not float
        total = sum(len(p) for p in self.pieces)
        present = numbers = text = 0
        for piece in self.pieces:
            if isinstance(piece, np.ndarray):
                k = int(np.count_nonzero(~np.isnan(piece)))
                present, numbers = present + k, numbers + k
        changes: list[tuple[list[str], int, float]] = []
        formats: set[str] = set()
        example = None
        for piece in self.pieces:
            if not isinstance(piece, list):
                continue
            for i, s in enumerate(piece):
                low = s.lower()
                if low in MISSING:
                    continue
                present += 1
                if low == "true" or low == "false":
                    numbers += 1
                    continue
                try:
                    v = self.number(s)
                except ValueError:
                    f = _formatted(s, decimal_comma)
                else:
                    numbers += 1
                    f = _formatted(s, True) if decimal_comma and ("," in s or "." in s) else None
                    if f is not None:       # '2,5' or '1.234' in a file of decimal commas
                        changes.append((piece, i, v))
                        formats.update(f[1])
                        example = example or (s, v)
                    continue
                if f is None:
                    text += 1
                    if text > COERCE_TEXT_FRACTION * total:    # a text column: stop early
                        return
                    continue
                numbers += 1
                changes.append((piece, i, f[0]))
                formats.update(f[1])
                example = example or (s, f[0])
        if not changes or numbers < (1 - COERCE_TEXT_FRACTION) * present:
            return
        for piece, i, v in changes:
            piece[i] = repr(v)
        self.formats |= formats
        self.example = self.example or example
        for k, piece in enumerate(self.pieces):
            if isinstance(piece, list):
                try:
                    self.pieces[k] = np.fromiter(map(float, piece), np.float64, len(piece))
                except ValueError:
                    pass

    def parsed(self) -> _Parsed:
        parts = [_parse_floats(p) if isinstance(p, np.ndarray) else _parse_cells(p)
                 for p in self.pieces]
        return parts[0] if len(parts) == 1 else _Parsed.concat(parts)

    def strings(self) -> list[str] | None:
        """The cells' text, or None when some pieces were kept as numbers only."""
        if any(isinstance(p, np.ndarray) for p in self.pieces):
            return None
        return [c for p in self.pieces for c in p]

    def format_note(self, name: str) -> str | None:
        """What reading its numbers took, for Dataset.notes (None: plain numbers)."""
        if not self.formats or self.example is None:
            return None
        kinds = [k for k in _FORMATS if k in self.formats]
        what = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
        raw, value = self.example
        tail = "; a percent sign divides by 100" if PERCENT in self.formats else ""
        return f"read {name!r} as numbers written with {what}: {raw!r} -> {value:.15g}{tail}"


@dataclass
class _Table:
    path: Path
    names: list[str]
    columns: list[_Column]
    lines: np.ndarray         # the file line each data row ends on
    header: bool
    notes: list[str]
    text: str                 # kept to read a column's text again when it is needed
    delimiter: str
    first_row: list[str] | None = None    # the first data row, when it was repaired

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def parsed(self, j: int) -> _Parsed:
        return self.columns[j].parsed()

    def strings(self, j: int) -> list[str]:
        """Column j's cells as text (read from the file again when they were kept as
        numbers)."""
        cells = self.columns[j].strings()
        if cells is not None:
            return cells
        rows = _iter_rows(self.text, self.delimiter, self.path)
        if self.header:
            next(rows)
        cells = [row[j] for _, row in rows]
        if self.first_row is not None:
            cells[0] = self.first_row[j]
        return cells


def _cell_kind(s: str, decimal_comma: bool = False) -> str:
    low = s.lower()
    if low in MISSING:
        return "missing"
    if low in ("true", "false"):
        return "bool"
    try:
        (_comma_float if decimal_comma else float)(s)
    except ValueError:
        return "number" if _formatted(s, decimal_comma) is not None else "text"
    return "number"


def _has_header(rows: list[list[str]], decimal_comma: bool = False) -> bool:
    """Whether the first row names the columns.

    Without text in it, only when it numbers the columns (0..k-1 or 1..k, pandas'
    default names). A text cell above a column that holds no text below it (two
    numbers or more) does not fit that column as data: the row is a header, whatever
    its other cells are (names may be numbers: ``2019,2020,2021,price``). Otherwise
    each column votes: a text cell above numbers with a few stray text cells says
    header; a number above numbers, or a text cell whose value recurs below, says
    data. A tie is a header only when the first row holds no numbers at all (a file
    of text columns)."""
    first = rows[0]
    kinds = [_cell_kind(c, decimal_comma) for c in first]
    if "text" not in kinds:
        try:
            ints = [int(c) for c in first]
        except ValueError:
            return False
        k = len(first)
        return ints == list(range(k)) or ints == list(range(1, k + 1))
    rest = rows[1:HEAD_ROWS + 1]
    if not rest:
        return True
    score = 0
    for j, kind in enumerate(kinds):
        below = [_cell_kind(r[j], decimal_comma) for r in rest]
        present = [b for b in below if b != "missing"]
        if not present:
            continue
        n_text = present.count("text")
        if kind == "text" and n_text == 0 and len(present) >= 2:
            return True
        if kind == "text":
            if n_text <= COERCE_TEXT_FRACTION * len(present) and n_text < len(present):
                score += 1
            elif first[j] in {r[j] for r in rest}:
                score -= 1
        elif kind in ("number", "bool") and n_text == 0:
            score -= 1
    if score != 0:
        return score > 0
    return all(k in ("text", "missing") for k in kinds)


_MANGLED = re.compile(r"(.+)\.(\d+)")


def _demangle(row: list[str]) -> list[str] | None:
    """Undo pandas' renaming of duplicate header names ('0', '0.1', '0.2', ...).

    Returns the original cells, or None when the row is not such a header."""
    counts: dict[str, int] = {}
    out = []
    changed = False
    for cell in row:
        m = _MANGLED.fullmatch(cell)
        base = cell
        if m and counts.get(m.group(1), 0) == int(m.group(2)) and int(m.group(2)) > 0:
            base = m.group(1)
            changed = True
        counts[base] = counts.get(base, 0) + 1
        out.append(base)
    if not changed or not all(re.fullmatch(r"-?\d+", c) for c in out):
        return None
    return out


def _integral(column: _Column, skip_first: bool) -> bool:
    """Whether every cell of the column (after the first) is an integer."""
    for k, piece in enumerate(column.pieces):
        if k == 0 and skip_first:
            piece = piece[1:]
        if isinstance(piece, list):
            try:
                piece = np.fromiter(map(float, piece), np.float64, len(piece))
            except ValueError:
                return False
        if not (np.all(np.isfinite(piece)) and np.all(piece == np.round(piece))):
            return False
    return True


def _listed(cells: list[str], most: int = 5) -> str:
    """'a', 'b' and 'c' (the first ``most``, then 'and N more')."""
    shown = [repr(c) for c in cells[:most]]
    if len(cells) > most:
        return ", ".join(shown) + f" and {len(cells) - most} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _unique_names(raw: list[str]) -> list[str]:
    names: list[str] = []
    used: set[str] = set()
    for j, n in enumerate(raw):
        n = n or f"col_{j}"
        name, k = n, 2
        while name in used:
            name, k = f"{n}_{k}", k + 1
        used.add(name)
        names.append(name)
    return names


def _number_style(head: list[list[str]], delimiter: str, columns: list[_Column]) -> bool:
    """Whether the file writes numbers with a decimal comma (a ';'-separated file whose
    first rows hold one); its columns then read numbers with ``_comma_float``."""
    decimal_comma = _uses_decimal_comma(head, delimiter)
    if decimal_comma:
        for col in columns:
            col.number = _comma_float
    return decimal_comma


def _table(text: str, path: Path, complete: bool = True, min_width: int = 2) -> _Table:
    delimiter = _delimiter(text)
    rows = _iter_rows(text, delimiter, path, complete)
    head: list[list[str]] = []
    lines = array("q")
    width = 0
    columns: list[_Column] = []
    chunk: list[list[str]] = []
    chunk_rows = HEAD_ROWS + 1
    header = False
    decimal_comma: bool | None = None     # decided from the first chunk, before the others

    for line, cells in rows:
        if not lines:
            width = len(cells)
            columns = [_Column() for _ in range(width)]
            chunk_rows = max(HEAD_ROWS + 1, CHUNK_CELLS // width)
        elif len(cells) != width:
            raise DatasetError(f"{path}: ragged rows: line {line} has {len(cells)} fields, "
                               f"but line {lines[0]} has {width}")
        lines.append(line)
        if len(lines) <= chunk_rows:
            head.append(cells)        # the first chunk stays text until the header is known
            continue
        if decimal_comma is None:
            decimal_comma = _number_style(head, delimiter, columns)
        chunk.append(cells)
        if len(chunk) == chunk_rows:
            for col, cells_j in zip(columns, zip(*chunk, strict=True), strict=True):
                col.add(cells_j)
            chunk = []
    if not lines:
        raise DatasetError(f"{path}: the file is empty")
    if chunk:
        for col, cells_j in zip(columns, zip(*chunk, strict=True), strict=True):
            col.add(cells_j)
    del chunk
    if decimal_comma is None:
        decimal_comma = _number_style(head, delimiter, columns)

    notes: list[str] = []
    header = _has_header(head, decimal_comma)
    line_numbers = np.frombuffer(lines, dtype=np.int64)
    first_row = None
    if header:
        numbers = [c for c in head[0] if _cell_kind(c, decimal_comma) == "number"]
        words = [c for c in head[0] if _cell_kind(c, decimal_comma) == "text"]
        if numbers and words:
            verb = "stands" if len(words) == 1 else "stand"
            are = "is a column name" if len(numbers) == 1 else "are column names"
            notes.append(f"line {lines[0]} is the header: {_listed(words)} {verb} above "
                         f"numbers, so {_listed(numbers)} {are} too")
        names = _unique_names(head[0])
        head = head[1:]
        line_numbers = line_numbers[1:]
        if not len(line_numbers):
            raise DatasetError(f"{path}: the file has a header line but no data rows")
    else:
        names = [f"col_{j}" for j in range(width)]
    for j, col in enumerate(columns):
        col.pieces.insert(0, [row[j] for row in head])
    del head
    if not header and len(line_numbers) > 1:
        first = [col.pieces[0][0] for col in columns]
        fixed = _demangle(first)
        if fixed is not None:
            changed = [j for j in range(width) if fixed[j] != first[j]]
            if all(_integral(columns[j], skip_first=True) for j in changed):
                for j in changed:
                    columns[j].pieces[0][0] = fixed[j]
                first_row = fixed
                notes.append(f"line {line_numbers[0]} looked like a header that pandas had "
                             f"made unique ('0.1', '0.2', ...); read its cells as the "
                             f"integers they were")
    if width < min_width:
        raise DatasetError(f"{path}: the file has a single column; a dataset needs at least "
                           f"one feature column and a target column (separate them with "
                           f"commas)")
    for col in columns:
        col.finish()
    return _Table(path, names, columns, line_numbers, header, notes, text, delimiter,
                  first_row)


# ----------------------------------------------------------- parsing columns
@dataclass
class _Parsed:
    values: np.ndarray      # float64, NaN where missing, text or infinite
    missing: np.ndarray     # bool
    text: np.ndarray        # bool: a cell that is neither a number, a bool nor missing
    infinite: np.ndarray    # bool
    boolean: np.ndarray     # bool: a True/False cell

    @property
    def n_text(self) -> int:
        return int(self.text.sum())

    @property
    def n_bool(self) -> int:
        return int(self.boolean.sum())

    @property
    def n_number(self) -> int:
        other = self.missing | self.text | self.infinite | self.boolean
        return int(len(self.values) - other.sum())

    @property
    def kind(self) -> str:
        if self.n_text == 0:
            if self.n_number == 0 and self.n_bool == 0:
                return "empty"
            return "bool" if self.n_number == 0 else "number"
        present = len(self.values) - int(self.missing.sum())
        if self.n_number + self.n_bool >= (1 - COERCE_TEXT_FRACTION) * present:
            return "mostly-number"
        return "text"

    def take(self, idx: np.ndarray) -> _Parsed:
        return _Parsed(self.values[idx], self.missing[idx], self.text[idx],
                       self.infinite[idx], self.boolean[idx])

    @staticmethod
    def concat(parts: list[_Parsed]) -> _Parsed:
        return _Parsed(*(np.concatenate([getattr(p, f) for p in parts])
                         for f in ("values", "missing", "text", "infinite", "boolean")))


def _parse_floats(values: np.ndarray) -> _Parsed:
    nan = np.isnan(values)
    inf = np.isinf(values)
    none = np.zeros(len(values), bool)
    return _Parsed(np.where(nan | inf, np.nan, values), nan, none, inf, none.copy())


def _parse_cells(cells: Sequence[str]) -> _Parsed:
    n = len(cells)
    try:   # fast path: every cell a plain number
        return _parse_floats(np.fromiter(map(float, cells), np.float64, n))
    except ValueError:
        pass
    values = np.full(n, np.nan)
    missing = np.zeros(n, bool)
    text = np.zeros(n, bool)
    inf = np.zeros(n, bool)
    boolean = np.zeros(n, bool)
    for i, s in enumerate(cells):
        low = s.lower()
        if low in MISSING:
            missing[i] = True
        elif low == "true" or low == "false":
            values[i] = 1.0 if low == "true" else 0.0
            boolean[i] = True
        else:
            try:
                v = float(s)
            except ValueError:
                text[i] = True
                continue
            if math.isnan(v):
                missing[i] = True
            elif math.isinf(v):
                inf[i] = True
            else:
                values[i] = v
    return _Parsed(values, missing, text, inf, boolean)


def _check_finite(p: _Parsed, table: _Table, name: str, rows: np.ndarray) -> None:
    bad = np.flatnonzero(p.infinite | (np.abs(np.nan_to_num(p.values)) > _F32_MAX))
    if len(bad):
        line = table.lines[rows[bad[0]]]
        what = "an infinite value" if p.infinite[bad[0]] else \
            f"the value {p.values[bad[0]]:g}, too large for float32"
        raise DatasetError(f"{table.path}: infinities: column {name!r} holds {what} on line "
                           f"{line} ({len(bad)} such cell{'s' if len(bad) > 1 else ''})")


def _fmt_class(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


# ---------------------------------------------------------------- the target
_INDEX = re.compile(r"\s*-?\d+\s*")   # a target given as text that reads as a column index

#: Words that name a target column (whole words of a column name, any case): the
#: course's wage_per_hour and survived, and the usual names in teaching datasets.
TARGET_WORDS = frozenset({
    "target", "label", "class", "y", "outcome", "response", "survived", "species",
    "price", "wage", "salary", "income", "quality", "diagnosis", "churn", "digit",
})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")   # wage_per_hour, SalePrice, HTTPCode
NAMED_LIKE_A_TARGET = "named like a target"
FIRST_OF_HEADERLESS = "first column of a file without a header"
LAST_COLUMN = "last column"


def _words(name: str) -> list[str]:
    """A column name's words, lower case: split on anything but letters and digits,
    and between camelCase parts ('SalePrice' -> ['sale', 'price'])."""
    return [w.lower() for w in _WORD.findall(name)]


def _pick_target(names: Sequence[str], header: bool) -> tuple[int, str]:
    """(index, reason) of the likely target column: see likely_target."""
    for j, name in enumerate(names):
        if TARGET_WORDS.intersection(_words(name)):
            return j, NAMED_LIKE_A_TARGET
    if not header:
        return 0, FIRST_OF_HEADERLESS
    return len(names) - 1, LAST_COLUMN


def _resolve_target(target: Any, names: list[str], path: Path, header: bool = True) -> int:
    cols = ", ".join(repr(n) for n in names[:30]) + (" ..." if len(names) > 30 else "")
    if target is None:
        return _pick_target(names, header)[0]
    if isinstance(target, bool):
        raise DatasetError(f"{path}: target must be a column name or index, got {target!r}")
    if isinstance(target, int | np.integer):
        t = int(target)
        if not -len(names) <= t < len(names):
            raise DatasetError(f"{path}: target column index {t} does not exist: the file has "
                               f"{len(names)} columns (0..{len(names) - 1}): {cols}")
        return t % len(names)
    if isinstance(target, str):
        if target in names:
            return names.index(target)
        folded = [n.lower() for n in names]
        if folded.count(target.strip().lower()) == 1:
            return folded.index(target.strip().lower())
        if _INDEX.fullmatch(target):      # "0" from a command line: a name wins, else an index
            t = int(target)
            if -len(names) <= t < len(names):
                return t % len(names)
            raise DatasetError(f"{path}: target column {target!r} does not exist: no column has "
                               f"that name, and the file has {len(names)} columns "
                               f"(0..{len(names) - 1}): {cols}")
        raise DatasetError(f"{path}: target column {target!r} does not exist; the columns "
                           f"are: {cols}")
    raise DatasetError(f"{path}: target must be a column name or index, got "
                       f"{type(target).__name__}")


def _target(table: _Table, j: int, task: str):
    """-> (keep rows, y, task, class_names, notes)"""
    name = table.names[j]
    path = table.path
    p = table.parsed(j)
    all_rows = np.arange(table.n_rows)
    notes = []
    if (~p.missing).any() and p.missing.any():
        notes.append(f"dropped {int(p.missing.sum())} rows with no {name!r}")
    if p.kind == "mostly-number":    # a few junk cells ('-') among numbers: not classes
        junk = np.flatnonzero(p.text)
        cells = table.strings(j)
        shown = ", ".join(f"{cells[i]!r} on line {table.lines[i]}" for i in junk[:3])
        notes.append(f"dropped {len(junk)} row{'s' if len(junk) > 1 else ''} whose {name!r} is "
                     f"not a number ({shown}{', ...' if len(junk) > 3 else ''})")
        p = _Parsed(p.values, p.missing | p.text, np.zeros_like(p.text), p.infinite, p.boolean)
    keep = ~p.missing
    if p.n_text == 0:
        _check_finite(p, table, name, all_rows)
    if not keep.any():
        raise DatasetError(f"{path}: target column {name!r} has no values")
    idx = np.flatnonzero(keep)

    if p.n_text > 0:      # text classes
        cells = table.strings(j)
        labels = [cells[i] for i in idx]
        classes = sorted(set(labels))
        if task == "regression":
            first = int(np.flatnonzero(p.text)[0])
            raise DatasetError(
                f"{path}: target {name!r} holds text ({cells[first]!r} on line "
                f"{table.lines[first]}), so it cannot be a regression target")
        lookup = {c: k for k, c in enumerate(classes)}
        y = np.array([lookup[s] for s in labels], dtype=np.int64)
        values = None
    else:
        values = p.values[idx]
        if (note := table.columns[j].format_note(name)) is not None:
            notes.append(note)
        classes_f = np.unique(values)
        classes = [_fmt_class(v) for v in classes_f]
        if p.n_number == 0:     # only True/False
            classes = ["False", "True"][int(classes_f[0]): int(classes_f[-1]) + 1]
        y = np.searchsorted(classes_f, values)
    k = len(classes)
    if k < 2:
        only = classes[0] if classes else ""
        raise DatasetError(f"{path}: target {name!r} has one class: every row holds {only!r}; "
                           f"a model needs at least two different values")
    integral = values is not None and bool(np.all(values == np.round(values)))
    if task == "auto":
        if k == 2:
            task = "binary"
        elif values is None or (integral and k <= AUTO_MULTICLASS_MAX):
            task = "multiclass"
        else:
            task = "regression"
        notes.append(f"task inferred from {name!r}: {task} ({k} different values)")
    if task == "regression":
        return idx, values, task, [], notes
    if task == "binary" and k != 2:
        raise DatasetError(f"{path}: task 'binary' needs a target with two classes; {name!r} "
                           f"has {k}")
    if k > MAX_CLASSES:
        raise DatasetError(f"{path}: target {name!r} has {k} different values, too many classes "
                           f"(at most {MAX_CLASSES}); use task='regression' for numbers")
    return idx, y, task, classes, notes


# --------------------------------------------------------------- features
def _features(table: _Table, target_j: int, idx: np.ndarray):
    """-> (list of (name, float64 column)), notes, the columns' encoding (what became of
    each column: datasets.encoding.Column)"""
    out: list[tuple[str, np.ndarray]] = []
    notes: list[str] = []
    encoding: list[Column] = []
    used = {table.names[target_j]}
    all_rows = len(idx) == table.n_rows

    def add(name: str, col: np.ndarray) -> str:
        base, k = name, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out.append((name, col))
        return name

    for j, name in enumerate(table.names):
        if j == target_j:
            continue
        p = table.parsed(j)
        if not all_rows:
            p = p.take(idx)
        kind = p.kind
        cells = table.strings(j) if kind == "text" else []
        table.columns[j].pieces = []       # read: let its memory go
        if kind == "empty":
            notes.append(f"dropped column {name!r}: it has no values")
            encoding.append(Column(name, "dropped"))
            continue
        if kind == "text":
            if not all_rows:
                cells = [cells[i] for i in idx]
            present = [c for c, m in zip(cells, p.missing, strict=True) if not m]
            cats = sorted(set(present))
            if len(cats) > MAX_ONE_HOT:
                notes.append(f"dropped column {name!r}: {len(cats)} different text values, "
                             f"too many to one-hot encode (at most {MAX_ONE_HOT})")
                encoding.append(Column(name, "dropped"))
                continue
            arr = np.asarray(cells, dtype=object)
            made = tuple(add(f"{name}_{c}", (arr == c).astype(np.float64)) for c in cats)
            encoding.append(Column(name, "one_hot", made, categories=tuple(cats)))
            note = f"one-hot encoded {name!r} into {len(cats)} columns"
            if p.missing.any():
                note += f" ({int(p.missing.sum())} missing values are all zeros)"
            notes.append(note)
            continue
        _check_finite(p, table, name, idx)
        if (note := table.columns[j].format_note(name)) is not None:
            notes.append(note)
        missing = p.missing | p.text
        if kind == "mostly-number":
            notes.append(f"read {p.n_text} text cells of {name!r} as missing values")
        col = p.values
        if missing.any():
            mean = float(col[~missing].mean())
            col = np.where(missing, mean, col)
            made = (add(name, col), add(f"{name}_was_missing", missing.astype(np.float64)))
            encoding.append(Column(name, "number", made, fill=mean))
            notes.append(f"filled {int(missing.sum())} missing values of {name!r} with the mean "
                         f"{mean:g} and flagged them in {name + '_was_missing'!r}")
        else:
            encoding.append(Column(name, "number", (add(name, col),)))
    if not out:
        raise DatasetError(f"{table.path}: no usable feature columns besides the target "
                           f"{table.names[target_j]!r} ({'; '.join(notes) or 'none'})")
    return out, notes, encoding


def _frame_factory(features: list[tuple[str, np.ndarray]], target_name: str, target_col):
    def make():
        import pandas as pd

        cols: dict[str, Any] = {}
        for name, col in features:
            integral = np.all(col == np.round(col)) and np.all(np.abs(col) < 2 ** 53)
            cols[name] = col.astype(np.int64) if integral else col
        cols[target_name] = target_col
        return pd.DataFrame(cols)
    return make


# ------------------------------------------------------------------- public
def _memory_guard(fn):
    """A file too big for this machine's memory is a DatasetError too."""
    @functools.wraps(fn)
    def guarded(path, *args, **kwargs):
        try:
            return fn(path, *args, **kwargs)
        except MemoryError:
            where = os.fspath(path) if isinstance(path, str | os.PathLike) else repr(path)
            raise DatasetError(f"{where}: not enough memory to read this file (reading takes "
                               f"several times the file's size); use a smaller file") from None
    return guarded


@_memory_guard
def from_csv(path: str | os.PathLike, target: str | int | None = None, task: str = "auto",
             max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> Dataset:
    """Import a CSV file as a Dataset.

    Args:
        path: the file.
        target: the target column, by name or 0-based index (negative counts from the
            end); text that reads as a whole number (``"0"``) is an index unless a column
            has that name. None: the column ``likely_target`` picks (one named like a
            target, else the first column of a file without a header, else the last),
            and a note in ``Dataset.notes`` says which and why.
        task: "auto" (inferred from the target), "regression", "binary" or "multiclass".
        max_bytes: files larger than this are refused (default 1 GB).
        name: the dataset's name (default the file name without its extension).
    """
    if task not in ("auto", *TASKS):
        raise DatasetError(f"task must be {_choices(('auto', *TASKS))}, got {task!r}")
    p = _as_path(path)
    text, _ = _read_text(p, _check_max_bytes(max_bytes))
    table = _table(text, p)
    j = _resolve_target(target, table.names, p, table.header)
    idx, y, task, classes, t_notes = _target(table, j, task)
    if target is None:
        reason = _pick_target(table.names, table.header)[1]
        t_notes.insert(0, f"no target given: chose {table.names[j]!r} ({reason})")
    features, f_notes, columns = _features(table, j, idx)
    X = np.empty((len(idx), len(features)), np.float32)
    for k, (_, col) in enumerate(features):
        X[:, k] = col
    target_name = table.names[j]
    if task == "regression":
        shown = y.astype(np.float64)
    else:
        shown = np.asarray(classes, dtype=object)[y]
    ds_name = name or p.stem
    n, k = X.shape
    desc = (f"{p.name}: {n} rows, {k} features, target {target_name!r} ({task}"
            + (f", {len(classes)} classes" if classes else "") + ")")
    return Dataset(
        name=ds_name, X=X, y=y, task=task, feature_names=[f for f, _ in features],
        target_name=target_name, class_names=classes, description=desc,
        source=f"imported from {p}", licence="your own file: its licence is its owner's",
        notes=table.notes + t_notes + f_notes,
        frame_factory=_frame_factory(features, target_name, shown),
        encoding=FeatureEncoding(columns, target_name),
    )


@_memory_guard
def csv_columns(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """The file's column names (those from_csv offers as the target), in order.

    A file without a header gets the names col_0, col_1, ... Reads at most the
    first few megabytes."""
    p = _as_path(path)
    text, complete = _read_text(p, _check_max_bytes(max_bytes), prefix=_COLUMNS_PREFIX)
    return list(_table(text, p, complete).names)


@_memory_guard
def likely_target(source: str | os.PathLike | Sequence[str], *, header: bool | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str]:
    """The column that is most likely a CSV file's target, and why: ``(name, reason)``.

    ``source`` is the file (only its first few megabytes are read, as by
    ``csv_columns``) or its column names as ``csv_columns`` gives them, so that a
    dialog which has listed the columns asks again without reading the file. The
    rule, the first that applies:

    1. the first column with a word of its name in ``TARGET_WORDS`` (target,
       label, class, y, outcome, response, survived, species, price, wage, salary,
       income, quality, diagnosis, churn, digit), words being split on anything
       but letters and digits and between camelCase parts, compared whole and in
       any case: ``wage_per_hour``, ``SalePrice``, ``Class``, but not ``pclass``;
       reason ``"named like a target"``;
    2. for a file without a header row, the first column (MNIST-style files put
       the label first); reason ``"first column of a file without a header"``;
    3. the last column; reason ``"last column"``.

    ``header`` says whether the file has a header row when ``source`` is column
    names; None: it has none when the names are those ``from_csv`` gives such a
    file (col_0, col_1, ...). With a path the file itself says. ``from_csv``
    uses the same rule when it is given no target.
    """
    if isinstance(source, str | os.PathLike):
        if header is not None:
            raise DatasetError("likely_target: header= goes with column names; a file says "
                               "itself whether it has a header")
        p = _as_path(source)
        text, complete = _read_text(p, _check_max_bytes(max_bytes), prefix=_COLUMNS_PREFIX)
        table = _table(text, p, complete)
        names, header = table.names, table.header
    else:
        if isinstance(source, bytes) or not isinstance(source, Sequence) \
                or not all(isinstance(n, str) for n in source):
            raise DatasetError(f"likely_target takes a CSV file path or a list of column names, "
                               f"got {source!r}")
        names = list(source)
        if header is None:
            header = names != [f"col_{j}" for j in range(len(names))]
        if not names:
            raise DatasetError("likely_target: no column names given")
    j, reason = _pick_target(names, bool(header))
    return names[j], reason


@_memory_guard
def read_features(path: str | os.PathLike, n_features: int | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[np.ndarray, list[str]]:
    """Rows to predict from a CSV file with feature columns only (no target), such
    as the course's titanic_pred.csv.

    Numbers and True/False only; returns ``(X float32 (n, k), column names)``. A
    missing or text cell, or a column count other than ``n_features``, is a
    DatasetError."""
    p = _as_path(path)
    table = _table(_read_text(p, _check_max_bytes(max_bytes))[0], p)
    if n_features is not None and len(table.names) != n_features:
        raise DatasetError(f"{p}: {len(table.names)} columns, but the model takes "
                           f"{n_features} features")
    cols = []
    rows = np.arange(table.n_rows)
    for j, name in enumerate(table.names):
        parsed = table.parsed(j)
        _check_finite(parsed, table, name, rows)
        bad = np.flatnonzero(parsed.missing | parsed.text)
        if len(bad):
            cell = table.strings(j)[bad[0]]
            raise DatasetError(f"{p}: column {name!r} on line {table.lines[bad[0]]} holds "
                               f"{cell!r}, not a number")
        cols.append(parsed.values)
    return np.column_stack(cols).astype(np.float32), list(table.names)
