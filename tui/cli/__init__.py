"""The command line, deepterm's other front end (click; it never imports Textual):
``deepterm train``, ``sweep``, ``runs``, ``compare``, ``datasets``, ``predict``, ``serve``. It
trains through ``engine.runner``, as the app (``tui.app``) does. The commands are in
``tui.cli.commands``; those that take a model elsewhere in ``tui.cli.models``, and
``serve`` (the app in a browser) in ``tui.cli.serve``."""

from . import models, serve  # noqa: F401 - register predict and serve on the command group
from .commands import *  # noqa: F403 - the command line's names, as tests and scripts use them
from .commands import cli, run_cli  # noqa: F401
