"""The bridge between Keras' training loop and the engine's callbacks.

``KerasModel.fit`` runs ``keras.Model.fit`` with one ``EngineBridge``; the
bridge turns Keras' events into the engine's, exactly as ``NumpyModel.fit``
calls them: ``on_train_begin``; per epoch ``on_epoch_begin``, one
``on_batch_end`` per batch (running means of the epoch so far) and
``on_epoch_end`` with the epoch's logs; ``on_train_end`` with the last
epoch's logs. It also keeps the engine's History, watches for a stop request
(from a callback or another thread) after every batch and epoch, and handles
divergence by the rule NumpyModel applies (engine.callbacks.Divergence): a
non-finite loss rolls the weights and the optimizer back to the start of the
epoch, which is then not recorded, and stops with the reason ``diverged``; so
does a training loss that has exploded and stayed exploded (those epochs are
recorded).

This module imports Keras: only ``engine.keras_backend`` imports it, after
TensorFlow has loaded.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from .callbacks import CallbackList, Divergence
from .history import History


def ordered_logs(logs: dict | None, metrics: tuple[str, ...], validation: bool) -> dict[str, float]:
    """Keras' logs (sorted by name) in the engine's order: loss, the metrics,
    then their ``val_`` twins; anything else Keras adds is left out."""
    logs = logs or {}
    names = ["loss", *metrics]
    keys = names + ([f"val_{k}" for k in names] if validation else [])
    return {k: float(logs[k]) for k in keys if k in logs}


class EngineBridge(keras.callbacks.Callback):
    """One ``fit`` call's link from Keras to the engine model and callbacks."""

    def __init__(self, model: Any, callbacks: CallbackList, history: History,
                 validation: bool, divergence: Divergence | None = None) -> None:
        super().__init__()
        self.engine = model
        self.cbs = callbacks
        self.history = history
        self.validation = validation
        self.divergence = divergence or Divergence(None)
        self.metrics = model.spec.metrics
        self.last_logs: dict[str, float] = {}
        self.epochs_begun = 0  # epochs that drew a shuffle order, as NumpyModel counts them
        self._skip = False
        self._diverged = False
        self._seen = 0
        self._snapshot = None

    # -- helpers -------------------------------------------------------------

    def _halt(self) -> None:
        self.engine.keras_model.stop_training = True

    def _restore(self) -> None:
        self.engine._set_state(self._snapshot)

    def _stop_requested(self) -> bool:
        return self.engine._stop.is_set()

    # -- Keras events ----------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.cbs.on_train_begin()

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0
        self._diverged = False
        self._snapshot = self.engine._get_state()
        # NumpyModel checks for a stop before it starts an epoch. Keras cannot
        # skip an epoch, so it trains one batch that is undone and not recorded.
        self._skip = self._stop_requested()
        if self._skip:
            self._halt()
            return
        self.cbs.on_epoch_begin(epoch)
        self.epochs_begun += 1

    def on_train_batch_end(self, batch, logs=None):
        if self._skip or self._diverged:
            self._restore()
            self._halt()
            return
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(loss):
            self._diverged = True
            self._restore()
            self.engine._stop.request("diverged")
            self._halt()
            return
        self._seen += 1
        self.cbs.on_batch_end(batch, ordered_logs(logs, self.metrics, False))
        if self._stop_requested():
            self._halt()

    def on_epoch_end(self, epoch, logs=None):
        if self._skip or not self._seen and not self._diverged:
            self._halt()
            return
        if not self._diverged:
            logs = ordered_logs(logs, self.metrics, self.validation)
            weights_finite = all(np.isfinite(w).all() for w in self.engine.get_weights())
            if not weights_finite or not all(math.isfinite(v) for v in logs.values()):
                self._diverged = True
                self._restore()
                self.engine._stop.request("diverged")
        if self._diverged:
            self.history.stopped_epoch = epoch
            self._halt()
            return
        self.history.append(epoch, logs)
        self.last_logs = logs
        if self.divergence.epoch_end(logs["loss"]):   # exploded and stayed exploded
            self.engine._stop.request("diverged")
        self.cbs.on_epoch_end(epoch, logs)
        if self._stop_requested():
            self.history.stopped_epoch = epoch
            self._halt()

    def on_train_end(self, logs=None):
        history = self.history
        reason = self.engine._stop.reason or "completed"
        history.stop_reason = reason
        if reason == "completed":
            history.stopped_epoch = None
        for cb in self.cbs.callbacks:
            if getattr(cb, "best_epoch", None) is not None and hasattr(cb, "monitor"):
                history.best_epoch = cb.best_epoch
        self.cbs.on_train_end(self.last_logs)
