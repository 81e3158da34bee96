"""The input plane drawn in the terminal: a colour field, two half-block pixels per cell
("▀": the top pixel is the glyph's colour, the bottom one the background), with data
points on top.

``PlaneView`` shows pictures that ``Painter`` makes from numbers in [-1, 1] (or, for
several classes, a class and a strength): Playground's diverging scale, orange for
negative (class 0, or below the middle of a regression's targets), blue for positive
(class 1, or above), dark where the value is near 0: a pixel's colour is as strong as
the model is sure. Training points are "●" and validation points "○", in the light
tint of their class (or value), so a point the model gets wrong stands out on its
region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

#: Playground's colours: negative (class 0) and positive (class 1).
NEGATIVE = (245, 147, 34)
POSITIVE = (8, 119, 189)
#: Where the model cannot tell (value 0): the app's dark background, a little lighter.
NEUTRAL = (40, 42, 46)
#: The colours of classes beyond two (class k: CLASS_COLOURS[k % 10]).
CLASS_COLOURS = ((8, 119, 189), (245, 147, 34), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
#: Steps between the neutral colour and a full one (a field is drawn with these).
LEVELS = 20
#: Training and validation points' marks.
TRAIN_MARK = "●"
VALIDATION_MARK = "○"
#: What a point's colour is mixed with (its class's colour lightened this much).
POINT_TINT = 0.3


def mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def level_of(value: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] as codes -LEVELS..LEVELS (NaN: 0)."""
    value = np.nan_to_num(np.asarray(value, dtype=np.float64), nan=0.0)
    return np.rint(np.clip(value, -1.0, 1.0) * LEVELS).astype(np.int64)


def diverging(code: int) -> tuple[int, int, int]:
    """The colour of a code of ``level_of``: neutral at 0, orange below, blue above."""
    t = abs(code) / LEVELS
    return mix(NEUTRAL, POSITIVE if code > 0 else NEGATIVE, t ** 0.8)


def class_colour(k: int, strength: float) -> tuple[int, int, int]:
    return mix(NEUTRAL, CLASS_COLOURS[k % len(CLASS_COLOURS)], strength ** 0.8)


def point_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return mix(rgb, (255, 255, 255), POINT_TINT)


@dataclass
class Picture:
    """What a PlaneView shows: ``pixels`` (2 * rows, columns) of RGB colours as an
    (2 * rows, columns, 3) uint8 array, and the points: (pixel row, column, mark, RGB)."""

    pixels: np.ndarray
    points: Sequence[tuple[int, int, str, tuple[int, int, int]]] = ()


def diverging_pixels(values: np.ndarray) -> np.ndarray:
    """(h, w) values in [-1, 1] -> (h, w, 3) uint8 colours on the diverging scale."""
    table = np.array([diverging(c) for c in range(-LEVELS, LEVELS + 1)], dtype=np.uint8)
    return table[level_of(values) + LEVELS]


def class_pixels(best: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """(h, w) winning classes and strengths in [0, 1] -> (h, w, 3) uint8 colours."""
    k = max(int(best.max()) + 1 if best.size else 1, 1)
    table = np.array([[class_colour(c, s / LEVELS) for s in range(LEVELS + 1)] for c in range(k)],
                     dtype=np.uint8)
    steps = np.rint(np.clip(np.nan_to_num(strength), 0, 1) * LEVELS).astype(np.int64)
    return table[best, steps]


def neutral_pixels(height: int, width: int) -> np.ndarray:
    return np.broadcast_to(np.array(NEUTRAL, dtype=np.uint8), (height, width, 3)).copy()


class PlaneView(Widget):
    """A picture of the plane: one cell holds two pixels, one above the other."""

    DEFAULT_CSS = """
    PlaneView { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.picture: Picture | None = None
        self._strips: list[Strip] = []
        self._styles: dict[tuple, Style] = {}

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(columns, pixel rows) this view draws: two pixels per cell, one above the other."""
        return max(1, self.size.width), max(2, 2 * self.size.height)

    def show(self, picture: Picture) -> None:
        self.picture = picture
        self._strips = self._build(picture)
        self.refresh()

    def _style(self, fg: tuple, bg: tuple, bold: bool = False) -> Style:
        key = (fg, bg, bold)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) > 20_000:
                self._styles.clear()
            style = self._styles[key] = Style(color=Color.from_rgb(*fg), bgcolor=Color.from_rgb(*bg),
                                              bold=bold)
        return style

    def _build(self, picture: Picture) -> list[Strip]:
        pixels = picture.pixels
        rows, width = pixels.shape[0] // 2, pixels.shape[1]
        marks: dict[tuple[int, int], tuple[str, tuple]] = {}
        for row, col, mark, rgb in picture.points:
            if 0 <= row < 2 * rows and 0 <= col < width:
                marks[(row // 2, col)] = (mark, rgb)
        strips = []
        for r in range(rows):
            top, bottom = pixels[2 * r], pixels[2 * r + 1]
            segments = []
            for c in range(width):
                up, down = tuple(top[c].tolist()), tuple(bottom[c].tolist())
                mark = marks.get((r, c))
                if mark is None:
                    segments.append(Segment("▀", self._style(up, down)))
                else:
                    bg = tuple((a + b) // 2 for a, b in zip(up, down))
                    segments.append(Segment(mark[0], self._style(mark[1], bg, bold=True)))
            strips.append(Strip(Segment.simplify(segments), width))
        return strips

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._strips):
            return self._strips[y].crop(0, self.size.width)
        return Strip.blank(self.size.width)


#: At most this share of a picture's cells carry a point: on a small picture every
#: other row's point is left out, so that the field stays visible between them.
MAX_POINT_SHARE = 0.3


def data_points(grid: Any, X: np.ndarray, split_at: int, colours: np.ndarray,
                share: float = MAX_POINT_SHARE) -> list[tuple[int, int, str, tuple[int, int, int]]]:
    """The points to draw: training rows (before ``split_at``) as "●", validation rows as
    "○" (drawn last: on top), each in ``colours[i]`` (RGB). When they would cover more
    than ``share`` of the cells, an evenly spread part of each (the same rows every
    time)."""
    rows, cols, inside = grid.pixels(X)
    cells = grid.width * max(1, grid.height // 2)
    n = int(inside.sum())
    stride = max(1, int(np.ceil(n / max(1.0, share * cells))))
    out = []
    for lo, hi, mark in ((0, split_at, TRAIN_MARK), (split_at, len(X), VALIDATION_MARK)):
        idx = [i for i in range(lo, hi) if inside[i]][::stride]
        out += [(int(rows[i]), int(cols[i]), mark, tuple(int(v) for v in colours[i])) for i in idx]
    return out


def class_point_colours(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Each labelled row's point colour: its class's, lightened."""
    if n_classes <= 2:
        table = [point_colour(NEGATIVE), point_colour(POSITIVE)]
    else:
        table = [point_colour(CLASS_COLOURS[k % len(CLASS_COLOURS)]) for k in range(n_classes)]
    return np.array(table, dtype=np.int64)[np.asarray(y, dtype=np.int64)]


def value_point_colours(values: np.ndarray) -> np.ndarray:
    """Each regression row's point colour: its value (in [-1, 1]) on the diverging scale,
    lightened."""
    return np.array([point_colour(diverging(int(c))) for c in level_of(values)], dtype=np.int64)
