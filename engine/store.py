"""The run store: every run, its settings and its per-epoch history in one
SQLite file (the standard library's sqlite3, WAL mode).

    store = RunStore()                    # $DEEPTERM_STORE, else the user data directory
    store.list(); store.get("3fa1"); store.export("3fa1", "run.csv"); store.delete("3fa1")

Each write is one transaction, so a killed trainer leaves its finished epochs
behind and its run reads back as ``interrupted``. Several processes may write
one store at once (SQLite's WAL; a writer waits up to ``timeout`` seconds for
another). A file that is not a deepterm store, a damaged one, or one written
by a newer deepterm is reported with a ``StoreError`` and never written to.
The schema is versioned (``PRAGMA user_version``) and migrated in place after
a backup copy is made.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .history import History
from .numerics import json_default
from .runs import Run, utc_now
from .spec import ModelSpec

SCHEMA_VERSION = 2
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

# MIGRATIONS[v] takes a store from version v to v + 1.
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
}


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


def _translate(exc: sqlite3.Error, path: Path, timeout: float) -> StoreError:
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        return StoreLocked(f"{path}: the run store is locked by another process (waited "
                           f"{timeout:g} s); try again when it has finished")
    if code == 8:  # SQLITE_READONLY
        return StoreReadOnly(f"{path}: the run store is read-only ({exc}); choose a writable "
                             f"one with --store or ${ENV_VAR}")
    if code == 13:  # SQLITE_FULL
        return StoreFull(f"{path}: the disk is full; this write was undone and the store "
                         f"keeps everything written before it")
    if code in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
        return StoreDamaged(f"{path}: not a deepterm run store, or a damaged one ({exc}); it "
                            f"was left untouched: move it aside or use --store")
    if code == 14:  # SQLITE_CANTOPEN
        return StoreReadOnly(f"{path}: cannot open or create the run store ({exc}); choose "
                             f"another with --store or ${ENV_VAR}")
    return StoreError(f"{path}: run store error: {exc}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


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


class RunStore:
    """Runs kept in one SQLite file at ``path`` (default: ``default_store_path()``).

    Every method opens its own short connection, so one store object can be
    used from several threads. ``readonly=True`` opens the file for reading
    only. ``timeout`` is how long a write waits for another writer (a finite
    number of seconds >= 0).
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

    def _open(self) -> sqlite3.Connection:
        if self.readonly:
            if not self.path.exists():
                raise StoreError(f"{self.path}: no run store here")
            uri = f"file:{self.path.resolve()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        else:
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
                self._prepare(conn)
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

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check what the file is; create or migrate the schema when needed."""
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
        if version < SCHEMA_VERSION:
            if self.readonly:
                raise StoreReadOnly(f"{self.path}: the store (schema {version}) must be "
                                    f"upgraded to schema {SCHEMA_VERSION}, which needs writing")
            self._migrate(conn)
        if not self.readonly:
            conn.execute("PRAGMA journal_mode = WAL")
        self._checked = True

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
                version += 1
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        with self._db() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    # -- writing ------------------------------------------------------------------------

    def _run_row(self, run: Run) -> dict[str, Any]:
        finished = run.status not in ("running", "interrupted")
        return {
            "id": run.id, "created_at": run.created_at, "updated_at": utc_now(),
            "state": "finished" if finished else "running",
            "stop_reason": run.stop_reason, "error": run.error,
            "dataset": run.dataset_name, "dataset_json": _dumps(run.dataset),
            "spec_json": run.spec.to_json(), "fit_json": _dumps(run.fit),
            "backend": run.backend, "device": run.device, "seed": run.seed,
            "n_params": run.n_params, "duration_s": run.duration_s,
            "final_json": _dumps(run.final), "best_json": _dumps(run.best),
            "writer_pid": os.getpid(), "writer_host": socket.gethostname(),
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
        """Write one finished epoch in its own transaction."""
        with self._db(write=True) as conn:
            conn.execute("INSERT OR REPLACE INTO epochs (run_id, epoch, logs_json) "
                         "VALUES (?, ?, ?)", (run_id, int(epoch), _dumps(logs)))
            conn.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (utc_now(), run_id))

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
        with self._db(write=True) as conn:
            self._upsert(conn, run)
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (run.id,))
            keys = list(run.history.history)
            conn.executemany(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, logs_json) VALUES (?, ?, ?)",
                [(run.id, e, _dumps({k: run.history.history[k][i] for k in keys
                                     if i < len(run.history.history[k])}))
                 for i, e in enumerate(run.history.epoch)])
            if blob is not None:
                conn.execute("INSERT OR REPLACE INTO weights (run_id, format, data) "
                             "VALUES (?, 'npz', ?)", (run.id, blob))

    def delete(self, run_id: str) -> str:
        """Delete one run (its epochs and weights too); returns its full id."""
        with self._db(write=True) as conn:
            full = self._resolve(conn, run_id)
            conn.execute("DELETE FROM runs WHERE id = ?", (full,))
        return full

    # -- reading ------------------------------------------------------------------------

    def _resolve(self, conn: sqlite3.Connection, run_id: str) -> str:
        run_id = str(run_id).strip()
        if not run_id:
            raise RunNotFound("a run id is needed (see `deepterm runs list`)")
        like = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 6", (like,))]
        if run_id in ids:
            return run_id
        if not ids:
            raise RunNotFound(f"no run {run_id!r} in {self.path}; `deepterm runs list` "
                              f"shows the ids")
        if len(ids) > 1:
            raise RunNotFound(f"run id {run_id!r} is ambiguous in {self.path}: it starts "
                              f"{', '.join(ids[:5])}; give more characters")
        return ids[0]

    def resolve(self, run_id: str) -> str:
        """The full id of the run whose id is or starts with ``run_id``."""
        with self._db() as conn:
            return self._resolve(conn, run_id)

    def _from_row(self, row: sqlite3.Row, epochs: list[sqlite3.Row]) -> Run:
        if row["state"] == "finished":
            status = row["stop_reason"] or "completed"
        elif row["writer_host"] == socket.gethostname() and row["writer_pid"] \
                and not _pid_alive(row["writer_pid"]):
            status = "interrupted"
        else:
            status = "running"
        fit = json.loads(row["fit_json"])
        history = History({k: fit.get(k) for k in ("epochs", "batch_size")})
        for e in epochs:
            history.append(e["epoch"], json.loads(e["logs_json"]))
        history.stop_reason = status
        history.device = row["device"]
        history.duration_s = row["duration_s"] or 0.0
        run = Run(spec=ModelSpec.from_json(row["spec_json"]),
                  dataset=json.loads(row["dataset_json"]), fit=fit, backend=row["backend"],
                  seed=row["seed"], id=row["id"], created_at=row["created_at"], status=status,
                  history=history, device=row["device"], duration_s=row["duration_s"],
                  error=row["error"], group=row["group_name"], label=row["label"])
        return run

    def get(self, run_id: str, weights: bool = False) -> Run:
        """The run whose id is (or uniquely starts with) ``run_id``, with its
        history; with ``weights=True`` also its saved weights (or None)."""
        with self._db() as conn:
            full = self._resolve(conn, run_id)
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (full,)).fetchone()
            epochs = conn.execute("SELECT epoch, logs_json FROM epochs WHERE run_id = ? "
                                  "ORDER BY epoch", (full,)).fetchall()
            run = self._from_row(row, epochs)
            if weights:
                run.weights = self._weights(conn, full)
        return run

    def _weights(self, conn: sqlite3.Connection, run_id: str) -> list[np.ndarray] | None:
        found = conn.execute("SELECT data FROM weights WHERE run_id = ?", (run_id,)).fetchone()
        if found is None:
            return None
        with np.load(io.BytesIO(found[0]), allow_pickle=False) as data:
            return [data[f"arr_{i}"] for i in range(len(data.files))]

    def weights(self, run_id: str) -> list[np.ndarray] | None:
        """The weights saved with a run, in ``get_weights`` layout, or None."""
        with self._db() as conn:
            return self._weights(conn, self._resolve(conn, run_id))

    def list(self, *, dataset: str | None = None, status: str | None = None,
             group: str | None = None, limit: int | None = None) -> list[Run]:
        """Runs with their histories, newest first, optionally only those of one
        dataset, status or group (sweep)."""
        if not self.path.exists():
            return []
        query, args = "SELECT * FROM runs", []
        where = []
        if dataset is not None:
            where.append("dataset = ?")
            args.append(dataset)
        if group is not None:
            where.append("group_name = ?")
            args.append(group)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC, rowid DESC"
        with self._db() as conn:
            rows = conn.execute(query, args).fetchall()
            epochs: dict[str, list[sqlite3.Row]] = {}
            for e in conn.execute("SELECT run_id, epoch, logs_json FROM epochs "
                                  "ORDER BY run_id, epoch"):
                epochs.setdefault(e["run_id"], []).append(e)
        runs = [self._from_row(row, epochs.get(row["id"], [])) for row in rows]
        if status is not None:
            runs = [r for r in runs if r.status == status]
        return runs[:limit] if limit is not None else runs

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        with self._db() as conn:
            return conn.execute("SELECT count(*) FROM runs").fetchone()[0]

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


__all__ = ["APPLICATION_ID", "ENV_VAR", "NON_FINITE", "SCHEMA_VERSION", "RunNotFound", "RunStore",
           "StoreDamaged", "StoreError", "StoreFull", "StoreLocked", "StoreReadOnly",
           "StoreSettingError", "StoreTooNew", "check_timeout", "default_store_path",
           "run_to_csv", "to_json"]
