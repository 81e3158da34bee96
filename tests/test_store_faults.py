"""A damaged, foreign, newer, locked, read-only or full store: a clear
StoreError, and nothing already written is lost or overwritten."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest
from _store_helpers import TinyDataset, tiny_spec

import engine
from engine.runs import Run
from engine.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    RunStore,
    StoreDamaged,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreReadOnly,
    StoreTooNew,
)


def _train(store, **kw):
    kw.setdefault("epochs", 3)
    return engine.train(tiny_spec(), TinyDataset(), seed=0, store=store,
                        validation_split=0.25, **kw)


def test_a_file_that_is_not_a_database_is_reported_and_untouched(tmp_path):
    path = tmp_path / "runs.db"
    junk = b"this is not sqlite at all\n" * 200
    path.write_bytes(junk)
    store = RunStore(path)
    with pytest.raises(StoreDamaged, match="left untouched"):
        store.list()
    with pytest.raises(StoreDamaged):
        _train(store)
    assert path.read_bytes() == junk


def test_another_programs_sqlite_file_is_not_taken_over(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(StoreDamaged, match="not a deepterm run store"):
        _train(RunStore(path))
    assert path.read_bytes() == before


def test_a_damaged_store_is_reported_and_untouched(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    for _ in range(3):
        _train(store)
    with sqlite3.connect(path) as conn:  # fold the WAL in, then damage the pages
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreDamaged):
        RunStore(path).list()
    assert path.read_bytes() == bytes(data)


def test_a_store_from_a_newer_deepterm_is_refused_and_untouched(tmp_path):
    path = tmp_path / "runs.db"
    run = _train(RunStore(path))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    store = RunStore(path)
    with pytest.raises(StoreTooNew, match="newer deepterm") as err:
        store.get(run.id)
    assert isinstance(err.value, ValueError)
    with pytest.raises(StoreTooNew):
        _train(store)
    assert path.read_bytes() == before


def test_a_version_1_store_migrates_keeping_its_runs_and_a_backup(tmp_path):
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute(
            "INSERT INTO runs (id, created_at, updated_at, state, stop_reason, dataset, "
            "dataset_json, spec_json, fit_json, backend, device, seed, n_params, duration_s, "
            "final_json, best_json) VALUES ('old1', '2026-01-01T00:00:00+00:00', "
            "'2026-01-01T00:00:00+00:00', 'finished', 'completed', 'tiny', '{\"name\": \"tiny\"}', "
            "?, '{\"epochs\": 2, \"batch_size\": 32}', 'numpy', 'CPU', 0, 25, 0.5, '{}', '{}')",
            (tiny_spec().to_json(),))
        conn.executemany("INSERT INTO epochs VALUES ('old1', ?, ?)",
                         [(0, '{"loss": 0.9}'), (1, '{"loss": 0.7}')])
        conn.execute("PRAGMA user_version = 1")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    store = RunStore(path)
    old = store.get("old1")
    assert old.history.history == {"loss": [0.9, 0.7]} and old.status == "completed"
    assert store.schema_version() == SCHEMA_VERSION
    assert (tmp_path / "runs.db.v1.bak").exists()
    new = _train(store, save_weights=True, group="sweep-a")  # uses the version 2 columns
    assert store.get(new.id).group == "sweep-a"
    assert RunStore(tmp_path / "runs.db.v1.bak", readonly=True)._checked is False


class _TinyDiskStore(RunStore):
    """A store on a 'disk' that fills up: SQLite may not grow the file past max_pages."""

    max_pages = 10_000

    def _open(self):
        conn = super()._open()
        conn.execute(f"PRAGMA max_page_count = {self.max_pages}")
        return conn


def test_a_full_disk_fails_the_write_and_keeps_what_was_written(tmp_path):
    store = _TinyDiskStore(tmp_path / "runs.db")
    kept = _train(store)
    pages = sqlite3.connect(store.path).execute("PRAGMA page_count").fetchone()[0]
    store.max_pages = pages + 2
    big = Run(spec=kept.spec, dataset={"name": "tiny"}, fit={"epochs": 1})
    big.weights = [np.random.default_rng(0).normal(size=(400, 400))]
    with pytest.raises(StoreFull, match="disk is full"):
        store.save(big, weights=True)
    store.max_pages = 10_000
    assert [r.id for r in store.list()] == [kept.id]
    assert store.get(kept.id).history.history == kept.history.history


def test_a_read_only_store_refuses_writes_with_a_clear_message(tmp_path):
    path = tmp_path / "runs.db"
    run = _train(RunStore(path))
    ro = RunStore(path, readonly=True)
    assert ro.get(run.id).history.history == run.history.history
    with pytest.raises(StoreReadOnly, match="read-only"):
        ro.delete(run.id)

    class QueryOnly(RunStore):  # the file itself refuses writes (SQLITE_READONLY)
        def _open(self):
            conn = super()._open()
            conn.execute("PRAGMA query_only = ON")
            return conn

    with pytest.raises(StoreReadOnly, match="read-only"):
        QueryOnly(path).delete(run.id)
    assert len(RunStore(path)) == 1


def test_a_store_that_cannot_be_created_says_where_and_why(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreReadOnly, match="cannot create"):
        _train(RunStore(blocker / "sub" / "runs.db"))
    with pytest.raises(StoreError, match="no run store here"):
        RunStore(tmp_path / "absent.db", readonly=True).get("x")


def test_a_locked_store_times_out_with_a_clear_message_and_loses_nothing(tmp_path):
    path = tmp_path / "runs.db"
    first = _train(RunStore(path))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreLocked, match="locked by another process"):
            _train(RunStore(path, timeout=0.2))
        assert RunStore(path).get(first.id).status == "completed"  # readers still read
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    second = _train(RunStore(path))
    assert {r.id for r in RunStore(path).list()} == {first.id, second.id}


def test_a_store_still_in_rollback_mode_switches_to_wal_once_a_writer_lets_go(tmp_path):
    """Two runs of a sweep creating a new store: one switches the file to WAL while
    the other is mid-transaction. SQLite answers that switch "locked" at once,
    without waiting; it must wait like any other write (CI lost a sweep run to it)."""
    path = tmp_path / "runs.db"
    first = _train(RunStore(path))
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")                 # the other run, mid-write
    timer = threading.Timer(0.3, writer.execute, ("COMMIT",))
    timer.start()
    try:
        second = _train(RunStore(path, timeout=5))
    finally:
        timer.join()
        writer.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert {r.id for r in RunStore(path).list()} == {first.id, second.id}


class _FlakyStore(RunStore):
    """Refuses the second epoch write, as a store held by another writer would."""

    def add_epochs(self, run_id, entries):
        entries = list(entries)
        if any(epoch == 1 for epoch, _ in entries):
            raise StoreLocked("locked for a moment")
        super().add_epochs(run_id, entries)


def test_an_epoch_that_could_not_be_written_is_written_at_the_end(tmp_path):
    store = _FlakyStore(tmp_path / "runs.db")
    with pytest.warns(UserWarning, match="epoch 2 not written yet"):
        run = _train(store, epochs=4)
    assert store.get(run.id).history.epoch == [0, 1, 2, 3]
