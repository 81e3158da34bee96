"""Losses, in Keras' conventions: ``(y_true, y_pred)`` order, the mean over
the last axis per sample, then the mean over the batch.

Like Keras on TensorFlow, a cross-entropy that follows the matching output
activation (sigmoid for binary, softmax for categorical) is computed from the
logits ``z``, which is exact and stable; otherwise probabilities are clipped
to ``[EPSILON, 1 - EPSILON]`` as Keras clips them (its backend epsilon).

``loss_and_grad`` returns the per-sample losses and ``dL/dz`` of the batch mean
for the output layer; ``output_grad`` returns ``dL/da`` for the lessons.
"""

from __future__ import annotations

import numpy as np

from . import activations

EPSILON = 1e-7

#: loss -> the output activation whose logits it uses directly
_LOGIT_PAIRS = {
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
}


def uses_logits(loss: str, activation: str) -> bool:
    return _LOGIT_PAIRS.get(loss) == activation


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def per_sample(loss: str, y: np.ndarray, a: np.ndarray, z: np.ndarray | None = None,
               activation: str = "linear") -> np.ndarray:
    """Loss per sample, shape (n,). ``y`` is (n,) integer labels for the sparse
    loss and (n, k) otherwise; ``a`` and ``z`` are (n, k)."""
    if loss == "mse":
        return np.mean((y - a) ** 2, axis=-1)
    if loss == "mae":
        return np.mean(np.abs(y - a), axis=-1)
    logits = z is not None and uses_logits(loss, activation)
    if loss == "binary_crossentropy":
        if logits:
            return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), axis=-1)
        p = np.clip(a, EPSILON, 1 - EPSILON)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)
    if loss == "categorical_crossentropy":
        if logits:
            return -np.sum(y * _log_softmax(z), axis=-1)
        p = np.clip(a / a.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
        return -np.sum(y * np.log(p), axis=-1)
    # sparse_categorical_crossentropy
    rows = np.arange(len(y))
    if logits:
        return -_log_softmax(z)[rows, y]
    return -_log_softmax(np.log(np.clip(a, EPSILON, 1 - EPSILON)))[rows, y]


def output_grad(loss: str, y: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dL/da of the batch-mean loss with respect to the output values ``a``
    (the probability form, with Keras' clipping)."""
    n, k = a.shape
    if loss == "mse":
        return 2 * (a - y) / (n * k)
    if loss == "mae":
        return np.sign(a - y) / (n * k)
    inside = (a >= EPSILON) & (a <= 1 - EPSILON)
    if loss == "binary_crossentropy":
        p = np.clip(a, EPSILON, 1 - EPSILON)
        return np.where(inside, (p - y) / (p * (1 - p)), 0) / (n * k)
    if loss == "categorical_crossentropy":
        total = a.sum(axis=-1, keepdims=True)
        q = a / total
        q_inside = (q >= EPSILON) & (q <= 1 - EPSILON)
        dq = np.where(q_inside, -y / np.clip(q, EPSILON, 1 - EPSILON), 0)
        return (dq - (dq * q).sum(axis=-1, keepdims=True)) / total / n
    # sparse: logits L = log(clip(a)); dL/dL_j = softmax(L)_j - onehot_j
    p = np.clip(a, EPSILON, 1 - EPSILON)
    d_logit = p / p.sum(axis=-1, keepdims=True)
    d_logit[np.arange(n), y] -= 1
    return np.where(inside, d_logit / p, 0) / n


def loss_and_grad(loss: str, activation: str, y: np.ndarray, a: np.ndarray,
                  z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample losses (n,) and dL/dz (n, k) of their mean, for the output layer."""
    losses = per_sample(loss, y, a, z, activation)
    n, k = a.shape
    if uses_logits(loss, activation):
        if loss == "binary_crossentropy":
            dz = (a - y) / (n * k)
        elif loss == "categorical_crossentropy":
            dz = (a * y.sum(axis=-1, keepdims=True) - y) / n
        else:
            dz = a.copy()
            dz[np.arange(n), y] -= 1
            dz /= n
        return losses, dz.astype(a.dtype, copy=False)
    da = output_grad(loss, y, a)
    return losses, activations.backward(activation, z, a, da).astype(a.dtype, copy=False)
