"""How the lessons' networks are laid out on the terminal: every weight's
label readable on its own edge (never where edges cross, never on another
label) for every network a lesson draws, at 80x24, 100x30 and 120x40.

The geometry (each edge's cells, each label's cells) comes from the view's
layout function; the words come from the rendered drawing."""

from __future__ import annotations

import pytest
from _lessons_helpers import LessonApp
from _tui_helpers import run_async

from tui.app.lessons.compute import fmt
from tui.app.lessons.network_view import NetworkView

SIZES = [(80, 24), (100, 30), (120, 40)]

#: Keys that show each network a lesson draws (errors: its four parts;
#: backpropagation: every backward step, gradients on the labels).
STATES = {
    "forward": [[], ["a"]],
    "many_rows": [[], ["n"], ["n"], ["n"]],
    "deeper": [[]],
    "errors": [[], ["right_square_bracket"], ["right_square_bracket"], ["right_square_bracket"]],
    "gradient_descent": [[], ["s"]],
    "backprop": [[], ["b"], ["b"], ["b"], ["u"]],
}


def _around(cells: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The cells beside, above and below ``cells`` (a row's run of cells: its two
    ends and the cells over and under it, not the corners)."""
    near = {(x + dx, y + dy) for x, y in cells for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1))}
    return near - cells


def _share_a_node(a: tuple, b: tuple) -> bool:
    return (a[1], a[2]) == (b[1], b[2]) or (a[1], a[3]) == (b[1], b[3])


def crossing_points(lay) -> list[tuple[float, float]]:
    """Where the lines of two edges that share no node cross, in cell coordinates
    (x, y), from the layout's lines (dot coordinates: 2 × 4 dots a cell)."""
    points = []
    keys = list(lay.lines)
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
            if 0 <= t <= 1 and 0 <= u <= 1:
                points.append(((x1 + t * (x2 - x1)) / 2, (y1 + t * (y2 - y1)) / 4))
    return points


def label_problems(view: NetworkView) -> list[str]:
    """What keeps a weight label of ``view``, as drawn now, from being read without
    ambiguity (an empty list: nothing). A label must be drawn with its weight (and
    gradient), lie on its own edge's line and on no other (so never where edges
    cross), and have clear cells beside, above and below it: no other label, no
    node, and no line of an edge that does not meet its own at a node (lines that
    leave or enter the same node as its edge may run close by, near that node)."""
    lay = view.layout()
    lines = str(view.render()).split("\n")
    edges = {key: lay.edge_cells(key) for key in lay.lines}
    crossings = {cell for key, cells in edges.items() for cell in cells
                 if any(cell in other for k, other in edges.items() if k != key)}
    nodes = set().union(*(lay.node_cells(("node", c, i)) for c, col in
                          enumerate(view.diagram.columns) for i in range(len(col))))
    labels = {key: lay.label_cells(key) for key in lay.labels}
    problems = []
    for e in view.diagram.edges:
        key = ("edge", e.layer, e.src, e.dst)
        x, y, w = lay.labels[key]
        cells = labels[key]
        drawn = lines[y][x:x + w] if 0 <= y < len(lines) else ""
        if not drawn.startswith(f"\u00a0{fmt(e.weight)}\u00a0"):
            problems.append(f"{key}: weight {fmt(e.weight)} not drawn at ({x}, {y}): {drawn!r}")
        if e.grad is not None and f"∇{fmt(e.grad)}" not in drawn:
            problems.append(f"{key}: gradient {fmt(e.grad)} not drawn: {drawn!r}")
        if not (0 <= x and x + w <= lay.width and 0 <= y < lay.area):
            problems.append(f"{key}: label outside the drawing at ({x}, {y})")
        if not cells & edges[key]:
            problems.append(f"{key}: label at ({x}, {y}) is not on its own edge")
        if cells & crossings:
            problems.append(f"{key}: label on a cell two edges share at {sorted(cells & crossings)}")
        for px, py in crossing_points(lay):
            if any(abs(cx + 0.5 - px) <= 2.5 and abs(cy + 0.5 - py) <= 1.5 for cx, cy in cells):
                problems.append(f"{key}: label at ({x}, {y}) at the crossing at ({px:.1f}, {py:.1f})")
        others = set().union(*(c for k, c in edges.items() if k != key))
        if cells & others:
            problems.append(f"{key}: label at ({x}, {y}) on another edge's line at "
                            f"{sorted(cells & others)}")
        near = cells | _around(cells)
        unrelated = set().union(*(c for k, c in edges.items() if not _share_a_node(k, key)))
        if near & unrelated:
            problems.append(f"{key}: label at ({x}, {y}) next to the line of an edge that "
                            f"does not meet its own at {sorted(near & unrelated)}")
        if near & nodes:
            problems.append(f"{key}: label at ({x}, {y}) on or next to a node")
        for other, other_cells in labels.items():
            if other != key and near & other_cells:
                problems.append(f"{key}: label at ({x}, {y}) overlaps or touches {other}'s")
    return problems


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("key", list(STATES))
@run_async
async def test_every_weight_label_reads_on_its_own_edge(key, size):
    app = LessonApp(key)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        view = app.screen.query_one(NetworkView)
        for keys in STATES[key]:
            await pilot.press(*keys)
            await pilot.pause()
            problems = label_problems(view)
            assert not problems, (key, size, keys, view.size, problems)
            # the cursor on each edge in turn (highlighting, another label style): same places
            for e in view.diagram.edges[:1]:
                view.move_to(("edge", e.layer, e.src, e.dst))
                await pilot.pause()
                assert not label_problems(view)
