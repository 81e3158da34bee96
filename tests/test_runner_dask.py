"""Sweeps on a Dask distributed cluster (engine.runner.dask): a real scheduler and two
real workers started on 127.0.0.1 for these tests, a LocalCluster, an unreachable
scheduler, a stop, and a worker killed mid-run. Bounded in time, cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the 'cluster' extra (distributed) is not installed")

from engine import runner  # noqa: E402
from engine.recipe import RunConfig  # noqa: E402
from engine.runner.dask import ClusterError, DaskExecutor  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.sweeps import configs_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(**changes) -> RunConfig:
    config = RunConfig(dataset="circle", dataset_options={"n": 200}, hidden=((8, "relu"),),
                       optimizer="adam", learning_rate=0.01, epochs=4, batch_size=16,
                       validation_split=0.25)
    return config.with_changes(**changes)


@pytest.fixture(scope="module")
def cluster():
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1 (one thread
    each), stopped after the module's tests."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                     os.environ.get("PYTHONPATH")])))
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                               "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--no-dashboard", "--host", "127.0.0.1"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        deadline = time.monotonic() + START_TIMEOUT_S
        client = None
        while client is None:
            try:
                client = Client(address, timeout="2s", set_as_default=False)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        client.close()
        yield address, procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_a_sweep_on_two_workers_gives_the_local_sweeps_numbers_and_the_client_keeps_them(
        cluster, tmp_path):
    address, _ = cluster
    configs = configs_for(_config(group="dask-sweep"), "learning_rate", [0.003, 0.01, 0.03], 2,
                          group="dask-sweep")
    local = runner.sweep(configs, workers=1)
    store = RunStore(tmp_path / "runs.db")
    events: list[tuple[int, str]] = []
    lock = threading.Lock()

    def hear(index, kind, args):
        with lock:
            events.append((index, kind))

    remote = runner.sweep(configs, cluster=address, store=store, listener=hear)
    for a, b in zip(local, remote, strict=True):
        assert b.status == "completed" and b.history.history == a.history.history
        for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)
    # each run was heard from start to finish, every epoch on the way
    for index in range(3):
        kinds = [kind for i, kind in events if i == index]
        assert kinds[0] == "started" and kinds[-1] == "finished" and "epochs" in kinds
    stored = {r.label: r for r in store.list()}
    assert sorted(stored) == ["learning_rate=0.003", "learning_rate=0.01", "learning_rate=0.03"]
    assert all(r.group == "dask-sweep" and r.epochs_done == 4 for r in stored.values())


def test_a_local_cluster_runs_a_sweep_too(tmp_path):
    from distributed import LocalCluster

    configs = configs_for(_config(), "units", [4, 8], 2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      host="127.0.0.1") as local:
        runs = runner.sweep(configs, cluster=local.scheduler_address)
    assert [r.status for r in runs] == ["completed", "completed"]
    assert [r.label for r in runs] == ["units=4", "units=8"]
    assert [r.spec.layers[0].units for r in runs] == [4, 8]


def test_an_unreachable_scheduler_is_one_error_before_any_run(monkeypatch):
    from engine.runner import dask

    monkeypatch.setattr(dask, "CONNECT_TIMEOUT_S", 2)   # the CLI test waits out the default
    port = _free_port()          # nothing listens there
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        runner.sweep([_config()], cluster=f"tcp://127.0.0.1:{port}",
                     listener=lambda *a: pytest.fail("a run started"))
    assert time.monotonic() - started < 30


def test_stop_cancels_the_runs_that_have_not_begun(cluster):
    address, _ = cluster
    control = runner.Control()
    configs = configs_for(_config(epochs=100_000), "learning_rate", [0.001, 0.002, 0.003, 0.004], 2)
    started: list[int] = []

    def hear(index, kind, args):
        if kind == "started":
            started.append(index)
        if kind == "epochs" and len(started) >= 1:
            control.stop()

    runs = runner.sweep(configs, cluster=address, control=control, listener=hear)
    ran = [r for r in runs if r is not None]
    assert 1 <= len(ran) <= 2            # two workers: at most two had begun
    assert all(r.status == "stopped" and r.epochs_done >= 1 for r in ran)
    assert runs.count(None) == 4 - len(ran)


def test_steps_and_the_pace_reach_a_run_on_a_worker(cluster):
    """Paused before it starts, a run on the cluster trains one epoch per step, then
    resumes at the pace asked for (4 epochs a second)."""
    from engine.runner.reporter import epochs_of

    address, _ = cluster
    control = runner.Control()
    control.pause()
    heard: list[tuple[str, tuple]] = []
    done: list = []

    def epochs() -> list[int]:
        return [e for kind, args in list(heard) if kind == "epochs" for e, _ in epochs_of(args)]

    def wait(condition, what):
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    thread = threading.Thread(target=lambda: done.extend(runner.sweep(
        [_config(epochs=5)], cluster=address, control=control,
        listener=lambda i, kind, args: heard.append((kind, args)))))
    thread.start()
    wait(lambda: ("paused", (True,)) in heard, "the pause")
    time.sleep(1.0)
    assert epochs() == []
    control.step("epoch")
    wait(lambda: epochs() == [0], "one epoch")
    time.sleep(1.0)
    assert epochs() == [0]
    control.set_pace(4.0)
    resumed = time.monotonic()
    control.resume()
    thread.join(60)
    assert done[0].status == "completed" and epochs() == [0, 1, 2, 3, 4]
    assert time.monotonic() - resumed > 0.7       # four more epochs at four a second


def test_a_worker_killed_mid_run_has_its_run_trained_again_on_the_other(cluster, tmp_path):
    """Dask runs the task again on the surviving worker: that run starts over from its
    initial weights and completes with the numbers it would have had."""
    from distributed import Client

    address, procs = cluster
    config = _config(epochs=300, label="survivor")
    (expected,) = runner.sweep([config], workers=1)
    store = RunStore(tmp_path / "runs.db")
    killed = threading.Event()
    client = Client(address, set_as_default=False)

    def hear(index, kind, args):
        if kind == "epochs" and not killed.is_set():
            killed.set()
            # the worker holding the run's task: kill its whole process group
            processing = client.processing()
            busy = [w for w, tasks in processing.items() if tasks]
            pid = client.run(os.getpid, workers=busy)[busy[0]]
            os.kill(pid, signal.SIGKILL)

    # at most 150 epochs a second, so that the run is still on its worker when its
    # first epoch is heard (the compiled path trains these 300 epochs in about 0.1 s)
    control = runner.Control(pace=150.0)
    try:
        (run,) = runner.sweep([config], cluster=address, store=store, listener=hear,
                              control=control)
    finally:
        client.close()
    assert killed.is_set()
    assert run.status == "completed" and run.history.history == expected.history.history
    (kept,) = store.list()
    assert kept.status == "completed" and kept.epochs_done == 300
    with pytest.raises(ClusterError):
        DaskExecutor(None)


def test_pause_holds_a_run_on_a_worker_and_resume_goes_on(cluster):
    """Pause, resume and stop reach a task on a worker as they reach a child process."""
    address, _ = cluster
    control = runner.Control()
    epochs: list[int] = []
    held = threading.Event()

    def hear(index, kind, args):
        if kind == "epochs":
            epochs.append(args[0])
            if len(epochs) == 2 and not held.is_set():
                control.pause()
        if kind == "paused" and args[0]:
            held.set()

    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(runs=runner.sweep(
        [_config(epochs=100_000)], cluster=address, control=control, listener=hear)))
    thread.start()
    try:
        assert held.wait(60), "the worker never said it was holding"
        count = len(epochs)
        time.sleep(1.0)
        assert len(epochs) == count                    # nothing trained while paused
        control.resume()
        deadline = time.monotonic() + 60
        while len(epochs) <= count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(epochs) > count                     # ...and it goes on
    finally:
        control.stop()
        thread.join(60)
    (run,) = result["runs"]
    assert run.status == "stopped"


def test_the_command_line_says_in_one_line_that_the_scheduler_cannot_be_reached(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPTERM_STORE", "DEEPTERM_CLUSTER")}
    env["DEEPTERM_CLUSTER_TIMEOUT"] = "2"        # not the 10 s default
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "sweep", "--dataset", "xor", "--setting", "units",
         "--values", "2,4", "--epochs", "2", "--cluster", f"tcp://127.0.0.1:{port}",
         "--store", str(tmp_path / "runs.db")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert "epoch 1/" not in proc.stdout and "units=2:" not in proc.stdout   # no run began
    env["DEEPTERM_CLUSTER_TIMEOUT"] = "soon"
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "sweep", "--dataset", "xor", "--setting", "units",
         "--values", "2,4", "--cluster", f"tcp://127.0.0.1:{port}", "--store",
         str(tmp_path / "runs.db")], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("Error: $DEEPTERM_CLUSTER_TIMEOUT must be a number of "
                                   "seconds > 0 (e.g. 30), got 'soon'")
