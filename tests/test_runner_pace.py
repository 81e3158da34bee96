"""Training you can watch, on every executor: the pace (epochs per second at most),
steps from paused (one epoch; one batch), and the weights reported while a small
model trains (what the app draws its decision boundary and neurons from)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import datasets
from engine import runner
from engine.recipe import RunConfig, prepare
from engine.runner import Control
from engine.runner.child import ChildExecutor
from engine.runner.control import PipeControl, Relay
from engine.runner.reporter import epochs_of

EXECUTORS = ["thread", "child"]


def _config(**changes) -> RunConfig:
    return RunConfig(dataset="circle", dataset_options={"n": 200}, hidden=((4, "tanh"),),
                     optimizer="sgd", learning_rate=0.1, epochs=6, batch_size=20,
                     validation_split=0.25).for_dataset(datasets.load("circle")) \
        .with_changes(**changes)


class Watcher:
    """Runs one run in a thread and keeps every event it reports."""

    def __init__(self, config, control, executor, **options) -> None:
        self.events: list[tuple[str, tuple]] = []
        self.lock = threading.Lock()
        self.data = prepare(config)
        self.run = None

        def target():
            self.run = runner.run(config, self.data, listener=self.hear, control=control,
                                  executor=executor if executor == "thread" else ChildExecutor(),
                                  batch_interval_s=0.0, **options)
        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def hear(self, kind, args) -> None:
        with self.lock:
            self.events.append((kind, args))

    def kinds(self, kind: str) -> list[tuple]:
        with self.lock:
            return [args for k, args in self.events if k == kind]

    def epochs(self) -> list[int]:
        return [epoch for args in self.kinds("epochs") for epoch, _ in epochs_of(args)]

    def paused(self) -> bool | None:
        said = self.kinds("paused")
        return said[-1][0] if said else None

    def wait(self, condition, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)

    def settle(self, seconds: float = 0.3) -> None:
        """Nothing more happens while paused: give it the time to prove it."""
        time.sleep(seconds)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_paused_a_step_trains_exactly_one_more_epoch_or_batch(executor):
    control = Control()
    control.pause()                       # paused from the start: it holds after batch 1
    w = Watcher(_config(), control, executor, weights_interval_s=60.0)
    w.wait(lambda: w.paused() is True, "the pause")
    w.settle()
    assert w.epochs() == []
    batches = len(w.kinds("batch"))
    control.step("epoch")
    w.wait(lambda: w.epochs() == [0], "one epoch")
    w.settle()
    assert w.epochs() == [0] and w.paused() is True       # still paused, one epoch more
    assert len(w.kinds("batch")) == batches + 8           # epoch 1's 8 batches
    control.step("batch")
    w.wait(lambda: len(w.kinds("batch")) > batches + 8, "one batch")
    w.settle()
    last = w.kinds("batch")[-1]
    assert (last[0], last[1]) == (1, 0)                    # epoch 2's first batch, no more
    assert w.epochs() == [0] and w.paused() is True
    control.step("epoch")                                  # the rest of epoch 2
    w.wait(lambda: w.epochs() == [0, 1], "the second epoch")
    w.settle()
    assert w.epochs() == [0, 1]
    control.resume()
    w.thread.join(30)
    assert w.run.status == "completed" and w.epochs() == list(range(6))
    assert w.kinds("paused")[-1] == (False,)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_weights_reported_while_paused_are_the_models_after_each_step(executor):
    control = Control()
    control.pause()
    w = Watcher(_config(), control, executor, weights_interval_s=60.0)
    w.wait(lambda: w.paused() is True, "the pause")
    for epochs in (1, 2):
        control.step("epoch")
        w.wait(lambda n=epochs: any(a[0] == n and a[1] is None for a in w.kinds("weights")),
               f"the weights after {epochs} epochs")
        got = next(a[2] for a in w.kinds("weights") if a[0] == epochs and a[1] is None)
        reference = runner.run(_config(epochs=epochs), w.data, executor="thread").model
        for a, b in zip(got, reference.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    control.stop()
    w.thread.join(30)
    assert w.run.status == "stopped" and w.run.epochs_done == 2


def test_no_weights_are_reported_unless_asked_for():
    w = Watcher(_config(epochs=2), None, "thread")
    w.thread.join(30)
    assert w.kinds("weights") == [] and w.epochs() == [0, 1]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_pace_spaces_epochs_out_without_changing_a_number(executor):
    fast = runner.run(_config(epochs=8), executor="thread")
    control = Control(pace=20.0)               # 8 epochs at 20 a second: at least 0.35 s
    started = time.perf_counter()
    w = Watcher(_config(epochs=8), control, executor)
    w.wait(lambda: len(w.epochs()) >= 3, "three epochs")
    assert w.epochs() in ([0, 1, 2], [0, 1, 2, 3])         # each epoch reported as it ends
    w.thread.join(30)
    took = time.perf_counter() - started
    assert took > 0.35
    assert w.run.history.history == fast.history.history
    # waiting out the pace is not training time: the speed is a training speed
    assert w.run.elapsed_s < 0.5 * took


def test_a_new_pace_applies_at_once():
    control = Control(pace=1.0)                # 30 epochs at 1 a second would take 30 s
    w = Watcher(_config(epochs=30), control, "child")
    w.wait(lambda: len(w.epochs()) >= 1, "the first epoch")
    started = time.perf_counter()
    control.set_pace(None)
    w.thread.join(30)
    assert w.run.epochs_done == 30 and time.perf_counter() - started < 5


def test_a_relay_passes_every_command_on_in_order():
    control = Control()
    relay = Relay()
    assert relay.commands(control) == []
    control.pause()
    control.set_pace(5)
    control.step("epoch")
    control.step("batch")
    assert relay.commands(control) == [("pause",), ("pace", 5.0), ("step", "epoch"),
                                       ("step", "batch")]
    assert relay.commands(control) == []
    control.stop()
    assert relay.commands(control) == [("stop",)]


def test_a_pipe_control_wakes_from_a_pause_for_a_step():
    from multiprocessing import Pipe

    ours, theirs = Pipe()
    remote = PipeControl(theirs)
    ours.send(("pause",))
    assert remote.paused
    threading.Timer(0.2, lambda: ours.send(("step", "batch"))).start()
    waited = remote.wait_while_paused()
    assert 0.15 < waited < 5 and remote.take_step() == "batch" and remote.take_step() is None
    ours.send(("pace", 2.0))
    remote._checked = -1e9
    assert remote.pace == 2.0
    assert remote.wait_pace(0.05) < 1


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "fast", True])
def test_a_bad_pace_is_refused(bad):
    with pytest.raises(ValueError, match="pace must be None"):
        Control(pace=bad)
    with pytest.raises(ValueError, match="step takes 'epoch' or 'batch'"):
        Control().step("row")
