"""The learner's everyday journeys through the app, driven with keys as a learner
drives them, asserting what the learner sees (issue: train again, the course
experiments' charts, import notes, keys, layouts)."""

from __future__ import annotations

import numpy as np
import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until
from textual.widgets import Log, Static

from tui.app import DeeptermApp
from tui.app.screens.setup import SetupScreen
from tui.app.screens.training import TrainingScreen


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
    await pilot.press("end", "ctrl+u", *text)     # ctrl+u: delete everything left of the cursor
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

    from tui.app.widgets.epoch_log import EpochLog

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


@run_async
async def test_huge_losses_read_compactly_in_the_table_and_stats():
    """Titanic at lr 10 (standardize off, as the course's unscaled data): losses
    beyond 1e4 read as 2.12e+19, one number per column, in the table and stats."""
    from textual.widgets import Checkbox

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await pilot.pause(0.3)
        app.screen.query_one("#standardize", Checkbox).value = False
        await _type_into(pilot, "#lr", "10")
        screen = await _train(pilot)
        losses = screen.history.history["loss"]
        assert max(v for v in losses if v == v) > 1e4        # it did blow up
        header = str(screen.query_one("#epochs-header", Static).render()).split()
        for line in screen.query_one("#epochs", Log).lines:
            cells = line.split()
            assert len(cells) == len(header), line
            assert all(len(c) <= 9 for c in cells), line
        stats = _text(screen.query_one("#stats", Static))
        best = stats.split("best ")[1].split()[1]
        assert len(best) <= 9


@run_async
async def test_start_while_tensorflow_loads_is_queued_and_begins_when_it_is_ready(monkeypatch):
    import threading

    release = threading.Event()

    def slow_devices():
        release.wait(20)                  # stands in for a slow TensorFlow import
        return [{"name": "CPU:0", "kind": "CPU", "memory": None}]

    monkeypatch.setattr("engine.devices", slow_devices)
    started = []
    monkeypatch.setattr(TrainingScreen, "start", lambda self: started.append(self.config))
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        from textual.widgets import Select

        setup.query_one("#backend", Select).value = "keras"
        await wait_until(pilot, lambda: app.keras_state == "loading")
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert app.screen is setup                       # not yet: TensorFlow is loading
        assert "Starts when TensorFlow has loaded" in _text(setup.query_one("#summary", Static))
        assert any("as soon as TensorFlow has loaded" in n.message for n in app._notifications)
        release.set()
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="the run")
        await wait_until(pilot, lambda: started, what="the start")
        assert started[0].backend == "keras"


@run_async
async def test_switching_back_to_numpy_cancels_a_queued_start(monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr("engine.devices", lambda: release.wait(20) and [])
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        from textual.widgets import Select

        setup.query_one("#backend", Select).value = "keras"
        await wait_until(pilot, lambda: app.keras_state == "loading")
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        setup.query_one("#backend", Select).value = "numpy"
        await pilot.pause(0.2)
        assert "Ready:" in _text(setup.query_one("#summary", Static))
        release.set()
        await wait_until(pilot, lambda: app.keras_state == "ready", what="keras")
        await pilot.pause(0.3)
        assert app.screen is setup


def _footer(screen) -> dict[str, str]:
    """What the footer offers: key -> description, for the bindings it shows enabled."""
    return {key: active.binding.description for key, active in screen.active_bindings.items()
            if active.binding.show and active.enabled}


@run_async
async def test_the_arrow_keys_choose_a_dataset_as_soon_as_the_app_opens():
    """The dataset list has the focus at start (the pane around it took the arrows and
    scrolled): down, down moves from titanic to customers; the presets' digits and the
    screen's letters still work from there."""
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.setup_screen.dataset_key == "titanic"
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: app.setup_screen.dataset_key == "customers",
                         what="customers")
        await pilot.press("3")
        await wait_until(pilot, lambda: app.setup_screen.dataset_key == "mnist", what="the preset")
        await pilot.press("w")
        await wait_until(pilot, lambda: app.screen.id == "sweep", what="the sweep screen")


@run_async
async def test_letter_keys_belong_to_a_focused_field_and_esc_leaves_it():
    """Typing 1/2/3 into Epochs types digits (and the footer says so: the presets are
    greyed and esc 'Leave field' shows); esc leaves the field and 3 is the preset."""
    from textual.widgets import Input

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        assert _footer(setup)["1"] == "Presets" and "escape" not in _footer(setup)
        await _type_into(pilot, "#epochs", "12")
        assert setup.query_one("#epochs", Input).value == "12"
        footer = _footer(setup)
        assert footer.get("escape") == "Leave field" and "1" not in footer and "w" not in footer
        assert footer["ctrl+s"] == "Start" and footer["f1"] == "Help"
        await pilot.press("escape")
        await pilot.pause()
        assert setup.focused is None and _footer(setup)["1"] == "Presets"
        await pilot.press("3")
        await pilot.pause(0.3)
        assert setup.config.dataset == "mnist" and setup.query_one("#epochs", Input).value == "10"


@run_async
async def test_restore_best_weights_follows_early_stopping():
    from textual.widgets import Checkbox, Input

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        setup = app.screen
        early = setup.query_one("#early", Checkbox)
        assert early.value is False
        assert setup.query_one("#restore", Checkbox).disabled
        assert setup.query_one("#patience", Input).disabled
        early.value = True
        await pilot.pause()
        assert not setup.query_one("#restore", Checkbox).disabled
        assert setup.config.patience == 3 and setup.config.restore_best_weights


@run_async
async def test_a_csv_of_my_own_shows_its_likely_target_and_what_the_import_did(tmp_path):
    """o opens the dialog; the target is preselected with its reason; Load shows the
    import's notes (rows dropped, values filled) and "Use this data" takes it; the
    setup screen keeps the notes beside the data; the run trains."""
    from textual.widgets import Button, Input, Select

    rng = np.random.default_rng(0)
    rows = ["survived,age,fare"]
    for i in range(120):
        age = "" if i in (3, 50) else f"{rng.uniform(1, 80):.1f}"
        label = "" if i in (7, 8, 9) else str(int(rng.random() < 0.4))
        rows.append(f"{label},{age},{rng.uniform(5, 200):.2f}")
    path = tmp_path / "passengers.csv"
    path.write_text("\n".join(rows) + "\n")
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("o")
        await pilot.pause(0.3)
        dialog = app.screen
        dialog.query_one("#csv-path", Input).value = str(path)
        await pilot.pause(0.3)
        assert dialog.query_one("#csv-target", Select).value == "survived"
        assert "named like a target" in _text(dialog.query_one("#csv-target-why", Static))
        await pilot.click("#csv-load")
        await wait_until(pilot, lambda: dialog.loaded is not None, what="the import")
        notes = _text(dialog.query_one("#csv-notes", Static))
        assert "117 rows" in notes and "3" in notes and "age" in notes
        assert str(dialog.query_one("#csv-load", Button).label) == "Use this data"
        await pilot.pause(0.2)
        assert dialog.focused is dialog.query_one("#csv-load", Button), dialog.focused
        await pilot.press("enter")
        await pilot.pause(0.3)
        setup = app.screen
        assert isinstance(setup, SetupScreen) and len(setup.dataset.X) == 117
        info = _text(setup.query_one("#dataset-info", Static))
        assert "What the import did" in info and "age" in info
        assert setup.query_one("#standardize").value is True
        run = await _train(pilot)
        assert run.state == "finished" and run.config.csv_target == "survived"


@run_async
async def test_the_digits_tab_takes_its_keys_at_once():
    """MNIST results open on the Digits tab: → shows the next image and m the next
    mistake without pressing tab first, as the hint under the digit says."""
    from textual.widgets import TabbedContent

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await pilot.pause(0.3)
        await _type_into(pilot, "#epochs", "2")
        await pilot.press("escape")
        run = await _train(pilot)
        await pilot.press("r")
        await pilot.pause(0.5)
        results = app.screen
        browser = results.query_one("#digits")
        assert results.query_one("#results-tabs", TabbedContent).active == "tab-digits"
        assert browser.has_focus
        await pilot.press("right")
        await pilot.pause()
        assert browser.index == 1
        assert results.query_one("#results-tabs", TabbedContent).active == "tab-digits"
        wrong = [i for i in range(len(browser.images)) if browser.pred[i] != browser.y_true[i]]
        await pilot.press("m")
        await pilot.pause()
        assert browser.index == min(i for i in wrong if i > 1)
        assert run.state == "finished"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@run_async
async def test_the_course_learning_rate_sweep_reads_on_the_sweep_screen(size):
    """w on the setup screen, the course's learning-rate experiment (unscaled
    Titanic), ctrl+s: the chart has at least four y ticks inside its frame and each
    run's curve spans several rows; the table names the runs lr=1e-06, lr=0.01, lr=1."""
    from test_tui_charts import _read
    from textual.widgets import DataTable, Select

    from tui.app.screens.sweep import SweepScreen
    from tui.app.widgets.compare_chart import CompareChart, curve_style

    app = DeeptermApp(store=False)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep")
        sweep = app.screen
        sweep.query_one("#sweep-source", Select).value = "learning-rates"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: sweep.state == "finished", 120, "the sweep")
        sweep._redraw(force=True)
        await pilot.pause()
        chart = sweep.query_one("#sweep-chart", CompareChart)
        assert not chart.legend      # the table names the curves, in their colours
        colours = {label: curve_style(i) for i, (label, _, _) in enumerate(chart.series)}
        ticks, rows = _read(chart, colours)
        assert len(set(ticks)) >= 4, ticks
        assert len(rows) == 3 and all(len(r) >= 2 for r in rows.values()), rows
        table = sweep.query_one("#sweep-table", DataTable)
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert [label.split()[-1] for label in labels] == ["lr=1e-06", "lr=0.01", "lr=1"]
        assert "completed" in str(table.get_row_at(0)[-1])


@run_async
async def test_results_tabs_switch_with_the_arrow_keys_at_once():
    from textual.widgets import TabbedContent

    app = DeeptermApp(store=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        await pilot.pause(0.3)
        await _train(pilot)
        await pilot.press("r")
        await pilot.pause(0.5)
        tabs = app.screen.query_one("#results-tabs", TabbedContent)
        assert tabs.active == "tab-summary"
        await pilot.press("right")
        await pilot.pause()
        assert tabs.active == "tab-predictions"
        await pilot.press("right")
        await pilot.pause()
        assert tabs.active == "tab-scatter"


@run_async
async def test_runs_screen_keys_still_work_after_the_filter_and_a_dialog(tmp_path):
    """/ filters, esc leaves the filter, d asks, n cancels: the letter keys that
    follow act on the table instead of being typed into the filter."""
    from textual.widgets import DataTable, Input

    from engine.store import RunStore
    from engine.sweeps import run_experiment

    store = RunStore(tmp_path / "runs.db")
    run_experiment("learning-rates", epochs=2, store=store)
    app = DeeptermApp(store=str(tmp_path / "runs.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        runs = app.screen
        await wait_until(pilot, lambda: runs.loaded and runs.runs, what="the runs")
        assert isinstance(runs.focused, DataTable)
        await pilot.press("slash", "l", "r")
        await pilot.press("escape")
        await pilot.pause()
        assert runs.query_one("#runs-filter-input", Input).value == "lr"
        await pilot.press("space", "d")
        await pilot.pause(0.3)
        await pilot.press("n")
        await pilot.pause(0.3)
        await pilot.press("s", "a")
        await pilot.pause()
        assert runs.query_one("#runs-filter-input", Input).value == "lr"
        assert runs.sort_key is not None and len(runs.selected) == 3
