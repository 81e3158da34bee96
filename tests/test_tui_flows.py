"""Pilot tests of the trainer's flows, as a user drives them with keys."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until
from textual.widgets import Button, Input, OptionList, Static

from engine.runner import Control, Reporter
from tui.app import DeeptermApp
from tui.app.messages import message_for
from tui.app.screens.setup import SetupScreen
from tui.app.screens.training import TrainingScreen
from tui.app.widgets.charts import MetricChart

ROOT = Path(__file__).resolve().parent.parent


async def _type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+u", *text)     # ctrl+u: delete everything left of the cursor


async def _pick_dataset(pilot, name: str) -> None:
    setup = pilot.app.screen
    options = setup.query_one("#datasets", OptionList)
    options.focus()
    target = options.get_option_index(name)
    key = "down" if target > options.highlighted else "up"
    await pilot.press(*[key] * abs(target - options.highlighted))
    await pilot.pause()


async def _start_and_finish(pilot, timeout: float = 60) -> TrainingScreen:
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, TrainingScreen), what="training")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.state in ("finished", "failed"), timeout, "the run")
    await pilot.pause(0.3)
    return screen


@run_async
async def test_pick_dataset_set_learning_rate_start_and_every_epoch_reaches_the_chart():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _pick_dataset(pilot, "circle")
        setup = app.screen
        assert setup.dataset.name == "circle"
        assert "500" in str(setup.query_one("#dataset-info", Static).render())
        await _type_into(pilot, "#lr", "0.1")
        await _type_into(pilot, "#epochs", "8")
        await pilot.pause()
        assert setup.config.learning_rate == 0.1 and setup.config.epochs == 8
        screen = await _start_and_finish(pilot)
        assert screen.state == "finished"
        assert screen.history.stop_reason == "completed"
        assert len(screen.history) == 8
        for chart in screen.query(MetricChart):
            assert chart.epochs == list(range(1, 9))
        loss = screen.query_one("#loss-chart", MetricChart).series["loss"]
        assert loss == pytest.approx(screen.history.history["loss"])
        assert screen.query_one("#epochs").line_count == 8
        assert screen.model.spec.learning_rate == 0.1
        # results open from the finished run
        await pilot.press("r")
        await pilot.pause()
        assert type(app.screen).__name__ == "ResultsScreen"
        assert len(app.screen.predictions.rows) == 150   # 30% of 500 rows


@run_async
async def test_pause_holds_the_run_and_resume_finishes_it():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _pick_dataset(pilot, "circle")
        await _type_into(pilot, "#epochs", "10000")
        await _type_into(pilot, "#batch", "8")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        await wait_until(pilot, lambda: len(screen.epochs) >= 2, what="two epochs")
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.state == "paused", what="paused")
        await pilot.pause(0.3)
        held = len(screen.epochs)
        await pilot.pause(0.6)
        assert len(screen.epochs) == held   # nothing trains while paused
        assert "Paused" in str(screen.query_one("#status", Static).render())
        assert str(screen.query_one("#pause", Button).label) == "Resume"
        await pilot.press("p")
        await wait_until(pilot, lambda: len(screen.epochs) > held, what="training again")
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.state == "finished")
        assert screen.history.stop_reason == "stopped"


@run_async
async def test_stop_keeps_the_history_so_far():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _pick_dataset(pilot, "circle")
        # the most epochs the form takes, in batches of 8: 6 s even on the fast
        # compiled path (2,000 epochs of 32 ended before the stop on a loaded CI machine)
        await _type_into(pilot, "#epochs", "10000")
        await _type_into(pilot, "#batch", "8")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        await wait_until(pilot, lambda: len(screen.epochs) >= 3, what="three epochs")
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.state == "finished", what="the stop")
        await pilot.pause(0.2)
        h = screen.history
        assert h.stop_reason == "stopped"
        assert 3 <= len(h) < 10000
        assert screen.query_one("#loss-chart", MetricChart).epochs == list(range(1, len(h) + 1))
        assert "stopped by you" in str(screen.query_one("#status", Static).render())
        # back to setup, change something, train again from fresh weights
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)
        await _type_into(pilot, "#epochs", "2")
        again = await _start_and_finish(pilot)
        assert len(again.history) == 2 and again.history.stop_reason == "completed"


@run_async
async def test_an_invalid_learning_rate_blocks_starting():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        for bad, says in (("abc", "not a number"), ("-0.1", "> 0"), ("0", "> 0")):
            await _type_into(pilot, "#lr", bad)
            await pilot.pause()
            assert says in str(setup.query_one("#lr-error", Static).render())
            assert setup.query_one("#lr", Input).has_class("-invalid")
            assert setup.query_one("#start", Button).disabled
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, SetupScreen)
        await _type_into(pilot, "#lr", "1e-3")
        await pilot.pause()
        assert not setup.query_one("#start", Button).disabled
        assert setup.config.learning_rate == 0.001


@run_async
async def test_bad_layer_units_and_split_are_reported_in_place():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        row_units = setup.query(".units").first(Input)
        row_units.value = "0"
        await pilot.pause()
        assert "layer 1 units" in str(setup.query_one("#layers-error", Static).render())
        assert setup.query_one("#start", Button).disabled
        row_units.value = "16"
        await _type_into(pilot, "#split", "0.95")
        await pilot.pause()
        assert "0.9" in str(setup.query_one("#split-error", Static).render())
        await _type_into(pilot, "#split", "0.2")
        await pilot.pause()
        assert setup.config is not None and setup.config.hidden == ((16, "relu"),)


@run_async
async def test_architecture_editor_adds_moves_and_removes_layers_with_a_live_parameter_count():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        await pilot.press("1")                                   # wages: 9 -> 50 -> 32 -> 1
        await pilot.pause(0.2)
        assert setup.config.hidden == ((50, "relu"), (32, "relu"))
        await pilot.pause()   # the rows finish mounting before the app closes
        assert "2,165" in str(setup.query_one("#params", Static).render())
        await pilot.click("#add-layer")
        await pilot.pause(0.2)
        assert setup.config.hidden == ((50, "relu"), (32, "relu"), (32, "relu"))
        rows = setup._rows()
        await pilot.click(rows[2].query_one(".up"))
        await pilot.pause(0.2)
        rows = setup._rows()
        rows[0].query_one(".units", Input).value = "10"
        await pilot.pause(0.2)
        await pilot.click(setup._rows()[1].query_one(".remove"))
        await pilot.pause(0.2)
        assert setup.config.hidden == ((10, "relu"), (32, "relu"))
        spec = setup.config.spec(9)
        assert f"{spec.count_params():,}" in str(setup.query_one("#params", Static).render())


@run_async
async def test_presets_fill_the_course_exercises():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        await pilot.press("3")
        await pilot.pause(0.2)
        c = setup.config
        assert (c.dataset, c.dataset_options, c.hidden) == ("mnist", {},
                                                             ((50, "relu"), (50, "relu")))
        assert (c.output_units, c.output_activation, c.loss, c.optimizer, c.validation_split) == \
            (10, "softmax", "categorical_crossentropy", "adam", 0.3)
        assert len(setup.dataset.X) == 2500
        await pilot.press("2")
        await pilot.pause(0.2)
        c = setup.config
        assert (c.dataset, c.hidden, c.output_units, c.loss, c.optimizer, c.metrics) == \
            ("titanic", ((32, "relu"),), 2, "categorical_crossentropy", "sgd", ("accuracy",))
        await pilot.press("1")
        await pilot.pause(0.2)
        c = setup.config
        assert (c.dataset, c.output_units, c.output_activation, c.loss, c.optimizer) == \
            ("wages", 1, "linear", "mse", "adam")


@run_async
async def test_a_diverging_run_stops_and_says_so():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("1")
        setup = app.screen
        setup.query_one("#standardize").value = False
        await _type_into(pilot, "#lr", "5")
        await pilot.press("tab")
        setup.query_one("#optimizer").value = "sgd"
        await pilot.pause(0.2)
        screen = await _start_and_finish(pilot)
        assert screen.history.stop_reason == "diverged"
        assert "diverged" in str(screen.query_one("#status", Static).render())


@run_async
async def test_an_exception_in_training_is_shown_and_the_app_stays_usable(monkeypatch):
    """In the worker thread (Keras, or NumPy where no child process can start);
    test_runner_child.py has the child process's own failures."""
    def broken(*args, **kwargs):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setenv("DEEPTERM_NO_CHILD", "1")
    monkeypatch.setattr("engine.runner.execute", broken)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _start_and_finish(pilot)
        screen = app.screen
        assert screen.state == "failed"
        assert "the disk caught fire" in str(screen.query_one("#status", Static).render())
        assert any("the disk caught fire" in n.message for n in app._notifications)
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)


@run_async
async def test_choosing_keras_while_tensorflow_loads_leaves_the_ui_responsive(monkeypatch):
    release = threading.Event()

    def slow_devices():
        release.wait(20)   # stands in for a slow TensorFlow import
        return [{"name": "CPU:0", "kind": "CPU", "memory": None},
                {"name": "NVIDIA H200", "kind": "GPU", "memory": "139 GiB"}]

    monkeypatch.setattr("engine.devices", slow_devices)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        setup.query_one("#backend").value = "keras"
        await wait_until(pilot, lambda: app.keras_state == "loading")
        await pilot.pause()
        assert "Loading TensorFlow" in str(setup.query_one("#device", Static).render())
        # Start stays available: pressed now, the run waits for TensorFlow (see the journeys)
        assert not setup.query_one("#start", Button).disabled
        assert "starts once TensorFlow has loaded" in str(setup.query_one("#summary", Static).render())
        # the UI answers keys while TensorFlow loads
        await _type_into(pilot, "#epochs", "7")
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert app.keras_state == "loading"
        assert setup.query_one("#epochs", Input).value == "7"
        release.set()
        await wait_until(pilot, lambda: app.keras_state == "ready", what="keras ready")
        await pilot.pause()
        assert "NVIDIA H200" in str(setup.query_one("#device", Static).render())
        assert not setup.query_one("#start", Button).disabled


def test_start_up_does_not_import_tensorflow_or_plotext():
    code = (
        "import asyncio, sys\n"
        "from tui.app import DeeptermApp\n"
        "async def main():\n"
        "    app = DeeptermApp(store=False)\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "        assert type(app.screen).__name__ == 'SetupScreen'\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@run_async
async def test_missing_screens_from_other_parts_show_a_notification(monkeypatch):
    for module in ("tui.app.lessons", "tui.app.screens.runs", "tui.app.screens.sweep"):
        monkeypatch.setitem(sys.modules, module, None)   # import raises ImportError
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        await pilot.press("f3")
        await pilot.press("w")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("Lessons are not available" in m for m in messages)
        assert any("Saved runs are not available" in m for m in messages)
        assert any("Sweeps are not available" in m for m in messages)
        assert isinstance(app.screen, SetupScreen)


@run_async
async def test_open_trainer_fills_the_setup_and_starts_from_the_given_weights():
    from engine import Layer, ModelSpec, build

    spec = ModelSpec(input_dim=2, layers=[Layer(4, "tanh"), Layer(2, "softmax")],
                     loss="categorical_crossentropy", optimizer="adam", learning_rate=0.05,
                     metrics=["accuracy"])
    weights = build(spec, seed=7).get_weights()
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.open_trainer(spec, "xor", weights=weights)
        await pilot.pause(0.3)
        setup = app.screen
        c = setup.config
        assert (c.dataset, c.hidden, c.optimizer, c.learning_rate) == ("xor", ((4, "tanh"),),
                                                                       "adam", 0.05)
        assert "given weights" in str(setup.query_one("#params", Static).render())
        await _type_into(pilot, "#epochs", "1")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        assert all(np.array_equal(a, b) for a, b in zip(screen.weights, weights))


@run_async
async def test_finished_runs_are_saved_to_the_run_store(tmp_path):
    from engine.store import RunStore

    path = tmp_path / "runs.db"
    app = DeeptermApp(store=path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _pick_dataset(pilot, "xor")
        await _type_into(pilot, "#epochs", "3")
        await _start_and_finish(pilot)
        await app.workers.wait_for_complete()
    runs = RunStore(path).list()
    assert len(runs) == 1
    assert runs[0].status == "completed" and runs[0].epochs_done == 3


@pytest.mark.parametrize("uptime_s", [None, 0.5], ids=["this-clock", "just-booted"])
def test_the_ui_callback_posts_every_epoch_and_coalesces_batches(uptime_s, monkeypatch):
    """The first batch and epoch are reported at once however long ago the clock's
    origin was: perf_counter starts near 0 on a machine booted a moment ago."""
    from engine import Layer, ModelSpec, build
    from tui.app.messages import BatchProgress, EpochEnded, TrainingStarted

    class Sink:
        def __init__(self):
            self.messages = []

        def post_message(self, message):
            self.messages.append(message)
            return True

    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 3))
    y = X.sum(axis=1)
    model = build(ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(1)]), seed=0)
    if uptime_s is not None:
        import time

        real, origin = time.perf_counter, time.perf_counter()
        monkeypatch.setattr(time, "perf_counter", lambda: real() - origin + uptime_s)
    sink = Sink()
    cb = Reporter(lambda kind, *args: sink.post_message(message_for(kind, *args)), Control(),
                  batch_interval_s=3600)
    model.fit(X, y, epochs=5, batch_size=8, callbacks=[cb])
    kinds = [type(m) for m in sink.messages]
    assert kinds[0] is TrainingStarted
    # the first epoch at once, the other four together at the end (one report per hour at most)
    assert kinds.count(EpochEnded) == 2
    assert kinds.count(BatchProgress) == 1    # 160 batches, one report per hour at most
    epochs = [m for m in sink.messages if isinstance(m, EpochEnded)]
    reported = [e for m in epochs for e in [*m.earlier, (m.epoch, m.logs)]]
    assert [e for e, _ in reported] == [0, 1, 2, 3, 4]
    assert [lg["loss"] for _, lg in reported] == pytest.approx(model.history.history["loss"])
    assert BatchProgress(0, 0, 1, {}, 0, 0).can_replace(BatchProgress(0, 1, 1, {}, 0, 0))
    assert not BatchProgress(0, 0, 1, {}, 0, 0).can_replace(epochs[0])


def test_stop_requested_before_a_batch_stops_with_reason_stopped():
    from engine import Layer, ModelSpec, build

    class Sink:
        def post_message(self, message):
            return True

    control = Control()
    control.stop()
    model = build(ModelSpec(input_dim=1, layers=[Layer(1)]), seed=0)
    history = model.fit(np.ones((64, 1)), np.ones(64), epochs=50, batch_size=8,
                        callbacks=[Reporter(None, control)])
    assert history.stop_reason == "stopped" and len(history) <= 1


@run_async
async def test_start_right_after_a_preset_reads_the_new_layers_activations():
    """The preset's layer rows are mounting when Start comes at once (a fast typist,
    a slow machine): their activations are the preset's, not an unset Select's."""
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        setup.action_preset("1")      # wages: two new rows, 50 and 32 relu
        seen = set()
        for _ in range(200):          # every step of the rows' mounting
            assert setup.validate(), setup.errors
            assert setup.config.hidden == ((50, "relu"), (32, "relu"))
            seen.add(tuple(type(s.value).__name__ for s in setup.query(".activation")))
            await asyncio.sleep(0)
        assert len(seen) > 1          # the Selects were caught before and after they mounted
