"""Snapshots of each lesson at its starting numbers and after one edit (100×30).

A reviewer should see the network drawn in columns, weights on the edges,
values in sign-coloured boxes, the cursor item in white and what computes it
in yellow, and the lesson's numbers on the right."""

from __future__ import annotations

import pytest
from _lessons_helpers import LessonApp

SIZE = (100, 30)

EDITS = {
    # accounts -> node_0 weight from 2 to 3: node_0 29, prediction -33
    "forward": ["right", "3", "enter"],
    # row 0's accounts from 3 to 8
    "many_rows": ["8", "enter"],
    # accounts -> node_0_0 weight from 2 to -3
    "deeper": ["right", "minus", "3", "enter"],
    # part 3: the output weight from node_1 set to 0 makes the prediction exact
    "errors": ["right_square_bracket", "right_square_bracket", "right", "right", "down",
               "right", "0", "enter"],
    # the weight from x0 from 0 to 1
    "gradient_descent": ["right", "1", "enter"],
    # accounts from 1 to 2, then two steps backwards
    "backprop": ["2", "enter", "b", "b"],
}


def test_lessons_menu(snap_compare):
    """The menu lists lessons a-f with a line each."""
    assert snap_compare(LessonApp(), terminal_size=SIZE)


@pytest.mark.parametrize("key", list(EDITS))
def test_lesson_at_start(snap_compare, key):
    """The lesson's own numbers, cursor on the first input."""
    assert snap_compare(LessonApp(key), terminal_size=SIZE)


@pytest.mark.parametrize("key", list(EDITS))
def test_lesson_after_one_edit(snap_compare, key):
    """One number edited in place; everything downstream recomputed."""
    assert snap_compare(LessonApp(key), terminal_size=SIZE, press=EDITS[key])
