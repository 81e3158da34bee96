"""Text that came from a user or a file (run labels, dataset and CSV column names,
class names, file paths), made safe to show.

    printable("a\\x1b]0;PWNED\\x07b")   # 'a\\\\x1b]0;PWNED\\\\x07b': the escape shown, not obeyed
    markup("[b]name[/b]")             # '\\\\[b]name\\\\[/b]': shown as typed in a Textual widget

``printable`` writes every control character (C0, DEL, C1), line and paragraph
separator and bidirectional-override character as a visible escape (``\\x1b``,
``\\n``, ``\\u202e``), so such text cannot move the cursor, retitle the window,
reorder a line or start a new one. The command line prints user text through
it; the app passes it through ``markup`` wherever it goes into a Textual
markup string (Static, Label, notify, Select and OptionList prompts), and
through ``printable`` into a ``rich.text.Text`` where a widget would read Rich
markup (DataTable cells). Nothing here imports a UI toolkit.
"""

from __future__ import annotations

import re
from typing import Any

#: Bidirectional formatting characters (Unicode's "Trojan source" set): ALM, LRM, RLM,
#: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any) -> str:
    """``str(text)`` with each control, separator and bidi-override character written
    as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``); everything else as it is."""
    return _UNSAFE.sub(_escape, str(text))


def markup(text: Any) -> str:
    """``printable(text)``, escaped for Textual's markup: every ``[`` as ``\\[``, so a
    name like ``[b]x[/b]`` or ``[@click=app.quit]`` shows as typed; a trailing
    backslash is followed by a zero-width space so that it cannot escape the
    markup that comes after it."""
    safe = printable(text).replace("[", "\\[")
    return safe + "\u200b" if safe.endswith("\\") else safe
