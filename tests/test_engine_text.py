"""engine.text: user text made safe to print (issue #14, item 22)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.content import Content

from engine.text import BIDI_CONTROLS, markup, printable

UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")


@pytest.mark.parametrize("raw,shown", [
    ("\x1b]0;PWNED\x07", "\\x1b]0;PWNED\\x07"),
    ("red\x1b[31m!", "red\\x1b[31m!"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("csi\x9b2J", "csi\\x9b2J"),
    ("abc\u202egpj.exe", "abc\\u202egpj.exe"),
    ("line\u2028sep", "line\\u2028sep"),
    ("plain [b] é 数 🙂 \\x", "plain [b] é 数 🙂 \\x"),
    (3.5, "3.5"),
])
def test_printable_shows_control_characters_as_escapes(raw, shown):
    assert printable(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_printable_leaves_nothing_a_terminal_obeys_and_changes_nothing_else(text):
    shown = printable(text)
    assert UNSAFE.search(shown) is None
    assert printable(shown) == shown                       # idempotent
    if UNSAFE.search(text) is None:
        assert shown == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]/\\b@$=ax \x1b\x07é"), min_size=1, max_size=20))
def test_markup_shows_the_text_as_typed_inside_any_textual_markup(text):
    """Alone or between tags, the text renders as printable(text) with no style of its own."""
    expected = printable(text) + ("\u200b" if printable(text).endswith("\\") else "")
    alone = Content.from_markup(markup(text))
    assert alone.plain == expected and not alone.spans
    wrapped = Content.from_markup(f"[b]{markup(text)}[/b] after [i]x[/i]")
    assert wrapped.plain == f"{expected} after x"
    assert [(s.start, s.end, str(s.style)) for s in wrapped.spans] == \
        [(0, len(expected), "b"), (len(expected) + 7, len(expected) + 8, "i")]
