"""deepterm's headless engine: one model spec, two backends.

    from engine import ModelSpec, Layer, build, EarlyStopping

    spec = ModelSpec(input_dim=9, layers=[Layer(50, "relu", kernel_regularizer=L2(1e-3)),
                                          Dropout(0.2), Layer(1)], loss="mse",
                     optimizer="adam", learning_rate=0.01, metrics=["mae"])
    model = build(spec, backend="numpy", seed=0)
    history = model.fit(X, y, epochs=30, validation_split=0.3,
                        callbacks=[EarlyStopping(patience=3)])

``import engine`` never imports TensorFlow: the Keras backend loads it the
first time it is used.
"""

from __future__ import annotations

import importlib
import os
from numbers import Integral
from typing import Any

from .callbacks import STOP_REASONS, Callback, EarlyStopping
from .errors import BackendUnavailable, FitError, SpecError
from .history import History
from .model import Model
from .spec import (
    ACTIVATIONS,
    L1,
    L1L2,
    L2,
    LOSSES,
    METRICS,
    OPTIMIZERS,
    Conv2D,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    ModelSpec,
    Regularizer,
)

# Names whose modules need NumPy (or SQLite) load on first use, so that the app's first
# frame, which only needs the spec, does not wait for NumPy (PEP 562).
_LAZY = {
    "NumpyModel": "numpy_backend",
    "Run": "runs", "RunRecorder": "runs", "train": "runs",
    "RunNotFound": "store", "RunStore": "store", "StoreError": "store",
    "EXPERIMENTS": "sweeps", "SweepError": "sweeps", "comparison_rows": "sweeps",
    "run_experiment": "sweeps", "run_sweep": "sweeps",
    "from_keras": "keras_import",
    "BackwardTrace": "teaching", "ForwardTrace": "teaching",
    "backward_trace": "teaching", "forward_trace": "teaching",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

BACKENDS = ("numpy", "keras")
MAX_SEED = 2**63 - 1

__all__ = [
    "ACTIVATIONS", "BACKENDS", "LOSSES", "METRICS", "OPTIMIZERS", "STOP_REASONS",
    "L1", "L1L2", "L2", "Dropout", "Regularizer", "Conv2D", "MaxPooling2D", "Flatten",
    "BackendUnavailable", "BackwardTrace", "Callback", "EarlyStopping", "FitError",
    "ForwardTrace", "History", "Layer", "Model", "ModelSpec", "NumpyModel", "SpecError",
    "backward_trace", "build", "forward_trace", "from_keras", "load",
    "Run", "RunNotFound", "RunRecorder", "RunStore", "StoreError", "train",
    "EXPERIMENTS", "SweepError", "comparison_rows", "run_experiment", "run_sweep",
]


def _as_spec(spec: Any) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        return ModelSpec.from_dict(spec)
    raise SpecError(f"spec must be a ModelSpec or a dict, got {type(spec).__name__}")


def build(spec: ModelSpec | dict, backend: str = "numpy", seed: int | None = None,
          **options: Any) -> Model:
    """A fresh, untrained model for ``spec`` on ``backend`` ("numpy" or "keras").

    ``seed`` fixes the initial weights and the shuffling. Keras-only options
    (``device=``) are passed through to the Keras backend.
    """
    spec = _as_spec(spec)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise SpecError(f"seed must be an integer >= 0 or None, got {seed!r}")
        if seed > MAX_SEED:   # what a run store (SQLite INTEGER) and Keras' int64 seeds hold
            raise SpecError(f"seed must be an integer >= 0 or None, at most 2**63 - 1, got {seed!r}")
        seed = int(seed)   # NumPy integers too, as Layer's units
    if backend == "numpy":
        if options:
            raise SpecError(f"backend 'numpy' takes no options, got {sorted(options)}")
        from .numpy_backend import NumpyModel

        return NumpyModel(spec, seed=seed)
    if backend == "keras":
        from .keras_backend import KerasModel  # imports TensorFlow

        return KerasModel(spec, seed=seed, **options)
    raise SpecError(f"backend must be 'numpy' or 'keras', got {backend!r}")


def load(path: str | os.PathLike):
    """Load a model saved with ``model.save``: ``.keras`` files on the Keras
    backend, anything else as a NumPy model file."""
    if os.fspath(path).endswith(".keras"):
        from .keras_backend import KerasModel

        return KerasModel.load(path)
    from .numpy_backend import NumpyModel

    return NumpyModel.load(path)


def devices() -> list[dict[str, Any]]:
    """What can train here: the CPU and each GPU TensorFlow sees (imports TensorFlow)."""
    from .keras_backend import devices as _devices

    return _devices()
