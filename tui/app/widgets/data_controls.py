"""The setup screen's Playground controls for two-feature data: a synthetic set's
noise, rows and seed (``SyntheticControls``), the feature crosses to train on
(``FeatureCrosses``), and a scatter of the points (``ScatterPreview``: training
points "●", validation points "○", in their class's colour).

Each control checks what is typed as it changes and says what is wrong beside itself;
the screen reads ``options()`` and ``features()`` into the run's recipe.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Static

from engine.features import FEATURES, RAW
from engine.plane import grid_for, regression_scale, signed_value

from .plane import (
    Picture,
    PlaneView,
    class_point_colours,
    data_points,
    neutral_pixels,
    value_point_colours,
)

#: The most rows the setup screen generates (the catalog takes more, through the CLI).
MAX_ROWS = 100_000


def parse_noise(text: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError("noise is a number from 0 (clean) to 1, e.g. 0.2") from None
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError("noise must be from 0 to 1")
    return value


def parse_whole(text: str, name: str, lo: int, hi: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be from {lo} to {hi}")
    return value


class SyntheticControls(Vertical):
    """Noise, rows and the data's seed of a synthetic set (its load options)."""

    class Changed(Message):
        """Valid options were typed: ``options`` for ``datasets.load``."""

        def __init__(self, controls: SyntheticControls, options: dict[str, Any]) -> None:
            super().__init__()
            self.controls = controls
            self.options = options

    def compose(self) -> ComposeResult:
        for field_id, label, value, tip in (
                ("noise", "Noise", "0", "0 (clean) to 1: how far points stray from their "
                                        "class's region"),
                ("rows", "Rows", "500", "how many points to generate (4 to 100000)"),
                ("data-seed", "Seed", "0", "the data's seed: another draws other points")):
            with Horizontal(classes="field"):
                yield Label(label, classes="short-label")
                yield Input(value, id=field_id, compact=True, tooltip=tip)
            yield Static("", id=f"{field_id}-error", classes="error")

    def show(self, options: dict[str, Any]) -> None:
        """Show a set's options (its defaults where it has none)."""
        with self.prevent(Input.Changed):
            self.query_one("#noise", Input).value = f"{options.get('noise', 0.0):g}"
            self.query_one("#rows", Input).value = str(options.get("n", 500))
            self.query_one("#data-seed", Input).value = str(options.get("seed", 0))
        self.read()

    def read(self) -> dict[str, Any] | None:
        """The options typed, or None when one is wrong (each shown beside its field)."""
        values: dict[str, Any] = {}
        for field_id, key, parse in (
                ("noise", "noise", parse_noise),
                ("rows", "n", lambda t: parse_whole(t, "rows", 4, MAX_ROWS)),
                ("data-seed", "seed", lambda t: parse_whole(t, "data seed", 0, 2**31 - 1))):
            field = self.query_one(f"#{field_id}", Input)
            error = self.query_one(f"#{field_id}-error", Static)
            try:
                values[key] = parse(field.value)
                message = ""
            except ValueError as exc:
                message = str(exc)
            error.update(message)
            error.set_class(bool(message), "-shown")
            field.set_class(bool(message), "-invalid")
        return values if len(values) == 3 else None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        options = self.read()
        if options is not None:
            self.post_message(self.Changed(self, options))


class FeatureCrosses(Vertical):
    """Playground's inputs: x1, x2, x1², x2², x1·x2, sin x1, sin x2, each ticked or not."""

    class Changed(Message):
        def __init__(self, crosses: FeatureCrosses) -> None:
            super().__init__()
            self.crosses = crosses

    def compose(self) -> ComposeResult:
        with Grid(id="crosses-grid"):      # three a row, two in a narrow pane
            for name in FEATURES:
                yield Checkbox(FEATURES[name], value=name in RAW, compact=True,
                               id=f"feature-{name.replace('^', 'sq')}", classes="cross",
                               tooltip=f"train on {FEATURES[name]}")
        yield Static("", id="features-error", classes="error")

    def _boxes(self) -> dict[str, Checkbox]:
        return {name: self.query_one(f"#feature-{name.replace('^', 'sq')}", Checkbox)
                for name in FEATURES}

    def show(self, features: tuple[str, ...] | None) -> None:
        chosen = features or RAW
        with self.prevent(Checkbox.Changed):
            for name, box in self._boxes().items():
                box.value = name in chosen
        self.read()

    def read(self) -> tuple[str, ...] | None:
        """The ticked features (None for x1 and x2 alone: the data as it is); raises
        ValueError when none is ticked."""
        chosen = tuple(name for name, box in self._boxes().items() if box.value)
        error = self.query_one("#features-error", Static)
        message = "" if chosen else "tick at least one input"
        error.update(message)
        error.set_class(bool(message), "-shown")
        if not chosen:
            raise ValueError("tick at least one input")
        return None if chosen == RAW else chosen

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self))


class ScatterPreview(PlaneView):
    """The points of two-feature data on the plane: training "●" and validation "○" in
    their class's (or value's) colour (nearly all of them: no field to keep visible)."""

    def show_data(self, dataset: Any, split_at: int) -> None:
        self._data = (dataset, split_at)
        self._paint()

    def on_resize(self) -> None:
        if getattr(self, "_data", None) is not None:
            self._paint()

    def _paint(self) -> None:
        dataset, split_at = self._data
        width, height = self.pixel_size
        if self.size.width <= 0 or self.size.height <= 0:
            return
        X = np.asarray(dataset.X)
        grid = grid_for(X, width, height)
        y = np.asarray(dataset.y)
        if dataset.task == "regression":
            colours = value_point_colours(signed_value(y[:, None].astype(np.float64),
                                                       "regression", regression_scale(y)))
        else:
            colours = class_point_colours(y, dataset.n_classes)
        self.show(Picture(neutral_pixels(height, width),
                          data_points(grid, X, split_at, colours, share=1.0)))
