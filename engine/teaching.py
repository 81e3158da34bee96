"""The teaching view: every number of a small network's forward and backward
pass, laid out per layer and per node so a UI can write each one on a
drawing of the network.

The numbers come from ``NumpyModel.forward`` and ``NumpyModel.backward``,
the same code that trains. For a single row ``x: (n_in,)`` the arrays are
1-D per layer; for rows ``X: (n, n_in)`` they keep the row axis first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, losses
from .data import check_X, check_y
from .errors import FitError
from .numpy_backend import NumpyModel


@dataclass
class LayerTrace:
    """Layer ``index``: inputs (n_in,), kernel (n_in, n_out), bias (n_out,) or
    None, weighted sums z (n_out,) and node values a = activation(z)."""

    index: int
    activation: str
    inputs: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray | None
    weighted_sums: np.ndarray
    values: np.ndarray


@dataclass
class ForwardTrace:
    x: np.ndarray
    layers: list[LayerTrace]

    @property
    def prediction(self) -> np.ndarray:
        return self.layers[-1].values


@dataclass
class LayerGradients:
    """Layer ``index`` going backwards: ``node_slopes`` = dL/da of each node's
    value; ``activation_slopes`` = da/dz there (None for softmax);
    ``sum_slopes`` = dL/dz; ``kernel_grads[i, j]`` = inputs[i] * sum_slopes[j],
    i.e. the value at the edge's input node times the slope at its output node
    times the activation's slope there."""

    index: int
    node_slopes: np.ndarray
    activation_slopes: np.ndarray | None
    sum_slopes: np.ndarray
    kernel_grads: np.ndarray
    bias_grads: np.ndarray | None


@dataclass
class BackwardTrace:
    forward: ForwardTrace
    target: np.ndarray
    loss: float
    error: np.ndarray  # prediction - target
    layers: list[LayerGradients]


def _numpy_model(model) -> NumpyModel:
    if model.spec.is_image:
        raise FitError("the forward and backward traces show Dense networks, and this model "
                       "has image layers (Conv2D, MaxPooling2D, Flatten)")
    if isinstance(model, NumpyModel):
        return model
    twin = NumpyModel(model.spec, seed=0)
    twin.set_weights(model.get_weights())
    return twin


def _rows(model: NumpyModel, x) -> tuple[np.ndarray, bool]:
    arr = np.asarray(x, dtype=float)
    single = arr.ndim == 1
    return check_X(arr[None, :] if single else arr, model.spec, model.dtype), single


def forward_trace(model, x) -> ForwardTrace:
    """Weighted sums and node values of every layer for one row (or rows)."""
    model = _numpy_model(model)
    X, single = _rows(model, x)
    fwd = model.forward(X)
    pick = (lambda arr: arr[0]) if single else (lambda arr: arr)
    layers = []
    for i, layer in enumerate(model.spec.dense_layers):
        inputs = fwd.x if i == 0 else fwd.a[i - 1]
        bias = model.biases[i]
        layers.append(LayerTrace(i, layer.activation, pick(inputs), model.kernels[i].copy(),
                                 None if bias is None else bias.copy(),
                                 pick(fwd.z[i]), pick(fwd.a[i])))
    return ForwardTrace(pick(X), layers)


def backward_trace(model, x, y) -> BackwardTrace:
    """Node slopes and weight gradients of the model's loss for one row (or
    rows, the loss then being their mean)."""
    model = _numpy_model(model)
    X, single = _rows(model, x)
    Y = check_y(np.atleast_1d(np.asarray(y, dtype=float)) if single else y,
                model.spec, len(X), model.dtype)
    if single and Y.ndim == 2 and Y.shape[0] != 1:
        Y = Y.reshape(1, -1)
    fwd = model.forward(X)
    out = model.spec.layers[-1].activation
    sample_losses, dz_out = losses.loss_and_grad(model.spec.loss, out, Y, fwd.a[-1], fwd.z[-1])
    da_out = losses.output_grad(model.spec.loss, Y, fwd.a[-1])
    back = model.backward(fwd, dz_out, da_out)
    pick = (lambda arr: arr[0]) if single else (lambda arr: arr)
    grads = []
    for i, layer in enumerate(model.spec.dense_layers):
        act_slope = activations.slope(layer.activation, fwd.z[i], fwd.a[i])
        grads.append(LayerGradients(
            i, pick(back.da[i]), None if act_slope is None else pick(act_slope),
            pick(back.dz[i]), back.kernel_grads[i], back.bias_grads[i]))
    target = Y if Y.ndim == 2 else Y[:, None]
    ftrace = forward_trace(model, x)
    error = fwd.a[-1] - target if Y.ndim == 2 else fwd.a[-1]
    return BackwardTrace(ftrace, pick(target), float(sample_losses.mean()), pick(error), grads)
