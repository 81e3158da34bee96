"""Metrics, summed per sample so that an epoch's value is the sample-weighted
mean, as Keras' metric objects report it.

``"accuracy"`` is resolved as Keras resolves it from the shapes: one output
unit -> binary accuracy (threshold 0.5); integer labels -> sparse categorical
accuracy; one-hot rows -> categorical accuracy.
"""

from __future__ import annotations

import numpy as np


def accuracy_kind(loss: str, output_units: int) -> str:
    if output_units == 1:
        return "binary"
    if loss == "sparse_categorical_crossentropy":
        return "sparse_categorical"
    return "categorical"


def per_sample(name: str, loss: str, y: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The metric's value for each sample, shape (n,)."""
    if name == "mae":
        return np.mean(np.abs(y - a), axis=-1)
    if name == "mse":
        return np.mean((y - a) ** 2, axis=-1)
    kind = accuracy_kind(loss, a.shape[-1])
    if kind == "binary":
        return np.mean((a > 0.5) == (y == 1), axis=-1)
    if kind == "sparse_categorical":
        return (np.argmax(a, axis=-1) == y).astype(np.float64)
    return (np.argmax(a, axis=-1) == np.argmax(y, axis=-1)).astype(np.float64)
