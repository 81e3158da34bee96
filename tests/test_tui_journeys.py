"""The learner's everyday journeys through the app, driven with keys as a learner
drives them, asserting what the learner sees (issue: train again, the course
experiments' charts, import notes, keys, layouts)."""

from __future__ import annotations

import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until
from textual.widgets import Log, Static

from tui.app import DeeptermApp
from tui.screens.setup import SetupScreen
from tui.screens.training import TrainingScreen


def _text(widget) -> str:
    return str(widget.render())


async def _train(pilot, timeout: float = 60) -> TrainingScreen:
    """ctrl+s, then wait until the run ends; returns its training screen."""
    before = pilot.app.screen
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, TrainingScreen)
                     and pilot.app.screen is not before, what="the training screen")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.state in ("finished", "failed"), timeout, "the run")
    await pilot.pause(0.3)
    return screen


@pytest.mark.parametrize("key, dataset", [("1", "wages"), ("2", "titanic"), ("3", "mnist")])
@run_async
async def test_each_preset_trains_shows_results_goes_back_and_trains_again(key, dataset):
    """Preset -> train -> results -> back -> train again (n) -> another preset -> train."""
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(key)
        await pilot.pause(0.3)
        first = await _train(pilot)
        assert first.state == "finished" and first.config.dataset == dataset
        assert "Finished" in _text(first.query_one("#status", Static))
        epochs = first.config.epochs
        assert first.query_one("#epochs", Log).line_count == epochs
        await pilot.press("r")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "ResultsScreen"
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.screen is first
        await pilot.press("n")            # train again: a new screen, the same setup
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen)
                         and app.screen is not first, what="the second run's screen")
        again = app.screen
        await wait_until(pilot, lambda: again.state == "finished", 60, "the second run")
        assert again.config == first.config
        # same seed, same data, fresh weights: the same numbers again
        assert again.history.history["loss"] == pytest.approx(first.history.history["loss"])
        assert again.query_one("#epochs", Log).line_count == epochs
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SetupScreen)
        other = "2" if key != "2" else "1"
        await pilot.press(other)
        await pilot.pause(0.3)
        third = await _train(pilot)
        assert third.state == "finished" and third.config.dataset != dataset


@run_async
async def test_a_preset_keeps_the_chosen_backend_and_says_so():
    from textual.widgets import Select

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.keras_state, app.keras_status = "ready", "Keras on the CPU (no GPU found)"
        setup = app.screen
        setup.query_one("#backend", Select).value = "keras"
        await pilot.pause()
        assert "Keras on the CPU" in _text(setup.query_one("#device", Static))
        for key in ("1", "3", "2"):
            await pilot.press(key)
            await pilot.pause(0.2)
            assert setup.query_one("#backend", Select).value == "keras"
            assert setup.config is not None and setup.config.backend == "keras"
            assert "Keras on the CPU" in _text(setup.query_one("#device", Static))
        assert any("on Keras" in n.message for n in app._notifications)


@run_async
async def test_a_dataset_change_sets_its_own_standardize_default_and_mnist_says_its_rows():
    from textual.widgets import Checkbox, OptionList

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        standardize = setup.query_one("#standardize", Checkbox)
        await pilot.press("3")                     # MNIST preset: pixels as they are
        await pilot.pause(0.3)
        assert standardize.value is False
        assert "rows 2500 of 5000 shipped" in _text(setup.query_one("#dataset-info", Static))
        options = setup.query_one("#datasets", OptionList)
        options.focus()
        await pilot.press("up")                    # the dataset above mnist in the list
        await pilot.pause(0.3)
        assert setup.dataset.name != "mnist" and setup.dataset.image_shape is None
        assert standardize.value is True and setup.config.standardize is True
        await pilot.press("down")                  # back to mnist, from the list: its default
        await pilot.pause(0.3)
        assert setup.dataset.name == "mnist" and standardize.value is False


async def _type_into(pilot, selector: str, text: str) -> None:
    from textual.widgets import Input

    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * len(field.value), *text)
    await pilot.pause()


@run_async
async def test_the_epoch_table_follows_the_newest_epoch_unless_scrolled_up():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("1")                     # wages
        await pilot.pause(0.3)
        await _type_into(pilot, "#epochs", "2000")
        screen = await _train(pilot, timeout=120)
        table = screen.query_one("#epochs", Log)
        await pilot.pause(0.3)
        assert table.line_count == 2000
        assert table.scroll_offset.y == table.max_scroll_y > 0
        last = table.lines[-1].split()[0]
        assert last == "2000"
        # the last rows are the ones in view
        shown = table.size.height
        assert table.scroll_offset.y + shown >= 2000


@run_async
async def test_the_epoch_log_stays_where_the_learner_scrolled_and_follows_again_at_the_end():
    from textual.app import App
    from textual.containers import Vertical

    from tui.widgets.epoch_log import EpochLog

    class Table(App):
        def compose(self):
            with Vertical():
                yield Static("one line", id="above")
                yield EpochLog(id="log")

    app = Table()
    async with app.run_test(size=(40, 12)) as pilot:
        log = app.query_one(EpochLog)
        log.append([f"{i}" for i in range(1, 51)])
        await pilot.pause()
        assert log.scroll_offset.y == log.max_scroll_y
        app.query_one("#above", Static).update("two\nlines")    # the table gets shorter
        await pilot.pause()
        log.append(["51"])
        await pilot.pause()
        assert log.scroll_offset.y == log.max_scroll_y and log.lines[-1] == "51"
        log.scroll_to(y=5, animate=False)                       # the learner reads back
        await pilot.pause()
        log.append(["52", "53"])
        await pilot.pause()
        assert log.scroll_offset.y == 5
        log.scroll_end(animate=False)                           # ...and returns to the end
        await pilot.pause()
        log.append(["54"])
        await pilot.pause()
        assert log.scroll_offset.y == log.max_scroll_y
