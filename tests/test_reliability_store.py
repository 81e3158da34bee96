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
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _store_helpers import TinyDataset, tiny_spec

import engine
from engine.runs import Run
from engine.store import ENV_VAR, RunStore

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



# -- item 15: a second signal ------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize("first, then", [(signal.SIGTERM, signal.SIGTERM),
                                         (signal.SIGINT, signal.SIGTERM)])
def test_a_second_signal_cuts_neither_the_final_save_nor_the_message(tmp_path, first, then):
    """Two signals a fraction of a millisecond apart, then more every millisecond
    until the trainer exits: it used to say 'before training began; nothing kept'
    while the store held the run, read back as interrupted, or print 'Aborted!'."""
    name, status = ("SIGTERM", 143) if first == signal.SIGTERM else ("Ctrl+C", 130)
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
        assert proc.returncode == status, err
        (run,) = RunStore(store).list()
        assert run.status == "stopped" and run.epochs_done >= 2
        assert run.history.epoch == list(range(run.epochs_done))
        assert err.strip().splitlines() == [
            f"deepterm: stopped by {name} after {run.epochs_done} of 100000 epochs; run "
            f"{run.id} kept as stopped in {store}"]
