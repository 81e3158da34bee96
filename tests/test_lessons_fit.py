"""Every lesson fits an 80x24 terminal: the whole network, the table or plot
under it, the drawing's hint line and the lesson's own keys in the footer,
read from the terminal as the learner sees it."""

from __future__ import annotations

import pytest
from _lessons_helpers import LessonApp, screen_lines
from _tui_helpers import run_async
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from tui.app.lessons.compute import fmt
from tui.app.lessons.network_view import NetworkView

SIZE = (80, 24)

#: (lesson, keys pressed first, the footer entries its learner needs)
FOOTERS = [
    ("forward", [], ["esc Lessons", "r Reset", "t Try it yourself", "a Identity/ReLU"]),
    ("many_rows", [], ["esc Lessons", "r Reset", "t Try it yourself", "n p Row"]),
    ("deeper", [], ["esc Lessons", "r Reset", "t Try it yourself"]),
    ("errors", [], ["esc Lessons", "t Try it yourself", "[ ] Part"]),
    ("errors", ["right_square_bracket"] * 3, ["t Try it yourself", "[ ] Part", "n p Row"]),
    ("gradient_descent", [], ["esc Lessons", "r Reset", "t Try it yourself", "s One step"]),
    ("backprop", [], ["esc Lessons", "r Reset", "t Try it yourself", "b Step back",
                      "u Update"]),
]


def _region_text(lines: list[str], region) -> list[str]:
    return [line[region.x:region.right] for line in lines[region.y:region.bottom]]


@pytest.mark.parametrize("key,keys,entries", FOOTERS, ids=[
    "forward", "many_rows", "deeper", "errors", "errors-part4", "gradient_descent", "backprop"])
@run_async
async def test_the_lessons_own_keys_fit_in_the_footer(key, keys, entries):
    app = LessonApp(key)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        footer = screen_lines(app)[-1]
        for entry in entries:
            assert entry in footer, footer


@pytest.mark.parametrize("key", ["forward", "many_rows", "deeper", "errors", "gradient_descent",
                                 "backprop"])
@run_async
async def test_the_whole_network_and_its_hint_line_fit(key):
    app = LessonApp(key)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query_one(NetworkView)
        assert view.region.right <= SIZE[0] and view.size.height >= 12
        drawing = _region_text(screen_lines(app), view.region)
        lay = view.layout()
        for c, column in enumerate(view.diagram.columns):
            for i, node in enumerate(column):
                x, y = lay.xs[c], lay.ys[c][i]
                assert x + lay.cw[c] <= view.size.width, (node.name, x, lay.cw[c])
                assert node.name in drawing[y - 1], (node.name, drawing[y - 1])
                assert fmt(node.value) in drawing[y][x:x + lay.cw[c]], (node.name, drawing[y])
        assert "←↑↓→/tab move · type a number + Enter to edit" in drawing[-1]


@pytest.mark.parametrize("key,keys", [("many_rows", []), ("errors", ["right_square_bracket"] * 3)])
@run_async
async def test_the_rows_table_fits_under_the_drawing(key, keys):
    app = LessonApp(key)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        table = app.screen.query_one("#rows", DataTable)
        assert table.virtual_size.width <= table.size.width       # nothing to scroll to
        shown = _region_text(screen_lines(app), table.region)
        headings = [str(c.label) for c in table.ordered_columns]
        assert shown[0].split() == headings
        last = str(table.ordered_columns[-1].key.value)
        for r in range(table.row_count):
            cell = str(table.get_cell(str(r), last)).replace("[b]", "").replace("[/b]", "")
            assert shown[1 + r].split()[-1] == cell, shown
        assert table.region.bottom <= SIZE[1] - 1                # above the footer


@run_async
async def test_the_descent_plot_keeps_its_axis_above_the_footer():
    app = LessonApp("gradient_descent")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        plot = app.screen.query_one(PlotextPlot)
        assert plot.region.bottom <= SIZE[1] - 1 and plot.size.height >= 8
        shown = _region_text(screen_lines(app), plot.region)
        assert shown[-1].split() == ["0", "5", "10", "15", "20"], shown
        assert sum("█" in line for line in shown) >= 3      # bars of several heights


@run_async
async def test_the_menu_lists_every_lesson_with_its_summary_wrapped_under_itself():
    from tui.app.lessons.catalog import LESSONS

    app = LessonApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        menu = app.screen.query_one("#lessons-menu")
        assert menu.region.bottom <= SIZE[1] - 1
        lines = [line.rstrip() for line in _region_text(screen_lines(app), menu.content_region)]
        starts = [i for i, line in enumerate(lines) if line[:2] in {f"{le.letter}." for le in LESSONS}]
        assert len(starts) == len(LESSONS)
        column = lines[starts[0]].index(LESSONS[0].summary[:10])
        for lesson, start, end in zip(LESSONS, starts, [*starts[1:], len(lines)]):
            assert lines[start].startswith(f"{lesson.letter}. {lesson.title}")
            # the summary's lines, each starting at the summary's column
            parts = [lines[start][column:]]
            for line in lines[start + 1:end]:
                assert line[:column].strip() == "", line
                parts.append(line[column:])
            assert " ".join(p.strip() for p in parts if p.strip()) == lesson.summary
