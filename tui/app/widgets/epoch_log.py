"""The training screen's epoch table: a Log that follows the newest epoch unless
the learner has scrolled up to read older ones."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log


class EpochLog(Log):
    """``append(lines)`` writes the rows and keeps the newest in view while the
    learner has not scrolled away from the end.

    Log's own auto-scroll follows only while the scroll position equals the end
    exactly, and the end moves whenever the table's height changes (the status
    or stats line above it growing to two lines): after that it never followed
    again. Here the table follows while the position is where the last append
    left it (or at the end): only the learner moves it elsewhere.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes, max_lines=None, auto_scroll=False)
        self._followed_to = 0

    @property
    def following(self) -> bool:
        return self.scroll_offset.y >= self._followed_to or self.is_vertical_scroll_end

    def append(self, lines: Iterable[str]) -> None:
        follow = self.following
        self.write_lines(lines, scroll_end=False)
        if follow:
            self._to_end()

    def _to_end(self) -> None:
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._followed_to = self.max_scroll_y

    def on_resize(self) -> None:
        """Shorter or taller (a line above it grew): the newest epoch stays in view."""
        if self.following:
            self.call_after_refresh(self._to_end)
