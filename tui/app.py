"""Placeholder app until the trainer TUI lands."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class DeeptermApp(App):
    TITLE = "deepterm"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("deepterm: the trainer screens are on their way. Press q to quit.")
        yield Footer()
