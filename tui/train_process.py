"""The NumPy backend trains in a child process, so drawing never slows it.

A training thread shares Python's lock (the GIL) with the UI thread: each
millisecond the app spends drawing charts or laying out the screen is one the
training thread waits, and a 10-epoch MNIST run lost 10-25% of its speed to it
(bench/tui_throughput.py). A child process has an interpreter of its own, so on
two cores the UI draws while the child trains.

The training screen's thread worker still owns the run: ``train_in_child`` runs
there, hands the job to a child, turns the child's events into the same messages
the in-thread callback posts, and passes pause, resume and stop on. The child
runs the very same ``UICallback``, ``make_callbacks`` and ``fit``, and sends back
the history and the weights; the parent rebuilds the model from them, so the
results screen and the run store see an ordinary model.

Both sides speak pickled tuples over two pipes:

- to the child: ``("job", config, data, weights, batch_interval_s)``, then
  ``("pause",)``, ``("resume",)``, ``("stop",)``; ``("exit",)`` or the pipe's end
  ends the child.
- from the child: ``(kind, *args)`` for each ``UICallback`` event, then
  ``("done", history, weights)`` or ``("error", exception, traceback_text)``.

One child is kept warm between runs (importing NumPy and the engine takes it
about 0.3 s). Where no child can be started, the run trains in the thread as
before, and a child that dies mid-run fails the run with its exit code.
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

#: Seconds the parent waits for the child's next event before passing on pause or stop.
RELAY_POLL_S = 0.05
#: Set to 1 to train the NumPy backend in the worker thread instead.
NO_CHILD_ENV = "DEEPTERM_NO_CHILD"


class ChildDied(RuntimeError):
    """The training process ended without reporting a result."""


class NoChild(OSError):
    """No training process could be started here (the run trains in the thread)."""


# -- the parent's side -----------------------------------------------------------------


class Child:
    """One training process and the parent's ends of its two pipes."""

    def __init__(self) -> None:
        if not sys.executable:   # an embedded interpreter: nothing to start
            raise NoChild("cannot start a training process: no Python executable")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parent.parent)   # where ``tui`` and ``engine`` live
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tui.train_process", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=env, cwd=root,
                # the terminal's signals (Ctrl+C, hang-up) go to the app, which stops the run
                start_new_session=True)
        except (OSError, ValueError) as error:   # ValueError: no pass_fds (Windows)
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise NoChild(f"cannot start a training process: {error}") from error
        os.close(to_child_r)
        os.close(from_child_w)
        self.commands = Connection(to_child_w, readable=False)
        self.events = Connection(from_child_r, writable=False)

    def close(self, wait_s: float = 2.0) -> None:
        """Ask the child to exit, and kill it if it has not within ``wait_s``."""
        try:
            self.commands.send(("exit",))
        except OSError:
            pass
        for conn in (self.commands, self.events):
            conn.close()
        try:
            self.process.wait(wait_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def died(self) -> ChildDied:
        code = self.process.wait(5)
        return ChildDied(f"the training process ended unexpectedly (exit code {code})")


_idle: list[Child] = []
_idle_lock = threading.Lock()


def _acquire() -> Child:
    """A waiting child, or a new one; NoChild where none may or can start."""
    if os.environ.get(NO_CHILD_ENV) == "1":
        raise NoChild(f"{NO_CHILD_ENV}=1: training stays in the app's thread")
    with _idle_lock:
        while _idle:
            child = _idle.pop()
            if child.process.poll() is None:
                return child
            child.close(0)
    return Child()


def _release(child: Child) -> None:
    with _idle_lock:
        if not _idle:
            _idle.append(child)
            return
    child.close()


def prestart() -> None:
    """Start a child now (when none is waiting), so the next run need not wait for
    its imports. Quietly does nothing where children cannot be started."""
    try:
        _release(_acquire())
    except NoChild:
        pass


def shutdown() -> None:
    """End the waiting child (at exit: it would end anyway when its pipe closes)."""
    with _idle_lock:
        children = list(_idle)
        _idle.clear()
    for child in children:
        child.close()


atexit.register(shutdown)


def train_in_child(config, data, control, post: Callable[[str, tuple], None], weights=None,
                   batch_interval_s: float = 0.25):
    """Train ``config`` on ``data`` in a child process; returns (model, history,
    elapsed_s, samples_per_s), the last two as the child's callback measured them.

    Runs on the training screen's worker thread. ``post(kind, args)`` receives each
    event of the child's ``UICallback`` (see ``tui.messages.message_for``);
    ``control`` (a ``TrainingControl``) is passed on as it changes. An exception in
    the child is raised here; NoChild when no child can be started.
    """
    from .training_worker import build_model

    # the Dataset (a DataFrame and more) stays here: the child needs the arrays
    job = ("job", config, replace(data, dataset=None), weights, batch_interval_s)
    child = _acquire()
    try:
        child.commands.send(job)
    except OSError:   # the waiting child was gone (killed, or out of memory): a new one
        child.close(0)
        child = Child()
        child.commands.send(job)
    try:
        sent = (False, False)
        while True:
            state = (control.paused, control.stop_requested)
            if state != sent:
                if state[1]:
                    child.commands.send(("stop",))
                else:
                    child.commands.send(("pause",) if state[0] else ("resume",))
                sent = state
            if not child.events.poll(RELAY_POLL_S):
                if child.process.poll() is not None:
                    raise child.died()
                continue
            try:
                kind, *args = child.events.recv()
            except EOFError:
                raise child.died() from None
            if kind == "done":
                history, trained, elapsed_s, samples_per_s = args
                break
            if kind == "error":
                error, text = args
                break
            post(kind, tuple(args))
    except BaseException:
        child.close(0.5)
        raise
    _release(child)   # the child is ready for the next job, after a failed one too
    if kind == "error":
        raise error from RemoteTraceback(text)
    model = build_model(config, data, trained)
    model.history = history
    return model, history, elapsed_s, samples_per_s


class RemoteTraceback(Exception):
    """The child's traceback, chained under the exception it raised."""

    def __str__(self) -> str:
        return self.args[0]


# -- the child's side ------------------------------------------------------------------


class PipeControl:
    """The child's view of the UI's ``TrainingControl``: commands arrive on a pipe
    and are read at batch boundaries, at most every CHECK_S seconds (a look at the
    pipe costs about 4 µs, and small batches take well under a millisecond); the
    parent gone means stop."""

    CHECK_S = 0.01

    def __init__(self, commands: Connection) -> None:
        self._commands = commands
        self._paused = False
        self._stop = False
        self._checked = -math.inf

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


def _child_job(job: tuple, commands: Connection, events: Connection) -> None:
    from .training_worker import UICallback, run_training

    _, config, data, weights, batch_interval_s = job

    class PipeCallback(UICallback):
        def send(self, kind: str, *args: Any) -> None:
            events.send((kind, *args))

    callback = PipeCallback(None, PipeControl(commands), batch_interval_s)
    try:
        model, history = run_training(config, data, callback, weights=weights)
        result = ("done", history, model.get_weights(), callback.elapsed_s,
                  callback.samples_per_s)
    except Exception as error:  # noqa: BLE001 - every failure goes back to the UI
        text = traceback.format_exc()
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - an exception that does not travel as itself
            error = RuntimeError(f"{type(error).__name__}: {error}")
        events.send(("error", error, text))
        return
    events.send(result)


def child_main(commands_fd: int, events_fd: int) -> None:
    commands = Connection(commands_fd, writable=False)
    events = Connection(events_fd, readable=False)
    import engine.numpy_backend  # noqa: F401 - imported while the parent sets up, not on the job's clock

    try:
        while True:
            try:
                message = commands.recv()
            except EOFError:
                return
            if message[0] == "exit":
                return
            if message[0] == "job":
                _child_job(message, commands, events)
            # a pause, resume or stop that arrived after its run ended is dropped
    except (BrokenPipeError, ConnectionResetError):
        return   # the app is gone


if __name__ == "__main__":
    child_main(int(sys.argv[1]), int(sys.argv[2]))
