"""The Runs screen (filter, sort, delete, compare) and the Sweep screen
(validation, live runs saved to the store), with Pilot, and a snapshot of
the Runs screen over a fixed store."""

from __future__ import annotations

import re

import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until
from textual.app import App
from textual.widgets import Button, DataTable, Input, Select, Static

from engine import History, Layer, ModelSpec
from engine.runs import Run
from engine.store import RunStore
from tui.app import DeeptermApp
from tui.app.config import RunConfig
from tui.app.screens.runs import COLUMNS, ConfirmDelete, RunsScreen
from tui.app.screens.sweep import SweepScreen

# -- a fixed store ---------------------------------------------------------------------------------


def _spec(units, optimizer, lr):
    layers = [*[Layer(u, "relu") for u in units], Layer(2, "softmax")]
    return ModelSpec(input_dim=10, layers=layers, loss="categorical_crossentropy",
                     optimizer=optimizer, learning_rate=lr, metrics=["accuracy"])


#: (id, created_at, hidden units, optimizer, lr, decay, epochs run, status, group, label)
FIXED = [
    ("a1b2c3d4e5", "2026-11-01T10:00:00+00:00", (32,), "sgd", 0.01, 0.90, 10, "completed",
     None, None),
    ("b2c3d4e5f6", "2026-11-02T11:30:00+00:00", (100, 100), "sgd", 1e-6, 0.99, 10, "completed",
     "learning-rates-1", "learning_rate=1e-06"),
    ("c3d4e5f6a7", "2026-11-03T09:15:00+00:00", (100, 100), "sgd", 1.0, 0.80, 6, "diverged",
     "learning-rates-1", "learning_rate=1"),
    ("d4e5f6a7b8", "2026-11-04T16:45:00+00:00", (10, 10), "adam", 0.001, 0.85, 8,
     "early_stopped", None, None),
]


def fixed_store(path) -> RunStore:
    """Four runs with fixed ids, times and histories (best val_loss: d4 0.3318,
    c3 0.3309, b2 0.7647, a1 0.3859)."""
    store = RunStore(path)
    for rid, created, units, opt, lr, decay, n, status, group, label in FIXED:
        history = History({"epochs": 10})
        for e in range(n):
            history.append(e, {"loss": 0.7 * decay ** e + 0.05, "accuracy": 0.6 + 0.02 * e,
                               "val_loss": 0.72 * decay ** e + 0.08 + 0.003 * e,
                               "val_accuracy": 0.6 + 0.015 * e})
        store.save(Run(spec=_spec(units, opt, lr), dataset={"name": "titanic", "rows": 1309},
                       fit={"epochs": 10, "batch_size": 32, "validation_split": 0.3,
                            "patience": 3 if status == "early_stopped" else None},
                       id=rid, created_at=created, status=status, history=history,
                       device="CPU", duration_s=1.5, group=group, label=label))
    return store


class RunsApp(App):
    """Only the Runs screen over ``store`` (as DeeptermApp keeps it): quicker to start."""

    def __init__(self, store) -> None:
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        self.push_screen(RunsScreen())


async def _open_runs(pilot) -> RunsScreen:
    app = pilot.app
    await pilot.pause()
    if isinstance(app, DeeptermApp):
        await pilot.press("f3")
    await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded,
                     what="the runs screen")
    await pilot.pause()
    await pilot.pause()    # the table's rows are laid out before the picture is read
    return app.screen


def _ids(screen: RunsScreen) -> list[str]:
    table = screen.query_one("#runs-table", DataTable)
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def _message(screen) -> str:
    return str(screen.query_one("#runs-message", Static).render())


def _screen_lines(app) -> list[str]:
    """The terminal's lines as the learner sees them (the top screen, composited)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


#: A learning-rate sweep as the CLI and the Sweep screen store it: (id, learning rate).
LR_SWEEP = [("e5f6a7b8c9", 0.1), ("f6a7b8c9d0", 0.01), ("a7b8c9d0e1", 0.001)]


def sweep_store(path) -> RunStore:
    """The fixed store plus a three-run sweep over learning rates 0.1, 0.01 and 0.001."""
    store = fixed_store(path)
    for k, (rid, lr) in enumerate(LR_SWEEP):
        history = History({"epochs": 5})
        for e in range(5):
            history.append(e, {"loss": 0.7 - 0.02 * e - k * 0.01, "accuracy": 0.6 + 0.01 * e,
                               "val_loss": 0.72 - 0.02 * e, "val_accuracy": 0.6})
        store.save(Run(spec=_spec((50, 32), "adam", lr), dataset={"name": "titanic", "rows": 1309},
                       fit={"epochs": 5, "batch_size": 32, "validation_split": 0.3},
                       id=rid, created_at=f"2026-12-01T21:17:0{k}+00:00", status="completed",
                       history=history, device="CPU", duration_s=0.5, group="sweep-75262d771a",
                       label=f"learning_rate={lr:g}"))
    return store


# -- the Runs screen --------------------------------------------------------------------------------


@run_async
async def test_runs_are_listed_newest_first_and_filtered_as_you_type(tmp_path):
    fixed_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        assert _ids(screen) == ["d4e5f6a7b8", "c3d4e5f6a7", "b2c3d4e5f6", "a1b2c3d4e5"]
        table = screen.query_one("#runs-table", DataTable)
        assert [str(table.get_cell("c3d4e5f6a7", key)) for key in (
            "label", "dataset", "layers", "optimizer", "lr", "epochs", "stop")] == [
            "lr=1", "titanic", "10-100-100-2", "sgd", "1", "6/10", "diverged"]
        assert "4 of 4 run(s)" in _message(screen)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"adam")
        assert _ids(screen) == ["d4e5f6a7b8"]
        await pilot.press(*["backspace"] * 4, *"sgd lr=1e-06")
        assert _ids(screen) == ["b2c3d4e5f6"]
        await pilot.press(*["backspace"] * 12, *"learning-rates")   # a sweep's group
        assert _ids(screen) == ["c3d4e5f6a7", "b2c3d4e5f6"]
        await pilot.press("enter", "a")        # select the runs shown: the sweep's two
        assert screen.selected == ["c3d4e5f6a7", "b2c3d4e5f6"]
        assert len(screen.query_one("#runs-chart").drawn_series()) == 2
        await pilot.press("slash", *"zzz")
        assert _ids(screen) == [] and "No run matches" in _message(screen)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (110, 30), (120, 40)])
@run_async
async def test_each_sweep_run_shows_its_own_label_whole_at_every_width(tmp_path, size):
    """The label column used to come last: past the right edge below 118 columns,
    and cut to "lr=0." for all three runs at 105-113."""
    sweep_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=size) as pilot:
        screen = await _open_runs(pilot)
        assert len(_ids(screen)) == 7
        # the picture catches up with the table's rows a frame later
        await wait_until(pilot, lambda: any(LR_SWEEP[0][0] in line for line in _screen_lines(app)),
                         what="the rows on screen")
        lines = _screen_lines(app)
        for rid, lr in LR_SWEEP:
            row = next((line for line in lines if rid in line), None)
            assert row is not None, "\n".join(lines)
            assert re.search(rf"\slr={lr:g}(\s|$)", row), (size, row)
        # the learning-rate runs also read apart in the lr column of the same rows
        assert [re.findall(r"\s(0\.0*1)\s", next(line for line in lines if rid in line))
                for rid, _ in LR_SWEEP] == [["0.1"], ["0.01"], ["0.001"]]
        # no column is cut at the right edge: the last heading shown is whole
        header = next(line for line in lines if " id " in line)
        assert "label" in header.split()
        assert header.rstrip().split("  ")[-1].strip() in {h for _, h in COLUMNS}, header


@run_async
async def test_at_80x24_the_runs_screen_keeps_its_keys_columns_and_chart(tmp_path):
    sweep_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runs(pilot)
        lines = _screen_lines(app)
        footer = lines[-1]
        for key in ("space Select", "s/S Sort", "d Delete", "a Select all", "c Clear",
                    "esc Back"):
            assert key in footer, footer
        assert lines[1].lstrip().startswith("/ filters") and "metric (m)" in lines[1]
        header = next(line for line in lines if " id " in line)
        for heading in ("id", "label", "lr", "stopped", "best val"):
            assert f" {heading} " in f"{header} ", header
        assert any("Select runs (space) to compare" in line for line in lines)
        # three runs selected: their curves and legend fill a chart of several rows
        await pilot.press("space", "down", "space", "down", "space")
        chart = screen.query_one("#runs-chart")
        assert len(chart.drawn_series()) == 3 and chart.size.height >= 10
        lines = _screen_lines(app)
        for rid in _ids(screen)[:3]:
            assert any(f"{rid[:6]} " in line for line in lines[chart.region.y:chart.region.bottom])


@run_async
async def test_sort_by_header_click_and_by_key(tmp_path):
    fixed_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        table = screen.query_one("#runs-table", DataTable)
        x = 1
        for key, column in table.columns.items():
            if key.value == "best_val_loss":
                break
            x += column.get_render_width(table)
        await pilot.click("#runs-table", offset=(x, 0))
        await pilot.pause()
        assert screen.sort_key == "best_val_loss"
        assert _ids(screen) == ["c3d4e5f6a7", "d4e5f6a7b8", "a1b2c3d4e5", "b2c3d4e5f6"]
        assert "▲" in str(table.columns[next(k for k in table.columns
                                               if k.value == "best_val_loss")].label)
        await pilot.click("#runs-table", offset=(x, 0))
        await pilot.pause()
        assert _ids(screen) == ["b2c3d4e5f6", "a1b2c3d4e5", "d4e5f6a7b8", "c3d4e5f6a7"]
        await pilot.press("s")     # the next column: params, fewest first
        assert screen.sort_key == "params"
        assert _ids(screen)[:2] == ["d4e5f6a7b8", "a1b2c3d4e5"]
        await pilot.press("S")
        assert _ids(screen)[-2:] == ["a1b2c3d4e5", "d4e5f6a7b8"]


@run_async
async def test_delete_asks_first_and_removes_from_the_store(tmp_path):
    store = fixed_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        await pilot.press("down")           # cursor on c3
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete) and app.screen.ids == ["c3d4e5f6a7"]
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and len(store) == 4
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: len(_ids(screen)) == 3, what="the row to go")
        assert "c3d4e5f6a7" not in _ids(screen)
        assert sorted(r.id for r in store.list()) == ["a1b2c3d4e5", "b2c3d4e5f6", "d4e5f6a7b8"]
        # the selected runs go together
        await pilot.press("space", "down", "space", "d")
        await pilot.pause()
        assert app.screen.ids == ["d4e5f6a7b8", "b2c3d4e5f6"]
        await pilot.click("#confirm-yes")
        await wait_until(pilot, lambda: _ids(screen) == ["a1b2c3d4e5"], what="two rows to go")
        assert [r.id for r in store.list()] == ["a1b2c3d4e5"] and screen.selected == []


def _dialog_text(app) -> str:
    """The confirm dialog's words as shown on the terminal: its box's lines,
    inside the border, joined by spaces."""
    box = app.screen.query_one("#confirm-box").content_region
    lines = _screen_lines(app)[box.y:box.bottom]
    return " ".join(" ".join(line[box.x:box.right].split()) for line in lines if line.strip())


@run_async
async def test_delete_with_a_filter_takes_only_the_selected_runs_it_shows(tmp_path):
    store = fixed_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runs(pilot)
        await pilot.press("space", "down", "space", "down", "space")    # d4, c3, b2
        assert screen.selected == ["d4e5f6a7b8", "c3d4e5f6a7", "b2c3d4e5f6"]
        await pilot.press("slash", *"learning-rates", "enter")          # shows c3 and b2
        assert _ids(screen) == ["c3d4e5f6a7", "b2c3d4e5f6"]
        assert "3 selected (1 hidden by the filter)" in _message(screen)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete)
        assert app.screen.ids == ["c3d4e5f6a7", "b2c3d4e5f6"]
        text = _dialog_text(app)
        assert "Delete 2 run(s)?" in text and "c3d4e5f6a7, b2c3d4e5f6" in text
        assert "1 other selected run is hidden by the filter and is NOT deleted: d4e5f6a7b8" \
            in text, text
        assert "Delete (y)" in text and "Cancel (n)" in text
        await pilot.press("y")
        await wait_until(pilot, lambda: _ids(screen) == [], what="the two rows to go")
        assert sorted(r.id for r in store.list()) == ["a1b2c3d4e5", "d4e5f6a7b8"]
        assert screen.selected == ["d4e5f6a7b8"]


@run_async
async def test_delete_with_a_filter_hiding_every_selected_run_takes_the_cursor_row(tmp_path):
    store = fixed_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_runs(pilot)
        await pilot.press("space", "down", "down", "down", "space")     # d4 and a1
        await pilot.press("slash", *"learning-rates", "enter", "down")  # cursor on b2
        assert _ids(screen) == ["c3d4e5f6a7", "b2c3d4e5f6"]
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete) and app.screen.ids == ["b2c3d4e5f6"]
        text = _dialog_text(app)
        assert "Delete 1 run(s)?" in text and "b2c3d4e5f6" in text
        assert "2 other selected runs are hidden by the filter and are NOT deleted: " \
            "d4e5f6a7b8, a1b2c3d4e5" in text, text
        await pilot.press("y")
        await wait_until(pilot, lambda: _ids(screen) == ["c3d4e5f6a7"], what="the row to go")
        assert sorted(r.id for r in store.list()) == ["a1b2c3d4e5", "c3d4e5f6a7", "d4e5f6a7b8"]
        assert screen.selected == ["d4e5f6a7b8", "a1b2c3d4e5"]


@run_async
async def test_selecting_two_runs_overlays_two_curves_and_their_settings(tmp_path):
    fixed_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        chart = screen.query_one("#runs-chart")
        assert chart.drawn_series() == []
        await pilot.press("space", "down", "space")
        assert screen.selected == ["d4e5f6a7b8", "c3d4e5f6a7"]
        await wait_until(pilot, lambda: len(chart.series) == 2, what="the two histories")
        assert len(chart.drawn_series()) == 2
        assert chart.metric == "loss"
        label, xs, ys = chart.series[1]
        assert label.startswith("c3d4e5 learning_rate=1")
        assert xs == [1, 2, 3, 4, 5, 6] and ys[0] == pytest.approx(0.75)
        settings = screen.query_one("#runs-settings", DataTable)
        assert [c.label.plain for c in settings.columns.values()] == ["", "d4e5f6", "c3d4e5"]
        rows = {str(settings.get_row_at(i)[0]): [str(c) for c in settings.get_row_at(i)[1:]]
                for i in range(settings.row_count)}
        assert rows["optimizer"] == ["adam", "sgd"]
        assert rows["learning rate"] == ["0.001", "1"]
        assert rows["params"] == ["242", "11,402"]
        assert rows["patience"] == ["3", "off"]
        await pilot.press("m")
        assert chart.metric == "val_loss" and len(chart.drawn_series()) == 2
        select = screen.query_one("#runs-metric", Select)
        assert select.value == "val_loss"
        select.value = "accuracy"
        await pilot.pause()
        assert chart.metric == "accuracy" and chart.series[0][2][1] == pytest.approx(0.62)
        await pilot.press("space")      # unselect c3
        assert len(chart.drawn_series()) == 1
        await pilot.press("c")
        assert chart.series == [] and screen.selected == []


@run_async
async def test_histories_are_read_when_runs_are_drawn_and_a_damaged_one_is_said(tmp_path):
    """The list comes from the runs' stored summaries; a selected run's history is
    read then (in a worker). One whose epochs cannot be read is said in a
    notification, and the table, the other curve and the settings stay."""
    import contextlib
    import sqlite3

    fixed_store(tmp_path / "runs.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "runs.db")) as conn:
        conn.execute("UPDATE epochs SET logs_json = '[1,2]' WHERE run_id = 'a1b2c3d4e5' "
                     "AND epoch = 3")
        conn.commit()
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        chart = screen.query_one("#runs-chart")
        assert len(_ids(screen)) == 4 and not any(r.history_loaded for r in screen.runs)
        await pilot.press("space")
        await wait_until(pilot, lambda: len(chart.series) == 1, what="d4's history")
        assert [r.id for r in screen.runs if r.history_loaded] == ["d4e5f6a7b8"]
        await pilot.press("down", "down", "down", "space")
        await wait_until(pilot, lambda: app._notifications, what="the damaged history")
        message = [n.message for n in app._notifications][-1]
        assert message.startswith("A run's history cannot be read: run a1b2c3d4e5 in ")
        assert "is damaged: epoch 4: logs_json holds a list ([1,2])" in message
        assert screen.selected == ["d4e5f6a7b8", "a1b2c3d4e5"] and len(chart.series) == 1
        settings = screen.query_one("#runs-settings", DataTable)
        assert [c.label.plain for c in settings.columns.values()] == ["", "d4e5f6", "a1b2c3"]
        assert screen.error is None and len(_ids(screen)) == 4


@run_async
async def test_an_empty_a_damaged_and_no_store_are_shown_in_place(tmp_path):
    app = RunsApp(tmp_path / "empty.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        assert _ids(screen) == [] and "No runs yet" in _message(screen)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    app = RunsApp(bad)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        text = _message(screen)
        assert "cannot be read" in text and "not a deepterm run store" in text
        await pilot.press("r", "d", "space", "s")       # still alive, still reporting
        await wait_until(pilot, lambda: screen.error is not None, what="the reload")
        assert isinstance(app.screen, RunsScreen) and "cannot be read" in _message(screen)
    assert bad.read_bytes() == b"this is not a database at all" * 100
    app = RunsApp(False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        assert "not kept" in _message(screen)


def test_runs_screen_snapshot(snap_compare, tmp_path, monkeypatch):
    """The Runs screen over a fixed store of four Titanic runs, newest first
    (d4e5f6a7b8 early_stopped, c3d4e5f6a7 diverged in red, b2c3d4e5f6 and
    a1b2c3d4e5 completed), sorted by nothing; every column fits at 120
    columns, the sweep's labels (lr=1, lr=1e-06) right after the ids and the
    UTC time last; two runs selected (green dots on
    d4 and c3): below, their loss curves overlaid in two colours with a
    legend, and on the right their settings side by side with the differing
    rows (layers, optimizer, learning rate, epochs, patience, params, status,
    losses) in bold yellow. The message line reads "4 of 4 run(s), 2 selected.
    runs.db"."""
    monkeypatch.chdir(tmp_path)
    fixed_store("runs.db")

    async def run_before(pilot) -> None:
        screen = await _open_runs(pilot)
        await pilot.press("space", "down", "space")
        await wait_until(pilot, lambda: all(r.history_loaded for r in screen.selected_runs()),
                         what="the selected runs' histories")
        await pilot.pause()

    assert snap_compare(DeeptermApp(store="runs.db"), terminal_size=SIZE, run_before=run_before)


# -- the Sweep screen -------------------------------------------------------------------------------


def _xor_config(**changes) -> RunConfig:
    config = RunConfig(dataset="xor", hidden=((8, "relu"),), output_units=2,
                         output_activation="softmax", loss="categorical_crossentropy",
                         metrics=("accuracy",), optimizer="adam", learning_rate=0.01, epochs=4,
                         batch_size=32, validation_split=0.25)
    return config.with_changes(**changes)


def _error(screen) -> str:
    return str(screen.query_one("#sweep-error", Static).render())


@run_async
async def test_sweep_dialog_validates_as_you_type():
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("2")                    # Titanic preset
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep")
        screen = app.screen
        values = screen.query_one("#sweep-values", Input)
        start = screen.query_one("#sweep-start-button")
        assert values.value == "0.000001, 0.01, 1" and screen.plan is not None
        assert [v.spec.count_params() for v in screen.plan.variants] == [418, 418, 418]
        assert _error(screen) == "" and not start.disabled
        # a dense setup is not offered the image layers' settings
        offered = [value for _, value in screen.query_one("#sweep-setting", Select)._options]
        assert "l2" in offered and "filters" not in offered and "kernel_size" not in offered
        values.focus()
        values.value = ""
        await pilot.press(*"0.01, -1")
        assert "learning_rate values must be finite numbers > 0, got '-1'" in _error(screen)
        assert start.disabled and values.has_class("-invalid")
        await pilot.press("ctrl+s")
        assert screen.state == "idle"
        await pilot.press(*["backspace"] * 4)
        assert "at least 2 values" in _error(screen)
        await pilot.press(*", 0.1")
        assert _error(screen) == "" and not start.disabled and not values.has_class("-invalid")
        screen.query_one("#sweep-setting", Select).value = "units"
        await pilot.pause()
        assert values.value == "10, 100" and _error(screen) == ""
        assert [v.spec.count_params() for v in screen.plan.variants] == [
            10 * 10 + 10 + 10 * 2 + 2, 10 * 100 + 100 + 100 * 2 + 2]
        await pilot.pause(0.3)       # the table lists the planned runs with their sizes
        table = screen.query_one("#sweep-table", DataTable)
        assert [[str(c) for c in table.get_row_at(i)[:2]] for i in range(table.row_count)] == [
            ["units=10", "132"], ["units=100", "1,302"]]
        values.value = "10, ten"
        await pilot.pause()
        assert "units values must be numbers, got 'ten'" in _error(screen)
        screen.query_one("#sweep-setting", Select).value = "optimizer"
        await pilot.pause()
        values.value = "adam, nadam"
        await pilot.pause()
        assert "'nadam'" in _error(screen) and "'rmsprop'" in _error(screen)
        # a course experiment fills in its setting and values
        screen.query_one("#sweep-source", Select).value = "depth"
        await pilot.pause()
        assert screen.query_one("#sweep-setting", Select).value == "depth"
        assert values.value == "1, 2, 3" and _error(screen) == ""
        assert [v.spec.count_params() for v in screen.plan.variants] == [652, 3202, 5752]
        assert "Deeper networks" in str(screen.query_one("#sweep-title", Static).render())


@run_async
async def test_a_tiny_sweep_draws_live_and_saves_its_runs(tmp_path):
    import datasets

    path = tmp_path / "runs.db"
    app = DeeptermApp(store=path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = SweepScreen(_xor_config(dataset_options={"n": 200}),
                             dataset=datasets.load("xor", n=200))
        await app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#sweep-values", Input).value = "0.001, 0.05"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.state == "finished", what="the sweep")
        await pilot.pause(0.3)
        chart = screen.query_one("#sweep-chart")
        assert chart.drawn_series() == ["learning_rate=0.001", "learning_rate=0.05"]
        assert [len(xs) for _, xs, _ in chart.series] == [4, 4]
        table = screen.query_one("#sweep-table", DataTable)
        assert table.row_count == 2
        row = table.get_row("learning_rate=0.05")
        assert row[1] == str(2 * 8 + 8 + 8 * 2 + 2) and row[2] == "4" and row[-1] == "completed"
        stored = RunStore(path).list()
        assert sorted(r.label for r in stored) == ["learning_rate=0.001", "learning_rate=0.05"]
        assert stored[0].dataset["name"] == "xor" and stored[0].dataset["rows"] == 200
        assert stored[0].dataset["options"] == {"n": 200, "standardize": True}
        assert len({r.group for r in stored}) == 1
        assert len({r.fit["initial_weights"] for r in stored}) == 1
        assert row[3] == f"{min(r for r in stored if r.label.endswith('0.05')).best['val_loss']:.4f}"
        # the Runs screen shows them
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded,
                         what="the runs screen")
        assert len(_ids(app.screen)) == 2


async def _endless_sweep(pilot, workers: int = 1) -> SweepScreen:
    """A Sweep screen whose runs would last 100000 epochs: the test stops them.
    ``workers`` runs train at once."""
    import datasets

    await pilot.pause()
    screen = SweepScreen(_xor_config(epochs=100000, batch_size=8),
                         dataset=datasets.load("xor", n=400))
    await pilot.app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#sweep-workers", Input).value = str(workers)
    await pilot.pause()
    return screen


def _sweep_state(screen) -> str:
    """What a sweep test that timed out saw: the sweep's state, each run's status and
    epochs heard, and the training processes."""
    from engine.runner import child

    runs = {label: (row.get("status"), row.get("error"), len(screen.curves.get(label, ([],))[0]))
            for label, row in screen.rows.items()}
    idle = [(c.threads, c.process.pid, c.process.poll()) for c in child._idle]
    said = [n.message for n in screen.app._notifications]
    return f"state {screen.state}, runs {runs}, idle children {idle}, notes {said}"


@run_async
@pytest.mark.parametrize("workers", [1, 2])
async def test_stop_ends_the_sweep_and_keeps_what_ran(tmp_path, workers):
    """ctrl+x stops the runs training (one, or two with two workers) and starts no
    more; what ran is kept as stopped, the rest is marked 'not run'."""
    path = tmp_path / "runs.db"
    app = DeeptermApp(store=path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _endless_sweep(pilot, workers)
        await pilot.click("#sweep-start-button")
        await wait_until(pilot, lambda: len(screen.curves.get("learning_rate=1e-06", ([],))[0]) >= 2,
                         timeout=60, what="two epochs", details=lambda: _sweep_state(screen))
        if workers == 2:
            await wait_until(pilot, lambda: screen.curves.get("learning_rate=0.01"), timeout=60,
                             what="the second run", details=lambda: _sweep_state(screen))
        assert screen.state == "running"
        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: screen.state == "finished", what="the stop")
        await pilot.pause()
        statuses = [screen.rows[label]["status"] for label in screen.labels]
        assert statuses == ["stopped"] * workers + ["not run"] * (3 - workers)
        stored = RunStore(path).list()
        assert len(stored) == workers
        assert all(r.status == "stopped" and 1 <= r.epochs_done < 100000 for r in stored)


@run_async
async def test_pause_holds_the_sweep_at_a_batch_and_resume_goes_on(tmp_path):
    app = DeeptermApp(store=tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _endless_sweep(pilot)
        await pilot.press("ctrl+s")
        first = "learning_rate=1e-06"
        await wait_until(pilot, lambda: len(screen.curves.get(first, ([],))[0]) >= 1,
                         what="an epoch")
        await pilot.press("p")
        # the run reaches its next batch boundary, reports its epochs so far and waits
        await wait_until(pilot, lambda: first in screen.paused_runs, what="the pause")
        await pilot.pause(0.1)
        held = len(screen.curves[first][0])
        await pilot.pause(0.5)
        assert len(screen.curves[first][0]) == held
        status = str(screen.query_one("#sweep-status", Static).render())
        assert "Paused" in status and f"run 1/3 ({first}, epoch {held + 1}/100000)" in status
        assert str(screen.query_one("#sweep-pause-button", Button).label) == "Resume"
        await pilot.click("#sweep-pause-button")          # the button resumes too
        await wait_until(pilot, lambda: len(screen.curves[first][0]) > held + 1,
                         what="more epochs")
        assert "Sweeping" in str(screen.query_one("#sweep-status", Static).render())
        await pilot.press("p")                             # a paused sweep still stops
        await pilot.pause(0.2)
        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: screen.state == "finished", what="the stop")
        assert [screen.rows[label]["status"] for label in screen.labels] == [
            "stopped", "not run", "not run"]


@run_async
async def test_a_damaged_store_does_not_stop_a_sweep(tmp_path):
    import datasets

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database " * 200)
    app = DeeptermApp(store=bad)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = SweepScreen(_xor_config(epochs=2), dataset=datasets.load("xor", n=100))
        await app.push_screen(screen)
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.state == "finished", what="the sweep")
        assert [screen.rows[label]["status"] for label in screen.labels] == ["completed"] * 3
        notes = [n.message for n in app._notifications]
        assert any("not saved" in n and "not a deepterm run store" in n for n in notes)
    assert bad.read_bytes() == b"not a database " * 200


def test_a_sweep_run_of_the_setup_trains_exactly_as_the_training_screen():
    """Same seed, same standardization of the training rows, same weights: the
    sweep's run at the setup's learning rate repeats the setup's own run."""
    import datasets
    from engine import runner
    from engine.recipe import prepare
    from engine.sweeps import configs_for

    config = _xor_config(epochs=3, seed=4)
    dataset = datasets.load("xor", n=120)
    single = runner.run(config, prepare(config, dataset), executor="thread")
    runs = runner.sweep(configs_for(config, "learning_rate", [0.5, config.learning_rate], 2),
                        dataset=dataset, workers=2)
    assert runs[1].history.history == pytest.approx(single.history.history)
    assert runs[0].history.history["loss"] != pytest.approx(single.history.history["loss"])
    assert runs[1].dataset["options"]["standardize"] is True


@run_async
async def test_a_locked_store_refuses_the_delete_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "runs.db"
    fixed_store(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")            # another writer holds the store
    try:
        app = RunsApp(RunStore(path, timeout=0.2))
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_runs(pilot)
            assert len(_ids(screen)) == 4            # WAL: reading still works
            await pilot.press("d", "y")
            await wait_until(pilot, lambda: any("locked" in n.message
                                                for n in app._notifications),
                             what="the locked message")
            assert "Nothing more was deleted" in [n.message for n in app._notifications][-1]
            await wait_until(pilot, lambda: len(_ids(screen)) == 4, what="the reload")
            assert isinstance(app.screen, RunsScreen) and screen.error is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(RunStore(path)) == 4


def test_sweep_screen_snapshot(snap_compare):
    """The Sweep screen after a seeded sweep over learning rates 0.001, 0.05
    and 1 of an 8-relu network on 200 xor points (8 epochs, nothing saved):
    three overlaid loss curves with a legend (0.001 stays near 0.69, 0.05
    falls steadily to about 0.05, 1 starts high under the legend and levels
    off near 0.47), and the table below: 42 params each (2*8+8+8*2+2), 8
    epochs, best val_loss 0.6888 / 0.0517 / 0.3741, best epochs 8, 8, 2,
    final losses and "completed"; the status reads "■ Finished: 3 of 3
    run(s) trained"."""
    import datasets

    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(pilot)
        screen = SweepScreen(_xor_config(epochs=8), dataset=datasets.load("xor", n=200))
        await app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#sweep-values", Input).value = "0.001, 0.05, 1"
        screen.query_one("#sweep-workers", Input).value = "2"   # whatever this machine's cores
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.state == "finished", what="the sweep")
        await app.workers.wait_for_complete()
        screen._redraw(force=True)
        await pilot.pause()

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE, run_before=run_before)


@run_async
async def test_a_sweep_that_cannot_load_its_data_fails_in_place(tmp_path):
    config = _xor_config(dataset=None, csv_path=str(tmp_path / "gone.csv"))
    app = RunsApp(False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = SweepScreen(config)
        await app.push_screen(screen)
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.state == "failed", what="the failure")
        await pilot.pause()
        status = str(screen.query_one("#sweep-status", Static).render())
        assert "Failed" in status and "gone.csv" in status
        assert [screen.rows[label]["status"] for label in screen.labels] == ["not run"] * 3
        assert not screen.query_one("#sweep-start-button").disabled   # try again
        assert app.screen is screen


def test_the_settings_table_shows_penalties_dropout_and_crosses_where_a_run_has_them():
    from engine import runner
    from engine.recipe import RunConfig
    from tui.app.screens.runs import settings_rows

    base = RunConfig(dataset="xor", dataset_options={"n": 80}, hidden=((4, "tanh"),), epochs=1)
    plain = runner.run(base, executor="thread")
    rows = dict(settings_rows([plain, plain]))
    assert "penalty" not in rows and "dropout" not in rows and "inputs" not in rows
    playground = runner.run(base.with_changes(l2=0.01, dropout=0.25, features=("x1", "x1x2")),
                            executor="thread")
    names = [name for name, _ in settings_rows([plain, playground])]
    rows = dict(settings_rows([plain, playground]))
    assert rows["penalty"] == ["–", "L2 0.01"]
    assert rows["dropout"] == ["–", "0.25"]
    assert rows["inputs"] == ["–", "x₁ x₁x₂"]
    assert names.index("penalty") == names.index("learning rate") + 1


@run_async
async def test_a_setup_with_image_layers_is_offered_the_filters_and_kernel_size():
    config = RunConfig(dataset="mnist", conv=(("conv", 4, 3, 1, "valid", "relu"), ("pool", 2)),
                       hidden=((16, "relu"),), output_units=10)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = SweepScreen(config)
        await app.push_screen(screen)
        await pilot.pause()
        offered = [value for _, value in screen.query_one("#sweep-setting", Select)._options]
        assert "filters" in offered and "kernel_size" in offered


def test_a_cnn_run_reads_in_the_runs_table_and_its_settings():
    """Its layers as --layers writes them (clipped in the table: whole in the settings,
    the image layers on a row of their own); a dense run beside it reads as before."""
    from engine.recipe import RunConfig as Recipe
    from tui.app.screens.runs import row_cells, settings_rows

    cnn_spec = Recipe(dataset="mnist", conv=(("conv", 16, 3, 1, "valid", "relu"), ("pool", 2),
                                             ("conv", 32, 3, 1, "valid", "relu"), ("pool", 2)),
                      hidden=((64, "relu"),), output_units=10).spec(784, (28, 28))
    cnn = Run(spec=cnn_spec, dataset={"name": "mnist"}, fit={"epochs": 3})
    dense = Run(spec=ModelSpec(input_dim=10, layers=[Layer(32, "relu"), Layer(2, "softmax")],
                               loss="categorical_crossentropy"),
                dataset={"name": "titanic"}, fit={"epochs": 3})
    assert cnn.sizes_text() == "28x28x1-conv16x3-pool2-conv32x3-pool2-flatten-64-10"
    assert row_cells(cnn, False)["layers"] == "28x28x1-conv16x3-pool…"
    assert row_cells(dense, False)["layers"] == "10-32-2"
    rows = dict(settings_rows([cnn, dense]))
    assert rows["image layers"] == ["28x28x1 conv16x3 pool2 conv32x3 pool2", "–"]
    assert rows["layers"] == ["flatten-64-10", "10-32-2"]
    assert "image layers" not in dict(settings_rows([dense]))


@run_async
@pytest.mark.parametrize("size", [(100, 30), (120, 40)])
async def test_a_cnn_runs_image_layers_wrap_in_the_settings_and_show_whole(tmp_path, size):
    """Compared with a dense run, a CNN's image layers wrap onto lines of their row, as
    many as the pane's width needs, so that every word shows without scrolling sideways."""
    from engine.recipe import RunConfig as Recipe

    cnn_spec = Recipe(dataset="mnist", conv=(("conv", 16, 3, 1, "same", "relu"), ("pool", 2),
                                             ("conv", 32, 3, 1, "same", "relu"), ("pool", 2)),
                      hidden=((64, "relu"),), output_units=10).spec(784, (28, 28))
    store = RunStore(tmp_path / "runs.db")
    history = History({"epochs": 2})
    for e in range(2):
        history.append(e, {"loss": 1.0 - 0.1 * e, "val_loss": 1.1 - 0.1 * e})
    store.save(Run(spec=cnn_spec, dataset={"name": "mnist"}, fit={"epochs": 2}, id="c1c1c1c1c1",
                   created_at="2026-12-02T06:00:00", status="completed", history=history))
    store.save(Run(spec=_spec((8,), "adam", 0.01), dataset={"name": "titanic"}, fit={"epochs": 2},
                   id="d2d2d2d2d2", created_at="2026-12-02T05:00:00", status="completed",
                   history=history))
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=size) as pilot:
        screen = await _open_runs(pilot)
        await pilot.press("space", "down", "space")
        settings = screen.query_one("#runs-settings", DataTable)
        await wait_until(pilot, lambda: settings.row_count > 10, what="the settings")
        await pilot.pause()
        rows = {str(settings.get_row_at(i)[0]): [str(c) for c in settings.get_row_at(i)[1:]]
                for i in range(settings.row_count)}
        cell, dense = rows["image layers"]
        assert cell.split() == ["28x28x1", "conv16x3same", "pool2", "conv32x3same", "pool2"]
        assert "\n" in cell and dense == "–"
        assert rows["layers"] == ["flatten-64-10", "10-8-2"]
        assert settings.max_scroll_x == 0     # nothing hides to the right
        shown = _screen_lines(app)
        for line in cell.splitlines():        # each line of the row on the screen, whole
            assert any(line in text for text in shown), line
