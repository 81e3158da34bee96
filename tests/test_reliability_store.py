"""The run store under bad data, damaged rows, read-only media, a full disk and
hard stops (issue #14, items 10-17 and 21): nothing misread, nothing lost, one
clear line.

Read-only media and a full disk are staged for real where the kernel lets an
unprivileged user make a mount namespace (``unshare -rm``: a read-only bind
mount, a tiny tmpfs); chmod would not do, since the tests run as root. Where
that is not possible those tests skip, and the same code paths are driven by
the errors SQLite gives there, injected."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from _store_helpers import TinyDataset, tiny_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import History
from engine.runs import Run
from engine.store import APPLICATION_ID, ENV_VAR, MIGRATIONS, RunStore, StoreError

ROOT = Path(__file__).resolve().parents[1]
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and processes")


def _train(store, epochs: int = 3, **kw) -> Run:
    return engine.train(tiny_spec(), TinyDataset(), seed=0, store=store, epochs=epochs,
                        validation_split=0.25, **kw)


def deepterm(*args: str, env: dict | None = None, input: str | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m tui ...` (this checkout), never near the user's own store."""
    full_env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "DEEPTERM_STORE_TIMEOUT")}
    full_env.update(XDG_DATA_HOME=str(ROOT / ".no-store-here"), DEEPTERM_LOG=os.devnull,
                    PYTHONPATH=str(ROOT))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, input=input, timeout=timeout)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def rows_of(path: Path) -> dict[str, list]:
    """Every row of every table: what 'nothing stored was changed' compares."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {table: sorted(map(tuple, conn.execute(f"SELECT * FROM {table}")))
                for table in ("runs", "epochs", "weights")}


def edit(path: Path, sql: str, *args) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(sql, args)
        conn.commit()


def with_dropout(spec_json: str) -> str:
    """The spec as a newer deepterm might write it: a field this one does not know."""
    spec = json.loads(spec_json)
    spec["layers"][0]["dropout"] = 0.5
    return json.dumps(spec)


def start_training(store: Path, epochs: int = 100_000) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "DEEPTERM_STORE_TIMEOUT")}
    env.update(XDG_DATA_HOME=str(store.parent), DEEPTERM_LOG=os.devnull, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "train", "--dataset", "circle", "--dataset-option",
         "n=200", "--layers", "16,16", "--epochs", str(epochs), "--batch-size", "8",
         "--store", str(store)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def read_epochs(proc: subprocess.Popen, count: int) -> None:
    seen, deadline = 0, time.monotonic() + 60
    while seen < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line.startswith("epoch ")
    assert seen == count, proc.stderr.read() if proc.poll() is not None else seen


@contextlib.contextmanager
def training(store: Path, epochs: int = 100_000):
    """A trainer in a subprocess, killed (if need be) and reaped at the end."""
    proc = start_training(store, epochs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()



# -- item 10: one damaged run hides nothing else -----------------------------------------------


@pytest.fixture
def damaged_store(tmp_path):
    """Five runs: the second has bad JSON in fit_json, the third a spec field of a
    newer deepterm, the fourth an epoch row [1,2]. (path, runs oldest first)."""
    path = tmp_path / "runs.db"
    store = RunStore(path)
    runs = [_train(store) for _ in range(5)]
    edit(path, "UPDATE runs SET fit_json = '{bad' WHERE id = ?", runs[1].id)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        spec = conn.execute("SELECT spec_json FROM runs WHERE id = ?", (runs[2].id,)).fetchone()[0]
    edit(path, "UPDATE runs SET spec_json = ? WHERE id = ?", with_dropout(spec), runs[2].id)
    edit(path, "UPDATE epochs SET logs_json = '[1,2]' WHERE run_id = ? AND epoch = 1", runs[3].id)
    return path, runs


def test_a_damaged_run_is_marked_and_every_readable_run_is_listed(damaged_store):
    path, runs = damaged_store
    before = rows_of(path)
    listed = RunStore(path).list()
    # the epoch row is not read by a listing: that run lists from its stored summary
    assert [r.id for r in listed] == [runs[4].id, runs[3].id, runs[0].id]
    assert listed[1].epochs_done == 3 and listed[1].best == runs[3].best
    damaged = {d.id: d.problem for d in listed.damaged}
    assert list(damaged) == [runs[2].id, runs[1].id]
    assert damaged[runs[1].id].startswith("fit_json is not valid JSON (Expecting property name")
    assert damaged[runs[2].id].startswith("spec_json: layer has unknown field(s) ['dropout']")
    assert "newer deepterm" in damaged[runs[2].id]
    assert [e.id for e in listed.entries] == [r.id for r in reversed(runs)]
    for run in (runs[0], runs[4]):
        back = RunStore(path).get(run.id)
        assert back.history.history == run.history.history and back.spec == run.spec
    assert rows_of(path) == before


@pytest.mark.parametrize("which, words", [
    (1, "fit_json is not valid JSON (Expecting property name enclosed in double quotes"),
    (2, "spec_json: layer has unknown field(s) ['dropout']"),
    (3, "epoch 2: logs_json holds a list ([1,2]), not an object of metric values"),
])
def test_reading_a_damaged_run_says_which_and_what(damaged_store, which, words):
    from engine.store import RunDamaged

    path, runs = damaged_store
    store = RunStore(path)
    for read in (store.get, store.export):
        with pytest.raises(ValueError) as err:
            read(runs[which].id)
        assert isinstance(err.value, RunDamaged) and isinstance(err.value, StoreError)
        assert f"run {runs[which].id} in {path} is damaged: {words}" in str(err.value)
        assert err.value.run_id == runs[which].id


def test_runs_list_and_show_mark_damaged_runs_by_id_with_their_problem(damaged_store):
    path, runs = damaged_store
    before = rows_of(path)
    listed = deepterm("runs", "list", "--store", str(path))
    assert listed.returncode == 0, listed.stderr
    table = listed.stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == [r.id for r in reversed(runs)]
    states = {line.split()[0]: line for line in table[1:]}
    assert "damaged" in states[runs[1].id] and "damaged" in states[runs[2].id]
    assert "3/3" in states[runs[3].id] and "completed" in states[runs[3].id]
    newer, bad_json = listed.stderr.splitlines()
    assert newer.startswith(f"deepterm: run {runs[2].id} is damaged: spec_json: layer has "
                            f"unknown field(s) ['dropout']")
    assert newer.endswith(f"(written by a newer deepterm?) (`deepterm runs delete {runs[2].id}` "
                          f"removes it)")
    assert bad_json == (f"deepterm: run {runs[1].id} is damaged: fit_json is not valid JSON "
                        f"(Expecting property name enclosed in double quotes: line 1 column 2 "
                        f"(char 1)) (`deepterm runs delete {runs[1].id}` removes it)")
    for which, words in ((1, "fit_json is not valid JSON"), (3, "epoch 2: logs_json holds a list")):
        shown = deepterm("runs", "show", runs[which].id[:6], "--store", str(path))
        assert shown.returncode == 1 and shown.stdout == ""
        assert f"run {runs[which].id} in {path} is damaged: {words}" in one_line(shown)
    assert rows_of(path) == before
    gone = deepterm("runs", "delete", runs[1].id, "--store", str(path), input="y\n")
    assert gone.returncode == 0, gone.stderr
    assert f"delete {runs[1].id} (damaged)?" in gone.stderr
    assert [d.id for d in RunStore(path).list().damaged] == [runs[2].id]


_COLUMNS = ("dataset_json", "spec_json", "fit_json", "final_json", "best_json",
            "best_epochs_json", "epochs_done", "seed", "duration_s", "created_at")
_JUNK = st.one_of(st.text(max_size=12), st.integers(-3, 3), st.floats(allow_nan=False),
                  st.sampled_from(["[1,2]", "{bad", "null", "{}", "[]", '"x"', "1",
                                   '{"loss": "low"}', '{"loss": [1]}', '{"units": 1}']))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 2), column=st.sampled_from(_COLUMNS), junk=_JUNK)
def test_any_damage_to_one_run_leaves_the_others_listed_and_is_reported(template, which,
                                                                         column, junk):
    """Whatever one column of one run holds, listing never fails: that run is
    listed or marked damaged, and reading it agrees; the others read as before."""
    from engine.store import RunDamaged

    source, runs = template
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.db"
        shutil.copy(source, path)
        target = runs[which].id
        edit(path, f"UPDATE runs SET {column} = ? WHERE id = ?", junk, target)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            written = conn.execute(f"SELECT {column} FROM runs WHERE id = ?", (target,)).fetchone()
        listed = RunStore(path).list()
        assert sorted(e.id for e in listed.entries) == sorted(r.id for r in runs)
        for run in runs:
            if run.id != target:
                assert next(r for r in listed if r.id == run.id).best == run.best
        if target in {d.id for d in listed.damaged}:
            with pytest.raises(RunDamaged, match=re.escape(target)):
                RunStore(path).get(target)
        else:
            RunStore(path).get(target).describe()
        with contextlib.closing(sqlite3.connect(path)) as conn:   # left as it was written
            kept = conn.execute(f"SELECT {column} FROM runs WHERE id = ?", (target,)).fetchone()
        assert kept == written


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "runs.db"
    store = RunStore(path)
    runs = [_train(store, epochs=2) for _ in range(3)]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # the whole store in one file
    return path, runs


# -- item 13: listing reads no histories -------------------------------------------------------


def _statements(monkeypatch) -> list[str]:
    """Every SQL statement the store's connections run from now on."""
    seen: list[str] = []
    real = sqlite3.connect

    def traced(*args, **kwargs):
        conn = real(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    return seen


def test_listing_reads_no_epochs_and_a_history_is_read_when_used(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs.db")
    runs = [_train(store, epochs=4, patience=10) for _ in range(3)]
    seen = _statements(monkeypatch)
    listed = RunStore(store.path).list(limit=2)
    assert not [s for s in seen if "epochs" in s.split("FROM")[-1]], seen
    assert [r.id for r in listed] == [runs[2].id, runs[1].id]
    first = listed[0]
    assert not first.history_loaded
    assert (first.epochs_done, first.final, first.best, first.best_epoch, first.monitor) == \
        (4, runs[2].final, runs[2].best, runs[2].best_epoch, "val_loss")
    assert first.history.history == runs[2].history.history      # read now, one query
    assert first.history_loaded and not listed[1].history_loaded
    assert RunStore(store.path).history(runs[0].id).history == runs[0].history.history


_VALUE = st.one_of(st.floats(-5, 5), st.sampled_from([math.nan, math.inf, -math.inf, 0.5]))


@st.composite
def histories(draw) -> list[dict[str, float]]:
    """Epochs' logs, every epoch with the same metrics (as training writes them)."""
    keys = ["loss", *draw(st.lists(st.sampled_from(["val_loss", "accuracy", "val_accuracy"]),
                                   unique=True))]
    return draw(st.lists(st.fixed_dictionaries({k: _VALUE for k in keys}), max_size=8))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(epochs=histories())
def test_the_summary_kept_with_each_epoch_equals_the_history(epochs):
    """Epoch by epoch as a trainer writes them (ties, NaN and infinities
    included), the listed summary says what the full history says."""
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs.db")
        run = Run(spec=tiny_spec(), dataset={"name": "tiny"}, fit={"epochs": len(epochs)})
        store.begin(run)
        for i, logs in enumerate(epochs):
            store.add_epoch(run.id, i, logs)
        (listed,) = store.list()
        full = store.get(run.id)
        assert listed.epochs_done == full.epochs_done == len(epochs)
        assert listed.monitor == full.monitor and listed.best_epoch == full.best_epoch
        assert listed.best == full.best
        assert json.dumps(listed.final) == json.dumps(full.final)   # NaN == NaN here


def test_a_version_2_store_gets_its_summaries_and_keeps_what_it_held(tmp_path):
    """A run that was training when the store was last written (final and best
    still {}), migrated: listed with its epochs, the finished run unchanged."""
    path = tmp_path / "runs.db"
    store = RunStore(path)
    done = _train(store)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in ("runs", "epochs")}
        names = [c[1] for c in conn.execute("PRAGMA table_info(runs)")]
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.executescript(MIGRATIONS[1])
        v2 = [c[1] for c in conn.execute("PRAGMA table_info(runs)")]
        for row in rows["runs"]:
            values = dict(zip(names, row))
            conn.execute(f"INSERT INTO runs ({', '.join(v2)}) VALUES ({', '.join('?' * len(v2))})",
                         [values[c] for c in v2])
            values.update(id="running01", state="running", stop_reason=None, final_json="{}",
                          best_json="{}", writer_pid=2 ** 22 + 1)   # no such process
            conn.execute(f"INSERT INTO runs ({', '.join(v2)}) VALUES ({', '.join('?' * len(v2))})",
                         [values[c] for c in v2])
        for run_id, epoch, logs in rows["epochs"]:
            conn.execute("INSERT INTO epochs VALUES (?, ?, ?)", (run_id, epoch, logs))
            conn.execute("INSERT INTO epochs VALUES ('running01', ?, ?)", (epoch, logs))
        conn.execute("PRAGMA user_version = 2")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.commit()
    listed = {r.id: r for r in RunStore(old).list()}
    assert (old.parent / "old.db.v2.bak").exists()
    assert listed[done.id].best == done.best and listed[done.id].final == done.final
    running = listed["running01"]
    assert running.status == "interrupted" and running.epochs_done == 3
    assert (running.best, running.best_epoch) == (done.best, done.best_epoch)


# -- item 11: read-only media, and paths with ? or # ------------------------------------------


def test_a_store_whose_path_holds_question_mark_or_hash_opens_read_only(tmp_path):
    folder = tmp_path / "a?b#c d%20"
    run = _train(RunStore(folder / "runs.db"))
    with contextlib.closing(sqlite3.connect(folder / "runs.db")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    ro = RunStore(folder / "runs.db", readonly=True)
    assert [r.id for r in ro.list()] == [run.id]
    assert ro.get(run.id).history.history == run.history.history
    assert sorted(p.name for p in tmp_path.rglob("*") if not p.name.endswith(("-shm", "-wal"))) \
        == before   # nothing made elsewhere (it used to open and create 'a')


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"],
                              capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


MOUNTS = pytest.mark.skipif(not _namespaces_work(),
                            reason="no unprivileged mount namespace (unshare -rm) here")


def in_namespace(script: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``script`` (bash) as the root of a new user and mount namespace: it may mount."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "DEEPTERM_STORE_TIMEOUT")}
    env.update(PYTHONPATH=str(ROOT), DEEPTERM_LOG=os.devnull, PY=sys.executable)
    return subprocess.run(["unshare", "-rm", "bash", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@MOUNTS
def test_a_store_on_read_only_media_is_read(tmp_path):
    """A read-only bind mount over the store's folder: SQLite can make no -shm
    file there, which is what made every read fail."""
    folder = tmp_path / "media"
    run = _train(RunStore(folder / "runs.db"))
    script = f"""
        mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} || exit 99
        touch {folder}/probe 2>/dev/null && exit 98
        cd {ROOT}
        "$PY" -m tui runs list --store {folder}/runs.db; echo "rc=$?"
        "$PY" -m tui runs show {run.id} --store {folder}/runs.db | head -1; echo "rc=$?"
        "$PY" -c "from engine.store import RunStore; s = RunStore('{folder}/runs.db', readonly=True); \
print('ro', [r.id for r in s.list()], s.get('{run.id}').epochs_done)"
        "$PY" -m tui runs delete {run.id} --yes --store {folder}/runs.db; echo "rc=$?"
    """
    proc = in_namespace(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out[1].split()[0] == run.id and "completed" in out[1] and out[2] == "rc=0"
    assert out[3].startswith(f"run        {run.id}  completed") and out[4] == "rc=0"
    assert out[5] == f"ro [{run.id!r}] 3"
    assert out[6] == "rc=1"
    (error,) = proc.stderr.strip().splitlines()
    assert error.startswith("Error: ") and "read-only" in error
    assert [r.id for r in RunStore(folder / "runs.db").list()] == [run.id]


def _failing_open(monkeypatch, code: int, message: str, *, unless: str = "immutable=1"):
    """sqlite3.connect gives connections that fail as SQLite does on read-only
    media (code 14) or a full disk (code 10), except those whose URI has ``unless``."""
    real = sqlite3.connect

    def error():
        exc = sqlite3.OperationalError(message)
        exc.sqlite_errorcode, exc.sqlite_errorname = code, "injected"
        return exc

    class Failing:
        def __init__(self, conn):
            self._conn = conn

        def execute(self, sql, *args):
            if sql.startswith(("PRAGMA user_version", "BEGIN")):
                raise error()
            return self._conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._conn, name)

        def __setattr__(self, name, value):
            if name == "_conn":
                object.__setattr__(self, name, value)
            else:
                setattr(self._conn, name, value)

    def connect(database, *args, **kwargs):
        conn = real(database, *args, **kwargs)
        return conn if unless in str(database) else Failing(conn)

    monkeypatch.setattr(sqlite3, "connect", connect)


def test_when_no_shared_memory_file_can_be_made_the_store_is_read_immutable(tmp_path,
                                                                             monkeypatch):
    """The errors of read-only media, injected: reads fall back to an immutable
    read-only open; a write still says read-only; a store with writes waiting in
    its WAL says it cannot be read here rather than read without them."""
    from engine.store import StoreReadOnly

    path = tmp_path / "runs.db"
    run = _train(RunStore(path))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _failing_open(monkeypatch, 14, "unable to open database file")
    for store in (RunStore(path), RunStore(path, readonly=True)):
        assert [r.id for r in store.list()] == [run.id]
        assert store.get(run.id).history.history == run.history.history
    with pytest.raises(StoreReadOnly, match="cannot open or create"):
        RunStore(path).delete(run.id)
    (tmp_path / "runs.db-wal").write_bytes(b"\0" * 100)
    with pytest.raises(StoreReadOnly, match="holds writes not yet merged"):
        RunStore(path).list()


# -- item 12: a full disk ----------------------------------------------------------------------


@MOUNTS
def test_a_full_disk_says_so_and_the_store_still_lists(tmp_path):
    """A 512 KiB tmpfs filled up after one run was kept."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
        mount -t tmpfs -o size=512k tmpfs {disk} || exit 99
        cd {ROOT}
        "$PY" -m tui train --dataset circle --dataset-option n=100 --layers 4 --epochs 2 \
            --store {disk}/runs.db > {disk}/first.out || exit 97
        dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null
        "$PY" -m tui train --dataset circle --dataset-option n=100 --layers 4 --epochs 2 \
            --store {disk}/runs.db; echo "train rc=$?"
        "$PY" -m tui runs list --store {disk}/runs.db; echo "list rc=$?"
        "$PY" -m tui train --dataset circle --epochs 1 --store {disk}/new.db; echo "new rc=$?"
        "$PY" -m tui runs list --store {disk}/new.db; echo "list new rc=$?"
        grep -o "^run [0-9a-f]*" {disk}/first.out
    """
    proc = in_namespace(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    kept = out[-1].split()[1]
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and all("disk is full" in e for e in errors), proc.stderr
    assert "train rc=1" in out and "new rc=1" in out
    listed = out[out.index("train rc=1") + 1:out.index("list rc=0")]
    assert [line.split()[0] for line in listed[1:]] == [kept]
    assert out[out.index("new rc=1") + 1:out.index("list new rc=0")] == \
        [f"no runs in {disk}/new.db"]


def test_a_disk_io_error_on_a_full_disk_is_reported_as_a_full_disk(tmp_path, monkeypatch):
    """SQLite's "disk I/O error" when its shared-memory file cannot grow, injected,
    with the disk reporting no free space."""
    from engine.store import StoreFull

    path = tmp_path / "runs.db"
    run = _train(RunStore(path))
    _failing_open(monkeypatch, 4874, "disk I/O error")   # SQLITE_IOERR_SHMSIZE
    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(total=10**9, free=0))
    with pytest.raises(StoreFull, match="the disk is full"):
        _train(RunStore(path))
    assert [r.id for r in RunStore(path).list()] == [run.id]


# -- item 14: deleting a run that is still training --------------------------------------------


@POSIX
def test_a_run_still_training_is_not_deleted(tmp_path):
    """Deleting it used to succeed; the trainer then warned `FOREIGN KEY constraint
    failed` and its final save wrote the run back."""
    store = tmp_path / "runs.db"
    with training(store) as proc:
        read_epochs(proc, 2)
        (run,) = RunStore(store).list()
        refused = deepterm("runs", "delete", run.id, "--yes", "--store", str(store))
        assert refused.returncode == 1
        assert one_line(refused) == (
            f"Error: run {run.id} is still training (process {proc.pid}); stop it first "
            f"(Ctrl+C, or `kill {proc.pid}`: the run is kept as stopped), then delete it; "
            f"nothing was deleted")
        asked = deepterm("runs", "delete", run.id, "--store", str(store), input="y\n")
        assert asked.returncode == 1 and one_line(asked).startswith("Error: run ")  # no question
        read_epochs(proc, 2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143 and "warning" not in err, err
    assert RunStore(store).get(run.id).status == "stopped"
    done = deepterm("runs", "delete", run.id, "--yes", "--store", str(store))
    assert done.returncode == 0 and done.stdout == f"deleted {run.id}\n"
    assert len(RunStore(store)) == 0


def test_the_library_refuses_too_and_several_ids_delete_all_or_none(tmp_path):
    from engine.store import RunInUse

    store = RunStore(tmp_path / "runs.db")
    done = _train(store)
    live = Run(spec=tiny_spec(), dataset={"name": "tiny"}, fit={"epochs": 5})
    store.begin(live)   # this process is its trainer, and it is alive
    with pytest.raises(ValueError, match="still training") as err:
        store.delete(live.id)
    assert isinstance(err.value, RunInUse)
    with pytest.raises(RunInUse):
        store.delete_all([done.id, live.id])
    assert len(store) == 2
    assert store.delete_all([done.id[:5]]) == [done.id]


# -- item 15: a second signal ------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize("first, then", [(signal.SIGTERM, signal.SIGTERM),
                                         (signal.SIGINT, signal.SIGTERM)])
def test_a_second_signal_cuts_neither_the_final_save_nor_the_message(tmp_path, first, then):
    """Two signals a fraction of a millisecond apart, then more every millisecond
    until the trainer exits: it used to say 'before training began; nothing kept'
    while the store held the run, read back as interrupted, or print 'Aborted!'.
    Exactly one of them interrupts: a SIGTERM that lands inside the SIGINT
    handler before it has taken its turn is the one (exit status and message agree)."""
    names = {130: "Ctrl+C", 143: "SIGTERM"}
    for attempt in range(3):
        store = tmp_path / f"runs{attempt}.db"
        with training(store) as proc:
            read_epochs(proc, 2)
            proc.send_signal(first)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(then)
                time.sleep(0.001)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode in names, err
        assert first == signal.SIGINT or proc.returncode == 143, err
        name = names[proc.returncode]
        (run,) = RunStore(store).list()
        assert run.status == "stopped" and run.epochs_done >= 2
        assert run.history.epoch == list(range(run.epochs_done))
        assert err.strip().splitlines() == [
            f"deepterm: stopped by {name} after {run.epochs_done} of 100000 epochs; run "
            f"{run.id} kept as stopped in {store}"]


# -- item 16: a writer's pid taken by another process ------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process start times: Linux")
def test_a_run_whose_writer_pid_now_names_another_process_reads_as_interrupted(tmp_path):
    path = tmp_path / "runs.db"
    code = ("import sys; from engine.store import RunStore; from engine.runs import Run; "
            "from _store_helpers import tiny_spec; "
            "r = Run(spec=tiny_spec(), dataset={'name': 'tiny'}, fit={'epochs': 9}, id='begun0001'); "
            f"RunStore({str(path)!r}).begin(r)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"})
    assert RunStore(path).get("begun0001").status == "interrupted"   # its writer is gone
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:   # its pid is reused by a live process that started later
        edit(path, "UPDATE runs SET writer_pid = ? WHERE id = 'begun0001'", other.pid)
        assert RunStore(path).get("begun0001").status == "interrupted"
        assert RunStore(path).list(status="interrupted")[0].id == "begun0001"
        assert RunStore(path).delete("begun0001") == "begun0001"
    finally:
        other.kill()
        other.wait()
    live = Run(spec=tiny_spec(), dataset={"name": "tiny"}, fit={"epochs": 5})
    RunStore(path).begin(live)    # this process: alive, and the one that started then
    assert RunStore(path).get(live.id).status == "running"


# -- item 17: store settings -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "ten", "1e400"])
def test_a_bad_store_timeout_is_refused_at_once(tmp_path, value):
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", "circle", "--epochs", "1", "--store", str(store),
                    env={"DEEPTERM_STORE_TIMEOUT": value})
    assert proc.returncode == 2
    assert one_line(proc) == (f"Error: $DEEPTERM_STORE_TIMEOUT must be a finite number of "
                              f"seconds >= 0 (e.g. 10), got {value!r}")
    assert proc.stdout == "" and not store.exists()


def test_an_in_memory_store_is_refused_at_once():
    proc = deepterm("train", "--dataset", "circle", "--epochs", "1",
                    env={"DEEPTERM_STORE": ":memory:"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_line(proc) == ("Error: --store / $DEEPTERM_STORE: the run store must be a file, "
                              "got ':memory:' (SQLite's in-memory database, which every "
                              "connection sees empty)")
    listed = deepterm("runs", "list", "--store", ":memory:")
    assert listed.returncode == 2 and "must be a file" in one_line(listed)


@pytest.mark.parametrize("timeout", [math.inf, math.nan, -5, "ten", True])
def test_the_library_names_a_bad_timeout_or_path(tmp_path, timeout):
    from engine.store import StoreSettingError

    with pytest.raises(StoreSettingError, match="timeout must be a finite number"):
        RunStore(tmp_path / "runs.db", timeout=timeout)
    with pytest.raises(ValueError, match="must be a file"):
        RunStore(":memory:")
    assert RunStore(tmp_path / "runs.db", timeout=0).timeout == 0.0


# -- item 21: JSON export ----------------------------------------------------------------------


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as every other JSON reader does."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y))
                                    for x, y in zip(a, b))


def diverged_run() -> Run:
    history = History({"epochs": 4})
    for i, logs in enumerate([{"loss": 0.5, "val_loss": 0.6}, {"loss": math.inf, "val_loss": 2.0},
                              {"loss": math.nan, "val_loss": -math.inf}]):
        history.append(i, logs)
    return Run(spec=tiny_spec(), dataset={"name": "tiny"}, fit={"epochs": 4}, status="diverged",
               history=history)


def test_json_export_is_valid_json_with_non_finite_values_as_strings(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = diverged_run()
    store.save(run)
    data = strict_json(store.export(run.id, format="json"))
    assert data["history"]["history"]["loss"] == [0.5, "Infinity", "NaN"]
    assert data["history"]["history"]["val_loss"] == [0.6, 2.0, "-Infinity"]
    assert data["final"] == {"loss": "NaN", "val_loss": "-Infinity"}
    back = Run.from_dict(data)
    assert _same(back.history.history["loss"], run.history.history["loss"])
    proc = deepterm("runs", "export", run.id, "--format", "json", "--store", str(store.path))
    assert proc.returncode == 0, proc.stderr
    data = strict_json(proc.stdout)
    assert data["history"]["history"]["loss"] == [0.5, "Infinity", "NaN"]
    assert data["history"]["epoch"] == [1, 2, 3]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6))
def test_any_history_exports_to_json_that_reads_back(values):
    from engine.store import to_json

    history = History({"epochs": len(values)})
    for i, value in enumerate(values):
        history.append(i, {"loss": value})
    run = Run(spec=tiny_spec(), dataset={"name": "tiny"}, fit={"epochs": len(values)},
              status="completed", history=history)
    back = Run.from_dict(strict_json(to_json(run.to_dict())))
    assert _same(back.history.history["loss"], values)
