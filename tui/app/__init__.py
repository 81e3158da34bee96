"""The Textual app, one of deepterm's two front ends: the trainer in the terminal
(screens, widgets, lessons, their styles). It trains through ``engine.runner``, as the
command line (``tui.cli``) does; nothing below it imports Textual."""

from .app import DeeptermApp, describe_devices, run_app

__all__ = ["DeeptermApp", "describe_devices", "run_app"]
