"""A sweep's runs as tasks on a Dask distributed cluster, beyond one machine.

    runs = engine.runner.sweep(configs, cluster="tcp://10.0.0.5:8786")

Each run is one task (``_train_on_worker``): the worker builds the model from the
initial weights the client sends, fits it with the same ``Reporter`` every executor
uses, and puts each event on a Dask ``Queue`` that the client drains; the history and
the trained weights come back as the task's result. The client alone writes the run
store (workers may be other machines). Pause, resume, stop, the pace and steps travel
the other way through a Dask ``Variable`` the worker reads at batch boundaries (at most
every CHECK_S seconds: each read is a round trip to the scheduler): it holds
``(command, pace, steps asked so far, the last step's unit)``.

A worker that dies while training is Dask's to handle: the scheduler runs the task
again on another worker (as many times as its ``distributed.scheduler.allowed-failures``
setting allows, 3 by default); the run then starts again from its initial weights and
its record begins again. After that the run fails, alone. A stop cancels the tasks
that have not begun. A scheduler that cannot be reached is one error before any run.

Needs the ``distributed`` package (``pip install "deepterm[cluster]"``) on the
client and on every worker, with deepterm installed on the workers too.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .control import command_for

#: Seconds the client waits for a scheduler before giving up ($DEEPTERM_CLUSTER_TIMEOUT
#: sets another: a far or busy scheduler may need longer).
CONNECT_TIMEOUT_S = 10
TIMEOUT_ENV = "DEEPTERM_CLUSTER_TIMEOUT"
#: Seconds between the worker's looks at the control variable.
CHECK_S = 0.2
#: The environment variable that names a default scheduler.
CLUSTER_ENV = "DEEPTERM_CLUSTER"


class ClusterError(OSError):
    """The Dask scheduler cannot be used (unreachable, or ``distributed`` missing)."""


class NotRun(RuntimeError):
    """A stopped sweep cancelled this run's task before it began."""


def connect(address: str, timeout_s: float | None = None):
    """A distributed Client of the scheduler at ``address`` (tcp://host:port), or
    ClusterError with one line saying why not (after ``timeout_s``, by default
    CONNECT_TIMEOUT_S: distributed retries a refused connection until then)."""
    if timeout_s is None:
        timeout_s = connect_timeout()
    try:
        from distributed import Client
    except ImportError as exc:
        raise ClusterError("a Dask cluster needs the 'distributed' package: "
                           "pip install \"deepterm[cluster]\"") from exc
    try:
        return Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: "
                           f"{type(exc).__name__}: {exc}".rstrip(": ")) from None


def connect_timeout() -> float:
    """$DEEPTERM_CLUSTER_TIMEOUT (seconds > 0) when set, else CONNECT_TIMEOUT_S;
    ClusterError for a value that is not a number of seconds."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return CONNECT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ClusterError(f"${TIMEOUT_ENV} must be a number of seconds > 0 (e.g. 30), "
                           f"got {text!r}")
    return value


class DaskExecutor:
    """Trains each run as a task on the cluster at ``address`` (one client for the
    sweep, made at once: an unreachable scheduler fails before any run)."""

    name = "dask"

    def __init__(self, address: str | None = None, client: Any = None) -> None:
        address = address or os.environ.get(CLUSTER_ENV)
        if client is None and not address:
            raise ClusterError(f"no Dask scheduler given (an address, or {CLUSTER_ENV})")
        self.address = address
        self.client = client if client is not None else connect(address)

    def close(self) -> None:
        self.client.close()

    def train(self, config: Any, data: Any, weights: list, send: Callable[[str, tuple], None],
              control: Any, batch_interval_s: float, weights_interval_s: float | None = None):
        from distributed import Queue, Variable

        from .execute import build_model

        key = uuid.uuid4().hex[:12]
        events = Queue(f"deepterm-events-{key}", client=self.client)
        commands = Variable(f"deepterm-control-{key}", client=self.client)
        commands.set(("resume", None, 0, None))
        future = self.client.submit(_train_on_worker, config, replace(data, dataset=None), weights,
                                    batch_interval_s, key, weights_interval_s, pure=False,
                                    key=f"deepterm-run-{key}")
        sent = ("resume", None, 0, None)
        steps, unit = 0, None
        began = False
        try:
            while True:
                state = control.state if control is not None else (False, False)
                if control is not None:
                    taken = control.take_steps()
                    steps, unit = steps + len(taken), taken[-1] if taken else unit
                wanted = (command_for(state)[0], getattr(control, "pace", None), steps, unit)
                if wanted != sent:
                    commands.set(wanted)
                    sent = wanted
                    if state[1] and not began:
                        future.cancel()
                        raise NotRun("stopped before this run began")
                try:
                    batch = events.get(timeout=0.05, batch=True)
                except TimeoutError:
                    batch = []
                for kind, args in batch:
                    began = began or kind == "started"
                    send(kind, tuple(args))
                if not batch and future.done():
                    for kind, args in events.get(batch=True):   # what came with the end
                        send(kind, tuple(args))
                    break
            history, trained, elapsed_s, samples_per_s = future.result()
        finally:
            for thing in (events, commands):
                try:
                    thing.delete() if hasattr(thing, "delete") else thing.close()
                except Exception:  # noqa: BLE001 - cleaning up after a lost scheduler
                    pass
        model = build_model(config, data, trained)
        model.history = history
        return model, history, elapsed_s, samples_per_s


class _VariableControl:
    """The worker's view of the client's Control: a Dask Variable holding the last
    command, the pace and the steps asked so far, read at batch boundaries at most
    every CHECK_S seconds."""

    def __init__(self, variable: Any) -> None:
        self._variable = variable
        self._command = "resume"
        self._pace: float | None = None
        self._steps_seen = 0
        self._steps: list[str] = []
        self._checked = -float("inf")

    def _read(self) -> None:
        now = time.perf_counter()
        if now - self._checked < CHECK_S:
            return
        self._checked = now
        try:
            value = self._variable.get(timeout=5)
        except Exception:  # noqa: BLE001 - the client is gone: stop
            value = "stop"
        if isinstance(value, str):
            self._command = value
            return
        self._command, self._pace, steps, unit = value
        self._steps += [unit] * max(0, steps - self._steps_seen)
        self._steps_seen = steps

    @property
    def pace(self) -> float | None:
        self._read()
        return self._pace

    def take_step(self) -> str | None:
        return self._steps.pop(0) if self._steps else None

    def wait_pace(self, seconds: float) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            time.sleep(min(CHECK_S, max(0.0, seconds - (time.perf_counter() - started))))
            if self.paused or self.stop_requested:
                break
        return time.perf_counter() - started

    @property
    def paused(self) -> bool:
        self._read()
        return self._command == "pause"

    @property
    def stop_requested(self) -> bool:
        self._read()
        return self._command == "stop"

    def wait_while_paused(self) -> float:
        started = time.perf_counter()
        while self.paused and not self._steps:
            time.sleep(CHECK_S)
        return time.perf_counter() - started


def _train_on_worker(config: Any, data: Any, weights: list, batch_interval_s: float, key: str,
                     weights_interval_s: float | None = None):
    """The task: fit on this worker, reporting events to the client's queue; returns
    (history, trained weights, elapsed_s, samples_per_s)."""
    from distributed import Queue, Variable, get_client

    from .execute import execute
    from .reporter import Reporter

    client = get_client()
    events = Queue(f"deepterm-events-{key}", client=client)
    control = _VariableControl(Variable(f"deepterm-control-{key}", client=client))

    class QueueReporter(Reporter):
        def send(self, kind: str, *args: Any) -> None:
            events.put((kind, args))

    reporter = QueueReporter(None, control, batch_interval_s,
                             weights_interval_s=weights_interval_s)
    try:
        model, history = execute(config, data, reporter, weights=weights)
    except BaseException:
        reporter.flush()
        raise
    return history, model.get_weights(), reporter.elapsed_s, reporter.samples_per_s
