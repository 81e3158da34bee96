"""Activation functions: a forward rule and the backward rule that goes with it.

Each activation maps weighted sums ``z: (n, units)`` to node values
``a: (n, units)``. ``backward`` turns ``da = dL/da`` into ``dz = dL/dz``.
``slope`` gives the elementwise derivative ``da/dz`` that the lessons show
(softmax has none: each output depends on every input).
"""

from __future__ import annotations

import numpy as np

from .numerics import flush_subnormals


def linear(z: np.ndarray) -> np.ndarray:
    return z


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(z))
    a = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
    return flush_subnormals(a)   # far tails: 0, not slow subnormals (see engine.numerics)


def tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return flush_subnormals(e / e.sum(axis=-1, keepdims=True))


FORWARD = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}


def forward(name: str, z: np.ndarray) -> np.ndarray:
    return FORWARD[name](z)


def slope(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray | None:
    """Elementwise da/dz, or None for softmax."""
    if name == "linear":
        return np.ones_like(z)
    if name == "relu":
        return (z > 0).astype(z.dtype)  # 0 at z == 0, as TensorFlow's ReluGrad
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    return None


def backward(name: str, z: np.ndarray, a: np.ndarray, da: np.ndarray) -> np.ndarray:
    """dL/dz from dL/da for the activation ``name``."""
    if name == "linear":
        return da
    if name == "relu":
        # da * (z > 0): 0 at z == 0, as TensorFlow's ReluGrad. A multiply, not np.where,
        # which branches on every element and was 8x slower on mixed signs.
        return np.multiply(da, z > 0, dtype=da.dtype)
    if name == "sigmoid":
        return da * a * (1 - a)
    if name == "tanh":
        return da * (1 - a * a)
    # softmax: Jacobian-vector product  a * (da - <da, a>)
    return a * (da - (da * a).sum(axis=-1, keepdims=True))
