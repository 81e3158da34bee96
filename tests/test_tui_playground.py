"""TensorFlow Playground's views in the app, walked as a learner walks them: the
decision boundary and each neuron's picture (what they show is the model's own
numbers), live while a run trains and on the results screen; the pace and the step
keys; the training screen's footer at every size."""

from __future__ import annotations

import numpy as np
import pytest
from _tui_helpers import ready, run_async, wait_until
from textual.app import App
from textual.widgets import Input, Label, Static

import datasets
from engine import runner
from engine.plane import grid_for, node_value
from engine.recipe import RunConfig, prepare
from tui.app import DeeptermApp
from tui.app.screens.training import TrainingScreen
from tui.app.widgets.neurons import NeuronsView
from tui.app.widgets.plane import TRAIN_MARK, VALIDATION_MARK, PlaneView, diverging_pixels
from tui.app.widgets.playground import PlaygroundPanel, output_pixels


def _text(widget) -> str:
    return str(widget.render())


def _xor(**changes):
    ds = datasets.load("xor", n=300)
    config = RunConfig(dataset="xor", dataset_options={"n": 300}, hidden=((4, "tanh"), (3, "tanh")),
                       optimizer="adam", learning_rate=0.03, epochs=25,
                       batch_size=10).for_dataset(ds).with_changes(**changes)
    return config, prepare(config, ds)


async def _to_dataset(pilot, name: str) -> None:
    """Highlight a dataset in the list with the keys, as a learner does."""
    from textual.widgets import OptionList

    setup = pilot.app.screen
    options = setup.query_one("#datasets", OptionList)
    options.focus()
    await pilot.pause()
    while setup.dataset_key != name:
        await pilot.press("down")
        await pilot.pause(0.05)
    await pilot.press("escape")
    await pilot.pause(0.2)


async def _type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+u", *text)     # ctrl+u: delete everything left of the cursor
    await pilot.pause()                             # each key's change has been handled
    await pilot.pause()


# -- what the pictures show ----------------------------------------------------------------


@run_async
async def test_the_plane_shows_model_predict_and_the_thumbnails_each_neurons_activations():
    config, data = _xor()
    model = runner.run(config, data, executor="thread").model

    class One(App):
        CSS = ".playground { height: 1fr; } #pg-network { width: 1fr; } #pg-plane { height: 1fr; }"

        def compose(self):
            yield PlaygroundPanel(data, model.get_weights(), id="pg")

    app = One()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause(0.3)
        panel = app.query_one(PlaygroundPanel)
        panel.draw()
        await pilot.pause()
        view = app.query_one("#pg-plane", PlaneView)
        width, height = view.pixel_size
        grid = grid_for(data.dataset.X, width, height)
        predicted = model.predict(data.inputs_for(grid.points())).reshape(height, width, -1)
        np.testing.assert_array_equal(view.picture.pixels, output_pixels(predicted, "binary",
                                                                         (0.0, 1.0)))
        # the picture is not one colour: the boundary is drawn
        assert len({tuple(p) for p in view.picture.pixels.reshape(-1, 3)}) > 10
        # training and validation points sit on top, each where its row lies
        marks = [mark for _, _, mark, _ in view.picture.points]
        assert TRAIN_MARK in marks and VALIDATION_MARK in marks
        row, col, mark, _ = view.picture.points[-1]          # drawn last: on top
        assert mark == VALIDATION_MARK and view.render_line(row // 2).text[col] == mark

        network = app.query_one(NeuronsView)
        tw, th = network.thumb
        small = grid.resized(tw, th)
        W = model.get_weights()
        X = data.inputs_for(small.points()).astype(np.float64)
        h1 = np.tanh(X @ W[0] + W[1]).reshape(th, tw, -1)
        h2 = np.tanh(h1.reshape(-1, 4) @ W[2] + W[3]).reshape(th, tw, -1)
        for j in range(4):
            np.testing.assert_array_equal(network.picture.images[1][j],
                                          diverging_pixels(node_value(h1[..., j], "tanh")))
        for j in range(3):
            np.testing.assert_array_equal(network.picture.images[2][j],
                                          diverging_pixels(node_value(h2[..., j], "tanh")))
        # what the learner sees: the first hidden neuron's top-left cell in its colours
        lay = network.layout_
        x, y = lay.xs[1], lay.ys[1][0]
        segment = network.render_line(y).crop(x, x + 1)._segments[0]
        assert segment.text == "▀"
        assert segment.style.color.triplet == tuple(network.picture.images[1][0][0, 0])
        assert segment.style.bgcolor.triplet == tuple(network.picture.images[1][0][1, 0])
        # edges: orange for a negative weight, blue for a positive one
        assert network.picture.weights[0].shape == (2, 4)


@run_async
async def test_a_selected_neuron_is_shown_large():
    config, data = _xor()
    model = runner.run(config, data, executor="thread").model

    class One(App):
        CSS = ".playground { height: 1fr; } #pg-network { width: 1fr; } #pg-plane { height: 1fr; }"

        def compose(self):
            yield PlaygroundPanel(data, model.get_weights(), id="pg")

    app = One()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause(0.3)
        network = app.query_one(NeuronsView)
        network.focus()
        await pilot.press("left", "down")          # layer 2, its second neuron
        await pilot.pause(0.2)
        assert network.cursor == (2, 1)
        title = _text(app.query_one("#pg-title", Static))
        assert title.startswith("layer 2 neuron 2 (tanh)")
        view = app.query_one("#pg-plane", PlaneView)
        width, height = view.pixel_size
        grid = grid_for(data.dataset.X, width, height)
        W = model.get_weights()
        X = data.inputs_for(grid.points()).astype(np.float64)
        h2 = np.tanh(np.tanh(X @ W[0] + W[1]) @ W[2] + W[3])[:, 1].reshape(height, width)
        np.testing.assert_array_equal(view.picture.pixels, diverging_pixels(node_value(h2, "tanh")))
        await pilot.press("left", "left")          # the inputs: x₁ (the cursor keeps its row)
        await pilot.pause(0.2)
        assert _text(app.query_one("#pg-title", Static)).startswith("input x₂")


# -- journeys ---------------------------------------------------------------------------------


@run_async
async def test_xor_trains_in_playgrounds_view_live_and_keeps_it_in_results(monkeypatch):
    monkeypatch.setenv("DEEPTERM_PACE", "10")       # 40 epochs over 4 s: the boundary moves
    app = DeeptermApp(store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _to_dataset(pilot, "xor")
        await _type_into(pilot, "#epochs", "40")
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        screen = app.screen
        assert screen.has_class("-playground")
        panel = screen.query_one("#playground", PlaygroundPanel)
        assert panel.display and not screen.query_one("#charts").display
        await wait_until(pilot, lambda: panel.weights is not None, what="the first weights")
        seen = {panel.caption}
        while screen.state != "finished":
            seen.add(panel.caption)
            await pilot.pause(0.1)
        # the boundary was drawn from several epochs' weights while the run trained
        assert len({c.split(" · ")[0] for c in seen if c.startswith("epoch")}) >= 3
        await pilot.pause(0.5)
        assert panel.caption.startswith("epoch 40 ·")
        await pilot.press("v")                      # the curves
        await pilot.pause(0.2)
        assert screen.query_one("#charts").display and not panel.display
        await pilot.press("v")
        await pilot.pause(0.2)
        assert panel.display
        await pilot.press("r")
        await pilot.pause(0.5)
        results = app.screen
        assert results.query_one("#results-tabs").active == "tab-boundary"
        boundary = results.query_one("#boundary", PlaygroundPanel)
        assert boundary.caption.startswith("after 40 epochs · loss ")
        view = boundary.query_one("#pg-plane", PlaneView)
        width, height = view.pixel_size
        grid = grid_for(boundary.raw, width, height)
        predicted = screen.model.predict(screen.data.inputs_for(grid.points()))
        np.testing.assert_array_equal(view.picture.pixels, output_pixels(
            predicted.reshape(height, width, -1), "binary", (0.0, 1.0)))
        await pilot.press("left")                   # the network has the keys: its layer
        await pilot.pause(0.2)
        assert _text(boundary.query_one("#pg-title", Static)).startswith("layer 1 neuron 1 (relu)")


@run_async
async def test_paused_e_trains_exactly_one_more_epoch_and_shift_e_one_more_batch(monkeypatch):
    monkeypatch.setenv("DEEPTERM_PACE", "5")
    app = DeeptermApp(store=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("2")                      # Titanic: 20 epochs at 5 a second
        await pilot.pause(0.3)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        screen = app.screen
        assert "· 5 epochs/s" in _text(screen.query_one("#epoch-label", Label))
        await wait_until(pilot, lambda: len(screen.epochs) >= 1, what="an epoch")
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.state == "paused", what="the pause")
        await pilot.pause(1.0)
        done = len(screen.epochs)
        assert "Paused" in _text(screen.query_one("#status", Static))
        await pilot.press("e")
        await wait_until(pilot, lambda: len(screen.epochs) == done + 1, what="one epoch")
        await pilot.pause(1.0)
        assert len(screen.epochs) == done + 1 and screen.state == "paused"
        batch = screen._batch
        await pilot.press("E")                      # shift+e: one batch
        await wait_until(pilot, lambda: screen._batch is not batch, what="one batch")
        await pilot.pause(1.0)
        assert (screen._batch.epoch, screen._batch.batch) == (done + 1, 0)
        assert len(screen.epochs) == done + 1 and screen.state == "paused"
        await pilot.press("plus")                   # the pace: 5 -> 10 epochs a second
        await pilot.pause(0.2)
        assert screen.control.pace == 10.0
        assert "· 10 epochs/s" in _text(screen.query_one("#epoch-label", Label))
        await pilot.press("minus", "minus")
        assert screen.control.pace == 2.0
        for _ in range(6):
            await pilot.press("plus")
        assert screen.control.pace is None
        await pilot.pause(0.2)
        assert "· full speed" in _text(screen.query_one("#epoch-label", Label))
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.state == "finished", what="the end")
        assert screen.history.stop_reason == "completed" and len(screen.history) == 20


@run_async
async def test_e_while_running_pauses_at_the_end_of_the_epoch(monkeypatch):
    monkeypatch.setenv("DEEPTERM_PACE", "2")
    app = DeeptermApp(store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await pilot.pause(0.3)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        screen = app.screen
        await wait_until(pilot, lambda: len(screen.epochs) >= 1, what="an epoch")
        await pilot.press("e")
        await wait_until(pilot, lambda: screen.state == "paused", what="the pause")
        await pilot.pause(1.5)
        held = len(screen.epochs)
        await pilot.pause(1.0)
        assert len(screen.epochs) == held and held <= 3
        assert screen._batch is None or screen._batch.epoch < held   # held at an epoch's end
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.state == "finished", what="the stop")
        assert screen.history.stop_reason == "stopped"


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40)])
@run_async
async def test_the_training_footer_keeps_its_keys_at_every_size(size):
    config, data = _xor()
    app = DeeptermApp(store=False)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        screen = TrainingScreen(config, data, autostart=False)
        await app.push_screen(screen)
        await wait_until(pilot, lambda: "Pause" in " ".join(
            str(key.render()) for key in screen.query("FooterKey")), what="the footer")
        footer = " ".join(str(key.render()) for key in screen.query("FooterKey"))
        for key in ("Pause", "Stop", "Step", "Pace", "View", "Back", "Help", "Lessons", "Runs"):
            assert key in footer
        assert "Results" not in footer and "Again" not in footer     # while a run trains
        keys = list(screen.query("FooterKey"))
        assert max(k.region.right for k in keys) <= size[0]
