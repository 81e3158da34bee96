"""NetworkView: a drawn network whose numbers can be edited in place.

Nodes stand in columns (inputs, each hidden layer, the output), each with its
name above and its value in a box coloured by sign; edges are drawn with
braille dots and labelled with their weights (and, in backpropagation, with
their gradients). The item under the cursor and the node being computed
(with the edges that feed it) are highlighted, and the last two rows say
what the cursor item is and how it was computed.

Keys: arrows or tab move between nodes and edges; typing a number on an
input node or an edge starts an edit, Enter sets it (posting ``Edited``),
Escape cancels; Enter alone edits the current value. Invalid input stays on
the drawing in red with the reason, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from .compute import Diagram, EdgeInfo, NodeInfo, fmt, parse_number

POSITIVE = "#5fafff"
NEGATIVE = "#ff8f3f"
ZERO = "grey50"
NODE_BG = {1: "#1f4f7f", -1: "#8f4000", 0: "grey30"}
HIGHLIGHT = "#ffd75f"
GRAD = "#d787ff"

_BRAILLE = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08,
            (1, 1): 0x10, (1, 2): 0x20, (0, 3): 0x40, (1, 3): 0x80}


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _sign_colour(value: float) -> str:
    return {1: POSITIVE, -1: NEGATIVE, 0: ZERO}[_sign(value)]


def line_dots(x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, int]]:
    """The braille dots of a line between two points in dot coordinates
    (a cell holds 2 × 4 dots: cell ``(dx // 2, dy // 4)``)."""
    steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    dots = []
    for s in range(steps + 1):
        t = s / steps
        dots.append((int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))))
    return dots


@dataclass
class NetworkLayout:
    """Where a drawing's parts go, in cells of a ``width`` × ``height`` view.

    ``area``: the rows above the two lines of words at the bottom; ``xs``,
    ``cw``: each column's left cell and width; ``ys[c][i]``: node i's row
    (its name is on the row above, its slope, if any, on the row below);
    ``lines``: each edge's line in dot coordinates (x0, y0, x1, y1), by edge
    key; ``labels``: where each edge's label starts and how wide it is
    (x, y, width), by edge key.
    """

    width: int
    height: int
    area: int
    xs: list[int]
    cw: list[int]
    ys: list[list[int]]
    lines: dict[tuple, tuple[float, float, float, float]] = field(default_factory=dict)
    labels: dict[tuple, tuple[int, int, int]] = field(default_factory=dict)

    def edge_cells(self, key: tuple) -> set[tuple[int, int]]:
        """The cells the edge's line puts dots in (within the view)."""
        return {(dx // 2, dy // 4) for dx, dy in line_dots(*self.lines[key])
                if 0 <= dx // 2 < self.width and 0 <= dy // 4 < self.height}

    def label_cells(self, key: tuple) -> set[tuple[int, int]]:
        x, y, w = self.labels[key]
        return {(x + k, y) for k in range(w)}

    def node_cells(self, key: tuple) -> set[tuple[int, int]]:
        """A node's box with the rows above (its name) and below (a slope)."""
        _, c, i = key
        return {(self.xs[c] + k, self.ys[c][i] + dy) for k in range(self.cw[c])
                for dy in (-1, 0, 1)}


def network_layout(diagram: Diagram, width: int, height: int, box_widths: list[list[int]],
                   label_widths: dict[tuple, tuple[int, int]]) -> NetworkLayout:
    """Lay ``diagram`` out in ``width`` × ``height`` cells: node columns spread
    across, nodes spread down each column, edges between the boxes, and each
    edge's label on its edge. ``box_widths[c][i]``: the width of node i's value
    text in column c; ``label_widths[key]``: an edge label's width, and the
    width of its weight part."""
    cols = diagram.columns
    area = height - 2
    cw = [max([6] + [len(n.name) for n in col] + [w + 2 for w in box_widths[c]])
          for c, col in enumerate(cols)]
    n = len(cols)
    gap = max(6, (width - 2 - sum(cw)) // max(1, n - 1))
    xs = [1 + sum(cw[:c]) + c * gap for c in range(n)]
    if n == 1:
        xs = [(width - cw[0]) // 2]
    ys = []
    for col in cols:
        k = len(col)
        ys.append([int(1.5 + (area - 3) * (i + 0.5) / k) for i in range(k)])
    out = NetworkLayout(width, height, area, xs, cw, ys)
    for e in diagram.edges:
        key = ("edge", e.layer, e.src, e.dst)
        x0, y0 = xs[e.layer] + cw[e.layer], ys[e.layer][e.src]
        x1, y1 = xs[e.layer + 1] - 1, ys[e.layer + 1][e.dst]
        out.lines[key] = (2 * x0 + 1, 4 * y0 + 1.5, 2 * x1, 4 * y1 + 1.5)

    place_labels(out, [("edge", e.layer, e.src, e.dst) for e in diagram.edges], label_widths)
    return out


def _around(cells: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The cells beside, above and below ``cells`` (a row's run of cells: its two
    ends and the cells over and under it, not the corners)."""
    near = {(x + dx, y + dy) for x, y in cells for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1))}
    return near - cells


#: Where along its edge (0: the source, 1: the destination) a weight's label goes
#: when nothing is in the way: nearer the source, off the middle where lines cross.
LABEL_FROM = 0.3


def place_labels(lay: NetworkLayout, keys: list[tuple], widths: dict[tuple, tuple[int, int]]
                 ) -> None:
    """Put each edge's label on its own line, nearer its source node, where it reads
    without ambiguity. Walking along the line from LABEL_FROM of the way, outwards
    (the source's side first), the label takes the
    first place where it covers its line and no other line, label or node, stays
    off the crossings of lines, and where no line that it does not share a node
    with, no other label and no node is beside, above or below it; where it can,
    also clear of the lines that leave or enter its nodes (they run close to it
    only near those nodes). Where the drawing is too cramped for any of that, the
    place with the fewest such neighbours."""
    edges = {key: lay.edge_cells(key) for key in keys}
    nodes: set[tuple[int, int]] = set()
    for c, column in enumerate(lay.ys):
        for i in range(len(column)):
            nodes |= lay.node_cells(("node", c, i))
    crossing = _crossing_zones(lay, keys)
    taken: set[tuple[int, int]] = set()       # the labels placed so far
    for key in keys:
        _, layer, _, _ = key
        width, first = widths[key]
        others = set().union(*(cells for k, cells in edges.items() if k != key))
        unrelated = set().union(*(cells for k, cells in edges.items()
                                  if not _share_a_node(k, key)))
        never_on = others | nodes | taken            # a label never covers these
        never_by = unrelated | nodes | taken         # nor has them beside, above or below
        start = lay.xs[layer] + lay.cw[layer]      # the first cell after the source box
        right = lay.xs[layer + 1]                  # the destination box
        # two cells of line show between the source box and the label where the
        # gap between the boxes leaves room (one cell is kept free before the next box)
        left = start + min(2, max(0, right - start - width - 1))
        clean = ok = fallback = None
        along = _cells_along(lay.lines[key])
        last = max(1, len(along) - 1)
        # from a third of the way along the line, outwards, the source's side first
        order = sorted(range(len(along)), key=lambda i: (abs(i / last - LABEL_FROM), i))
        for cx, cy in (along[i] for i in order):
            if not 0 <= cy < lay.area:
                continue
            for shift in (0, -1, 1, -2, 2):
                x = cx - first // 2 + shift
                if x < left or x + width > right or not x <= cx < x + width:
                    continue
                cells = {(x + k, cy) for k in range(width)}
                near = _around(cells)
                bad = (len(cells & never_on), len(near & never_by) + len(cells & crossing))
                if bad == (0, 0) and not near & others:
                    clean = (x, cy)
                    break
                if bad == (0, 0) and ok is None:
                    ok = (x, cy)
                if fallback is None or bad < fallback[0]:
                    fallback = (bad, x, cy)
            if clean is not None:
                break
        chosen = clean or ok or (fallback[1:] if fallback is not None else None)
        if chosen is None:        # no room between the boxes at all: at the line's middle
            x0, y0, x1, y1 = lay.lines[key]
            chosen = (int((x0 + x1) / 4) - first // 2, min(int((y0 + y1) / 8), lay.area - 1))
        x, y = chosen
        lay.labels[key] = (x, y, width)
        taken |= {(x + k, y) for k in range(width)}


def _crossing_zones(lay: NetworkLayout, keys: list[tuple]) -> set[tuple[int, int]]:
    """The cells near where two edges that share no node cross: within a row and
    a half and two and a half columns of the crossing point (cell centres)."""
    cells: set[tuple[int, int]] = set()
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if _share_a_node(a, b):
                continue
            (x1, y1, x2, y2), (x3, y3, x4, y4) = lay.lines[a], lay.lines[b]
            den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
            if den == 0:
                continue
            t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
            u = ((x1 - x3) * (y1 - y2) - (y1 - y3) * (x1 - x2)) / den
            if not (0 <= t <= 1 and 0 <= u <= 1):
                continue
            px, py = (x1 + t * (x2 - x1)) / 2, (y1 + t * (y2 - y1)) / 4   # in cells
            cells |= {(cx, cy) for cx in range(int(px) - 3, int(px) + 4)
                      for cy in range(int(py) - 2, int(py) + 3)
                      if abs(cx + 0.5 - px) <= 2.5 and abs(cy + 0.5 - py) <= 1.5}
    return cells


def _share_a_node(a: tuple, b: tuple) -> bool:
    """Whether two edges (``("edge", layer, src, dst)``) leave or enter the same node."""
    return (a[1], a[2]) == (b[1], b[2]) or (a[1], a[3]) == (b[1], b[3])


def _cells_along(line: tuple[float, float, float, float]) -> list[tuple[int, int]]:
    """The cells of a line, each once, from its start to its end."""
    cells: list[tuple[int, int]] = []
    for dx, dy in line_dots(*line):
        cell = (dx // 2, dy // 4)
        if cell not in cells:
            cells.append(cell)
    return cells


@dataclass
class _Canvas:
    width: int
    height: int

    def __post_init__(self) -> None:
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles: list[list[str]] = [[""] * self.width for _ in range(self.height)]
        self.dots: dict[tuple[int, int], int] = {}
        self.dot_styles: dict[tuple[int, int], str] = {}

    def text(self, x: int, y: int, text: str, style: str = "") -> None:
        if not 0 <= y < self.height:
            return
        for k, ch in enumerate(text):
            if 0 <= x + k < self.width:
                self.chars[y][x + k] = ch
                self.styles[y][x + k] = style

    def line(self, x0: float, y0: float, x1: float, y1: float, style: str) -> None:
        """A braille line between two points in dot coordinates (2 × 4 per cell)."""
        for dx, dy in line_dots(x0, y0, x1, y1):
            cell = (dx // 2, dy // 4)
            if not (0 <= cell[0] < self.width and 0 <= cell[1] < self.height):
                continue
            self.dots[cell] = self.dots.get(cell, 0) | _BRAILLE[(dx % 2, dy % 4)]
            if self.dot_styles.get(cell) != HIGHLIGHT:
                self.dot_styles[cell] = style

    def render(self) -> Text:
        for (cx, cy), bits in self.dots.items():
            if self.chars[cy][cx] == " ":
                self.chars[cy][cx] = chr(0x2800 + bits)
                self.styles[cy][cx] = self.dot_styles[(cx, cy)]
        out = Text(no_wrap=True, overflow="crop")
        for y in range(self.height):
            row, styles = self.chars[y], self.styles[y]
            start = 0
            for x in range(1, self.width + 1):
                if x == self.width or styles[x] != styles[start]:
                    out.append("".join(row[start:x]), Style.parse(styles[start]) if styles[start]
                               else None)
                    start = x
            if y < self.height - 1:
                out.append("\n")
        return out


class NetworkView(Widget, can_focus=True):
    """Draws a ``Diagram``; arrows/tab move, typed numbers edit in place."""

    class Edited(Message):
        """The learner set ``key`` (``("node", 0, i)`` or ``("edge", layer,
        src, dst)``) to ``value``."""

        def __init__(self, view: NetworkView, key: tuple, value: float) -> None:
            super().__init__()
            self.view = view
            self.key = key
            self.value = value

        @property
        def control(self) -> NetworkView:
            return self.view

    def __init__(self, diagram: Diagram | None = None, *, edges_editable: bool = True,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.diagram = diagram or Diagram([], [])
        self.edges_editable = edges_editable
        self.cursor: tuple | None = None
        self.buffer: str | None = None
        self.error: str | None = None
        self._hits: dict[tuple[int, int], tuple] = {}

    # -- the data -------------------------------------------------------------

    def show(self, diagram: Diagram) -> None:
        """Draw ``diagram`` (keeps the cursor where it was when it still exists)."""
        self.diagram = diagram
        if self.cursor not in self._items():
            self.cursor = self._default_cursor()
        self.refresh()

    def _groups(self) -> list[list[tuple]]:
        """Focus groups left to right: a node column, then the edges after it."""
        groups = []
        for c, col in enumerate(self.diagram.columns):
            groups.append([("node", c, i) for i in range(len(col))])
            edges = [("edge", e.layer, e.src, e.dst) for e in self.diagram.edges if e.layer == c]
            if edges:
                groups.append(edges)
        return [g for g in groups if g]

    def _items(self) -> list[tuple]:
        return [key for group in self._groups() for key in group]

    def _default_cursor(self) -> tuple | None:
        items = self._items()
        editable = [k for k in items if self._editable(k)]
        return (editable or items or [None])[0]

    def _node(self, key: tuple) -> NodeInfo:
        return self.diagram.columns[key[1]][key[2]]

    def _edge(self, key: tuple) -> EdgeInfo:
        for e in self.diagram.edges:
            if (e.layer, e.src, e.dst) == key[1:]:
                return e
        raise KeyError(key)

    def _editable(self, key: tuple | None) -> bool:
        if key is None:
            return False
        if key[0] == "node":
            return self._node(key).editable
        return self.edges_editable

    def value_of(self, key: tuple) -> float:
        return self._node(key).value if key[0] == "node" else self._edge(key).weight

    # -- moving -----------------------------------------------------------------

    def move_to(self, key: tuple) -> None:
        if key not in self._items():
            raise KeyError(f"no item {key!r} on this drawing")
        self.cursor, self.buffer, self.error = key, None, None
        self.refresh()

    def _move(self, dx: int, dy: int) -> None:
        """Up/down within a column of nodes or of edges; right from a node to
        one of its outgoing edges (the one at about the same height), from an
        edge to the node it enters; left the other way round."""
        groups = self._groups()
        if not groups:
            return
        cur = self.cursor
        if cur not in self._items():
            cur = self._default_cursor()
        target = cur
        if dy:
            group = next(g for g in groups if cur in g)
            target = group[max(0, min(len(group) - 1, group.index(cur) + dy))]
        elif cur[0] == "edge":
            _, layer, src, dst = cur
            target = ("node", layer, src) if dx < 0 else ("node", layer + 1, dst)
        else:
            _, c, i = cur
            cols = self.diagram.columns
            other = c + dx
            if 0 <= other < len(cols) and cols[other]:
                frac = i / (len(cols[c]) - 1) if len(cols[c]) > 1 else 0.5
                k = round(frac * (len(cols[other]) - 1))
                key = ("edge", c, i, k) if dx > 0 else ("edge", other, k, i)
                target = key if key in self._items() else ("node", other, k)
        self.cursor = target
        self.refresh()

    def _tab(self, step: int) -> bool:
        items = self._items()
        if not items:
            return False
        k = items.index(self.cursor) if self.cursor in items else -1
        if not 0 <= k + step < len(items):
            return False
        self.cursor = items[k + step]
        self.refresh()
        return True

    # -- editing ------------------------------------------------------------------

    def _commit(self) -> bool:
        try:
            value = parse_number(self.buffer or "")
        except ValueError as exc:
            self.error = str(exc)
            self.refresh()
            return False
        key = self.cursor
        self.buffer, self.error = None, None
        self.refresh()
        self.post_message(self.Edited(self, key, value))
        return True

    def on_key(self, event: events.Key) -> None:
        key, char = event.key, event.character
        consumed = True
        if self.buffer is not None:
            if char and char in "0123456789.-eE" and len(self.buffer) < 12:
                self.buffer += char
                self.error = None
            elif key == "backspace":
                self.buffer = self.buffer[:-1]
                self.error = None
            elif key == "enter":
                self._commit()
            elif key == "escape":
                self.buffer, self.error = None, None
            elif key in ("up", "down", "left", "right", "tab", "shift+tab"):
                if self._commit():
                    consumed = self._navigate(key)
            elif char and char.isprintable():
                self.buffer += char
                self.error = None
            self.refresh()
        elif char and char in "0123456789.-" and self._editable(self.cursor):
            self.buffer, self.error = char, None
            self.refresh()
        elif key == "enter" and self._editable(self.cursor):
            self.buffer, self.error = fmt(self.value_of(self.cursor)), None
            self.refresh()
        elif key in ("up", "down", "left", "right", "tab", "shift+tab"):
            consumed = self._navigate(key)
        else:
            consumed = False
        if consumed:
            event.stop()
            event.prevent_default()

    def _navigate(self, key: str) -> bool:
        if key in ("tab", "shift+tab"):
            return self._tab(1 if key == "tab" else -1)
        dx, dy = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[key]
        self._move(dx, dy)
        return True

    def on_click(self, event: events.Click) -> None:
        key = self._hits.get((event.x, event.y))
        if key is not None:
            self.focus()
            self.move_to(key)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- drawing ------------------------------------------------------------------

    def _focus_keys(self) -> tuple[set, set]:
        """(cursor, highlighted): the cursor item, and what computes it."""
        high = set(self.diagram.highlight)
        cur = self.cursor
        if cur is not None and cur[0] == "node" and cur[1] > 0:
            c, j = cur[1], cur[2]
            high |= {("edge", e.layer, e.src, e.dst) for e in self.diagram.edges
                     if e.layer == c - 1 and e.dst == j}
            high |= {("node", c - 1, i) for i in range(len(self.diagram.columns[c - 1]))}
        elif cur is not None and cur[0] == "edge":
            high |= {("node", cur[1], cur[2]), ("node", cur[1] + 1, cur[3])}
        return ({cur} if cur is not None and self.has_focus else set()), high

    def _label(self, key: tuple, value: float) -> tuple[str, str]:
        cursor, _ = self._focus_keys()
        if key in cursor and self.buffer is not None:
            bg = "#c00000" if self.error else "#005fd7"
            return self.buffer + "▏", f"bold white on {bg}"
        return fmt(value), ""

    def _edge_segments(self, e: EdgeInfo, cursor: set, high: set) -> list[tuple[str, str]]:
        """An edge's label: its weight, then (in backpropagation) its gradient."""
        key = ("edge", e.layer, e.src, e.dst)
        text, style = self._label(key, e.weight)
        if not style:
            if key in cursor:
                style = "bold black on white"
            elif key in high:
                style = f"bold black on {HIGHLIGHT}"
            else:
                style = f"bold {_sign_colour(e.weight)}"
        segments = [(f"\u00a0{text}\u00a0", style)]
        if e.grad is not None:
            segments.append((f"∇{fmt(e.grad)}\u00a0", f"bold {GRAD}"))
        return segments

    def layout(self) -> NetworkLayout:
        """Where this view draws each node, edge and label at its current size."""
        cursor, high = self._focus_keys()
        boxes = [[len(self._label(("node", c, i), n.value)[0]) for i, n in enumerate(col)]
                 for c, col in enumerate(self.diagram.columns)]
        widths: dict[tuple, tuple[int, int]] = {}
        for e in self.diagram.edges:
            segments = self._edge_segments(e, cursor, high)
            widths[("edge", e.layer, e.src, e.dst)] = (sum(len(t) for t, _ in segments),
                                                      len(segments[0][0]))
        return network_layout(self.diagram, self.size.width, self.size.height, boxes, widths)

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        canvas = _Canvas(max(1, width), max(1, height))
        self._hits = {}
        cols = self.diagram.columns
        if not cols or width < 10 or height < 4:
            return canvas.render()
        cursor, high = self._focus_keys()
        lay = self.layout()
        xs, ys, cw = lay.xs, lay.ys, lay.cw
        boxes = [[self._label(("node", c, i), n.value) for i, n in enumerate(col)]
                 for c, col in enumerate(cols)]

        # edges, highlighted ones last so that they stay on top
        ordered = sorted(self.diagram.edges,
                         key=lambda e: ("edge", e.layer, e.src, e.dst) in high | cursor)
        for e in ordered:
            key = ("edge", e.layer, e.src, e.dst)
            style = HIGHLIGHT if key in high | cursor else _sign_colour(e.weight)
            canvas.line(*lay.lines[key], style)

        for e in self.diagram.edges:
            key = ("edge", e.layer, e.src, e.dst)
            lx, cy, _ = lay.labels[key]
            for label, lstyle in self._edge_segments(e, cursor, high):
                canvas.text(lx, cy, label, lstyle)
                for k in range(len(label)):
                    self._hits[(lx + k, cy)] = key
                lx += len(label)

        # nodes: name above, value in a box, slope below
        for c, col in enumerate(cols):
            for i, node in enumerate(col):
                key = ("node", c, i)
                x, y = xs[c], ys[c][i]
                text, style = boxes[c][i]
                if not style:
                    if key in cursor:
                        style = "bold black on white"
                    elif key in high:
                        style = f"bold black on {HIGHLIGHT}"
                    else:
                        style = f"bold white on {NODE_BG[_sign(node.value)]}"
                canvas.text(x, y, text.center(cw[c], "\u00a0"), style)
                name_style = f"bold {HIGHLIGHT}" if key in high | cursor else "grey70"
                canvas.text(x + (cw[c] - len(node.name)) // 2, y - 1, node.name, name_style)
                if node.slope is not None:
                    slope = f"∂ {fmt(node.slope)}"
                    canvas.text(x + (cw[c] - len(slope)) // 2, y + 1, slope, f"bold {GRAD}")
                for k in range(cw[c]):
                    self._hits[(x + k, y)] = key
                    self._hits[(x + k, y - 1)] = key

        # what the cursor item is, and any error
        detail = self.diagram.note
        if self.cursor is not None and self.has_focus:
            item = self._node(self.cursor) if self.cursor[0] == "node" else self._edge(self.cursor)
            detail = item.detail
        canvas.text(1, height - 2, detail[: width - 2], "bold")
        if self.error:
            canvas.text(1, height - 1, f"✗ {self.error} (Esc cancels)"[: width - 2],
                        "bold #ff5f5f")
        elif self.buffer is not None:
            canvas.text(1, height - 1, "Enter sets the number, Esc cancels", "grey62")
        elif self.has_focus:
            hint = ("←↑↓→/tab move · type a number + Enter to edit"
                    if self._editable(self.cursor) else "←↑↓→/tab move")
            canvas.text(1, height - 1, hint[: width - 2], "grey50")
        return canvas.render()
