"""Pause, resume, stop, pace and step: one control object between a front end and a run.

``Control`` is shared by threads (the app's UI thread and the thread that trains or
relays a child's events). ``PipeControl`` is the same control as a child process
sees it: commands arrive on a pipe and are read at batch boundaries. A reporting
callback (``engine.runner.reporter.Reporter``) asks either at every batch and epoch end.

- pause / resume / stop: as ever; a paused run waits at a batch boundary (or at the
  end of an epoch);
- pace: at most this many epochs per second (None: as fast as possible); the run
  waits out the rest of each epoch's share of a second, and that wait, like a pause,
  is not counted in its speed;
- step: while paused, let one more epoch (``step("epoch")``) or one more batch
  (``step("batch")``) train, then pause again.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from multiprocessing.connection import Connection

#: What ``step`` takes: one epoch, or one batch.
STEP_UNITS = ("epoch", "batch")


def check_pace(pace: float | None) -> float | None:
    """None (as fast as possible) or a finite number of epochs per second > 0."""
    if pace is None:
        return None
    if isinstance(pace, bool) or not isinstance(pace, (int, float)) or not math.isfinite(pace) \
            or pace <= 0:
        raise ValueError(f"pace must be None (as fast as possible) or a number of epochs per "
                         f"second > 0, got {pace!r}")
    return float(pace)


class Control:
    """Pause, resume, stop, pace and step, shared between a front end and the training
    thread (or the thread that relays them to a child process)."""

    def __init__(self, pace: float | None = None) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._pace = check_pace(pace)
        self._steps: deque[str] = deque()
        self._version = 0     # bumped by every command: waits wake up to look again

    def _command(self, **changes) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(self, name, value)
            self._version += 1
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def pace(self) -> float | None:
        """Epochs per second at most, or None: as fast as possible."""
        return self._pace

    def pause(self) -> None:
        self._command(_paused=True)

    def resume(self) -> None:
        self._command(_paused=False)

    def toggle_pause(self) -> bool:
        """Pause if running, resume if paused; returns whether it is paused now."""
        with self._cond:
            paused = not self._paused
        self._command(_paused=paused)
        return paused

    def stop(self) -> None:
        self._command(_stop=True, _paused=False)   # a paused run wakes up to stop

    def set_pace(self, pace: float | None) -> None:
        self._command(_pace=check_pace(pace))

    def step(self, unit: str = "epoch") -> None:
        """Ask a paused run for one more epoch or batch (a running run ignores it)."""
        if unit not in STEP_UNITS:
            raise ValueError(f"step takes 'epoch' or 'batch', got {unit!r}")
        with self._cond:
            self._steps.append(unit)
            self._version += 1
            self._cond.notify_all()

    def take_step(self) -> str | None:
        """The oldest step asked for and not yet taken ("epoch" or "batch"), or None."""
        with self._cond:
            return self._steps.popleft() if self._steps else None

    def take_steps(self) -> list[str]:
        """Every step asked for and not yet taken (a relay passes them on)."""
        with self._cond:
            steps = list(self._steps)
            self._steps.clear()
            return steps

    def wait_while_paused(self, poll_s: float = 0.1) -> float:
        """Block while paused, until resumed, stopped or asked for a step; returns
        seconds waited."""
        started = time.perf_counter()
        with self._cond:
            while self._paused and not self._stop and not self._steps:
                self._cond.wait(poll_s)
        return time.perf_counter() - started

    def wait_pace(self, seconds: float) -> float:
        """Wait up to ``seconds`` (an epoch's share of a second at the pace), less when a
        command arrives (pause, stop, a new pace); returns seconds waited."""
        started = time.perf_counter()
        deadline = started + seconds
        with self._cond:
            version = self._version
            while self._version == version:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
        return time.perf_counter() - started

    @property
    def state(self) -> tuple[bool, bool]:
        """(paused, stop requested): what a relay passes on when it changes."""
        return self._paused, self._stop


class PipeControl:
    """A child process's view of its parent's ``Control``: ``("pause",)``,
    ``("resume",)``, ``("stop",)``, ``("pace", epochs_per_s | None)`` and ``("step",
    "epoch" | "batch")`` arrive on a pipe and are read at batch boundaries, at most every
    CHECK_S seconds (a look at the pipe costs about 4 µs, and small batches take well
    under a millisecond); the parent gone means stop."""

    CHECK_S = 0.01

    def __init__(self, commands: Connection) -> None:
        self._commands = commands
        self._paused = False
        self._stop = False
        self._pace: float | None = None
        self._steps: deque[str] = deque()
        self._checked = -math.inf   # no clock origin assumed: perf_counter may start near 0

    def _read(self, block: bool = False, timeout: float | None = None) -> bool:
        """Apply the commands waiting on the pipe; ``block`` waits for one (at most
        ``timeout`` seconds). Returns whether any arrived."""
        if not block:
            now = time.perf_counter()
            if now - self._checked < self.CHECK_S:
                return False
            self._checked = now
        elif timeout is not None and not self._commands.poll(timeout):
            return False
        got = False
        while not self._stop and (block or self._commands.poll()):
            block = False
            try:
                command = self._commands.recv()
            except (EOFError, OSError):
                command = ("stop",)
            self.apply(*command)
            got = True
        return got

    def apply(self, command: str, *args) -> None:
        if command == "pause":
            self._paused = True
        elif command == "resume":
            self._paused = False
        elif command in ("stop", "exit"):
            self._stop, self._paused = True, False
        elif command == "pace":
            self._pace = args[0]
        elif command == "step":
            self._steps.append(args[0])

    @property
    def paused(self) -> bool:
        self._read()
        return self._paused

    @property
    def stop_requested(self) -> bool:
        self._read()
        return self._stop

    @property
    def pace(self) -> float | None:
        self._read()
        return self._pace

    def take_step(self) -> str | None:
        return self._steps.popleft() if self._steps else None

    def wait_while_paused(self) -> float:
        started = time.perf_counter()
        while self._paused and not self._stop and not self._steps:
            self._read(block=True)
        return time.perf_counter() - started

    def wait_pace(self, seconds: float) -> float:
        """Wait up to ``seconds``, less when a command arrives."""
        started = time.perf_counter()
        self._read(block=True, timeout=max(0.0, seconds))
        return time.perf_counter() - started


def command_for(state: tuple[bool, bool]) -> tuple[str]:
    """The command that brings a remote control to ``state`` (paused, stop)."""
    paused, stop = state
    if stop:
        return ("stop",)
    return ("pause",) if paused else ("resume",)


class Relay:
    """What a relay has passed on to a remote control so far, and the commands that
    bring it up to date with a local ``Control`` (pause/resume/stop, pace, steps)."""

    def __init__(self) -> None:
        self.state = (False, False)
        self.pace: float | None = None

    def commands(self, control: Control | None) -> list[tuple]:
        if control is None:
            return []
        out: list[tuple] = []
        state = control.state
        if state != self.state:
            out.append(command_for(state))
            self.state = state
        pace = control.pace
        if pace != self.pace:
            out.append(("pace", pace))
            self.pace = pace
        out += [("step", unit) for unit in control.take_steps()]
        return out
