"""Every key of every screen, read from the bindings themselves so it stays true."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA = {
    "Everywhere": [("ctrl+p", "command palette: presets, screens, themes"),
                   ("letters and digits", "type into the text field that has the focus"),
                   ("tab / shift+tab", "move between fields")],
    "Setup": [("↑/↓ in the dataset list", "choose a dataset"),
              ("enter on a button", "press it")],
    "Training": [("arrow keys on the network", "two-feature data: select a neuron (or an "
                  "input, or the output) and see its picture large"),
                 ("click a neuron", "the same")],
    "Results": [("←/→ on the digits", "browse the images"), ("m", "next wrong prediction"),
                ("arrow keys on the network", "the Boundary tab: select a neuron")],
    "Runs": [("enter", "select the run under the cursor"),
             ("click a column header", "sort by that column")],
    "Sweep": [("tab", "choose the source, setting and values")],
    "Lessons": [("arrow keys", "move between nodes and edges of the drawing"),
                ("enter or a digit", "edit the value under the cursor"),
                ("each lesson", "shows its own keys (step, next part…) in the footer")],
}


def _key_name(key: str) -> str:
    names = {"escape": "esc", "question_mark": "?", "pagedown": "page down", "pageup": "page up",
             "slash": "/", "space": "space", "minus": "-", "plus": "+", "equals_sign": "="}
    return " / ".join(names.get(k, k) for k in key.split(","))


def bindings_table(title: str, bindings, extra=()) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False,
                  show_edge=False, pad_edge=False, expand=False, box=None)
    table.add_column("key", style="bold cyan", min_width=26, max_width=26, no_wrap=True)
    table.add_column("action", min_width=40)
    seen = set()
    for b in bindings:
        if isinstance(b, tuple):
            b = Binding(*b)
        if not (b.description or b.tooltip) or b.key in seen:
            continue
        seen.add(b.key)
        table.add_row(_key_name(b.key), b.tooltip or b.description)
    for key, text in extra:
        table.add_row(key, text)
    return table


class HelpScreen(ModalScreen[None]):
    """A scrollable list of the keys on each screen; any of esc, q, ? or f1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close help", id="help-close")]

    def compose(self) -> ComposeResult:
        from ..lessons.base import LessonScreen
        from ..widgets.digit_browser import DigitBrowser
        from .results import ResultsScreen
        from .runs import RunsScreen
        from .setup import SetupScreen
        from .sweep import SweepScreen
        from .training import TrainingScreen

        sections = [
            ("Everywhere", list(self.app.BINDINGS), EXTRA["Everywhere"]),
            ("Setup", SetupScreen.BINDINGS, EXTRA["Setup"]),
            ("Training", TrainingScreen.BINDINGS, EXTRA["Training"]),
            ("Results", list(ResultsScreen.BINDINGS) + list(DigitBrowser.BINDINGS), EXTRA["Results"]),
            ("Runs (f3)", RunsScreen.BINDINGS, EXTRA["Runs"]),
            ("Sweep (w on the setup screen)", SweepScreen.BINDINGS, EXTRA["Sweep"]),
            ("Lessons (f2)", LessonScreen.BINDINGS, EXTRA["Lessons"]),
        ]
        with VerticalScroll(id="help-box"):
            yield Static("[b]deepterm keys[/]   (esc closes)", classes="dialog-title")
            for title, bindings, extra in sections:
                yield Static(bindings_table(title, bindings, extra), classes="help-section")

    def action_close(self) -> None:
        self.dismiss(None)
