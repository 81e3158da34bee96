"""A run's record: one training of one spec on one dataset, with everything needed
to compare it later (``Run``), and the small rules the record keeps (statuses, ids,
which metrics are maximised, the weights' digest).

This module imports neither the run store nor training: the store
(``engine.store``) reads and writes Runs, and ``engine.runs`` and ``engine.runner``
make them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .history import History
from .spec import Dropout, Flatten, Layer, ModelSpec

#: What a run's status can be. ``running`` while its process trains it;
#: ``interrupted`` when that process died without finishing it.
STATUSES = ("running", "completed", "early_stopped", "stopped", "diverged", "failed",
            "interrupted")
FINISHED = ("completed", "early_stopped", "stopped", "diverged", "failed")


def new_run_id() -> str:
    """A short random id (10 hex digits); commands accept any unique prefix."""
    return uuid.uuid4().hex[:10]


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def maximised(key: str) -> bool:
    """Whether a bigger value of metric ``key`` is better (accuracy-like names)."""
    return key.endswith(("acc", "accuracy", "auc"))


def weights_digest(weights) -> str:
    """A short fingerprint of a list of weight arrays: equal weights, equal digest."""
    h = hashlib.sha256()
    for w in weights:
        w = np.ascontiguousarray(w)
        h.update(str((w.shape, str(w.dtype))).encode())
        h.update(w.tobytes())
    return h.hexdigest()[:16]


@dataclass
class Run:
    """One training run: settings, per-epoch history and how it ended.

    ``dataset`` describes the data (name, path and sha256 of a CSV, target,
    task, rows, features); ``fit`` the fit settings (epochs, batch_size,
    validation_split, shuffle, patience, initial-weights digest...).
    ``model`` is the trained model while this process holds it (never stored);
    ``weights`` its weights when they were kept.
    """

    spec: ModelSpec
    dataset: dict[str, Any]
    fit: dict[str, Any]
    backend: str = "numpy"
    seed: int | None = 0
    id: str = field(default_factory=new_run_id)
    created_at: str = field(default_factory=utc_now)
    status: str = "running"
    history: History = field(default_factory=History)
    device: str | None = None
    duration_s: float | None = None
    error: str | None = None
    group: str | None = None
    label: str | None = None
    weights: list[np.ndarray] | None = field(default=None, repr=False, compare=False)
    model: Any = field(default=None, repr=False, compare=False)

    # -- derived facts ----------------------------------------------------------

    @property
    def stop_reason(self) -> str | None:
        """How training ended (completed, early_stopped, stopped, diverged,
        failed), or None while running or when interrupted."""
        return self.status if self.status in FINISHED else None

    @property
    def n_params(self) -> int:
        return self.spec.count_params()

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def final(self) -> dict[str, float]:
        """The metrics of the last finished epoch."""
        if not self.history.epoch:
            return {}
        return {k: v[-1] for k, v in self.history.history.items() if v}

    @property
    def best(self) -> dict[str, float]:
        """Each metric's best value over the epochs (max for accuracy, min otherwise)."""
        out = {}
        for key, values in self.history.history.items():
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                out[key] = max(finite) if maximised(key) else min(finite)
        return out

    @property
    def monitor(self) -> str:
        """The metric that picks the best epoch: val_loss when there is one."""
        return "val_loss" if "val_loss" in self.history.history else "loss"

    @property
    def best_epoch(self) -> int | None:
        found = self.history.best(self.monitor)
        return None if found is None else found[0]

    @property
    def dataset_name(self) -> str:
        return str(self.dataset.get("name") or self.dataset.get("path") or "?")

    @property
    def hidden_units(self) -> list[int]:
        return [layer.units for layer in self.spec.dense_layers[:-1]]

    def curve(self, key: str = "loss") -> tuple[list[int], list[float]]:
        """(epochs counted from 1, values) of one metric, for a chart."""
        values = self.history.history.get(key, [])
        return [e + 1 for e in self.history.epoch[:len(values)]], list(values)

    def image_words(self) -> list[str]:
        """An image network's input shape and image layers as --layers writes them
        (``["28x28x1", "conv8x3", "pool2"]``); [] for a dense network."""
        from .recipe import _conv_entries, conv_word

        if not self.spec.is_image:
            return []
        head = ["x".join(map(str, self.spec.input_shape))]
        try:
            return head + [conv_word(entry) for entry in _conv_entries(self.spec)]
        except ValueError:   # image layers a recipe cannot write: named by type
            return head + [type(layer).__name__ for layer in self.spec.layers
                           if not isinstance(layer, Layer | Dropout | Flatten)]

    def dense_words(self) -> list[str]:
        """The dense part's sizes, from its input (``flatten`` in an image network)
        to the output: ``["10", "32", "2"]``, ``["flatten", "32", "10"]``."""
        first = "flatten" if self.spec.is_image else str(self.spec.input_dim)
        return [first, *map(str, self.hidden_units), str(self.spec.output_dim)]

    def sizes_text(self) -> str:
        """The layers as --layers writes them, input and output included: ``10-32-2``;
        an image network's input shape and image layers first:
        ``28x28x1-conv8x3-pool2-flatten-32-10``."""
        return "-".join([*self.image_words(), *self.dense_words()])

    def layers_text(self) -> str:
        """``sizes_text`` and the first Dense layer's activation: ``10-32-2 relu``."""
        return f"{self.sizes_text()} {self.spec.dense_layers[0].activation}"

    def describe(self) -> str:
        """One line: layers, optimizer, learning rate, batch size."""
        return (f"{self.layers_text()} {self.spec.optimizer} "
                f"lr={self.spec.effective_learning_rate:g} batch={self.fit.get('batch_size')}")

    # -- persistence -------------------------------------------------------------

    def save(self, store, weights: bool = False) -> Run:
        """Write this run (and its weights, with ``weights=True``) to ``store``, a
        ``RunStore`` (``engine.RunStore(path)``); replaces an earlier copy with the
        same id."""
        if not hasattr(store, "save"):
            raise TypeError(f"store must be a RunStore (engine.RunStore(path)), "
                            f"got {type(store).__name__}")
        if weights and self.weights is None and self.model is not None:
            self.weights = self.model.get_weights()
        store.save(self, weights=weights)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (without weights)."""
        return {
            "id": self.id, "created_at": self.created_at, "status": self.status,
            "stop_reason": self.stop_reason, "error": self.error,
            "dataset": dict(self.dataset), "spec": self.spec.to_dict(), "fit": dict(self.fit),
            "backend": self.backend, "device": self.device, "seed": self.seed,
            "group": self.group, "label": self.label, "n_params": self.n_params,
            "duration_s": self.duration_s, "epochs_done": self.epochs_done,
            "final": self.final, "best": self.best, "best_epoch": self.best_epoch,
            "history": self.history.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(
            spec=ModelSpec.from_dict(data["spec"]), dataset=dict(data.get("dataset") or {}),
            fit=dict(data.get("fit") or {}), backend=data.get("backend", "numpy"),
            seed=data.get("seed"), id=data["id"], created_at=data["created_at"],
            status=data.get("status", "completed"),
            history=History.from_dict(data.get("history") or {}), device=data.get("device"),
            duration_s=data.get("duration_s"), error=data.get("error"),
            group=data.get("group"), label=data.get("label"))

    def __repr__(self) -> str:
        return (f"Run({self.id!r}, {self.dataset_name}, {self.describe()}, "
                f"status={self.status!r}, epochs={self.epochs_done})")
