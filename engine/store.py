"""The run store: every run, its settings and its per-epoch history in one
SQLite file (the standard library's sqlite3, WAL mode).

    store = RunStore()                    # $DEEPTERM_STORE, else the user data directory
    store.list(); store.get("3fa1"); store.export("3fa1", "run.csv"); store.delete("3fa1")

Each write is one transaction, so a killed trainer leaves its finished epochs
behind and its run reads back as ``interrupted``. Several processes may write
one store at once (SQLite's WAL; a writer waits up to ``timeout`` seconds for
another). A file that is not a deepterm store, a damaged one, or one written
by a newer deepterm is reported with a ``StoreError`` and never written to.
One run whose record cannot be read is reported by its id (``RunDamaged``);
the other runs still list and read. The schema is versioned (``PRAGMA
user_version``) and migrated in place after a backup copy is made.

Listing reads no histories: each run's row keeps a summary (epochs done, the
last and the best value of each metric, the epoch of each best), updated with
every epoch, and ``RunStore.history`` reads one run's epochs when they are
needed. Reading never writes: a store on read-only media, or on a full disk,
still reads.
"""

from __future__ import annotations

import builtins
import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .history import History
from .numerics import json_default
from .run import Run, maximised, utc_now
from .spec import ModelSpec

SCHEMA_VERSION = 3
APPLICATION_ID = 0x64707472  # "dptr": marks the file as a deepterm run store
ENV_VAR = "DEEPTERM_STORE"


class StoreError(ValueError):
    """The run store cannot do what was asked; the message says why and what to do."""


class StoreDamaged(StoreError):
    """The file is not a deepterm store or is damaged; it is left untouched."""


class StoreTooNew(StoreError):
    """The store was written by a newer deepterm; it is left untouched."""


class StoreLocked(StoreError):
    """Another process held the store for longer than the timeout."""


class StoreReadOnly(StoreError):
    """The store (or its folder) cannot be written."""


class StoreFull(StoreError):
    """The disk is full; the write was rolled back and the store kept as it was."""


class StoreSettingError(StoreError):
    """A store setting is unusable (the path, the timeout); nothing was opened."""


class RunNotFound(StoreError):
    """No run has that id (or the prefix is ambiguous)."""


class RunDamaged(StoreError):
    """One run's record cannot be read (bad JSON, a value of the wrong kind, a
    field this deepterm does not know); it is left as it is, and the other runs
    still read. ``run_id`` and ``problem`` say which and what."""

    def __init__(self, message: str, run_id: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.run_id = run_id
        self.problem = problem


class RunInUse(StoreError):
    """The run is still being trained by a live process; it was not deleted."""


# Schema version 1, exactly as first released: new stores are created at
# version 1 and then migrated, so every store follows the same path.
_SCHEMA_V1 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state TEXT NOT NULL,            -- 'running' until the trainer finishes it, then 'finished'
    stop_reason TEXT,               -- completed | early_stopped | stopped | diverged | failed
    error TEXT,
    dataset TEXT NOT NULL,          -- catalog name, or the CSV's path
    dataset_json TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    fit_json TEXT NOT NULL,
    backend TEXT NOT NULL,
    device TEXT,
    seed INTEGER,
    n_params INTEGER NOT NULL,
    duration_s REAL,
    final_json TEXT,
    best_json TEXT,
    writer_pid INTEGER,
    writer_host TEXT
);
CREATE TABLE epochs (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    logs_json TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE INDEX runs_by_time ON runs(created_at);
"""

# MIGRATIONS[v] takes a store from version v to v + 1 (then _AFTER_MIGRATION[v], if any).
MIGRATIONS: dict[int, str] = {
    0: _SCHEMA_V1,
    1: """
    ALTER TABLE runs ADD COLUMN group_name TEXT;   -- the sweep or experiment a run belongs to
    ALTER TABLE runs ADD COLUMN label TEXT;        -- e.g. 'learning_rate=0.01'
    CREATE TABLE weights (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        format TEXT NOT NULL,                      -- 'npz': the arrays of get_weights()
        data BLOB NOT NULL
    );
    """,
    2: """
    ALTER TABLE runs ADD COLUMN epochs_done INTEGER;     -- epoch rows written, kept with each epoch
    ALTER TABLE runs ADD COLUMN best_epochs_json TEXT;   -- {metric: the epoch of its best value}
    ALTER TABLE runs ADD COLUMN writer_started TEXT;     -- when the writer process started
    """,
}

#: Below this many free bytes, an I/O error while writing means the disk is full
#: (SQLite reports a full disk as SQLITE_FULL only for page writes; growing its
#: shared-memory file on a full disk is a "disk I/O error").
FULL_DISK_BYTES = 1 << 20


def default_store_path() -> Path:
    """$DEEPTERM_STORE, else ``runs.db`` in the user's data directory."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_data_path

        return user_data_path("deepterm", appauthor=False) / "runs.db"
    except ImportError:  # XDG rules by hand
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".local", "share")
        return Path(base) / "deepterm" / "runs.db"


def check_timeout(value: Any) -> float:
    """``value`` as a store timeout in seconds: a finite number >= 0."""
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = math.nan
    if isinstance(value, bool) or not math.isfinite(timeout) or timeout < 0:
        raise StoreSettingError(f"timeout must be a finite number of seconds >= 0 (e.g. 10), "
                                f"got {value!r}")
    return timeout


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < FULL_DISK_BYTES
    except OSError:
        return False


def _translate(exc: sqlite3.Error, path: Path, timeout: float) -> StoreError:
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        return StoreLocked(f"{path}: the run store is locked by another process (waited "
                           f"{timeout:g} s); try again when it has finished")
    if code == 13 or (code in (10, 14) and _disk_full(path)):  # SQLITE_FULL; IOERR, CANTOPEN
        return StoreFull(f"{path}: the disk is full; this write was undone and the store "
                         f"keeps everything written before it")
    if code == 8:  # SQLITE_READONLY
        return StoreReadOnly(f"{path}: the run store is read-only ({exc}); choose a writable "
                             f"one with --store or ${ENV_VAR}")
    if code in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
        return StoreDamaged(f"{path}: not a deepterm run store, or a damaged one ({exc}); it "
                            f"was left untouched: move it aside or use --store")
    if code == 14 and path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        return StoreReadOnly(f"{path}: the run store is read-only (its folder cannot be "
                             f"written: read-only media?); it can be read, not changed: choose a "
                             f"writable one with --store or ${ENV_VAR}")
    if code == 14:  # SQLITE_CANTOPEN
        return StoreReadOnly(f"{path}: cannot open or create the run store ({exc}); choose "
                             f"another with --store or ${ENV_VAR}")
    return StoreError(f"{path}: run store error: {exc}")


#: Errors after which a read is tried again on a read-only connection: the file or
#: its folder cannot be written (read-only media), or the disk is full.
_READ_AGAIN = (8, 10, 13, 14)   # READONLY, IOERR, FULL, CANTOPEN


# -- who writes a run ---------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def process_started(pid: int) -> str | None:
    """When process ``pid`` started, as ``'<boot id>:<clock ticks after boot>'``, or
    None where the system does not say (Linux's /proc does). A pid that is reused
    by a later process, or a machine that rebooted, gives another value."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        ticks = int(stat[stat.rindex(b")") + 2:].split()[19])   # field 22, starttime
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip()
    except (OSError, ValueError, IndexError):
        return None
    return f"{boot}:{ticks}"


_THIS_PROCESS: dict[int, str | None] = {}


def _this_process_started() -> str | None:
    pid = os.getpid()   # per pid: a forked child is another writer
    if pid not in _THIS_PROCESS:
        _THIS_PROCESS[pid] = process_started(pid)
    return _THIS_PROCESS[pid]


def writer_alive(pid: int | None, started: str | None) -> bool:
    """Whether process ``pid`` on this host is still the one that started at
    ``started`` (only whether it lives, where start times are not known)."""
    if not pid or not _pid_alive(pid):
        return False
    if started:
        now = process_started(pid)
        if now is not None and now != started:
            return False   # the pid now belongs to a later process (or another boot)
    return True


# -- JSON ---------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, allow_nan=True)


def _json_default(value: Any):
    try:
        return json_default(value)
    except TypeError:
        return str(value)   # a run keeps what it can describe, never fails on it


#: How non-finite numbers appear in exported JSON, which has no such numbers.
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _finite_json(value: Any) -> Any:
    """``value`` with every non-finite number replaced by its NON_FINITE string."""
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite_json(value.tolist())
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else NON_FINITE[repr(number)]
    if isinstance(value, np.integer):
        return int(value)
    return value


def to_json(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text (RFC 8259): NaN, infinity and minus infinity, which JSON
    cannot hold as numbers, are written as the strings ``"NaN"``, ``"Infinity"``
    and ``"-Infinity"``; ``float()`` reads each back (``Run.from_dict`` does)."""
    return json.dumps(_finite_json(value), indent=indent, default=_json_default,
                      allow_nan=False)


# -- summaries, and reading what a row holds ----------------------------------------------


def summarize(history: History) -> dict[str, Any]:
    """What a run's row keeps about its history, so that listing needs no epochs:
    epochs done, the last value of each metric (``final``), the best finite value
    of each (``best``: max for accuracy-like names, else min) and its epoch
    (``best_epochs``), as ``History.best`` picks them."""
    best, best_epochs = {}, {}
    for key in history.history:
        found = history.best(key)
        if found is not None:
            best_epochs[key], best[key] = found
    return {"epochs_done": len(history),
            "final": {k: v[-1] for k, v in history.history.items() if v},
            "best": best, "best_epochs": best_epochs}


def _merge_epoch(summary: dict[str, Any], epoch: int, logs: dict[str, float]) -> None:
    """Update ``summary`` for one more epoch, exactly as summarize() would see it:
    ties keep the first best value for a minimum and the last for a maximum."""
    summary["final"].update(logs)
    for key, value in logs.items():
        if not math.isfinite(value):
            continue
        old = summary["best"].get(key)
        better = old is None or (value >= old if maximised(key) else value < old)
        if better:
            summary["best"][key] = value
            summary["best_epochs"][key] = epoch


class _Damage(Exception):
    """Raised inside the readers: ``str(exc)`` says what is wrong with a row."""


def _json_column(row: sqlite3.Row, column: str, kind: type = dict, nullable: bool = False):
    text = row[column]
    if text is None:
        if nullable:
            return kind()
        raise _Damage(f"{column} is empty")
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _Damage(f"{column} is not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise _Damage(f"{column} holds {_kind(value)} ({_clip(text)}), not {_kind(kind())}")
    return value


def _numbers(values: dict, where: str, kind: tuple[type, ...] = (int, float)) -> dict:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, kind):
            raise _Damage(f"{where} holds {_kind(value)} ({_clip(json.dumps(value))}) for "
                          f"{key!r}, not a number")
    return values


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), "a number")


def _clip(text: Any, width: int = 40) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def epoch_logs(text: Any, epoch: int) -> dict[str, float]:
    """One epoch row's metrics, checked: a JSON object of metric name -> number."""
    where = f"epoch {epoch + 1}"
    try:
        logs = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _Damage(f"{where}: logs_json is not valid JSON ({exc})") from None
    if not isinstance(logs, dict):
        raise _Damage(f"{where}: logs_json holds {_kind(logs)} ({_clip(text)}), not an "
                      f"object of metric values")
    _numbers(logs, f"{where}: logs_json")
    return {k: float(v) for k, v in logs.items()}


# -- what list() returns ------------------------------------------------------------------


class StoredRun(Run):
    """A run as ``RunStore.list`` gives it: every field of the run, but its
    per-epoch ``history`` stays in the store until it is first read (one query,
    ``RunStore.history``). Until then ``epochs_done``, ``final``, ``best``,
    ``best_epoch`` and ``monitor`` come from the summary kept in the run's row,
    and ``history_loaded`` is False."""

    _store: RunStore | None = None
    _summary: dict[str, Any] | None = None
    _loaded_history: History | None = None

    @property
    def history(self) -> History:
        if self._loaded_history is None:
            self._loaded_history = self._store.history(self.id) if self._store is not None \
                else History()
        return self._loaded_history

    @history.setter
    def history(self, value: History | None) -> None:
        self._loaded_history = value

    @property
    def history_loaded(self) -> bool:
        return self._loaded_history is not None

    def _from_summary(self) -> bool:
        return self._loaded_history is None and self._summary is not None

    @property
    def epochs_done(self) -> int:
        return self._summary["epochs_done"] if self._from_summary() else super().epochs_done

    @property
    def final(self) -> dict[str, float]:
        return dict(self._summary["final"]) if self._from_summary() else super().final

    @property
    def best(self) -> dict[str, float]:
        return dict(self._summary["best"]) if self._from_summary() else super().best

    @property
    def monitor(self) -> str:
        if self._from_summary():
            return "val_loss" if "val_loss" in self._summary["final"] else "loss"
        return super().monitor

    @property
    def best_epoch(self) -> int | None:
        if self._from_summary():
            return self._summary["best_epochs"].get(self.monitor)
        return super().best_epoch


@dataclass
class DamagedRun:
    """A run whose record cannot be read: its id, what could be read of its row
    (creation time, dataset name, status) and ``problem``, what is wrong."""

    id: str
    created_at: str
    dataset_name: str
    status: str
    problem: str


class RunList(builtins.list):
    """The readable runs (a list of ``StoredRun``), newest first. ``damaged``
    holds the runs whose records cannot be read; ``entries`` every run in the
    store's order, damaged ones included."""

    def __init__(self, entries: Iterable[StoredRun | DamagedRun] = ()) -> None:
        self.entries = builtins.list(entries)
        super().__init__(e for e in self.entries if not isinstance(e, DamagedRun))

    @property
    def damaged(self) -> builtins.list[DamagedRun]:
        return [e for e in self.entries if isinstance(e, DamagedRun)]


# -- the store ----------------------------------------------------------------------------


class RunStore:
    """Runs kept in one SQLite file at ``path`` (default: ``default_store_path()``).

    Every method opens its own short connection, so one store object can be
    used from several threads. ``readonly=True`` opens the file for reading
    only (on read-only media too). ``timeout`` is how long a write waits for
    another writer (a finite number of seconds >= 0).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, readonly: bool = False,
                 timeout: float = 10.0) -> None:
        if path is not None and os.fspath(path).strip() in (":memory:", ""):
            raise StoreSettingError(
                f"the run store must be a file, got {os.fspath(path)!r}"
                + (" (SQLite's in-memory database, which every connection sees empty)"
                   if os.fspath(path).strip() else ""))
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.readonly = readonly
        self.timeout = check_timeout(timeout)
        self._checked = False

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------

    def _uri(self, **params: str) -> str:
        """A ``file:`` URI for the store: the path quoted, so ``?`` and ``#`` stay in it."""
        path = urllib.parse.quote(self.path.resolve().as_posix(), safe="/:")
        return f"file:{path}?{urllib.parse.urlencode(params)}"

    def _open(self) -> sqlite3.Connection:
        """A connection that may write (and may create the file)."""
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; give a file path for the store")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnly(f"{self.path}: cannot create the store's folder "
                                f"({exc.strerror}); choose another with --store "
                                f"or ${ENV_VAR}") from None
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    def _open_readonly(self) -> sqlite3.Connection:
        """A connection that only reads. Where SQLite cannot make its shared-memory
        file beside the store (read-only media, a full disk) and no write is
        waiting in the WAL, the file is read as immutable: nothing can write it then."""
        conn = None
        try:
            conn = sqlite3.connect(self._uri(mode="ro"), uri=True, timeout=self.timeout,
                                   isolation_level=None)
            conn.execute("PRAGMA user_version").fetchone()   # WAL: needs the -shm file
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
            if code not in _READ_AGAIN:
                raise
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreReadOnly(
                    f"{self.path}: cannot be read here: its folder cannot be written (read-only "
                    f"or full) and it holds writes not yet merged ({wal.name}); copy the store "
                    f"and its {wal.name} file to a writable folder to read it") from None
            conn = sqlite3.connect(self._uri(mode="ro", immutable="1"), uri=True,
                                   timeout=self.timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection to a checked, current store; with ``write`` inside one
        transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any error)."""
        if write and self.readonly:
            raise StoreReadOnly(f"{self.path}: the run store was opened read-only")
        try:
            conn = self._open()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, self.timeout) from None
        try:
            if not self._checked:
                self._prepare(conn, writable=True)
            conn.execute("PRAGMA foreign_keys = ON")
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            else:
                yield conn
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, self.timeout) from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def _reader(self) -> Iterator[tuple[sqlite3.Connection | None, int]]:
        """(connection, schema version) for reading; (None, 0) when there is no
        store yet: reading never creates one. A store that can be written is
        opened as for writing (an older schema is migrated first); one that
        cannot (read-only media, a full disk, ``readonly=True``) is read as it is."""
        if not self.path.exists():
            yield None, 0
            return
        conn = None
        if not self.readonly:
            try:
                conn = self._open()
                version = self._prepare(conn, writable=True) if not self._checked \
                    else SCHEMA_VERSION
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                conn = None
                if ((getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF) not in _READ_AGAIN:
                    raise _translate(exc, self.path, self.timeout) from None
        try:
            if conn is None:
                try:
                    conn = self._open_readonly()
                    version = self._prepare(conn, writable=False)
                except sqlite3.Error as exc:
                    raise _translate(exc, self.path, self.timeout) from None
            try:
                yield (conn if version else None), version
            except sqlite3.Error as exc:
                raise _translate(exc, self.path, self.timeout) from None
        finally:
            if conn is not None:
                conn.close()

    def _prepare(self, conn: sqlite3.Connection, writable: bool) -> int:
        """Check what the file is; with ``writable`` create or migrate the schema
        when needed. Returns the schema version it can be read at (0: no schema)."""
        # One read transaction, so that the three facts agree: another process that
        # creates the schema between two of these reads would make a new store look foreign.
        conn.execute("BEGIN")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # NOTADB shows here
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and (version or tables)):
            raise StoreDamaged(f"{self.path}: this SQLite file is not a deepterm run store; it "
                               f"was left untouched: choose another with --store")
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"{self.path}: written by a newer deepterm (store schema {version}; this one "
                f"reads up to {SCHEMA_VERSION}); upgrade deepterm: the store was left untouched")
        if not writable:
            return version   # an older schema is read as it is
        if version < SCHEMA_VERSION:
            self._migrate(conn)
            version = SCHEMA_VERSION
        self._use_wal(conn)
        self._checked = True
        return version

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode (once; it stays so). Switching needs the file to
        itself, and SQLite answers "locked" at once, without waiting, while another
        connection is in a transaction (two runs of a sweep creating a new store), so
        the switch is tried again until the store's timeout has passed."""
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = ((getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF) in (5, 6)
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if 0 < version < SCHEMA_VERSION:
            # The copy is taken before the write transaction: SQLite refuses to back up
            # from a connection that holds one (and Python's backup() would retry forever).
            backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
            if not backup.exists():
                with contextlib.closing(sqlite3.connect(backup)) as dst:
                    conn.backup(dst)
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another may have won
            while version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if version == 2:
                    _summarize_old_runs(conn)
                version += 1
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        """The schema version of the store's file (0 when there is none yet)."""
        with self._reader() as (_conn, version):
            return version

    # -- writing ------------------------------------------------------------------------

    def _run_row(self, run: Run) -> dict[str, Any]:
        finished = run.status not in ("running", "interrupted")
        summary = summarize(run.history)
        return {
            "id": run.id, "created_at": run.created_at, "updated_at": utc_now(),
            "state": "finished" if finished else "running",
            "stop_reason": run.stop_reason, "error": run.error,
            "dataset": run.dataset_name, "dataset_json": _dumps(run.dataset),
            "spec_json": run.spec.to_json(), "fit_json": _dumps(run.fit),
            "backend": run.backend, "device": run.device, "seed": run.seed,
            "n_params": run.n_params, "duration_s": run.duration_s,
            "final_json": _dumps(summary["final"]), "best_json": _dumps(summary["best"]),
            "best_epochs_json": _dumps(summary["best_epochs"]),
            "epochs_done": summary["epochs_done"],
            "writer_pid": os.getpid(), "writer_host": socket.gethostname(),
            "writer_started": _this_process_started(),
            "group_name": run.group, "label": run.label,
        }

    def _upsert(self, conn: sqlite3.Connection, run: Run) -> None:
        row = self._run_row(run)
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        updates = ", ".join(f"{k} = excluded.{k}" for k in row if k not in ("id", "created_at"))
        conn.execute(f"INSERT INTO runs ({cols}) VALUES ({marks}) "
                     f"ON CONFLICT(id) DO UPDATE SET {updates}", row)

    def begin(self, run: Run) -> None:
        """Record a run that starts training now (state running, no epochs)."""
        with self._db(write=True) as conn:
            self._upsert(conn, run)

    def add_epoch(self, run_id: str, epoch: int, logs: dict[str, float]) -> None:
        """Write one finished epoch in its own transaction, and the run's summary
        (epochs done, last and best values) with it."""
        self.add_epochs(run_id, [(epoch, logs)])

    def add_epochs(self, run_id: str, entries: Iterable[tuple[int, dict[str, float]]]) -> None:
        """Write finished epochs, oldest first, in one transaction, and the run's
        summary with them (a fast run's epochs, reported several at once, take the
        store's write lock once, not once each: the other runs of a sweep that
        share the store are not kept waiting)."""
        entries = [(int(epoch), {k: float(v) for k, v in logs.items()}) for epoch, logs in entries]
        if not entries:
            return
        with self._db(write=True) as conn:
            row = conn.execute("SELECT final_json, best_json, best_epochs_json, epochs_done "
                               "FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                first = entries[0][0] + 1
                raise RunNotFound(f"run {run_id} is not in {self.path} (deleted while it "
                                  f"trained?); epoch {first} was not written")
            summary = {"final": _json_or_empty(row["final_json"]),
                       "best": _json_or_empty(row["best_json"]),
                       "best_epochs": _json_or_empty(row["best_epochs_json"])}
            done = row["epochs_done"] or 0
            for epoch, logs in entries:
                known = conn.execute("SELECT 1 FROM epochs WHERE run_id = ? AND epoch = ?",
                                     (run_id, epoch)).fetchone()
                conn.execute("INSERT OR REPLACE INTO epochs (run_id, epoch, logs_json) "
                             "VALUES (?, ?, ?)", (run_id, epoch, _dumps(logs)))
                _merge_epoch(summary, epoch, logs)
                done += known is None
            conn.execute("UPDATE runs SET updated_at = ?, final_json = ?, best_json = ?, "
                         "best_epochs_json = ?, epochs_done = ? WHERE id = ?",
                         (utc_now(), _dumps(summary["final"]), _dumps(summary["best"]),
                          _dumps(summary["best_epochs"]), done, run_id))

    def finish(self, run: Run, weights: bool = False) -> None:
        """Write the whole run as it ended (every epoch again: none is lost when
        an earlier per-epoch write failed)."""
        self.save(run, weights=weights)

    def save(self, run: Run, weights: bool = False) -> None:
        """Insert or replace ``run`` with its history, in one transaction."""
        blob = None
        if weights:
            if run.weights is None:
                raise StoreError(f"run {run.id} holds no weights to save")
            buffer = io.BytesIO()
            np.savez(buffer, *[np.asarray(w) for w in run.weights])
            blob = buffer.getvalue()
        history = run.history
        with self._db(write=True) as conn:
            self._upsert(conn, run)
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (run.id,))
            keys = list(history.history)
            conn.executemany(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, logs_json) VALUES (?, ?, ?)",
                [(run.id, e, _dumps({k: history.history[k][i] for k in keys
                                     if i < len(history.history[k])}))
                 for i, e in enumerate(history.epoch)])
            if blob is not None:
                conn.execute("INSERT OR REPLACE INTO weights (run_id, format, data) "
                             "VALUES (?, 'npz', ?)", (run.id, blob))

    def delete(self, run_id: str) -> str:
        """Delete one run (its epochs and weights too); returns its full id. A run
        that a live process is still training is refused (``RunInUse``): that
        process would write it again."""
        return self.delete_all([run_id])[0]

    def delete_all(self, run_ids: Iterable[str]) -> builtins.list[str]:
        """Delete several runs in one transaction: every id is checked first (an
        unknown id, or a run still training, deletes none). Returns the full ids."""
        with self._db(write=True) as conn:
            ids = self._deletable(conn, run_ids)
            conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in ids])
        return ids

    def deletable(self, run_ids: Iterable[str]) -> builtins.list[str]:
        """The full ids ``delete_all(run_ids)`` would delete now; raises as it would."""
        with self._reader() as (conn, _):
            return self._deletable(conn, run_ids)

    def _deletable(self, conn: sqlite3.Connection | None,
                   run_ids: Iterable[str]) -> builtins.list[str]:
        ids = builtins.list(dict.fromkeys(self._resolve(conn, r) for r in run_ids))
        for full in ids:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (full,)).fetchone()
            if self._status(row) == "running":
                pid, host = row["writer_pid"], row["writer_host"]
                if host != socket.gethostname():
                    raise RunInUse(f"run {full} is being trained by process {pid} on {host}, as "
                                   f"far as this host can tell; stop it there first, then delete "
                                   f"it; nothing was deleted")
                raise RunInUse(f"run {full} is still training (process {pid}); stop it first "
                               f"(Ctrl+C, or `kill {pid}`: the run is kept as stopped), then "
                               f"delete it; nothing was deleted")
        return ids

    # -- reading ------------------------------------------------------------------------

    def _resolve(self, conn: sqlite3.Connection | None, run_id: str) -> str:
        run_id = str(run_id).strip()
        if not run_id:
            raise RunNotFound("a run id is needed (see `deepterm runs list`)")
        like = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ids = [] if conn is None else [r[0] for r in conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 6", (like,))]
        if run_id in ids:
            return run_id
        if conn is None:
            raise RunNotFound(f"{self.path}: no run store here yet, so no run {run_id!r}")
        if not ids:
            raise RunNotFound(f"no run {run_id!r} in {self.path}; `deepterm runs list` "
                              f"shows the ids")
        if len(ids) > 1:
            raise RunNotFound(f"run id {run_id!r} is ambiguous in {self.path}: it starts "
                              f"{', '.join(ids[:5])}; give more characters")
        return ids[0]

    def resolve(self, run_id: str) -> str:
        """The full id of the run whose id is or starts with ``run_id``."""
        with self._reader() as (conn, _):
            return self._resolve(conn, run_id)

    @staticmethod
    def _status(row: sqlite3.Row) -> str:
        if row["state"] == "finished":
            return row["stop_reason"] or "completed"
        started = row["writer_started"] if "writer_started" in row.keys() else None
        if row["writer_host"] == socket.gethostname() and row["writer_pid"] \
                and not writer_alive(row["writer_pid"], started):
            return "interrupted"
        return "running"

    def _damaged(self, run_id: str, problem: str) -> RunDamaged:
        return RunDamaged(f"run {run_id} in {self.path} is damaged: {problem}; it was left as it "
                          f"is (`deepterm runs delete {run_id}` removes it)", run_id, problem)

    def _fields(self, row: sqlite3.Row, status: str) -> dict[str, Any]:
        """The Run fields a row holds, every one checked (``_Damage`` says which is wrong)."""
        columns = row.keys()
        if not isinstance(row["created_at"], str):
            raise _Damage(f"created_at holds {_kind(row['created_at'])}, not a time")
        for column, kinds in (("seed", (int,)), ("duration_s", (int, float))):
            value = row[column]
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise _Damage(f"{column} holds {_clip(value)!r}, not a number")
        try:
            spec = ModelSpec.from_json(row["spec_json"])
        except (TypeError, ValueError) as exc:
            newer = " (written by a newer deepterm?)" if "unknown field" in str(exc) else ""
            raise _Damage(f"spec_json: {exc}{newer}") from None
        return {
            "spec": spec, "dataset": _json_column(row, "dataset_json"),
            "fit": _json_column(row, "fit_json"), "backend": str(row["backend"]),
            "seed": row["seed"], "id": row["id"], "created_at": row["created_at"],
            "status": status, "device": row["device"], "duration_s": row["duration_s"],
            "error": row["error"],
            "group": row["group_name"] if "group_name" in columns else None,
            "label": row["label"] if "label" in columns else None,
        }

    @staticmethod
    def _summary(row: sqlite3.Row) -> dict[str, Any] | None:
        """The summary kept in the row (None in a store older than schema 3; a
        damaged one raises _Damage, and the run's epochs tell the same)."""
        if "epochs_done" not in row.keys() or row["epochs_done"] is None:
            return None
        if isinstance(row["epochs_done"], bool) or not isinstance(row["epochs_done"], int):
            raise _Damage(f"epochs_done holds {_clip(row['epochs_done'])!r}, not a count")
        return {"epochs_done": row["epochs_done"],
                "final": _numbers(_json_column(row, "final_json", nullable=True), "final_json"),
                "best": _numbers(_json_column(row, "best_json", nullable=True), "best_json"),
                "best_epochs": _numbers(_json_column(row, "best_epochs_json", nullable=True),
                                        "best_epochs_json", (int,))}

    def _history(self, conn: sqlite3.Connection, run_id: str, fit: dict[str, Any],
                 status: str, row: sqlite3.Row) -> History:
        history = History({k: fit.get(k) for k in ("epochs", "batch_size")})
        for e in conn.execute("SELECT epoch, logs_json FROM epochs WHERE run_id = ? "
                              "ORDER BY epoch", (run_id,)):
            history.append(e["epoch"], epoch_logs(e["logs_json"], e["epoch"]))
        history.stop_reason = status
        history.device = row["device"]
        history.duration_s = row["duration_s"] or 0.0
        return history

    def _read(self, conn: sqlite3.Connection, run_id: str, full: bool) -> Run:
        """The run ``run_id`` (a full id): a Run with its history when ``full``,
        else a StoredRun whose history stays in the store."""
        row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        status = self._status(row)
        if not full:
            return self._read_row(conn, row, status)
        try:
            fields = self._fields(row, status)
            history = self._history(conn, run_id, fields["fit"], status, row)
        except _Damage as exc:
            raise self._damaged(run_id, str(exc)) from None
        return Run(**fields, history=history)

    def get(self, run_id: str, weights: bool = False) -> Run:
        """The run whose id is (or uniquely starts with) ``run_id``, with its
        history; with ``weights=True`` also its saved weights (or None). A run
        whose record cannot be read raises ``RunDamaged``."""
        with self._reader() as (conn, _):
            full = self._resolve(conn, run_id)
            run = self._read(conn, full, full=True)
            if weights:
                run.weights = self._weights(conn, full)
        return run

    def summary(self, run_id: str) -> StoredRun:
        """The run as ``list`` gives it (its history is read when first used)."""
        with self._reader() as (conn, _):
            return self._read(conn, self._resolve(conn, run_id), full=False)

    def history(self, run_id: str) -> History:
        """One run's per-epoch history (what the Runs screen draws when a run is chosen)."""
        with self._reader() as (conn, _):
            full = self._resolve(conn, run_id)
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (full,)).fetchone()
            status = self._status(row)
            try:
                return self._history(conn, full, _json_column(row, "fit_json"), status, row)
            except _Damage as exc:
                raise self._damaged(full, str(exc)) from None

    def _weights(self, conn: sqlite3.Connection, run_id: str) -> list[np.ndarray] | None:
        try:
            found = conn.execute("SELECT data FROM weights WHERE run_id = ?",
                                 (run_id,)).fetchone()
        except sqlite3.OperationalError:   # a schema 1 store, read as it is: no weights table
            return None
        if found is None:
            return None
        with np.load(io.BytesIO(found[0]), allow_pickle=False) as data:
            return [data[f"arr_{i}"] for i in range(len(data.files))]

    def weights(self, run_id: str) -> list[np.ndarray] | None:
        """The weights saved with a run, in ``get_weights`` layout, or None."""
        with self._reader() as (conn, _):
            return self._weights(conn, self._resolve(conn, run_id))

    def list(self, *, dataset: str | None = None, status: str | None = None,
             group: str | None = None, limit: int | None = None) -> RunList:
        """The runs, newest first, optionally only those of one dataset, status
        or group (sweep), at most ``limit`` of them. Each is a ``StoredRun``: its
        history is read when it is first used. A run whose record cannot be read
        is not among them but in the result's ``damaged`` list, with its problem."""
        query, args = "SELECT * FROM runs", []
        where = []
        if dataset is not None:
            where.append("dataset = ?")
            args.append(dataset)
        with self._reader() as (conn, version):
            if conn is None:
                return RunList()
            if group is not None:
                if version < 2:
                    return RunList()
                where.append("group_name = ?")
                args.append(group)
            if where:
                query += " WHERE " + " AND ".join(where)
            query += " ORDER BY created_at DESC, rowid DESC"
            if limit is not None and status is None:
                query += f" LIMIT {int(limit)}"
            entries: builtins.list[StoredRun | DamagedRun] = []
            for row in conn.execute(query, args).fetchall():
                run_status = self._status(row)
                if status is not None and run_status != status:
                    continue
                try:
                    entries.append(self._read_row(conn, row, run_status))
                except RunDamaged as exc:
                    entries.append(DamagedRun(
                        id=str(row["id"]), created_at=str(row["created_at"]),
                        dataset_name=str(row["dataset"]), status=run_status,
                        problem=exc.problem))
                if limit is not None and len(entries) >= limit:
                    break
        return RunList(entries)

    def _read_row(self, conn: sqlite3.Connection, row: sqlite3.Row, status: str) -> StoredRun:
        try:
            fields = self._fields(row, status)
            try:
                summary = self._summary(row)
            except _Damage:
                summary = None   # only derived from the epochs: read them instead
            history = None if summary is not None else \
                self._history(conn, row["id"], fields["fit"], status, row)  # or before schema 3
        except _Damage as exc:
            raise self._damaged(str(row["id"]), str(exc)) from None
        run = StoredRun(**fields, history=history)
        run._store, run._summary = self, summary
        return run

    def __len__(self) -> int:
        with self._reader() as (conn, _):
            return 0 if conn is None else conn.execute("SELECT count(*) FROM runs").fetchone()[0]

    # -- export ---------------------------------------------------------------------------

    def export(self, run_id: str, path: str | os.PathLike | None = None,
               format: str | None = None) -> str:
        """A run as text: ``csv`` in the layout of Keras' CSVLogger (``epoch``
        then the sorted metric names, one row per epoch) or ``json`` (every
        field and the history; strict JSON, see ``to_json`` for NaN and
        infinities). Written to ``path`` when given (format from its suffix
        unless named); returns the text."""
        if format is None:
            format = "json" if path is not None and os.fspath(path).endswith(".json") else "csv"
        if format not in ("csv", "json"):
            raise StoreError(f"export format must be 'csv' or 'json', got {format!r}")
        run = self.get(run_id)
        text = run_to_csv(run) if format == "csv" else to_json(run.to_dict())
        if path is not None:
            tmp = Path(os.fspath(path) + ".tmp")
            try:
                tmp.write_text(text, newline="")
                os.replace(tmp, path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise StoreError(f"{path}: cannot write the export ({exc.strerror})") from None
        return text


def _json_or_empty(text: Any) -> dict:
    """A summary column for updating: what it holds, or {} when it holds no object."""
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _summarize_old_runs(conn: sqlite3.Connection) -> None:
    """Schema 2 -> 3: write each run's summary from its epochs. A finished run keeps
    the final and best values it was saved with (a running one's, and empty ones,
    were written as {} when it began); an epoch row that cannot be read is left out of
    the summary (reading the run's history reports it)."""
    rows = conn.execute("SELECT id, state, final_json, best_json FROM runs "
                        "WHERE epochs_done IS NULL").fetchall()
    for run_id, state, final, best in rows:
        history = History()
        count = 0
        for epoch, text in conn.execute("SELECT epoch, logs_json FROM epochs WHERE run_id = ? "
                                        "ORDER BY epoch", (run_id,)):
            count += 1
            try:
                history.append(epoch, epoch_logs(text, epoch))
            except _Damage:
                continue
        summary = summarize(history)
        conn.execute("UPDATE runs SET epochs_done = ?, best_epochs_json = ? WHERE id = ?",
                     (count, _dumps(summary["best_epochs"]), run_id))
        for column, kept in (("final", final), ("best", best)):
            if state != "finished" or kept in (None, "", "{}"):
                conn.execute(f"UPDATE runs SET {column}_json = ? WHERE id = ?",
                             (_dumps(summary[column]), run_id))


def run_to_csv(run: Run) -> str:
    """Keras' CSVLogger layout: header ``epoch,<sorted keys>``; when there is no
    validation metric, val_ columns follow with NA, as CSVLogger writes them."""
    keys = sorted(run.history.history)
    if keys and not any(k.startswith("val_") for k in keys):
        keys += [f"val_{k}" for k in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", *keys], dialect=csv.excel)
    writer.writeheader()
    for i, epoch in enumerate(run.history.epoch):
        row: dict[str, Any] = {"epoch": epoch}
        for k in keys:
            values = run.history.history.get(k)
            row[k] = values[i] if values is not None and i < len(values) else "NA"
        writer.writerow(row)
    return buffer.getvalue()


__all__ = ["APPLICATION_ID", "ENV_VAR", "NON_FINITE", "SCHEMA_VERSION", "DamagedRun", "RunDamaged",
           "RunInUse", "RunList", "RunNotFound", "RunStore", "StoreDamaged", "StoreError",
           "StoreFull", "StoreLocked", "StoreReadOnly", "StoreSettingError", "StoreTooNew",
           "StoredRun", "check_timeout", "default_store_path", "process_started", "run_to_csv",
           "summarize", "to_json", "writer_alive"]
