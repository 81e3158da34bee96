"""The run store across processes: a trainer killed with SIGKILL leaves an
interrupted run with its epochs; Ctrl+C (SIGINT) keeps the run as stopped;
two trainers writing one store at once lose nothing."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import ENV_VAR, RunStore

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def start_training(store: Path, epochs: int, *extra: str) -> subprocess.Popen:
    """`deepterm train` on circle in a subprocess, stdout a pipe (one line per epoch).

    SIGINT is reset to its default before exec: a shell that starts tests in the
    background ignores it, and Python would then ignore Ctrl+C too.
    """
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(store.parent)
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "train", "--dataset", "circle", "--dataset-option",
         "n=200", "--layers", "16,16", "--epochs", str(epochs), "--batch-size", "8",
         "--store", str(store), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def read_epochs(proc: subprocess.Popen, count: int) -> list[str]:
    """The first ``count`` epoch lines the trainer prints (each printed after the
    epoch was written to the store)."""
    lines = []
    deadline = time.monotonic() + 60
    while len(lines) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("epoch "):
            lines.append(line)
    assert len(lines) == count, proc.stderr.read() if proc.poll() is not None else lines
    return lines


def interrupt_training(store: Path, after_epochs: int, signum: int):
    """Start a long `deepterm train`, send ``signum`` once ``after_epochs`` epochs
    were printed, and wait for it: (process, stdout, stderr)."""
    proc = start_training(store, 100_000)
    try:
        read_epochs(proc, after_epochs)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, out, err


def printed_loss(line: str) -> float:
    return float(re.search(r" loss (\S+)", line).group(1))


def test_a_killed_trainer_leaves_an_interrupted_run_with_its_epochs(tmp_path):
    store = tmp_path / "runs.db"
    proc = start_training(store, 100_000)
    try:
        lines = read_epochs(proc, 3)
        proc.kill()  # SIGKILL: no handler runs, nothing is finished
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    (run,) = RunStore(store).list()
    assert run.status == "interrupted" and run.stop_reason is None
    assert run.epochs_done >= 3
    assert run.history.epoch == list(range(run.epochs_done))   # no gaps
    for line, loss in zip(lines, run.history.history["loss"]):
        assert printed_loss(line) == pytest.approx(loss, abs=5e-5)
    assert run.fit["epochs"] == 100_000 and run.dataset["name"] == "circle"


def test_ctrl_c_keeps_the_run_as_stopped_and_exits_130(tmp_path):
    store = tmp_path / "runs.db"
    proc, out, err = interrupt_training(store, 3, signal.SIGINT)
    assert proc.returncode == 130, err
    (run,) = RunStore(store).list()
    assert run.status == "stopped" and run.epochs_done >= 3
    assert err.strip().splitlines() == [
        f"deepterm: stopped by Ctrl+C after {run.epochs_done} of 100000 epochs; run {run.id} "
        f"kept as stopped in {store}"]
    # every epoch it trained is there; what it printed (the line being printed when
    # the signal came may be cut short) agrees with the store
    numbers = []
    for line in out.splitlines():
        found = re.match(r"epoch (\d+)/100000  loss (\d+\.\d{4})  ", line)
        if found:
            epoch, loss = int(found.group(1)), float(found.group(2))
            assert loss == pytest.approx(run.history.history["loss"][epoch - 1], abs=5e-5)
            numbers.append(epoch)
    assert numbers == list(range(4, 4 + len(numbers)))
    assert run.epochs_done - 1 <= (numbers[-1] if numbers else 3) <= run.epochs_done


def test_sigterm_keeps_the_run_as_stopped_and_exits_143(tmp_path):
    """`timeout 60 deepterm train ...` ends with SIGTERM: the same as Ctrl+C."""
    store = tmp_path / "runs.db"
    proc, _, err = interrupt_training(store, 2, signal.SIGTERM)
    assert proc.returncode == 143, err
    (run,) = RunStore(store).list()
    assert run.status == "stopped" and run.epochs_done >= 2
    assert err.strip().splitlines() == [
        f"deepterm: stopped by SIGTERM after {run.epochs_done} of 100000 epochs; run {run.id} "
        f"kept as stopped in {store}"]


def test_a_trainer_whose_reader_goes_away_stops_and_keeps_its_run(tmp_path):
    """`deepterm train ... | head -3`: the pipe closes, training stops (exit 141,
    as a shell reports SIGPIPE) and the run is kept as stopped."""
    store = tmp_path / "runs.db"
    proc = start_training(store, 100_000)
    try:
        read_epochs(proc, 2)
        proc.stdout.close()
        proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == 141, err
    assert "Traceback" not in err
    (run,) = RunStore(store).list()
    assert run.status == "stopped" and 2 <= run.epochs_done < 100_000


def test_two_trainers_writing_one_store_at_once_lose_nothing(tmp_path):
    """The test holds the store's write lock until both trainers wait on it, so
    they start together and then write their epochs in turns."""
    store = tmp_path / "runs.db"
    RunStore(store).list()
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    procs = [start_training(store, 60, "--seed", str(seed), "--label", f"writer {seed}")
             for seed in (1, 2)]
    try:
        for proc in procs:   # each prints this line just before it asks for the store
            assert proc.stdout.readline().startswith("training circle"), proc.stderr.read()
        time.sleep(0.3)
        holder.execute("ROLLBACK")
        outs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        holder.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert "warning" not in err   # no epoch write ever failed
    runs = {r.label: r for r in RunStore(store).list()}
    assert set(runs) == {"writer 1", "writer 2"}
    for label, (out, _) in zip(("writer 1", "writer 2"), outs):
        run = runs[label]
        assert run.status == "completed" and run.history.epoch == list(range(60))
        assert run.id in out
        printed = [printed_loss(line) for line in out.splitlines() if line.startswith("epoch ")]
        assert printed == pytest.approx(run.history.history["loss"], abs=5e-5)
    assert runs["writer 1"].history.history != runs["writer 2"].history.history


def test_ctrl_c_on_a_terminal_leaves_the_cursor_shown(tmp_path):
    """On a terminal `train` draws a progress bar, which hides the cursor;
    after Ctrl+C the last cursor command it wrote shows it again."""
    import pty
    import select

    store = tmp_path / "runs.db"
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.update(XDG_DATA_HOME=str(tmp_path), TERM="xterm-256color", COLUMNS="120", LINES="30")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "train", "--dataset", "circle", "--layers", "16",
         "--epochs", "100000", "--store", str(store)],
        cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    seen = b""

    def read_for(seconds: float, until: bytes | None = None) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (until is None or until not in seen):
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # EIO: the child closed the terminal
                    return
                if not chunk:
                    return
                seen += chunk

    try:
        read_for(60, until=b"/100000 loss")   # the bar is drawn and training runs
        assert b"/100000 loss" in seen, seen[-500:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        read_for(2)
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        proc.stderr.close()
    assert proc.returncode == 130, err
    hide, show = b"\x1b[?25l", b"\x1b[?25h"
    assert hide in seen
    assert seen.rfind(show) > seen.rfind(hide)
    (run,) = RunStore(store).list()
    assert run.status == "stopped" and f"run {run.id} kept as stopped" in err


def test_ctrl_c_during_a_sweep_keeps_the_run_it_was_training(tmp_path):
    store = tmp_path / "runs.db"
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "sweep", "--dataset", "circle", "--dataset-option", "n=200",
         "--layers", "16", "--setting", "units", "--values", "4,8", "--epochs", "100000",
         "--workers", "1", "--store", str(store)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = [proc.stdout.readline() for _ in range(4)]   # the header, then 3 epochs
        assert lines[-1].startswith("units=4  epoch      3/100000"), lines
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    (run,) = RunStore(store).list()
    assert run.label == "units=4" and run.status == "stopped" and run.epochs_done >= 3
    assert err.strip().splitlines() == [
        f"deepterm: sweep stopped by Ctrl+C during units=4; 1 run kept in group {run.group}"]
