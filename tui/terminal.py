"""Keep native libraries' log lines off the app's screen.

TensorFlow's C++ core writes its start-up lines ("oneDNN custom operations are
on", "failed call to cuInit", ...) straight to file descriptor 2, whatever
Python's ``sys.stderr`` is, and no environment variable silences them in
TensorFlow 2.21. Textual draws the app on that same descriptor, so those lines
would land in the middle of the screen the first time the Keras backend loads.

While the app (or a command of the command line) runs, ``native_output_to_log``
gives Textual and Python's ``sys.stderr`` a descriptor of their own for the
terminal and points descriptor 2 at a log file; afterwards the terminal is
descriptor 2 again, so anything printed after the app (a traceback included)
shows as usual.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

LOG_ENV_VAR = "DEEPTERM_LOG"


def log_path() -> Path:
    """$DEEPTERM_LOG, else ``native.log`` in the user's log directory."""
    env = os.environ.get(LOG_ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_log_path

    return user_log_path("deepterm", appauthor=False) / "native.log"


@contextlib.contextmanager
def native_output_to_log(path: str | os.PathLike | None = None, *,
                         terminal_only: bool = True) -> Iterator[Path | None]:
    """Inside the block, descriptor 2 writes to ``path`` (default ``log_path()``) and
    ``sys.__stderr__`` (what Textual draws on) is a new descriptor for the terminal.

    Does nothing (yields None) when the log cannot be opened, and, with
    ``terminal_only`` (the app), when stderr is not a terminal: then nothing can be
    garbled. The command line passes False, so that a script reading its stderr
    through a pipe gets deepterm's own lines only.
    """
    stderr = sys.__stderr__
    try:
        fd = stderr.fileno() if stderr is not None else -1
        usable = fd >= 0 and (os.isatty(fd) or not terminal_only)
    except (OSError, ValueError):
        usable = False
    if not usable:
        yield None
        return
    try:
        target = Path(path) if path is not None else log_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        yield None
        return
    stderr.flush()
    terminal_fd = os.dup(fd)
    terminal = os.fdopen(terminal_fd, "w", encoding=stderr.encoding, errors=stderr.errors,
                         buffering=1)
    os.dup2(log_fd, fd)
    os.close(log_fd)
    sys.__stderr__ = terminal
    swapped = sys.stderr is stderr   # Python's own messages (click's errors) stay on screen
    if swapped:
        sys.stderr = terminal
    try:
        yield target
    finally:
        with contextlib.suppress(OSError, ValueError):
            terminal.flush()
        os.dup2(terminal_fd, fd)
        sys.__stderr__ = stderr
        if swapped and sys.stderr is terminal:
            sys.stderr = stderr
        with contextlib.suppress(OSError):
            terminal.close()
