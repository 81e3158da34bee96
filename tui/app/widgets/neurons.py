"""The network drawn as TensorFlow Playground draws it: a column of nodes per layer
(the input features, each hidden layer, the output), each node a small picture of its
own output over the input plane, and an edge for every weight between them, orange
for a negative weight and blue for a positive one, brighter and thicker the larger it
is (braille lines, as the lessons' network drawing draws them).

Arrows move the selection between nodes (up and down a column, left and right between
columns), as does a click on a node; the selected node is marked "▶" and posted as
``NeuronsView.Selected``, so that its picture can be shown large beside the drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ..lessons.network_view import _BRAILLE, line_dots
from .plane import NEGATIVE, NEUTRAL, POSITIVE, mix

#: Thumbnails are at most this many rows tall (twice as many pixels), and twice as wide.
MAX_THUMB_ROWS = 3
#: The fewest columns between two node columns that edges are drawn in.
MIN_GAP = 3
CURSOR = "▶"
CURSOR_COLOUR = (255, 215, 95)
LABEL_COLOUR = (170, 170, 170)
EDGE_DIM = (70, 72, 76)
LABEL_DIM = (110, 110, 110)


@dataclass
class NetworkPicture:
    """What a NeuronsView draws: per column its title, its nodes' labels ("" for none)
    and their pictures ((2 * rows, columns, 3) uint8 each, at ``NeuronsView.thumb``'s
    size), and per pair of neighbouring columns the weights between them
    ((nodes left, nodes right))."""

    titles: list[str]
    labels: list[list[str]]
    images: list[list[np.ndarray]]
    weights: list[np.ndarray] = field(default_factory=list)


@dataclass
class NeuronLayout:
    """Where the drawing's parts go: each column's left cell (of its pictures), the
    label width before the first column, the pictures' size in cells, each shown node's
    top row per column, and how many nodes each column does not show."""

    xs: list[int]
    label_w: int
    tw: int
    th: int
    ys: list[list[int]]
    hidden: list[int]


def neuron_layout(counts: list[int], width: int, height: int, label_w: int) -> NeuronLayout:
    """Lay out columns of ``counts`` nodes in ``width`` x ``height`` cells: a title row,
    then each column's nodes spread down; pictures as large as the tallest column and
    the width allow (up to MAX_THUMB_ROWS rows, twice as wide), the rest of the width
    spread between the columns for the edges. A column too long for the rows shows its
    first nodes (``hidden`` counts the others)."""
    area = max(1, height - 1)
    most = max(counts) if counts else 1
    th = max(1, min(MAX_THUMB_ROWS, area // most - 1 if area // most > 1 else 1))
    n = max(1, len(counts))
    tw = 2 * th
    width -= 1        # a column free on the right: the drawing ends clear of its neighbour
    while tw > 1 and label_w + n * tw + (n - 1) * MIN_GAP > width:
        tw -= 1
        th = max(1, min(th, (tw + 1) // 2))
    room = width - label_w - n * tw
    gap = room // (n - 1) if n > 1 else 0
    xs = [label_w + c * (tw + gap) for c in range(n)]
    ys, hidden = [], []
    per = th + (1 if area >= most * (th + 1) else 0)
    for count in counts:
        shown = min(count, max(1, area // per))
        used = shown * per
        top = 1 + max(0, (area - used) // 2)
        ys.append([top + i * per for i in range(shown)])
        hidden.append(count - shown)
    return NeuronLayout(xs, label_w, tw, th, ys, hidden)


def edge_colour(weight: float, biggest: float) -> tuple[int, int, int]:
    """Orange for a negative weight, blue for a positive one, brighter the larger."""
    t = min(1.0, abs(weight) / biggest) if biggest > 0 else 0.0
    return mix(EDGE_DIM, POSITIVE if weight > 0 else NEGATIVE, 0.25 + 0.75 * t)


class NeuronsView(Widget, can_focus=True):
    """The network with a picture per node; arrows or a click select a node."""

    BINDINGS = [
        Binding("up", "move(0, -1)", "Neuron", show=False),
        Binding("down", "move(0, 1)", "Neuron", show=False),
        Binding("left", "move(-1, 0)", "Layer", show=False),
        Binding("right", "move(1, 0)", "Layer", show=False),
    ]

    class Selected(Message):
        """The learner selected node ``index`` of column ``column`` (0: the inputs)."""

        def __init__(self, view: NeuronsView, column: int, index: int) -> None:
            super().__init__()
            self.view = view
            self.column = column
            self.index = index

    def __init__(self, counts: list[int], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.counts = list(counts)
        self.picture: NetworkPicture | None = None
        self.cursor = (len(counts) - 1, 0)     # the output
        self._strips: list[Strip] = []
        self._styles: dict[tuple, Style] = {}
        self.layout_: NeuronLayout | None = None

    # -- layout -------------------------------------------------------------------------

    def _label_w(self) -> int:
        labels = self.picture.labels[0] if self.picture is not None else []
        return max([len(label) for label in labels] + [0]) + 1

    def current_layout(self) -> NeuronLayout:
        return neuron_layout(self.counts, self.size.width, self.size.height, self._label_w())

    @property
    def thumb(self) -> tuple[int, int]:
        """(columns, pixel rows) of each node's picture at the present size."""
        lay = self.current_layout()
        return lay.tw, 2 * lay.th

    # -- data ---------------------------------------------------------------------------

    def show(self, picture: NetworkPicture) -> None:
        self.picture = picture
        self._strips = self._build()
        self.refresh()

    def on_resize(self) -> None:
        if self.picture is not None:
            self._strips = self._build()

    # -- selection ----------------------------------------------------------------------

    def action_move(self, dc: int, di: int) -> None:
        c, i = self.cursor
        lay = self.layout_ or self.current_layout()
        if dc:
            shown_old = max(1, len(lay.ys[c]))
            c = min(max(0, c + dc), len(self.counts) - 1)
            shown = max(1, len(lay.ys[c]))
            i = min(shown - 1, round(i * (shown - 1) / max(1, shown_old - 1)))
        else:
            i = min(max(0, i + di), max(0, len(lay.ys[c]) - 1))
        self.select(c, i)

    def select(self, column: int, index: int) -> None:
        if (column, index) != self.cursor:
            self.cursor = (column, index)
            if self.picture is not None:
                self._strips = self._build()
                self.refresh()
            self.post_message(self.Selected(self, column, index))

    def on_click(self, event: events.Click) -> None:
        lay = self.layout_
        if lay is None:
            return
        for c, tops in enumerate(lay.ys):
            for i, top in enumerate(tops):
                if lay.xs[c] - 1 <= event.x < lay.xs[c] + lay.tw and top <= event.y < top + lay.th:
                    self.focus()
                    self.select(c, i)
                    return

    # -- drawing ------------------------------------------------------------------------

    def _style(self, fg: tuple | None, bg: tuple | None = None, bold: bool = False) -> Style:
        key = (fg, bg, bold)
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = Style(
                color=None if fg is None else Color.from_rgb(*fg),
                bgcolor=None if bg is None else Color.from_rgb(*bg), bold=bold)
        return style

    def _build(self) -> list[Strip]:
        pic = self.picture
        width, height = self.size.width, self.size.height
        if pic is None or width <= 0 or height <= 0:
            return []
        lay = self.layout_ = neuron_layout(self.counts, width, height, self._label_w())
        cells: list[list[tuple[str, Style | None]]] = [[(" ", None)] * width for _ in range(height)]
        dots: dict[tuple[int, int], int] = {}
        dot_colour: dict[tuple[int, int], tuple[float, tuple]] = {}

        # edges: from each node's right side to the next column's nodes' left side
        for c, weights in enumerate(pic.weights):
            if c + 1 >= len(lay.xs) or lay.xs[c + 1] - (lay.xs[c] + lay.tw) < MIN_GAP:
                continue
            biggest = float(np.abs(weights).max()) if weights.size else 0.0
            for i, y0 in enumerate(lay.ys[c]):
                for j, y1 in enumerate(lay.ys[c + 1]):
                    if i >= weights.shape[0] or j >= weights.shape[1]:
                        continue
                    w = float(weights[i, j])
                    colour = edge_colour(w, biggest)
                    strength = abs(w) / biggest if biggest > 0 else 0.0
                    x0 = 2 * (lay.xs[c] + lay.tw)
                    x1 = 2 * (lay.xs[c + 1] - 1) - 1      # clear of the next column's cursor
                    yy0, yy1 = 4 * y0 + 2 * lay.th - 0.5, 4 * y1 + 2 * lay.th - 0.5
                    offsets = (0, 1) if strength > 0.5 else (0,)
                    for off in offsets:
                        for dx, dy in line_dots(x0, yy0 + off, x1, yy1 + off):
                            cell = (dx // 2, dy // 4)
                            if not (0 <= cell[0] < width and 0 <= cell[1] < height):
                                continue
                            dots[cell] = dots.get(cell, 0) | _BRAILLE[(dx % 2, dy % 4)]
                            if strength >= dot_colour.get(cell, (-1.0,))[0]:
                                dot_colour[cell] = (strength, colour)
        for (x, y), bits in dots.items():
            cells[y][x] = (chr(0x2800 + bits), self._style(dot_colour[(x, y)][1]))

        # titles
        for c, title in enumerate(pic.titles):
            if c >= len(lay.xs):
                continue
            room = lay.xs[c + 1] - lay.xs[c] - 1 if c + 1 < len(lay.xs) else width - lay.xs[c]
            title = title[:max(1, room)]
            x = min(lay.xs[c], width - len(title))      # the last title ends inside the view
            self._text(cells, max(0, x), 0, title, self._style(LABEL_COLOUR, bold=True))
        # nodes
        for c, tops in enumerate(lay.ys):
            images = pic.images[c] if c < len(pic.images) else []
            labels = pic.labels[c] if c < len(pic.labels) else []
            for i, top in enumerate(tops):
                image = images[i] if i < len(images) else None
                for r in range(lay.th):
                    y = top + r
                    if y >= height:
                        break
                    for k in range(lay.tw):
                        x = lay.xs[c] + k
                        if x >= width:
                            break
                        if image is not None and 2 * r + 1 < image.shape[0] and k < image.shape[1]:
                            up = tuple(int(v) for v in image[2 * r, k])
                            down = tuple(int(v) for v in image[2 * r + 1, k])
                        else:
                            up = down = NEUTRAL
                        cells[y][x] = ("▀", self._style(up, down))
                label = labels[i] if i < len(labels) else ""
                if label and c == 0:
                    self._text(cells, 0, top + (lay.th - 1) // 2, label.rjust(lay.label_w - 1),
                               self._style(LABEL_COLOUR))
                if (c, i) == self.cursor and lay.xs[c] >= 1:
                    cells[top + (lay.th - 1) // 2][lay.xs[c] - 1] = (
                        CURSOR, self._style(CURSOR_COLOUR, bold=True))
            if lay.hidden[c] and tops:
                y = min(height - 1, tops[-1] + lay.th)
                self._text(cells, lay.xs[c], y, f"+{lay.hidden[c]}", self._style(LABEL_COLOUR))

        # how to select a node, on the last row when no node is there
        hint = "↑↓←→ or a click: a node's picture, large"
        last = height - 1
        if height > 2 and all(ch == " " or 0x2800 <= ord(ch) <= 0x28FF for ch, _ in cells[last]) \
                and not any(top <= last < top + lay.th for tops in lay.ys for top in tops):
            self._text(cells, max(0, (width - len(hint)) // 2), last, hint[:width],
                       self._style(LABEL_DIM))
        strips = []
        for row in cells:
            segments = [Segment(ch, style) for ch, style in row]
            strips.append(Strip(Segment.simplify(segments), width))
        return strips

    @staticmethod
    def _text(cells, x: int, y: int, text: str, style: Style) -> None:
        if not 0 <= y < len(cells):
            return
        for k, ch in enumerate(text):
            if 0 <= x + k < len(cells[y]):
                cells[y][x + k] = (ch, style)

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._strips):
            return self._strips[y].crop(0, self.size.width)
        return Strip.blank(self.size.width)
