"""The runner's child processes (engine.runner.child): the same run as in the
thread, pause/resume/stop passed on, failures brought back, a dead child; and the
app training in one."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until
from textual.widgets import Static

import datasets
from engine.recipe import prepare
from engine.runner import Control as TrainingControl
from engine.runner import ThreadExecutor, initial_weights
from engine.runner import child as train_process
from tui.app import DeeptermApp
from tui.app.config import PRESETS_BY_KEY
from tui.app.screens.setup import SetupScreen
from tui.app.screens.training import TrainingScreen


def train_in_child(config, data, control, post, weights=None, batch_interval_s=0.25):
    """A run in a child process: (model, history, elapsed_s, samples_per_s)."""
    start = weights if weights is not None else initial_weights(data.spec, config.seed)
    return train_process.ChildExecutor().train(config, data, start, post, control,
                                               batch_interval_s)


def run_training(config, data, _callback=None):
    """The same run in this thread: (model, history)."""
    model, history, _, _ = ThreadExecutor().train(
        config, data, initial_weights(data.spec, config.seed), lambda kind, args: None, None, 0.25)
    return model, history


@pytest.fixture(autouse=True)
def no_waiting_children():
    """Each test starts with no child waiting (sweeps elsewhere leave a warm pool of
    them, one per core, that these tests would otherwise pick from)."""
    train_process.shutdown()
    yield


@pytest.fixture(scope="module")
def titanic():
    config = PRESETS_BY_KEY["2"].config.with_changes(epochs=3, seed=7)
    return config, prepare(config, datasets.load("titanic"))


def test_a_run_in_the_child_is_the_run_in_the_thread(titanic):
    config, data = titanic
    events = []
    model, history, elapsed_s, rate = train_in_child(
        config, data, TrainingControl(), lambda kind, args: events.append((kind, args)))
    _, expected = run_training(config, data, None)
    assert history.history == expected.history and history.stop_reason == "completed"
    thread_model = run_training(config, data, None)[0]
    for a, b in zip(model.get_weights(), thread_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # the rebuilt model carries what results and the run store read
    assert model.history is history
    assert model.metadata["dataset"] == config.dataset_label
    assert model.metadata["preprocessing"] == data.preprocessing
    np.testing.assert_array_equal(model.predict(data.X_val), thread_model.predict(data.X_val))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started" and events[0][1][0]["epochs"] == 3
    reported = [e for kind, args in events if kind == "epochs" for e in [*args[4], args[0]]]
    assert [e if isinstance(e, int) else e[0] for e in reported] == [0, 1, 2]
    assert elapsed_s > 0 and rate == pytest.approx(3 * len(data.X[:data.split_at]) / elapsed_s,
                                                   rel=0.05)


def test_pause_resume_and_stop_reach_the_child(titanic):
    config, data = titanic
    config = config.with_changes(epochs=10_000)
    data = prepare(config, data.dataset)
    control = TrainingControl()
    events = []
    result = {}

    def run():
        result["out"] = train_in_child(
            config, data, control, lambda kind, args: events.append((kind, args)),
            batch_interval_s=0.01)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while not any(k == "epochs" for k, _ in events) and time.monotonic() < deadline:
        time.sleep(0.01)
    control.pause()
    while ("paused", (True,)) not in events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("paused", (True,)) in events
    seen = len(events)
    time.sleep(0.4)
    assert len(events) == seen       # nothing trains while paused
    control.resume()
    while ("paused", (False,)) not in events and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    control.stop()
    worker.join(30)
    assert not worker.is_alive()
    _, history, _, _ = result["out"]
    assert history.stop_reason == "stopped"
    assert 1 <= len(history) < 10_000


def test_an_exception_in_the_child_comes_back_with_its_type_and_traceback(titanic):
    config, data = titanic
    broken = replace(data, y=data.y[:-5])
    with pytest.raises(ValueError, match="y has 1304 rows but X has 1309") as info:
        train_in_child(config, broken, TrainingControl(), lambda k, a: None)
    assert isinstance(info.value.__cause__, train_process.RemoteTraceback)
    assert "Traceback" in str(info.value.__cause__)
    # the child that reported it trains the next run
    pid = train_process._idle[0].process.pid
    train_in_child(config, data, TrainingControl(), lambda k, a: None)
    assert train_process._idle[0].process.pid == pid


def test_a_child_that_dies_fails_the_run_and_the_next_run_starts_a_new_one(titanic):
    config, data = titanic
    train_process.prestart()
    pid = train_process._idle[0].process.pid

    def kill_on_start(kind, args):
        if kind == "started":
            os.kill(pid, signal.SIGKILL)

    long = config.with_changes(epochs=10_000)
    with pytest.raises(train_process.ChildDied, match="exit code -9"):
        train_in_child(long, prepare(long, data.dataset), TrainingControl(),
                                     kill_on_start)
    _, history, _, _ = train_in_child(config, data, TrainingControl(),
                                                    lambda k, a: None)
    assert len(history) == 3 and train_process._idle[0].process.pid != pid


def test_a_waiting_child_exits_when_the_app_goes():
    child = train_process.Child()
    child.commands.close()           # what the app's exit does to the pipe
    assert child.process.wait(30) == 0
    child.events.close()
    train_process.prestart()
    waiting = train_process._idle[0]
    train_process.shutdown()
    assert waiting.process.poll() == 0 and not train_process._idle


@run_async
async def test_a_failure_in_the_child_is_shown_in_place_and_the_app_stays_usable(titanic):
    config, data = titanic
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = TrainingScreen(config, replace(data, y=data.y[:-5]))
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.state in ("finished", "failed"), 60, "the run")
        await pilot.pause(0.2)
        assert screen.state == "failed"
        status = str(screen.query_one("#status", Static).render())
        assert "FitError: y has 1304 rows but X has 1309" in status
        assert any("rows" in n.message for n in app._notifications)
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)


@run_async
async def test_where_no_child_can_start_the_run_trains_in_the_thread(titanic, monkeypatch):
    config, data = titanic

    def no_processes(*args, **kwargs):
        raise OSError("process limit reached")

    monkeypatch.setattr(train_process.subprocess, "Popen", no_processes)
    monkeypatch.setattr(train_process, "_idle", [])
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = TrainingScreen(config, data)
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.state in ("finished", "failed"), 60, "the run")
        assert screen.state == "finished" and len(screen.history) == 3
        _, expected = run_training(config, data, None)
        assert screen.history.history == expected.history


@run_async
async def test_the_app_starts_a_training_process_while_the_learner_sets_up(monkeypatch):
    monkeypatch.setattr(train_process, "_idle", [])
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: bool(train_process._idle), 20, "a waiting child")
        child = train_process._idle[0]
        assert child.process.poll() is None
    child.close()
    assert child.process.poll() == 0


def test_a_waiting_child_that_was_killed_is_replaced_before_the_run(titanic):
    config, data = titanic
    train_process.prestart()
    waiting = train_process._idle[0]
    waiting.process.kill()
    waiting.process.wait()
    _, history, _, _ = train_in_child(config, data, TrainingControl(),
                                                    lambda k, a: None)
    assert len(history) == 3 and train_process._idle[0] is not waiting
