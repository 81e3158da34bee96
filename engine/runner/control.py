"""Pause, resume and stop: one control object between a front end and a run.

``Control`` is shared by threads (the app's UI thread and the thread that trains or
relays a child's events). ``PipeControl`` is the same control as a child process
sees it: commands arrive on a pipe and are read at batch boundaries. A reporting
callback (``engine.runner.reporter.Reporter``) asks either at every batch.
"""

from __future__ import annotations

import math
import threading
import time
from multiprocessing.connection import Connection


class Control:
    """Pause, resume and stop, shared between a front end and the training thread."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def toggle_pause(self) -> bool:
        """Pause if running, resume if paused; returns whether it is paused now."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run wakes up to stop

    def wait_while_paused(self, poll_s: float = 0.1) -> float:
        """Block while paused (until resumed or stopped); returns seconds waited."""
        if self._running.is_set():
            return 0.0
        started = time.perf_counter()
        while not self._running.wait(poll_s):
            if self._stop.is_set():
                break
        return time.perf_counter() - started

    @property
    def state(self) -> tuple[bool, bool]:
        """(paused, stop requested): what a relay passes on when it changes."""
        return self.paused, self.stop_requested


class PipeControl:
    """A child process's view of its parent's ``Control``: ``("pause",)``,
    ``("resume",)`` and ``("stop",)`` arrive on a pipe and are read at batch
    boundaries, at most every CHECK_S seconds (a look at the pipe costs about 4 µs,
    and small batches take well under a millisecond); the parent gone means stop."""

    CHECK_S = 0.01

    def __init__(self, commands: Connection) -> None:
        self._commands = commands
        self._paused = False
        self._stop = False
        self._checked = -math.inf   # no clock origin assumed: perf_counter may start near 0

    def _read(self, block: bool = False) -> None:
        if not block:
            now = time.perf_counter()
            if now - self._checked < self.CHECK_S:
                return
            self._checked = now
        while not self._stop and (block or self._commands.poll()):
            block = False
            try:
                command = self._commands.recv()[0]
            except (EOFError, OSError):
                command = "stop"
            self.apply(command)

    def apply(self, command: str) -> None:
        if command == "pause":
            self._paused = True
        elif command == "resume":
            self._paused = False
        elif command in ("stop", "exit"):
            self._stop, self._paused = True, False

    @property
    def paused(self) -> bool:
        self._read()
        return self._paused

    @property
    def stop_requested(self) -> bool:
        self._read()
        return self._stop

    def wait_while_paused(self) -> float:
        started = time.perf_counter()
        while self._paused and not self._stop:
            self._read(block=True)
        return time.perf_counter() - started


def command_for(state: tuple[bool, bool]) -> tuple[str]:
    """The command that brings a remote control to ``state`` (paused, stop)."""
    paused, stop = state
    if stop:
        return ("stop",)
    return ("pause",) if paused else ("resume",)
