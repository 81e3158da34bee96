"""The footer every screen shows: compact, and without the command palette's
entry below 100 columns, so the screen's own keys and f1/f2/f3 fit at 80."""

from __future__ import annotations

from textual.widgets import Footer

#: Below this many columns the footer leaves out "^p palette" (ctrl+p still opens it).
PALETTE_MIN_WIDTH = 100


class AppFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "size", self._fit, init=True)

    def _fit(self, size) -> None:
        self.show_command_palette = size.width >= PALETTE_MIN_WIDTH
