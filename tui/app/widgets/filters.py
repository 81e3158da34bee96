"""A convolutional network's first-layer filters and one image's feature maps, drawn
with half-block pixels on Playground's diverging scale (orange negative, dark near 0,
blue positive; ``plane.diverging_pixels``). The numbers are ``engine.feature_maps``'.

``FiltersView`` shows, for the image it is on (←/→ browse): the image, the first
Conv2D layer's filters (one picture each, all on one scale: the layer's largest
|weight|), then each Conv2D and MaxPooling2D layer's output, one picture per channel,
each layer on its own scale (its largest |value|), headed by the layer's name and
shape. Pictures wrap to the width there is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.color import Color
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from engine.feature_maps import feature_maps, filters, symmetric
from engine.formatting import format_metric

from .digit import HalfBlockImage
from .plane import NEGATIVE, POSITIVE, diverging_pixels

#: About how many columns a filter's picture and a feature map's take (each pixel
#: repeated a whole number of times, at least once).
FILTER_COLUMNS = 12
MAP_COLUMNS = 20


class ColourImage:
    """A Rich renderable of ``pixels`` (h, w, 3) uint8 RGB: each line two pixel rows, the
    upper one the colour of "▀", the lower one its background (an odd last row over the
    terminal's own background)."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = np.asarray(pixels, dtype=np.uint8)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in terminal cells."""
        return self.pixels.shape[1], (self.pixels.shape[0] + 1) // 2

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        styles: dict[tuple, Style] = {}
        rows = self.pixels
        for r in range(0, rows.shape[0], 2):
            top = rows[r]
            bottom = rows[r + 1] if r + 1 < rows.shape[0] else None
            for c in range(rows.shape[1]):
                key = (tuple(top[c].tolist()), None if bottom is None else tuple(bottom[c].tolist()))
                style = styles.get(key)
                if style is None:
                    style = styles[key] = Style(
                        color=Color.from_rgb(*key[0]),
                        bgcolor=None if key[1] is None else Color.from_rgb(*key[1]))
                yield Segment("▀", style)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.size[0], self.size[0])


def enlarged(values: np.ndarray, columns: int) -> np.ndarray:
    """(h, w) values with each repeated ``max(1, columns // max(h, w))`` times along both
    axes (square pixels: a cell is two pixel rows high)."""
    times = max(1, columns // max(values.shape))
    return np.repeat(np.repeat(values, times, axis=0), times, axis=1)


def picture(values: np.ndarray, columns: int, caption: str) -> Group:
    """One picture, values already in [-1, 1], under a short caption."""
    return Group(Text(caption, style="dim", no_wrap=True, overflow="ellipsis"),
                 ColourImage(diverging_pixels(enlarged(values, columns))))


def legend() -> Text:
    text = Text()
    text.append("■", style=Style(color=Color.from_rgb(*NEGATIVE)))
    text.append(" negative  ")
    text.append("■", style=Style(color=Color.from_rgb(*POSITIVE)))
    text.append(" positive  ")
    text.append("(dark: near 0)", style="dim")
    return text


class FiltersView(Widget, can_focus=True):
    """The filters of ``model`` (an image network) and the feature maps of ``inputs[i]``
    (n, ...): the model's inputs, one image each; ``images`` (n, h, w) in [0, 1] are the
    same images to show (None: not shown), ``labels`` a caption per image."""

    BINDINGS = [
        Binding("right,l", "move(1)", "Next image", id="maps-next"),
        Binding("left,h", "move(-1)", "Previous image", id="maps-previous"),
        Binding("pagedown", "move(10)", "+10", show=False),
        Binding("pageup", "move(-10)", "-10", show=False),
    ]

    index = reactive(0)

    def __init__(self, model: Any, inputs: np.ndarray, images: np.ndarray | None,
                 labels: list[str], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.inputs = inputs
        self.images = images
        self.labels = labels
        self.filters = filters(model)
        self._maps: tuple[int, list] | None = None

    @property
    def filter_count(self) -> int:
        """How many filter pictures are drawn (the first Conv2D layer's filters)."""
        return self.filters[0].layer.filters if self.filters else 0

    def maps(self) -> list:
        """The feature maps of the image shown (engine.feature_maps)."""
        if self._maps is None or self._maps[0] != self.index:
            self._maps = (self.index, feature_maps(self.model, self.inputs[self.index]))
        return self._maps[1]

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, step: int) -> None:
        self.index = int(np.clip(self.index + step, 0, len(self.inputs) - 1))

    def render(self):
        head = Text()
        head.append(f"Image {self.index + 1} of {len(self.inputs)}", style="bold")
        head.append(f"  {self.labels[self.index]}\n", style="dim")
        head.append("←/→ browse" if self.has_focus else "press tab for ←/→ browse",
                    style="dim italic")
        head.append("\n\n")
        parts: list[Any] = [head]
        if self.filters:
            first = self.filters[0]
            kh, kw = first.layer.kernel_size
            scale = float(np.abs(first.pictures).max())
            how = "" if first.in_channels == 1 else \
                f", mean over {first.in_channels} input channels"
            title = Text()
            title.append(f"Filters of {first.name}", style="bold")
            title.append(f": {first.layer.filters} of {kh}x{kw}{how} · largest |weight| "
                         f"{format_metric(scale)}")
            pictures = symmetric(first.pictures)
            parts += [title, Columns([picture(p, FILTER_COLUMNS, f"#{f + 1}")
                                      for f, p in enumerate(pictures)], padding=(0, 1))]
        else:
            parts.append(Text("This network has no Conv2D layer: no filters to draw.",
                              style="italic"))
        parts.append(legend())
        top = Table.grid(padding=(0, 3))
        if self.images is not None:
            top.add_column()
        top.add_column()
        cells = [Group(*parts)]
        if self.images is not None:
            cells.insert(0, HalfBlockImage(self.images[self.index]))
        top.add_row(*cells)
        body: list[Any] = [top]
        for fmap in self.maps():
            layer = fmap.layer
            h, w, c = fmap.shape
            values = symmetric(fmap.values)
            what = f" {layer.activation}" if isinstance(getattr(layer, "activation", None), str) \
                else ""
            title = Text()
            title.append(f"\n{fmap.name}", style="bold")
            title.append(f" ({h}, {w}, {c}){what} · largest |value| "
                         f"{format_metric(float(np.abs(fmap.values).max()))}")
            body += [title, Columns([picture(values[:, :, k], MAP_COLUMNS, f"#{k + 1}")
                                     for k in range(c)], padding=(0, 1))]
        return Group(*body)
