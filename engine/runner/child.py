"""Runs train in child processes, so the process that watches them never slows them.

A training thread shares Python's lock (the GIL) with the thread that draws: each
millisecond an app spends drawing charts is one the training waits (a 10-epoch
MNIST run lost 10-25% of its speed to it, bench/tui_throughput.py). A child process
has an interpreter of its own, so on two cores one draws while the other trains;
a sweep's runs train in several children at once.

The parent's side (``ChildExecutor.train``) runs on a thread of the process that
started the run: it hands the job to a child, turns the child's events into the
same events an in-thread ``Reporter`` sends, and passes pause, resume and stop on.
The child builds the model from the initial weights it is given, fits it with the
same ``Reporter`` and sends back the history and the trained weights; the parent
rebuilds the model from them, so results, model files and the run store see an
ordinary model.

Both sides speak pickled tuples over two pipes:

- to the child: ``("job", config, data, weights, batch_interval_s,
  weights_interval_s, commands)`` (``commands``: what the control says already, so a
  run paused before it starts pauses at its first batch), then ``("pause",)``, ``("resume",)``, ``("stop",)``,
  ``("pace", epochs_per_s | None)``, ``("step", "epoch" | "batch")``; ``("exit",)`` or
  the pipe's end ends the child.
- from the child: ``(kind, *args)`` for each ``Reporter`` event, then
  ``("done", history, weights, elapsed_s, samples_per_s)`` or
  ``("error", exception, traceback_text)``.

Children are kept warm between runs, one per core at most (importing NumPy and the
engine takes a child about 0.3 s; a waiting child then loads the NumPy backend's
compiled training loop on a background thread, about a second more, see
engine.compiled). Where no child can be started (no ``pass_fds`` on Windows, an embedded
interpreter, a process limit, or ``DEEPTERM_NO_CHILD=1``) the run trains in the
calling thread instead; a child that dies mid-run fails that run with its exit code.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .control import PipeControl, Relay

#: Seconds the parent waits for the child's next event before passing on pause or stop.
RELAY_POLL_S = 0.05
#: Set to 1 to train in the calling thread instead.
NO_CHILD_ENV = "DEEPTERM_NO_CHILD"


class ChildDied(RuntimeError):
    """The training process ended without reporting a result."""


class NoChild(OSError):
    """No training process could be started here (the run trains in the thread)."""


# -- the parent's side -----------------------------------------------------------------


class Child:
    """One training process and the parent's ends of its two pipes. ``threads``
    caps the child's BLAS threads (a sweep's children share the cores)."""

    def __init__(self, threads: int | None = None) -> None:
        if not sys.executable:   # an embedded interpreter: nothing to start
            raise NoChild("cannot start a training process: no Python executable")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parents[2])   # where ``engine`` and ``datasets`` live
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        if threads is not None:
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = str(threads)
        self.threads = threads
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine.runner.child", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=env, cwd=root,
                # the terminal's signals (Ctrl+C, hang-up) go to the parent, which stops the run
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


def acquire(threads: int | None = None) -> Child:
    """A waiting child (with the same thread cap), or a new one; NoChild where none
    may or can start."""
    if os.environ.get(NO_CHILD_ENV) == "1":
        raise NoChild(f"{NO_CHILD_ENV}=1: training stays in the calling thread")
    with _idle_lock:
        for child in list(_idle):
            if child.threads != threads:
                continue
            _idle.remove(child)
            if child.process.poll() is None:
                return child
            child.close(0)
    return Child(threads)


def release(child: Child) -> None:
    """Keep ``child`` warm for the next run: one per core at most (a sweep's pool
    stays warm for the next sweep); others end."""
    from . import default_workers

    with _idle_lock:
        alike = sum(1 for other in _idle if other.threads == child.threads)
        if alike < default_workers():
            _idle.append(child)
            return
    child.close()


def prestart() -> None:
    """Start a child now (when none is waiting), so the next run need not wait for
    its imports. Quietly does nothing where children cannot be started."""
    try:
        release(acquire())
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


class RemoteTraceback(Exception):
    """The child's traceback, chained under the exception it raised."""

    def __str__(self) -> str:
        return self.args[0]


class ChildExecutor:
    """Trains each run in a child process (one kept warm between runs)."""

    name = "child"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def train(self, config: Any, data: Any, weights: list, send: Callable[[str, tuple], None],
              control: Any, batch_interval_s: float, weights_interval_s: float | None = None):
        """Train in a child; returns (model, history, elapsed_s, samples_per_s). ``send``
        receives each event; ``control`` is passed on as it changes. An exception in
        the child is raised here; NoChild when no child can be started."""
        from .execute import build_model

        # the Dataset (a DataFrame and more) stays here: the child needs the arrays
        relay = Relay()
        job = ("job", config, replace(data, dataset=None), weights, batch_interval_s,
               weights_interval_s, relay.commands(control))
        child = acquire(self.threads)
        try:
            child.commands.send(job)
        except OSError:   # the waiting child was gone (killed, out of memory): a new one
            child.close(0)
            child = Child(self.threads)
            child.commands.send(job)
        try:
            while True:
                for command in relay.commands(control):
                    child.commands.send(command)
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
                send(kind, tuple(args))
        except BaseException:
            child.close(0.5)
            raise
        release(child)   # the child is ready for the next job, after a failed one too
        if kind == "error":
            raise error from RemoteTraceback(text)
        model = build_model(config, data, trained)
        model.history = history
        return model, history, elapsed_s, samples_per_s


# -- the child's side ------------------------------------------------------------------


def _child_job(job: tuple, commands: Connection, events: Connection) -> None:
    from .execute import execute
    from .reporter import Reporter

    _, config, data, weights, batch_interval_s, weights_interval_s, first = job

    class PipeReporter(Reporter):
        def send(self, kind: str, *args: Any) -> None:
            events.send((kind, *args))

    control = PipeControl(commands)
    for command in first:
        control.apply(*command)
    reporter = PipeReporter(None, control, batch_interval_s,
                            weights_interval_s=weights_interval_s)
    try:
        model, history = execute(config, data, reporter, weights=weights)
        result = ("done", history, model.get_weights(), reporter.elapsed_s,
                  reporter.samples_per_s)
    except Exception as error:  # noqa: BLE001 - every failure goes back to the parent
        text = traceback.format_exc()
        reporter.flush()          # the epochs that finished are heard, and kept
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
    from engine import compiled

    # Numba and the compiled training loop load (from Numba's disk cache; compiled the
    # first time) while the child waits for its first job, so that runs in this child
    # take the compiled path from the start at no cost (engine.compiled)
    compiled.warm_in_background()

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
            # a pause, resume, stop, pace or step that arrived after its run ended is dropped
    except (BrokenPipeError, ConnectionResetError):
        return   # the parent is gone


if __name__ == "__main__":
    child_main(int(sys.argv[1]), int(sys.argv[2]))
