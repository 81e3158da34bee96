"""Training off the UI thread: a control object, the callback that reports to
the UI, and the data preparation that turns a TrainConfig into arrays.

Nothing here touches a widget, and nothing imports Textual at import time: the
NumPy backend's child process (``tui.train_process``) runs this callback too.
The callback reports through ``send`` (messages posted to the UI, thread-safe)
and checks its control at every batch boundary: pause blocks training there,
stop asks the model to stop after the current batch.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import Callback, EarlyStopping, ModelSpec

from .config import TrainConfig


class TrainingControl:
    """Pause, resume and stop, shared between the UI and the training thread."""

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


#: The key under which UICallback reports each epoch's seconds beside its metrics.
EPOCH_TIME_KEY = "epoch_time_s"


class UICallback(Callback):
    """Reports training to ``target`` (anything with a thread-safe
    ``post_message``): ``EpochEnded`` at most every ``batch_interval_s`` seconds,
    carrying every epoch finished since the last one (the first epoch, a pause and
    the end of training are reported at once), and ``BatchProgress`` at most as
    often. Each message costs the UI thread, so fast epochs are not reported one
    by one. Time spent paused is not counted in ``elapsed_s`` or ``samples_per_s``.

    ``control`` is a ``TrainingControl`` or anything with its ``paused``,
    ``stop_requested`` and ``wait_while_paused``; ``send(kind, *args)`` reports one
    event (see ``tui.messages.message_for``), posted to ``target`` here and sent
    down a pipe in the child process."""

    def __init__(self, target: Any, control: TrainingControl, batch_interval_s: float = 0.1) -> None:
        super().__init__()
        self.target = target
        self.control = control
        self.batch_interval_s = batch_interval_s
        self._pending: list[tuple[int, dict[str, float]]] = []
        self._epochs_posted_at = -math.inf

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.paused_s = 0.0
        self.samples_done = 0
        self.epoch = 0
        self.last_post = -math.inf   # no clock origin assumed: perf_counter may start near 0 at boot
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
        self.epoch_samples = 0
        self._epoch_began = self.elapsed_s

    def on_batch_end(self, batch, logs=None):
        control = self.control
        if control.stop_requested:
            self.model.request_stop("stopped")
            return
        if control.paused:
            self._post_epochs()
            self.send("paused", True)
            self.paused_s += control.wait_while_paused()
            self.send("paused", False)
            if control.stop_requested:
                self.model.request_stop("stopped")
                return
        now = time.perf_counter()
        if now - self.last_post >= self.batch_interval_s:
            self.last_post = now
            steps = self.params.get("steps", 0)
            batch_size = self.params.get("batch_size", 0)
            samples = min(self.params.get("samples", 0), (batch + 1) * batch_size)
            self.send("batch", self.epoch, batch, steps, dict(logs or {}),
                      self._rate(self.samples_done + samples), self.elapsed_s)

    def on_epoch_end(self, epoch, logs=None):
        self.samples_done += self.params.get("samples", 0)
        entry = {k: float(v) for k, v in (logs or {}).items()}
        # the epoch's own time, pauses left out: the table's time per epoch and per step
        entry[EPOCH_TIME_KEY] = self.elapsed_s - getattr(self, "_epoch_began", 0.0)
        self._pending.append((epoch, entry))
        if time.perf_counter() - self._epochs_posted_at >= self.batch_interval_s:
            self._post_epochs()

    def on_train_end(self, logs=None):
        self._post_epochs()

    def _post_epochs(self) -> None:
        if not self._pending:
            return
        *earlier, (epoch, logs) = self._pending
        self._pending = []
        self._epochs_posted_at = time.perf_counter()
        self.send("epochs", epoch, logs, self.elapsed_s, self.samples_per_s, earlier)

    def send(self, kind: str, *args: Any) -> None:
        """Report one event to the UI as a message posted to ``target``."""
        from .messages import message_for

        self.target.post_message(message_for(kind, *args))


# -- data -----------------------------------------------------------------------------


@dataclass
class PreparedData:
    """Arrays ready for ``fit``: X (standardized when asked), y in the form
    the loss needs, and the validation rows that ``validation_split`` takes."""

    spec: ModelSpec
    X: np.ndarray
    y: np.ndarray
    split_at: int
    dataset: Any
    preprocessing: dict[str, Any] | None = None
    fit_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def X_val(self) -> np.ndarray:
        return self.X[self.split_at:]

    @property
    def val_rows(self) -> np.ndarray:
        """Row indices (in the dataset) of the validation rows."""
        return np.arange(self.split_at, len(self.X))


def split_index(n: int, validation_split: float) -> int:
    """Where Keras' ``validation_split`` cuts n rows (the last fraction validates)."""
    if validation_split <= 0:
        return n
    return int(math.floor(n * (1.0 - validation_split)))


def prepare(config: TrainConfig, dataset: Any) -> PreparedData:
    """Turn a config and a loaded Dataset into fit-ready arrays (may raise ValueError)."""
    spec = config.spec(dataset.X.shape[1])
    X = np.asarray(dataset.X, dtype=np.float32)
    y = dataset.targets_for(config.loss) if hasattr(dataset, "targets_for") else dataset.y
    split_at = split_index(len(X), config.validation_split)
    if config.validation_split > 0 and (split_at == 0 or split_at == len(X)):
        raise ValueError(f"validation split {config.validation_split:g} leaves no rows for "
                         f"training or for validation out of {len(X)}")
    preprocessing = None
    if config.standardize:
        from datasets import Standardizer

        scaler = Standardizer().fit(X[:split_at])
        X = np.asarray(scaler.transform(X), dtype=np.float32)
        preprocessing = scaler.to_dict()
    return PreparedData(spec=spec, X=X, y=y, split_at=split_at, dataset=dataset,
                        preprocessing=preprocessing, fit_kwargs=config.fit_kwargs())


def make_callbacks(config: TrainConfig, ui: Callback | None) -> list[Callback]:
    """The callbacks of one run: early stopping when asked, then the UI's."""
    out: list[Callback] = []
    if config.patience is not None:
        monitor = "val_loss" if config.validation_split > 0 else "loss"
        out.append(EarlyStopping(monitor=monitor, patience=config.patience,
                                 restore_best_weights=config.restore_best_weights))
    if ui is not None:
        out.append(ui)
    return out


def build_model(config: TrainConfig, data: PreparedData, weights=None):
    """The run's model, with ``weights`` loaded when given, and the metadata that
    results and the run store read (preprocessing, dataset)."""
    from engine import build

    model = build(data.spec, backend=config.backend, seed=config.seed)
    if weights is not None:
        model.set_weights(weights)
    if data.preprocessing is not None:
        model.metadata["preprocessing"] = data.preprocessing
    model.metadata["dataset"] = config.dataset_label
    return model


def run_training(config: TrainConfig, data: PreparedData, callback: Callback | None,
                 weights=None):
    """Build, (optionally) load ``weights`` and fit; returns (model, history).

    Runs on the training thread (or in the NumPy backend's child process): for
    the Keras backend this is where TensorFlow is imported if it was not yet.
    """
    model = build_model(config, data, weights)
    history = model.fit(data.X, data.y, callbacks=make_callbacks(config, callback),
                        shuffle=True, **data.fit_kwargs)
    return model, history
