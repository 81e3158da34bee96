"""The results screen's Filters tab for an image network: a tiny seeded conv model
(3 filters 3x3, max pooling) trained one epoch on 300 MNIST images; the tab draws one
picture per first-layer filter and the feature maps of the image the Digits tab
shows, ←/→ browse; it fits at every size a learner's terminal has; one snapshot."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from _tui_helpers import ready, run_async
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import TabbedContent

import datasets
from engine import Conv2D, Flatten, Layer, MaxPooling2D, ModelSpec, build
from engine.feature_maps import feature_maps
from engine.recipe import prepare
from tui.app import DeeptermApp
from tui.app.config import PRESETS_BY_KEY
from tui.app.screens.results import ResultsScreen
from tui.app.widgets.filters import FiltersView

SIZES = {"80x24": (80, 24), "100x30": (100, 30), "120x40": (120, 40)}
FILTERS = 3


@functools.lru_cache(maxsize=1)
def _conv_run():
    """(config, data, model, history): the MNIST preset's data (300 images, 30% kept for
    validation) and a seeded conv network trained on it for one epoch."""
    config = PRESETS_BY_KEY["3"].config.with_changes(dataset_options={"n": 300}, epochs=1)
    spec = ModelSpec(input_shape=(28, 28, 1),
                     layers=[Conv2D(FILTERS, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                             Layer(10, "softmax")],
                     loss="categorical_crossentropy", optimizer="adam", learning_rate=0.01,
                     metrics=["accuracy"])
    data = prepare(config, datasets.load("mnist", n=300))
    data = dataclasses.replace(data, spec=spec)
    model = build(spec, seed=0)
    history = model.fit(data.X, data.y, epochs=1, batch_size=32, validation_split=0.3,
                        shuffle=True)
    history.duration_s = 1.5
    return config, data, model, history


class _ResultsApp(App):
    """Only the results screen, with the app's styles (no setup screen to wait for)."""

    CSS_PATH = DeeptermApp.CSS_PATH


async def _results(pilot, wait_for_setup: bool = False) -> ResultsScreen:
    config, data, model, history = _conv_run()
    if wait_for_setup:
        await ready(pilot)
    screen = ResultsScreen(config, data, model, history)
    await pilot.app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#results-tabs", TabbedContent).active = "tab-filters"
    await pilot.pause()
    await pilot.pause()
    return screen


@run_async
async def test_the_filters_tab_draws_each_filter_and_browses_the_maps():
    app = _ResultsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _results(pilot)
        view = screen.query_one("#filters", FiltersView)
        assert app.focused is view
        assert view.filter_count == FILTERS
        text = _rendered(view)
        assert "Filters of conv2d_0: 3 of 3x3" in text
        assert all(f"#{k}" in text for k in range(1, FILTERS + 1))
        assert "conv2d_0 (26, 26, 3) relu" in text and "max_pooling2d_0 (13, 13, 3)" in text
        before = [m.values.copy() for m in view.maps()]
        _, data, model, _ = _conv_run()
        np.testing.assert_array_equal(before[0], feature_maps(model, data.X[data.split_at])[0]
                                      .values)
        await pilot.press("right", "right")
        assert view.index == 2 and "Image 3 of 90" in _rendered(view)
        after = view.maps()
        assert not np.array_equal(after[0].values, before[0])
        np.testing.assert_array_equal(after[0].values,
                                      feature_maps(model, data.X[data.split_at + 2])[0].values)
        # the Digits tab follows, and the Filters tab starts where the Digits tab is
        tabs = screen.query_one("#results-tabs", TabbedContent)
        tabs.active = "tab-digits"
        await pilot.pause()
        assert screen.query_one("#digits").index == 2
        await pilot.press("right")
        tabs.active = "tab-filters"
        await pilot.pause()
        await pilot.pause()
        assert view.index == 3


def _rendered(view) -> str:
    from rich.console import Console

    console = Console(width=view.size.width or 120, record=True, color_system=None)
    console.print(view.render())
    return console.export_text()


@run_async
async def test_the_filters_tab_fits_and_scrolls_at_each_size():
    app = _ResultsApp()
    async with app.run_test(size=SIZES["120x40"]) as pilot:
        screen = await _results(pilot)
        view = screen.query_one("#filters", FiltersView)
        scroll = screen.query_one("#filters-scroll", VerticalScroll)
        for size, (width, height) in SIZES.items():
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            scroll.scroll_home(animate=False)
            await pilot.pause()
            assert scroll.region.right <= width and scroll.region.bottom <= height - 1, size
            assert view.region.width <= scroll.size.width, size
            assert scroll.virtual_size.width <= scroll.size.width, size   # wraps, never wider
            assert view.size.height > scroll.size.height, size    # so it scrolls, even at 120x40
            await pilot.press("down", "down", "down")
            assert scroll.scroll_y > 0, size


def test_results_conv_filters_and_feature_maps(snap_compare):
    """The Filters tab of a seeded 1-epoch conv run on 300 MNIST images (3 filters 3x3,
    relu, max pooling 2): on the left the first validation image (a white digit on
    black), beside it "Image 1 of 90" with its row, actual and predicted label and the
    hint "←/→ browse"; "Filters of conv2d_0: 3 of 3x3 · largest |weight| ..." and three
    small square pictures #1-#3 in orange (negative) and blue (positive) blocks; the
    legend; below, "conv2d_0 (26, 26, 3) relu" with three 26x13-cell maps (the digit's
    strokes picked out in blue, dark elsewhere, nothing orange after relu), then
    "max_pooling2d_0 (13, 13, 3)" with three smaller, blockier maps (scrolled to below)."""
    async def run_before(pilot) -> None:
        await _results(pilot, wait_for_setup=True)

    assert snap_compare(DeeptermApp(store=False), terminal_size=(120, 40), run_before=run_before)
