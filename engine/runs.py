"""Runs: one training of one spec on one dataset, kept with everything needed
to compare it later.

    run = engine.train(spec, dataset, epochs=30, validation_split=0.3, patience=3)
    run.status, run.best["val_loss"], run.history.history["loss"]
    run.save(RunStore())          # or pass store= to train() to write every epoch as it ends

``train`` takes a catalog ``Dataset`` (anything with ``X``, ``y`` and
optionally ``targets_for(loss)``, ``name``, ``task``...), a pair ``(X, y)``, or
a catalog name such as ``"titanic"``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import math
import os
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .callbacks import Callback, EarlyStopping
from .errors import FitError, choices
from .history import History
from .spec import ModelSpec

#: What a run's status can be. ``running`` while its process trains it;
#: ``interrupted`` when that process died without finishing it.
STATUSES = ("running", "completed", "early_stopped", "stopped", "diverged", "failed",
            "interrupted")
FINISHED = ("completed", "early_stopped", "stopped", "diverged", "failed")
FIT_SETTINGS = ("epochs", "batch_size", "validation_split", "validation_data", "shuffle",
                "verbose")


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
        return [layer.units for layer in self.spec.layers[:-1]]

    def curve(self, key: str = "loss") -> tuple[list[int], list[float]]:
        """(epochs counted from 1, values) of one metric, for a chart."""
        values = self.history.history.get(key, [])
        return [e + 1 for e in self.history.epoch[:len(values)]], list(values)

    def describe(self) -> str:
        """One line: layers, optimizer, learning rate, batch size."""
        layers = "-".join(str(u) for u in [self.spec.input_dim, *self.hidden_units,
                                             self.spec.output_dim])
        return (f"{layers} {self.spec.layers[0].activation} {self.spec.optimizer} "
                f"lr={self.spec.effective_learning_rate:g} batch={self.fit.get('batch_size')}")

    # -- persistence -------------------------------------------------------------

    def save(self, store, weights: bool = False) -> Run:
        """Write this run (and its weights, with ``weights=True``) to ``store``,
        a ``RunStore`` or a path; replaces an earlier copy with the same id."""
        from .store import RunStore

        if not isinstance(store, RunStore):
            store = RunStore(store)
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


class RunRecorder(Callback):
    """Keeps a run's history as it trains, and with a store writes each epoch
    in its own transaction, so a killed process leaves its epochs behind.

    A write that fails (store locked for too long, disk full) does not stop
    training: the epoch stays in memory, ``error`` holds the reason, and the
    final save writes every epoch again.
    """

    def __init__(self, run: Run, store=None) -> None:
        super().__init__()
        self.run = run
        self.store = store
        self.error: Exception | None = None
        self.begun = False

    def on_train_begin(self, logs=None):
        self.run.history = History(self.params)
        self.run.device = getattr(self.model, "device", None)
        self.run.history.device = self.run.device
        if self.store is not None:
            self.store.begin(self.run)  # a store that cannot be written stops us here
        self.begun = True

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.run.history.append(epoch, logs)
        if self.store is None:
            return
        from .store import StoreError

        try:
            self.store.add_epoch(self.run.id, epoch, logs)
        except StoreError as exc:
            if self.error is None:
                warnings.warn(f"epoch {epoch + 1} not written yet: {exc}", stacklevel=2)
            self.error = exc


# -- datasets ------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_dataset(dataset: Any, spec: ModelSpec) -> tuple[dict[str, Any], Any, Any]:
    """(description, X, y) for a catalog Dataset, an (X, y) pair or a catalog
    name; y in the form ``spec.loss`` needs."""
    if isinstance(dataset, (str, os.PathLike)):
        import datasets as catalog  # imported here: engine never imports datasets on import

        dataset = catalog.open_dataset(dataset)     # the one name-or-file rule
    if isinstance(dataset, (tuple, list)):
        if len(dataset) != 2:
            raise FitError("dataset must be a Dataset, a catalog name or a pair (X, y)")
        X, y = (np.asarray(a) for a in dataset)
        h = hashlib.sha256(np.ascontiguousarray(X).tobytes() + np.ascontiguousarray(y).tobytes())
        info = {"name": "arrays", "rows": int(len(X)), "sha256": h.hexdigest()}
        return info, X, y
    if not hasattr(dataset, "X") or not hasattr(dataset, "y"):
        raise FitError(
            f"dataset must be a Dataset, a catalog name or a pair (X, y), "
            f"got {type(dataset).__name__}")
    X = dataset.X
    y = dataset.targets_for(spec.loss) if hasattr(dataset, "targets_for") else dataset.y
    info: dict[str, Any] = {"name": getattr(dataset, "name", None) or "dataset",
                            "rows": int(len(X))}
    for key in ("task", "target_name", "n_classes"):
        value = getattr(dataset, key, None)
        if value is not None:
            info[key] = value if not isinstance(value, np.integer) else int(value)
    names = getattr(dataset, "feature_names", None)
    if names is not None:
        info["features"] = [str(n) for n in names]
    path = getattr(dataset, "path", None) or getattr(dataset, "source", None)
    if path and os.path.isfile(os.fspath(path)):
        info["path"] = os.path.abspath(os.fspath(path))
        info["sha256"] = file_sha256(path)
    for key, value in (getattr(dataset, "options", None) or {}).items():
        info.setdefault("options", {})[key] = value
    return info, X, y


# -- train ------------------------------------------------------------------------------


def train(spec: ModelSpec | dict, dataset: Any, backend: str = "numpy", seed: int | None = 0,
          store=None, *, callbacks=None, patience: int | None = None,
          monitor: str = "val_loss", restore_best_weights: bool = False,
          initial_weights=None, save_weights: bool = False, group: str | None = None,
          label: str | None = None, build_options: dict | None = None,
          **fit_kwargs: Any) -> Run:
    """Build ``spec`` on ``backend`` with ``seed``, train it on ``dataset`` and
    return the Run (its ``model`` is the trained model).

    ``fit_kwargs`` go to ``model.fit`` (epochs, batch_size, validation_split,
    shuffle, validation_data). ``patience`` adds ``EarlyStopping(monitor,
    patience)``. ``initial_weights`` starts from given weights instead of the
    seeded ones. With a ``store`` (a RunStore or a path) the run is written as
    it trains: one transaction per epoch. A failure inside training is kept as
    a ``failed`` run and raised again; Ctrl+C (KeyboardInterrupt) is kept as
    ``stopped`` and raised again. Either exception carries the kept Run as
    ``exc.run`` (as a StoreError raised when saving it does).
    """
    from . import _as_spec, build
    from .store import RunStore, StoreError

    spec = _as_spec(spec)
    unknown = sorted(set(fit_kwargs) - set(FIT_SETTINGS))
    if unknown:
        raise FitError(f"unknown fit setting(s) {unknown}; accepted: {choices(FIT_SETTINGS)}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)
                                 or patience < 0):
        raise FitError(f"patience must be an integer >= 0 or None, got {patience!r}")
    if store is not None and not isinstance(store, RunStore):
        store = RunStore(store)
    info, X, y = resolve_dataset(dataset, spec)
    model = build(spec, backend=backend, seed=seed, **(build_options or {}))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    fit = {"epochs": fit_kwargs.get("epochs", 1), "batch_size": fit_kwargs.get("batch_size", 32),
           "validation_split": fit_kwargs.get("validation_split", 0.0),
           "shuffle": fit_kwargs.get("shuffle", True), "patience": patience,
           "monitor": monitor if patience is not None else None,
           "restore_best_weights": restore_best_weights if patience is not None else None,
           "initial_weights": weights_digest(model.get_weights())}
    if fit_kwargs.get("validation_data") is not None:
        fit["validation_data"] = f"{len(fit_kwargs['validation_data'][0])} rows given"
    run = Run(spec=spec, dataset=info, fit=fit, backend=backend, seed=seed, group=group,
              label=label)
    run.model = model
    recorder = RunRecorder(run, store)
    cbs: list[Callback] = [recorder]
    if patience is not None:
        cbs.append(EarlyStopping(monitor=monitor, patience=patience,
                                 restore_best_weights=restore_best_weights))
    cbs.extend(callbacks or [])
    fit_kwargs.setdefault("verbose", 0)
    outcome: BaseException | None = None
    started = time.perf_counter()
    try:
        history = model.fit(X, y, callbacks=cbs, **fit_kwargs)
    except StoreError:
        raise  # the store refused the run before training began
    except KeyboardInterrupt as exc:
        run.status, outcome = "stopped", exc
    except Exception as exc:  # noqa: BLE001 - kept as a failed run, then raised again
        if not recorder.begun:
            raise  # bad arguments: nothing was trained, nothing is kept
        run.status, run.error, outcome = "failed", f"{type(exc).__name__}: {exc}", exc
    else:
        run.history = history
        run.status = history.stop_reason
        run.device = history.device or run.device
    run.duration_s = time.perf_counter() - started
    if save_weights:
        run.weights = model.get_weights()
    if store is not None and recorder.begun:
        try:
            store.finish(run, weights=save_weights)
        except StoreError as exc:
            exc.run = run  # the caller still has everything
            if outcome is not None:
                raise exc from outcome
            raise
    if outcome is not None:
        with contextlib.suppress(AttributeError):
            outcome.run = run  # so a caller (the CLI) can say which run was kept, and how
        raise outcome
    return run
