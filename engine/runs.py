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
import hashlib
import os
import time
import warnings
from typing import Any

import numpy as np

from .callbacks import Callback, EarlyStopping
from .errors import FitError, choices
from .history import History
from .run import (  # noqa: F401 - the names engine.runs has always had
    FINISHED,
    STATUSES,
    Run,
    maximised,
    new_run_id,
    utc_now,
    weights_digest,
)
from .spec import ModelSpec

FIT_SETTINGS = ("epochs", "batch_size", "validation_split", "validation_data", "shuffle",
                "verbose")


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
        self.epochs_ended([(epoch, logs)])

    def epochs_ended(self, entries) -> None:
        """Keep finished epochs ((epoch, logs), oldest first) and write them in one
        transaction (a report of several epochs at once)."""
        entries = [(epoch, {k: float(v) for k, v in (logs or {}).items()})
                   for epoch, logs in entries]
        for epoch, logs in entries:
            self.run.history.append(epoch, logs)
        if self.store is None or not entries:
            return
        from .store import StoreError

        try:
            self.store.add_epochs(self.run.id, entries)
        except StoreError as exc:
            if self.error is None:
                warnings.warn(f"epoch {entries[0][0] + 1} not written yet: {exc}", stacklevel=2)
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
    classes = getattr(dataset, "class_names", None)
    if classes:
        info["class_names"] = [str(c) for c in classes]
    encoding = getattr(dataset, "encoding", None)
    if encoding is not None and hasattr(encoding, "to_dict"):
        info["encoding"] = encoding.to_dict()   # how a CSV's columns became the features
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
    from .store import RunStore

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
    keep(run, recorder, store, lambda: (model, model.fit(X, y, callbacks=cbs, **fit_kwargs)),
         save_weights=save_weights)
    return run


def keep(run: Run, recorder: RunRecorder, store, train, save_weights: bool = False):
    """Call ``train()`` (returning ``(model, history)``) and keep ``run`` however it
    ends: its history, status, device, duration and (``save_weights``) weights, written
    whole to ``store`` at the end. A failure is kept as ``failed`` and raised again,
    Ctrl+C as ``stopped``; either exception carries the run as ``exc.run`` (as a
    StoreError raised when saving it does). A failure before the recorder began (bad
    arguments, a store that refused the run) keeps nothing. Returns the model; both
    ``engine.train`` and ``engine.runner.run`` end a run here."""
    from .store import StoreError

    outcome: BaseException | None = None
    model = None
    started = time.perf_counter()
    try:
        model, history = train()
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
    if model is not None:
        run.model = model
    if save_weights and run.model is not None:
        run.weights = run.model.get_weights()
    if store is not None and recorder.begun:
        try:
            store.finish(run, weights=save_weights and run.weights is not None)
        except StoreError as exc:
            exc.run = run  # the caller still has everything
            if outcome is not None:
                raise exc from outcome
            raise
    if outcome is not None:
        with contextlib.suppress(AttributeError):
            outcome.run = run  # so a caller (the CLI) can say which run was kept, and how
        raise outcome
    return model
