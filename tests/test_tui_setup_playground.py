"""The setup screen's Playground controls, walked with the keys: a synthetic set's
noise, rows and seed and the validation ratio (the scatter preview follows each),
the feature crosses, L1/L2 regularization and dropout in the architecture editor,
momentum and Nesterov for sgd; and a sweep over L2 rates on spiral from the app."""

from __future__ import annotations

import numpy as np
from _tui_helpers import ready, run_async, wait_until
from test_tui_playground import _text, _to_dataset, _type_into
from textual.widgets import DataTable, Input, Select, Static

import datasets
from tui.app import DeeptermApp
from tui.app.screens.training import TrainingScreen
from tui.app.widgets.neurons import NeuronsView
from tui.app.widgets.plane import TRAIN_MARK, VALIDATION_MARK, PlaneView
from tui.app.widgets.playground import PlaygroundPanel


async def _toggle(pilot, selector: str) -> None:
    """Tab to a checkbox (focusing it scrolls it into view) and press space."""
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()
    await pilot.press("space")
    await pilot.pause(0.2)


@run_async
async def test_noise_split_and_crosses_change_the_preview_and_go_into_the_run():
    app = DeeptermApp(store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        setup = app.screen
        await _to_dataset(pilot, "xor")
        assert setup.query_one("#data-plane").display and not setup.query_one("#preview").display
        points = setup.query_one("#points", PlaneView)
        clean = list(points.picture.points)
        await _type_into(pilot, "#noise", "0.5")
        assert setup.dataset_options["noise"] == 0.5
        assert list(points.picture.points) != clean       # the preview follows the noise
        await _type_into(pilot, "#split", "0.5")
        marks = [m for _, _, m, _ in points.picture.points]
        assert abs(marks.count(VALIDATION_MARK) - marks.count(TRAIN_MARK)) < 0.2 * len(marks)
        await pilot.click("#feature-x1x2")
        await pilot.pause(0.2)
        await _type_into(pilot, "#epochs", "40")
        await pilot.press("escape")
        assert setup.config.features == ("x1", "x2", "x1x2")
        assert "input            (3,)" in _text(setup.query_one("#params", Static))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        screen = app.screen
        await wait_until(pilot, lambda: screen.state == "finished", 60, "the run")
        assert screen.config.dataset_options == {"noise": 0.5, "n": 500, "seed": 0}
        assert screen.data.features == ("x1", "x2", "x1x2") and screen.data.split_at == 250
        panel = screen.query_one("#playground", PlaygroundPanel)
        assert panel.input_labels == ["x₁", "x₂", "x₁x₂"]
        network = panel.query_one(NeuronsView)
        assert len(network.picture.images[0]) == 3       # a picture per input, the cross too
        noisy = datasets.load("xor", noise=0.5, n=500, seed=0)
        np.testing.assert_array_equal(panel.raw, noisy.X.astype(np.float32))


@run_async
async def test_setup_takes_momentum_nesterov_regularization_and_dropout():
    app = DeeptermApp(store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        setup = app.screen
        await pilot.press("2")                      # Titanic: sgd
        await pilot.pause(0.3)
        momentum = setup.query_one("#momentum", Input)
        assert not momentum.disabled
        await _type_into(pilot, "#momentum", "0.9")
        await pilot.click("#nesterov")
        await pilot.pause(0.2)
        assert (setup.config.momentum, setup.config.nesterov) == (0.9, True)
        await _type_into(pilot, "#momentum", "1.5")
        assert "momentum must be a number from 0 to below 1" in _text(
            setup.query_one("#momentum-error", Static))
        assert setup.query_one("#start").disabled
        await _type_into(pilot, "#momentum", "0.5")
        setup.query_one("#optimizer", Select).value = "adam"
        await pilot.pause(0.2)
        assert momentum.disabled and setup.config.momentum == 0.0 and not setup.config.nesterov
        setup.query_one("#reg-kind", Select).value = "l2"
        await pilot.pause(0.2)
        assert not setup.query_one("#reg-rate", Input).disabled
        await _type_into(pilot, "#reg-rate", "0.01")
        await _type_into(pilot, "#dropout", "0.2")
        await pilot.press("escape")
        assert (setup.config.l1, setup.config.l2, setup.config.dropout) == (0.0, 0.01, 0.2)
        table = _text(setup.query_one("#params", Static))
        assert "dropout 0.2" in table and "L2 0.01 on every kernel" in table
        await _type_into(pilot, "#dropout", "1")
        assert "dropout must be a number from 0 to below 1" in _text(
            setup.query_one("#dropout-error", Static))
        await _type_into(pilot, "#dropout", "0.2")
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        screen = app.screen
        await wait_until(pilot, lambda: screen.state == "finished", 60, "the run")
        assert screen.model.spec.has_dropout and screen.model.spec.has_regularizer
        assert not screen.playground and screen.query_one("#charts").display


@run_async
async def test_a_sweep_over_l2_rates_on_spiral(tmp_path):
    from engine.recipe import config_of
    from engine.store import RunStore
    from tui.app.screens.sweep import SweepScreen

    app = DeeptermApp(store=tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        setup = app.screen
        await _to_dataset(pilot, "spiral")
        await _type_into(pilot, "#epochs", "5")
        await pilot.press("escape")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep")
        screen = app.screen
        screen.query_one("#sweep-setting", Select).value = "l2"
        await pilot.pause(0.2)
        assert screen.query_one("#sweep-values", Input).value == "0, 0.001, 0.01, 0.1"
        screen.query_one("#sweep-values", Input).value = "0, 0.01, 0.1"
        await pilot.pause(0.2)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.state == "finished", 120, "the sweep")
        await pilot.pause(0.3)
        table = screen.query_one("#sweep-table", DataTable)
        assert table.row_count == 3
        assert [row["status"] for row in screen.rows.values()] == ["completed"] * 3, screen.rows
        stored = RunStore(tmp_path / "runs.db").list()
        rates = sorted(config_of(RunStore(tmp_path / "runs.db").get(r.id)).l2 for r in stored)
        assert rates == [0.0, 0.01, 0.1]
        first = {r.label: r.best.get("loss") for r in stored}
        assert set(first) == {"l2=0", "l2=0.01", "l2=0.1"}
        assert setup.config.dataset == "spiral"


@run_async
async def test_rows_and_seed_regenerate_a_bad_noise_is_said_and_other_data_keeps_its_table():
    app = DeeptermApp(store=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        setup = app.screen
        assert not setup.query_one("#synthetic").display          # Titanic: its table
        assert setup.query_one("#preview", DataTable).display
        await _to_dataset(pilot, "circle")
        await _type_into(pilot, "#rows", "120")
        assert len(setup.dataset.X) == 120 and setup.config.dataset_options["n"] == 120
        first = setup.dataset.X.copy()
        await _type_into(pilot, "#data-seed", "7")
        assert not np.array_equal(setup.dataset.X, first)
        np.testing.assert_array_equal(setup.dataset.X,
                                      datasets.load("circle", n=120, seed=7).X)
        await _type_into(pilot, "#noise", "2")
        assert "noise must be from 0 to 1" in _text(setup.query_one("#noise-error", Static))
        assert setup.config.dataset_options == {"noise": 0.0, "n": 120, "seed": 7}
        await _type_into(pilot, "#noise", "0.1")
        assert setup.config.dataset_options == {"noise": 0.1, "n": 120, "seed": 7}
        # untick every input (the keys reach them where the mouse cannot: the pane
        # scrolls to each): the run cannot start, and says why
        for name in ("x1", "x2"):
            await _toggle(pilot, f"#feature-{name}")
        assert setup.config is None and "features" in setup.errors
        assert "tick at least one input" in _text(setup.query_one("#features-error", Static))
        await _toggle(pilot, "#feature-sin_x1")
        assert setup.config.features == ("sin_x1",)
