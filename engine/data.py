"""Checks and conversions of the arrays and arguments given to a model.

Shared by both backends so that they accept and refuse exactly the same
input, with the same messages.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import FitError
from .spec import ModelSpec
from .split import split_index


def _first_bad(arr: np.ndarray) -> str:
    bad = np.argwhere(~np.isfinite(arr))[0]
    return ", ".join(str(int(i)) for i in bad)


def _check_numbers(arr: np.ndarray, name: str) -> None:
    """Real numbers (or booleans) only: a complex array would lose its imaginary part
    when cast to float, with no more than a ComplexWarning."""
    if np.iscomplexobj(arr):
        raise FitError(f"{name} must hold real numbers, got complex numbers (dtype {arr.dtype})")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise FitError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")


def check_X(X: Any, spec: ModelSpec, dtype, name: str = "X") -> np.ndarray:
    """X as a C-contiguous (n_samples, input_dim) array of ``dtype``; for an image
    network (n_samples, height, width, channels), from flat rows or images."""
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise FitError(f"{name} must be a 2-D array of numbers: {exc}") from None
    _check_numbers(arr, name)
    if spec.is_image:
        arr = _image_rows(arr, spec, name)
    elif arr.ndim != 2:
        raise FitError(
            f"{name} must be 2-D with shape (n_samples, {spec.input_dim}), got shape {arr.shape}"
        )
    elif arr.shape[1] != spec.input_dim:
        raise FitError(
            f"{name} has {arr.shape[1]} features (shape {arr.shape}) but the model's "
            f"input_dim is {spec.input_dim}"
        )
    if arr.shape[0] == 0:
        raise FitError(f"{name} has no rows")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise FitError(f"{name} contains NaN or infinity (first at index {_first_bad(arr)})")
    return arr


def _image_rows(arr: np.ndarray, spec: ModelSpec, name: str) -> np.ndarray:
    """X for an image network: (n, height, width, channels) as it is, or flat rows
    (n, height * width * channels) reshaped to it (channels-last, as numpy reshapes)."""
    shape = tuple(spec.input_shape)
    if arr.ndim == 2 and arr.shape[1] == spec.input_dim:
        return arr.reshape((arr.shape[0], *shape))
    if arr.ndim == 1 + len(shape) and arr.shape[1:] == shape:
        return arr
    first = f"layers[0] ({type(spec.layers[0]).__name__})"
    raise FitError(
        f"{name} has shape {arr.shape} but the model's input_shape is {shape} (what "
        f"{first} takes): give X of shape (n_samples, {', '.join(map(str, shape))}) or flat "
        f"rows (n_samples, {spec.input_dim})")


def check_y(y: Any, spec: ModelSpec, n: int, dtype, name: str = "y") -> np.ndarray:
    """y in the form the loss needs: (n,) int64 class labels for
    sparse_categorical_crossentropy, else (n, output_units) floats."""
    try:
        arr = np.asarray(y)
    except Exception as exc:
        raise FitError(f"{name} must be an array of numbers: {exc}") from None
    _check_numbers(arr, name)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise FitError(f"{name} has {arr.shape[0] if arr.ndim else 0} rows but X has {n}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise FitError(f"{name} contains NaN or infinity (first at index {_first_bad(arr)})")
    units, loss = spec.output_dim, spec.loss

    if loss == "sparse_categorical_crossentropy":
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise FitError(
                f"{name} for loss 'sparse_categorical_crossentropy' must be class labels of "
                f"shape (n,) or (n, 1), got shape {arr.shape}; for one-hot rows use "
                f"'categorical_crossentropy'"
            )
        if (arr != np.round(arr)).any() or arr.min() < 0 or arr.max() >= units:
            raise FitError(
                f"{name} for loss 'sparse_categorical_crossentropy' must be integer class "
                f"labels in 0..{units - 1} (the output layer has {units} units), "
                f"got values from {arr.min():g} to {arr.max():g}"
            )
        return arr.astype(np.int64)

    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != units:
        hint = ""
        if loss == "categorical_crossentropy" and arr.ndim == 2 and arr.shape[1] == 1:
            hint = (
                "; it looks like class labels: one-hot encode them or use "
                "'sparse_categorical_crossentropy'"
            )
        raise FitError(
            f"{name} must have shape ({n}, {units}) to match the output layer's {units} "
            f"unit(s) for loss {loss!r}, got shape {np.shape(y)}{hint}"
        )
    if loss in ("binary_crossentropy", "categorical_crossentropy"):
        if arr.min() < 0 or arr.max() > 1:
            raise FitError(
                f"{name} for loss {loss!r} must hold values in [0, 1] "
                f"(class probabilities), got values from {arr.min():g} to {arr.max():g}"
            )
    return np.ascontiguousarray(arr, dtype=dtype)


def check_epochs(epochs: Any) -> int:
    if not isinstance(epochs, Integral) or isinstance(epochs, bool) or epochs < 1:
        raise FitError(f"epochs must be an integer >= 1, got {epochs!r}")
    return int(epochs)


def check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32
    if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise FitError(f"batch_size must be an integer >= 1 (or None for 32), got {batch_size!r}")
    return int(batch_size)


def check_validation_split(split: Any) -> float:
    if isinstance(split, bool) or not isinstance(split, Real) or not math.isfinite(split) \
            or not 0.0 <= float(split) < 1.0:
        raise FitError(f"validation_split must be a number in [0, 1), got {split!r}")
    return float(split)


def split_validation(X: np.ndarray, y: np.ndarray, split: float):
    """Keras' rule: the last ``split`` fraction of the rows, before any shuffling,
    is the validation set."""
    n = len(X)
    split_at = split_index(n, split)
    if split_at == 0 or split_at == n:
        raise FitError(
            f"validation_split={split} leaves {split_at} of {n} rows for training and "
            f"{n - split_at} for validation; both need at least one row"
        )
    return X[:split_at], y[:split_at], X[split_at:], y[split_at:]


def prepare_fit(spec: ModelSpec, dtype, X, y, epochs, batch_size, validation_split,
                validation_data, shuffle) -> dict[str, Any]:
    """Validate every fit argument; returns the arrays and settings to train with."""
    epochs = check_epochs(epochs)
    batch_size = check_batch_size(batch_size)
    split = check_validation_split(validation_split)
    if not isinstance(shuffle, bool):
        raise FitError(f"shuffle must be True or False, got {shuffle!r}")
    X = check_X(X, spec, dtype)
    y = check_y(y, spec, len(X), dtype)
    Xv = yv = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise FitError("validation_data must be a pair (X_val, y_val)")
        Xv = check_X(validation_data[0], spec, dtype, name="validation X")
        yv = check_y(validation_data[1], spec, len(Xv), dtype, name="validation y")
    elif split > 0:
        X, y, Xv, yv = split_validation(X, y, split)
    return {"X": X, "y": y, "X_val": Xv, "y_val": yv, "epochs": epochs,
            "batch_size": batch_size, "shuffle": shuffle}
