"""The one reporting callback: what every front end hears of a run.

A ``Reporter`` is an engine ``Callback`` that turns training into a few events,
each ``send(kind, *args)``:

- ``("started", params, device)`` when training begins;
- ``("batch", epoch, batch, steps, logs, samples_per_s, elapsed_s)`` at most every
  ``batch_interval_s`` seconds (a newer one may replace an older one unread);
- ``("epochs", epoch, logs, elapsed_s, samples_per_s, earlier)``: every epoch,
  coalesced, at most every ``batch_interval_s`` (the first epoch, a pause and the end
  at once); ``earlier`` lists the (epoch, logs) finished since the last report, so no
  epoch is ever lost; each epoch's logs carry its own seconds under EPOCH_TIME_KEY;
- ``("weights", epochs_done, batch, weights)``: the model's current weights (Keras'
  layout), only when asked for (``weights_interval_s``), at most that often, with the
  epochs' reports and while paused: what a front end draws a small model's decision
  boundary and neurons from while it trains; ``epochs_done`` epochs have finished and
  ``batch`` batches of the next (None at an epoch's end);
- ``("paused", True | False)``.

The runner adds ``("finished", run)`` when the run has ended. Each event costs the
front end (a UI thread, a pipe), so fast epochs are not reported one by one. Time
spent paused, or waiting out the pace, is not counted in ``elapsed_s`` or
``samples_per_s``. The Reporter asks its control (``Control`` or ``PipeControl``) at
every batch boundary and epoch end: pause blocks there (a pause asked for late in an
epoch holds at its end), stop asks the model to stop after the current batch, a step
asked for while paused lets one epoch (up to its end) or one batch through and pauses
again, and the pace makes each epoch last at least 1/pace seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ..callbacks import Callback

#: The key under which each epoch's seconds (pauses left out) travel beside its metrics.
EPOCH_TIME_KEY = "epoch_time_s"
#: Every kind of event, in the order a run sends them.
EVENTS = ("started", "batch", "epochs", "weights", "paused", "finished")


class Reporter(Callback):
    """Reports training as events to ``send`` (see the module's docstring) and obeys
    ``control`` at batch boundaries."""

    def __init__(self, send: Callable[..., None] | None, control: Any,
                 batch_interval_s: float = 0.1, epoch_interval_s: float | None = None,
                 weights_interval_s: float | None = None) -> None:
        super().__init__()
        self._send = send
        self.control = control
        self._stepping: str | None = None    # a step being trained: "epoch" or "batch"
        self.batch_interval_s = batch_interval_s
        #: epochs are reported this often at most (the batch interval unless given: 0
        #: reports each epoch as it ends, as a command line printing one line each does)
        self.epoch_interval_s = batch_interval_s if epoch_interval_s is None else epoch_interval_s
        #: the weights are reported this often at most (None: never)
        self.weights_interval_s = weights_interval_s
        self._pending: list[tuple[int, dict[str, float]]] = []
        self._epochs_posted_at = -math.inf
        self._weights_sent_at = -math.inf
        self._weights_where: tuple | None = None
        self.started = time.perf_counter()
        self.paused_s = 0.0
        self.samples_done = 0
        self.epoch = 0
        self.epochs_done = 0
        self.batch = None
        self.last_post = -math.inf
        self._said_paused = False
        self._epoch_ended_at = time.perf_counter()

    @property
    def batch_interval_s(self) -> float:
        """How often batches are reported, at most; what the compiled path of the NumPy
        backend reads (engine.callbacks.Callback) to size its runs of batches: 0, every
        batch, while a step of one batch is being trained."""
        return 0.0 if self._stepping == "batch" else self._batch_interval_s

    @batch_interval_s.setter
    def batch_interval_s(self, value: float) -> None:
        self._batch_interval_s = value

    def send(self, kind: str, *args: Any) -> None:
        """Report one event (subclasses send it elsewhere: a pipe, a queue)."""
        if self._send is not None:
            self._send(kind, *args)

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.paused_s = 0.0
        self.samples_done = 0
        self.epoch = 0
        self.epochs_done = 0
        self.batch = None
        self.last_post = -math.inf   # no clock origin assumed: perf_counter may start near 0
        self._pending = []
        self._epochs_posted_at = -math.inf
        self._weights_sent_at = -math.inf
        self._weights_where = None
        self._stepping = None
        self._said_paused = False
        self._epoch_ended_at = time.perf_counter()
        self.send("started", dict(self.params), getattr(self.model, "device", None))

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started - self.paused_s

    @property
    def samples_per_s(self) -> float:
        """Over the epochs finished so far, pauses left out."""
        return self._rate(self.samples_done)

    def _rate(self, samples: int) -> float:
        elapsed = self.elapsed_s
        return samples / elapsed if elapsed > 0 else 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.batch = 0
        self._epoch_began = self.elapsed_s

    def on_batch_end(self, batch, logs=None):
        self.batch = batch + 1
        control = self.control
        if control is None:
            return self._report_batch(batch, logs)
        if control.stop_requested:
            self.model.request_stop("stopped")
            return
        if self._stepping == "batch":       # the batch asked for is done: pause again
            self._stepping = None
            self._report_batch(batch, logs, force=True)
            self._hold()
            return
        if control.paused and self._stepping is None:
            self._hold()
            if control.stop_requested:
                return
        self._report_batch(batch, logs)

    def _hold(self) -> None:
        """Wait here while paused (the epochs so far, and the weights, reported first);
        a step asked for lets one epoch or batch through, still paused."""
        control = self.control
        self._post_epochs()
        self._send_weights(force=True)
        if not self._said_paused:
            self.send("paused", True)
            self._said_paused = True
        self.paused_s += control.wait_while_paused()
        if control.stop_requested:
            self.model.request_stop("stopped")
        step = control.take_step() if control.paused and not control.stop_requested else None
        if step is not None:
            self._stepping = step         # still paused: the front end keeps saying so
        elif self._said_paused:
            self.send("paused", False)
            self._said_paused = False
        self._epoch_ended_at = time.perf_counter()   # the pace counts from here

    def _report_batch(self, batch, logs, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.last_post >= self._batch_interval_s:
            self.last_post = now
            steps = self.params.get("steps", 0)
            batch_size = self.params.get("batch_size", 0)
            samples = min(self.params.get("samples", 0), (batch + 1) * batch_size)
            self.send("batch", self.epoch, batch, steps, dict(logs or {}),
                      self._rate(self.samples_done + samples), self.elapsed_s)
            self._send_weights(force)

    def _send_weights(self, force: bool = False) -> None:
        if self.weights_interval_s is None or self.model is None:
            return
        now = time.perf_counter()
        where = (self.epochs_done, self.batch)
        if (force and where != self._weights_where) or \
                now - self._weights_sent_at >= self.weights_interval_s:
            self._weights_sent_at, self._weights_where = now, where
            self.send("weights", self.epochs_done, self.batch, self.model.get_weights())

    def on_epoch_end(self, epoch, logs=None):
        self.samples_done += self.params.get("samples", 0)
        self.epochs_done = epoch + 1
        self.batch = None
        entry = {k: float(v) for k, v in (logs or {}).items()}
        entry[EPOCH_TIME_KEY] = self.elapsed_s - getattr(self, "_epoch_began", 0.0)
        self._pending.append((epoch, entry))
        control = self.control
        if control is not None and not control.stop_requested:
            if self._stepping == "epoch" or (control.paused and self._stepping is None):
                self._stepping = None      # the epoch asked for, or a pause late in it
                self._hold()
                return
            pace = control.pace
            if pace is not None:
                self._keep_pace(control, pace)
                return
        if time.perf_counter() - self._epochs_posted_at >= self.epoch_interval_s:
            self._post_epochs()

    def _keep_pace(self, control: Any, pace: float) -> None:
        """Report the epoch (each one when the pace is slow enough, else as often as the
        epoch interval allows) and wait out the rest of its 1/pace seconds; a pause asked
        for meanwhile holds here."""
        if time.perf_counter() - self._epochs_posted_at >= min(self.epoch_interval_s,
                                                               0.9 / pace):
            self._post_epochs()
        wait = 1.0 / pace - (time.perf_counter() - self._epoch_ended_at)
        if wait > 0:
            self.paused_s += control.wait_pace(wait)
        self._epoch_ended_at = time.perf_counter()
        if control.stop_requested:
            self.model.request_stop("stopped")
        elif control.paused:
            self._hold()

    def on_train_end(self, logs=None):
        self._post_epochs()

    def flush(self) -> None:
        """Report the epochs still waiting (training ended by an exception, Ctrl+C
        included: every finished epoch is still heard, and kept)."""
        self._post_epochs()

    def _post_epochs(self) -> None:
        if not self._pending:
            return
        *earlier, (epoch, logs) = self._pending
        self._pending = []
        self._epochs_posted_at = time.perf_counter()
        self.send("epochs", epoch, logs, self.elapsed_s, self.samples_per_s, earlier)
        self._send_weights()


def epochs_of(args: tuple) -> list[tuple[int, dict[str, float]]]:
    """The (epoch, logs) pairs an ``epochs`` event carries, oldest first."""
    epoch, logs, _elapsed, _rate, earlier = args
    return [*earlier, (epoch, logs)]


def metrics_only(logs: dict[str, float]) -> dict[str, float]:
    """An epoch's logs without the Reporter's own keys (what the history keeps)."""
    return {k: v for k, v in logs.items() if k != EPOCH_TIME_KEY}
