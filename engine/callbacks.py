"""Callbacks: how the TUI, the CLI and a notebook watch and steer training.

The same objects work on both backends. A callback sees ``self.model`` (the
engine model, with ``get_weights``/``set_weights``/``stop_training``) and
``self.params`` (epochs, steps, samples, batch_size, validation_samples).
"""

from __future__ import annotations

import math
import struct
import threading
import warnings
from collections.abc import Callable, Iterable
from numbers import Integral, Real
from typing import Any

from .errors import FitError

STOP_REASONS = ("completed", "early_stopped", "stopped", "diverged")


class StopSignal:
    """A thread-safe request to stop training, with the reason of the first request."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason: str | None = None

    def request(self, reason: str = "stopped") -> None:
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self._event.set()

    def clear(self) -> None:
        with self._lock:
            self._event.clear()
            self.reason = None

    def is_set(self) -> bool:
        return self._event.is_set()


class Callback:
    """Base class: override any of the hooks. ``logs`` maps Keras' metric
    names (loss, val_loss, accuracy, ...) to floats.

    ``batch_interval_s`` says how often a callback that overrides ``on_batch_end``
    needs it. None (the default) means after every batch: the NumPy backend then
    trains batch by batch in Python. A number of seconds means "at most about this
    often is enough": the NumPy backend may then train runs of batches in compiled
    code (engine.compiled) and call ``on_batch_end`` only at the last batch of each
    run, with the epoch's running logs, about every ``batch_interval_s`` seconds (0:
    every batch, compiled one batch at a time). The value is read again at every
    such call, so a callback can ask for single batches for a while (the runner's
    Reporter does while stepping one batch at a time). A callback that does not
    override ``on_batch_end`` needs no batches at all. See ``batch_interval_s()``.
    """

    #: None: ``on_batch_end`` after every batch; seconds: about that often is enough
    batch_interval_s: float | None = None

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...


def batch_interval_s(callback: Callback) -> float | None:
    """How often ``callback`` needs ``on_batch_end``: None after every batch (it
    overrides ``on_batch_end`` and says nothing else), ``math.inf`` never (it does not
    override it), else its ``batch_interval_s`` in seconds."""
    if type(callback).on_batch_end is Callback.on_batch_end:
        return math.inf
    value = getattr(callback, "batch_interval_s", None)
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model, params: dict[str, Any]) -> None:
        if isinstance(callbacks, Callback):
            name = type(callbacks).__name__
            raise FitError(f"callbacks must be a list of engine.Callback objects, got {name} "
                           f"(pass callbacks=[{name}(...)])")
        if callbacks is not None and (isinstance(callbacks, (str, bytes, dict))
                                      or not isinstance(callbacks, Iterable)):
            raise FitError(f"callbacks must be a list of engine.Callback objects, "
                           f"got {type(callbacks).__name__}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise FitError(
                    f"callbacks must be engine.Callback objects, got {type(cb).__name__}"
                )
        self.callbacks = callbacks
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def batch_interval_s(self) -> float | None:
        """The shortest ``batch_interval_s`` of the callbacks (engine.callbacks'
        ``batch_interval_s``): None when one needs every batch, ``math.inf`` when
        none needs batches."""
        shortest = math.inf
        for cb in self.callbacks:
            value = batch_interval_s(cb)
            if value is None:
                return None
            shortest = min(shortest, value)
        return shortest

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)


def _is_int(value: Any) -> bool:
    """An integer, NumPy's included; not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A finite real number, NumPy's included; not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _float32(value: float) -> float:
    """``value`` rounded to the nearest float32, as TensorFlow converts a Python float
    (beyond float32's range: infinity)."""
    value = float(value)
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs, as Keras 3's EarlyStopping does.

    ``mode="auto"`` maximises names ending in accuracy/acc/auc and minimises
    the rest. With ``restore_best_weights`` the model ends with the weights of
    its best epoch. After training, ``best_epoch`` and ``stopped_epoch`` tell
    what happened (``stopped_epoch`` is 0 when it never stopped training).

    ``baseline``, as in Keras 3, is not a starting best value: the best epoch is
    the best one seen (the first monitored epoch is always best so far), but the
    wait for ``patience`` starts again only at an epoch that improves on the best
    and beats the baseline too. If no epoch beats the baseline, training stops
    after ``patience`` epochs and ``restore_best_weights`` restores the best
    epoch among them.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False,
                 baseline: float | None = None, start_from_epoch: int = 0) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a metric name such as 'val_loss', got {monitor!r}")
        if not _is_int(patience) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        if not _is_finite(min_delta):
            raise ValueError(f"min_delta must be a finite number, got {min_delta!r}")
        if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if type(restore_best_weights).__name__ not in ("bool", "bool_"):   # NumPy's too
            raise ValueError(f"restore_best_weights must be True or False, "
                             f"got {restore_best_weights!r}")
        if baseline is not None and not _is_finite(baseline):
            raise ValueError(f"baseline must be a finite number or None, got {baseline!r}")
        if not _is_int(start_from_epoch) or start_from_epoch < 0:
            raise ValueError(f"start_from_epoch must be an integer >= 0, got {start_from_epoch!r}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = mode
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = None if baseline is None else float(baseline)
        self.start_from_epoch = int(start_from_epoch)
        self.on_train_begin()

    @property
    def maximise(self) -> bool:
        if self.mode == "auto":
            name = self.monitor.lower()
            return name.endswith(("acc", "accuracy", "auc"))
        return self.mode == "max"

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        """Keras' test: ``value -/+ min_delta`` against ``reference``, compared as
        float32 (Keras compares tensors made from the Python floats), so that ties
        within float32 rounding are decided as Keras decides them."""
        if reference is None:
            return True
        if self.maximise:
            return _float32(value - self.min_delta) > _float32(reference)
        return _float32(value + self.min_delta) < _float32(reference)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None   # as Keras: the baseline only gates the wait
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"EarlyStopping monitors {self.monitor!r}, which is not logged; "
                f"available: {', '.join(logs)}",
                stacklevel=2,
            )
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.request_stop("early_stopped")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


# -- divergence ------------------------------------------------------------------------------

#: The divergence rule's numbers (see Divergence).
DIVERGENCE_FACTOR = 1000.0
DIVERGENCE_FLOOR = 1.0
DIVERGENCE_EPOCHS = 3


class Divergence:
    """When a run has diverged: the rule both backends apply, after every batch
    and every epoch of ``fit``.

    A run stops with the reason ``diverged`` when

    - a batch's training loss, an epoch's loss or metrics (validation included)
      or the weights become NaN or infinite: that epoch is rolled back (weights
      and optimizer state as it began) and not recorded; or
    - the training loss has exploded and stays exploded: the loss of
      ``DIVERGENCE_EPOCHS`` (3) epochs in a row is above ``DIVERGENCE_FACTOR``
      (1000) times the starting loss, and above ``DIVERGENCE_FLOOR`` (1). The
      starting loss is the mean loss over all training rows of the weights
      ``fit`` began with. Those epochs are recorded; training stops after the
      third.

    A spike that comes back under that line within two epochs is not divergence
    (the course's learning rate of 1 with SGD on Titanic: about 4e3 in its first
    epoch, near 0.67 after). A fit of fewer than 3 epochs can only diverge by a
    non-finite value.
    """

    def __init__(self, start_loss: float | Callable[[], float] | None) -> None:
        """``start_loss``: the starting loss, a function that measures it (called
        the first time a loss is above ``DIVERGENCE_FLOOR``, as a loss at or below
        it never counts: most runs never pay for it), or None (no explosion rule)."""
        self._measure = start_loss if callable(start_loss) else None
        self.start_loss = None if callable(start_loss) else start_loss
        self.limit = math.inf if self._measure else self._limit_of(self.start_loss)
        self.exploded_epochs = 0

    @staticmethod
    def _limit_of(start_loss: float | None) -> float:
        if start_loss is None or not math.isfinite(start_loss):
            return math.inf
        return max(DIVERGENCE_FACTOR * start_loss, DIVERGENCE_FLOOR)

    @staticmethod
    def needs_start_loss(epochs: int) -> bool:
        """Whether a fit of ``epochs`` epochs can explode by the rule (so the
        backends measure the starting loss only then)."""
        return epochs >= DIVERGENCE_EPOCHS

    def exploded(self, loss: float) -> bool:
        if self._measure is not None and loss > DIVERGENCE_FLOOR:
            self.start_loss, self._measure = self._measure(), None
            self.limit = self._limit_of(self.start_loss)
        return loss > self.limit

    def epoch_end(self, loss: float) -> bool:
        """Count one finished epoch's training loss; True when the run has diverged."""
        self.exploded_epochs = self.exploded_epochs + 1 if self.exploded(loss) else 0
        return self.exploded_epochs >= DIVERGENCE_EPOCHS
