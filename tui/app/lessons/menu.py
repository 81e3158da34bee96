"""The Lessons menu: pick a lesson, Enter opens it, Esc goes back."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..widgets.footer import AppFooter
from .backprop import BackpropScreen
from .base import CSS_FILE
from .catalog import LESSONS
from .deeper import DeeperScreen
from .errors import ErrorsScreen
from .forward import ForwardScreen
from .gradient_descent import GradientDescentScreen
from .many_rows import ManyRowsScreen

SCREENS = {
    "forward": ForwardScreen,
    "many_rows": ManyRowsScreen,
    "deeper": DeeperScreen,
    "errors": ErrorsScreen,
    "gradient_descent": GradientDescentScreen,
    "backprop": BackpropScreen,
}

INTRO = (
    "Before any training library, see how a network computes. Each lesson draws a small "
    "network whose numbers are live: move with the arrow keys or tab, type a number on an "
    "input or an edge, press Enter, and everything downstream is computed again by the "
    "engine. r restores a lesson's numbers; t opens its network in the trainer."
)


def _entry(lesson) -> Table:
    """A menu line: letter and title, then the summary, which wraps under itself
    (not under the letter) on a narrow terminal."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=25, no_wrap=True)
    grid.add_column(style="dim")
    grid.add_row(Text.from_markup(f"[b]{lesson.letter}.[/b] {lesson.title}"), lesson.summary)
    return grid


class LessonsScreen(Screen):
    """The lessons menu."""

    CSS_PATH = CSS_FILE
    BINDINGS = [
        Binding("escape", "back", "Back", id="lessons.menu_back"),
        *[Binding(lesson.letter, f"open('{lesson.key}')", lesson.title, show=False)
          for lesson in LESSONS],
    ]

    def compose(self) -> ComposeResult:
        yield Static("[b]Lessons[/b]: forward propagation, gradient descent, backpropagation",
                     id="lesson-title")
        yield Static(INTRO, id="lessons-intro")
        yield OptionList(*[Option(_entry(lesson), id=lesson.key) for lesson in LESSONS],
                         id="lessons-menu")
        yield AppFooter()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_open(event.option.id)

    def action_open(self, key: str) -> None:
        self.app.push_screen(SCREENS[key]())

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
