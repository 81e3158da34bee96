"""A small App that shows one lesson screen (or the menu), for tests and tmux."""

from __future__ import annotations

from textual.app import App

from tui.app.lessons import SCREENS, LessonsScreen


def screen_lines(app) -> list[str]:
    """The terminal's lines as the learner sees them (the top screen, composited)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


class LessonApp(App):
    def __init__(self, key: str | None = None, trainer: bool = False) -> None:
        super().__init__()
        self.key = key
        self.opened: list = []
        if trainer:
            self.open_trainer = lambda spec, dataset, weights=None: self.opened.append(
                (spec, dataset, weights))

    def on_mount(self) -> None:
        self.push_screen(SCREENS[self.key]() if self.key else LessonsScreen())


if __name__ == "__main__":
    import sys

    LessonApp(sys.argv[1] if len(sys.argv) > 1 else None).run()
