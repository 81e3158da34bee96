"""The NumPy backend: a feed-forward network trained by backpropagation,
written out by hand so a learner can read every step.

Forward, for each layer ``l``: ``z_l = a_{l-1} @ W_l + b_l`` and
``a_l = f_l(z_l)``, with ``a_0 = X``. Backward, from the output down:
``dz_L`` comes from the loss; ``dW_l = a_{l-1}.T @ dz_l``; ``db_l = sum(dz_l)``;
``da_{l-1} = dz_l @ W_l.T``; ``dz_{l-1} = f'_{l-1}(z_{l-1}) * da_{l-1}``.
All randomness (initial weights, shuffling) comes from one
``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import math
import os
import re
import secrets
import stat
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import activations, compiled, convolution, gemm, initializers, kernels, losses, metrics
from .callbacks import CallbackList, Divergence
from .data import check_X, check_y, prepare_fit
from .errors import ModelFileError, SpecError
from .history import History
from .model import Model
from .numerics import json_default
from .optimizers import make_optimizer
from .progress import with_progress
from .spec import (
    Conv2D,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    ModelSpec,
    allocation_failed,
    check_memory,
)

FORMAT = "deepterm-numpy-model"
FORMAT_VERSION = 1


@dataclass
class Pass:
    """One forward pass: the input and every Dense layer's weighted sums and values.
    In training with Dropout layers, ``masks[i]`` is what multiplied the inputs of
    Dense layer ``i`` (0 or ``1 / (1 - rate)`` each; None: no dropout there) and
    ``inputs[i]`` those inputs after it."""

    x: np.ndarray
    z: list[np.ndarray]
    a: list[np.ndarray]
    masks: list[np.ndarray | None] | None = None
    inputs: list[np.ndarray] | None = None
    #: an image network's pass: per spec layer what its backward step needs (``z`` and
    #: ``a`` then hold one entry per spec layer, not per Dense layer)
    caches: list[Any] | None = None

    def input_of(self, i: int) -> np.ndarray:
        """What Dense layer ``i`` multiplied by its kernel."""
        if self.inputs is not None:
            return self.inputs[i]
        return self.a[i - 1] if i > 0 else self.x


@dataclass
class Backward:
    """One backward pass: per layer dL/da (node values), dL/dz (weighted sums)
    and the weight gradients (bias gradient None for a layer without bias)."""

    da: list[np.ndarray | None]
    dz: list[np.ndarray]
    kernel_grads: list[np.ndarray]
    bias_grads: list[np.ndarray | None]


class NumpyModel(Model):
    """A model built from a ``ModelSpec`` that trains with NumPy on the CPU."""

    backend = "numpy"

    def __init__(self, spec: ModelSpec, seed: int | None = None) -> None:
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
        check_memory(spec)   # before anything is allocated
        self._init_model(spec, seed)
        try:
            self._allocate(spec)
        except MemoryError as exc:
            raise allocation_failed(spec, exc) from None
        self._fused = None   # engine.kernels while a large model trains (see _fit)
        #: threads of engine.gemm's product while a fit that takes it trains, else 0
        self._gemm_threads = 0
        #: an image network runs layer by layer (_image_forward, _image_backward)
        self._image = spec.is_image
        #: per Dense layer: the share of its inputs that training drops (spec.dropout_before)
        self._drop = spec.dropout_before() if spec.has_dropout and not self._image else None
        #: per weighted layer: its kernel's Regularizer, or None (no penalty anywhere: None)
        self._regs = [getattr(layer, "kernel_regularizer", None)
                      for layer in spec.weighted_layers] if spec.has_regularizer else None
        # dropout masks come from a generator of their own, so that the shuffle order (the
        # model's generator, which Keras' backend replays) is the same with or without them
        self.dropout_rng = np.random.default_rng(None if seed is None else [seed, 1])

    def _allocate(self, spec: ModelSpec) -> None:
        """The weights, drawn from the seeded generator, their gradients and the
        optimizer's state."""
        # All weights live in one contiguous array, and so do the gradients:
        # kernels and biases are views into it, so the optimizer updates every
        # weight with a handful of whole-array operations per batch.
        shapes: list[tuple[int, ...]] = []
        for kernel_shape, layer in zip(spec.kernel_shapes(), spec.weighted_layers):
            shapes.append(kernel_shape)
            if layer.use_bias:
                shapes.append((kernel_shape[-1],))
        self._shapes = shapes
        total = sum(int(np.prod(shape)) for shape in shapes)
        self._flat = np.zeros(total, dtype=self.dtype)
        self._grad_flat = np.zeros(total, dtype=self.dtype)
        views, grad_views = self._split(self._flat), self._split(self._grad_flat)
        self.kernels: list[np.ndarray] = []
        self.biases: list[np.ndarray | None] = []
        self._kernel_grads: list[np.ndarray] = []
        self._bias_grads: list[np.ndarray | None] = []
        k = 0
        for kernel_shape, layer in zip(spec.kernel_shapes(), spec.weighted_layers):
            n_out = kernel_shape[-1]
            kernel = views[k]
            kernel[...] = initializers.initialize(layer.kernel_initializer, self.rng, kernel_shape,
                                                  self.dtype)
            self.kernels.append(kernel)
            self._kernel_grads.append(grad_views[k])
            k += 1
            if layer.use_bias:
                bias = views[k]
                bias[...] = initializers.initialize(layer.bias_initializer, self.rng, (n_out,),
                                                    self.dtype)
                self.biases.append(bias)
                self._bias_grads.append(grad_views[k])
                k += 1
            else:
                self.biases.append(None)
                self._bias_grads.append(None)
        self.optimizer = make_optimizer(spec, [self._flat])

    # -- variables -----------------------------------------------------------

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        """Views of a flat array, one per variable, in get_weights' layout."""
        views, offset = [], 0
        for shape in self._shapes:
            size = int(np.prod(shape))
            views.append(flat[offset:offset + size].reshape(shape))
            offset += size
        return views

    def _variables(self) -> list[np.ndarray]:
        """The trainable arrays in Keras' order: kernel, then bias, per layer."""
        out = []
        for kernel, bias in zip(self.kernels, self.biases):
            out.append(kernel)
            if bias is not None:
                out.append(bias)
        return out

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights: per layer kernel (n_in, n_out) then bias (n_out,)."""
        return [v.copy() for v in self._variables()]

    def set_weights(self, weights) -> None:
        variables = self._variables()
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"set_weights needs {len(variables)} arrays (kernel and bias per layer), "
                f"got {len(weights)}")
        for i, (var, w) in enumerate(zip(variables, weights)):
            w = real_weights(w, i)
            if w.shape != var.shape:
                raise ValueError(f"weights[{i}] must have shape {var.shape}, got {w.shape}")
            if not np.isfinite(w).all():
                raise ValueError(f"weights[{i}] contains NaN or infinity")
            var[...] = w

    # -- the passes ------------------------------------------------------------

    def forward(self, X: np.ndarray, fused=None, training: bool = False) -> Pass:
        """Every Dense layer's weighted sums ``z`` and node values ``a`` for rows X.
        ``fused``: engine.kernels, to add a ReLU layer's bias and apply it in one pass.
        ``training`` applies the Dropout layers (predicting passes through them)."""
        if self._image:
            return self._image_forward(X, training)
        if training and self._drop is not None:
            return self._forward_dropout(X, fused)
        zs, as_ = [], []
        a = X
        for kernel, bias, layer in zip(self.kernels, self.biases, self.spec.dense_layers):
            z = self._product(a, kernel) if self._gemm_threads else a @ kernel
            a = self._bias_and_activation(z, bias, layer.activation, fused)
            zs.append(z)
            as_.append(a)
        return Pass(X, zs, as_)

    def _forward_dropout(self, X: np.ndarray, fused=None) -> Pass:
        """The training pass with Dropout: each Dense layer's inputs times a fresh mask."""
        zs, as_, masks, inputs = [], [], [], []
        a = X
        for i, (kernel, bias, layer) in enumerate(zip(self.kernels, self.biases,
                                                      self.spec.dense_layers)):
            rate = self._drop[i]
            mask = self.dropout_mask(i, a.shape, rate) if rate > 0 else None
            if mask is not None:
                a = a * mask
            masks.append(mask)
            inputs.append(a)
            z = self._product(a, kernel) if self._gemm_threads else a @ kernel
            a = self._bias_and_activation(z, bias, layer.activation, fused)
            zs.append(z)
            as_.append(a)
        return Pass(X, zs, as_, masks, inputs)

    def dropout_mask(self, layer: int, shape: tuple[int, ...], rate: float) -> np.ndarray:
        """Keras' Dropout: keep each value with probability ``1 - rate`` and scale it by
        ``1 / (1 - rate)``; ``layer`` is the Dense layer whose inputs it drops (in an
        image network: the Dropout's own index in ``spec.layers``)."""
        keep = self.dropout_rng.random(shape, dtype=np.float32) >= np.float32(rate)
        return keep.astype(self.dtype) / self.dtype.type(1.0 - rate)

    def _product(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None
                 ) -> np.ndarray:
        """``a @ b`` (into ``out``): engine.gemm's product for a large float32 one while a
        fit takes it (``_blas_threads``), else NumPy's. A failure of engine.gemm (it
        cannot compile) warns once and leaves the rest of the fit to NumPy."""
        if self._gemm_threads and gemm.worth(a, b):
            try:
                return gemm.matmul(a, b, out, self._gemm_threads)
            except Exception as exc:  # noqa: BLE001 - e.g. Numba cannot compile or cache it
                gemm.fail(exc)
                self._gemm_threads = 0
        return np.matmul(a, b, out=out)

    def _products(self, items: list[tuple]) -> list[np.ndarray]:
        """``a @ b`` (into ``out``) for each (a, b, out) of ``items``: together on
        engine.gemm's threads when each is a product it takes (``_product``), else one
        after the other."""
        if self._gemm_threads and all(gemm.worth(a, b) for a, b, _ in items):
            try:
                return gemm.products(items, self._gemm_threads)
            except Exception as exc:  # noqa: BLE001 - as in _product
                gemm.fail(exc)
                self._gemm_threads = 0
        return [self._product(*item) for item in items]

    @staticmethod
    def _bias_and_activation(z: np.ndarray, bias: np.ndarray | None, activation: str,
                             fused) -> np.ndarray:
        """``z += bias``, then the node values f(z); one fused pass for ReLU when
        ``fused`` (a kernel that cannot compile has not touched z)."""
        if fused is not None and activation == "relu" and bias is not None:
            a = np.empty_like(z)
            if kernels.call(fused, "bias_relu", z, bias, a):
                return a
        if bias is not None:
            z += bias
        return activations.forward(activation, z)

    def backward(self, fwd: Pass, dz_out: np.ndarray, da_out: np.ndarray | None = None,
                 need_input_grad: bool = False, into_buffers: bool = False,
                 fused=None) -> Backward:
        """Backpropagate dL/dz of the output layer through every layer.

        With ``into_buffers`` the weight gradients are written into the
        model's flat gradient array (what training uses) instead of new arrays,
        and with ``fused`` (engine.kernels) a ReLU's derivative is applied to
        dL/da in place, in one pass."""
        if self._image:
            return self._image_backward(fwd, dz_out, need_input_grad, into_buffers)
        n_layers = len(self.kernels)
        das: list[np.ndarray | None] = [None] * n_layers
        dzs: list[np.ndarray] = [None] * n_layers  # type: ignore[list-item]
        kgrads: list[np.ndarray] = [None] * n_layers  # type: ignore[list-item]
        bgrads: list[np.ndarray | None] = [None] * n_layers
        das[-1] = da_out
        dz = dz_out
        masks = fwd.masks
        for i in range(n_layers - 1, -1, -1):
            dzs[i] = dz
            a_in = fwd.input_of(i)
            want_da = i > 0 or need_input_grad
            if into_buffers:
                out = self._kernel_grads[i]
                if not self._gemm_threads:
                    kgrads[i] = np.matmul(a_in.T, dz, out=out)
                    da = dz @ self.kernels[i].T if want_da else None
                elif want_da:   # the kernel's gradient and dL/da at once, on engine.gemm's threads
                    kgrads[i], da = self._products([(a_in.T, dz, out), (dz, self.kernels[i].T, None)])
                else:
                    kgrads[i], da = self._product(a_in.T, dz, out=out), None
                if self.biases[i] is not None:
                    bgrads[i] = np.sum(dz, axis=0, out=self._bias_grads[i])
            else:
                kgrads[i] = a_in.T @ dz
                if self.biases[i] is not None:
                    bgrads[i] = dz.sum(axis=0)
                da = dz @ self.kernels[i].T if want_da else None
            if want_da:
                if masks is not None and masks[i] is not None:
                    da *= masks[i]       # through the dropout: dropped inputs get no gradient
                if i > 0:
                    das[i - 1] = da
                    activation = self.spec.dense_layers[i - 1].activation
                    if (fused is not None and into_buffers and activation == "relu"
                            and kernels.call(fused, "relu_backward", da, fwd.z[i - 1])):
                        dz = da   # in place: training keeps no dL/da
                    else:
                        dz = activations.backward(activation, fwd.z[i - 1], fwd.a[i - 1], da)
                else:
                    self._input_grad = da
        return Backward(das, dzs, kgrads, bgrads)

    # -- image networks: layer by layer -------------------------------------------------

    def _image_forward(self, X: np.ndarray, training: bool = False) -> Pass:
        """Every spec layer's weighted sums ``z`` (its output, for a layer without
        weights) and values ``a``, for images X: (n, height, width, channels)."""
        zs, as_, caches = [], [], []
        a, k = X, 0
        for i, layer in enumerate(self.spec.layers):
            cache = None
            if isinstance(layer, Conv2D):
                z, cache = convolution.conv_forward(a, self.kernels[k], layer)
                a = self._bias_and_activation(z, self.biases[k], layer.activation, None)
                k += 1
            elif isinstance(layer, Layer):
                cache, z = a, a @ self.kernels[k]
                a = self._bias_and_activation(z, self.biases[k], layer.activation, None)
                k += 1
            elif isinstance(layer, MaxPooling2D):
                a, cache = convolution.pool_forward(a, layer)
                z = a
            elif isinstance(layer, Flatten):
                cache, a = a.shape, a.reshape(len(a), -1)
                z = a
            else:   # Dropout
                if training and layer.rate > 0:
                    cache = self.dropout_mask(i, a.shape, layer.rate)
                    a = a * cache
                z = a
            zs.append(z)
            as_.append(a)
            caches.append(cache)
        return Pass(X, zs, as_, caches=caches)

    def _image_backward(self, fwd: Pass, dz_out: np.ndarray, need_input_grad: bool = False,
                        into_buffers: bool = False) -> Backward:
        """Backpropagate dL/dz of the output layer down through every spec layer;
        ``da``/``dz`` of the result hold one entry per weighted layer."""
        layers = self.spec.layers
        n_weighted = len(self.kernels)
        das: list[np.ndarray | None] = [None] * n_weighted
        dzs: list[np.ndarray] = [None] * n_weighted  # type: ignore[list-item]
        kgrads: list[np.ndarray] = [None] * n_weighted  # type: ignore[list-item]
        bgrads: list[np.ndarray | None] = [None] * n_weighted
        k = n_weighted
        grad = None    # dL / d(the values of layer i)
        for i in range(len(layers) - 1, -1, -1):
            layer, cache = layers[i], fwd.caches[i]
            want_input = i > 0 or need_input_grad
            if isinstance(layer, (Conv2D, Layer)):
                k -= 1
                das[k] = grad
                dz = dz_out if i == len(layers) - 1 else \
                    activations.backward(layer.activation, fwd.z[i], fwd.a[i], grad)
                dzs[k] = dz
                if isinstance(layer, Conv2D):
                    kg, bg, grad = convolution.conv_backward(dz, self.kernels[k], cache, layer,
                                                             want_input)
                else:
                    kg, bg = cache.T @ dz, dz.sum(axis=0)
                    grad = dz @ self.kernels[k].T if want_input else None
                if into_buffers:
                    self._kernel_grads[k][...] = kg
                    kg = self._kernel_grads[k]
                    if self.biases[k] is not None:
                        self._bias_grads[k][...] = bg
                        bg = self._bias_grads[k]
                kgrads[k] = kg
                bgrads[k] = bg if self.biases[k] is not None else None
            elif isinstance(layer, MaxPooling2D):
                grad = convolution.pool_backward(grad, cache, layer)
            elif isinstance(layer, Flatten):
                grad = grad.reshape(cache)
            elif isinstance(layer, Dropout) and cache is not None:
                grad = grad * cache      # dropped values get no gradient
        if need_input_grad:
            self._input_grad = grad
        return Backward(das, dzs, kgrads, bgrads)

    def _train_step(self, X: np.ndarray, y: np.ndarray):
        """Forward and backward for one batch; the gradients land in the flat
        gradient array. Returns the forward pass and the per-sample losses."""
        fused = self._fused
        fwd = self.forward(X, fused, training=True)
        out = self.spec.layers[-1].activation
        sample_losses, dz = losses.loss_and_grad(self.spec.loss, out, y, fwd.a[-1], fwd.z[-1])
        self.backward(fwd, dz, into_buffers=True, fused=fused)
        return fwd, sample_losses

    def _loss_step(self, X: np.ndarray, y: np.ndarray):
        """Forward (as in training: with dropout), per-sample losses and gradients (new
        arrays, the regularizers' included) for one batch."""
        fwd = self.forward(X, training=True)
        out = self.spec.layers[-1].activation
        sample_losses, dz = losses.loss_and_grad(self.spec.loss, out, y, fwd.a[-1], fwd.z[-1])
        back = self.backward(fwd, dz)
        if self._regs is not None:
            self._add_penalty_grads(back.kernel_grads)
        grads = []
        for kg, bg in zip(back.kernel_grads, back.bias_grads):
            grads.append(kg)
            if bg is not None:
                grads.append(bg)
        return fwd, sample_losses, grads

    # -- regularizers (Keras' kernel_regularizer) ---------------------------------------

    def penalty(self) -> float:
        """The regularizers' penalty on the current kernels, ``sum(l1 * |W| + l2 * W**2)``
        over the regularized layers: what Keras adds to the loss (0.0 without any)."""
        if self._regs is None:
            return 0.0
        total = 0.0
        for kernel, reg in zip(self.kernels, self._regs):
            if reg is None:
                continue
            if reg.l1:
                total += float(self.dtype.type(reg.l1) * np.abs(kernel).sum())
            if reg.l2:
                total += float(self.dtype.type(reg.l2) * np.square(kernel).sum())
        return total

    def _add_penalty_grads(self, kernel_grads: list[np.ndarray]) -> None:
        """d penalty / d kernel added in place: ``l1 * sign(W) + 2 * l2 * W`` (0 at W = 0
        for L1, as TensorFlow's gradient of |W|)."""
        for kernel, grad, reg in zip(self.kernels, kernel_grads, self._regs):
            if reg is None:
                continue
            if reg.l1:
                grad += self.dtype.type(reg.l1) * np.sign(kernel)
            if reg.l2:
                grad += self.dtype.type(2.0 * reg.l2) * kernel

    def gradients(self, X, y) -> list[np.ndarray]:
        """d loss / d weight for the mean loss over the rows of X, in the
        layout of ``get_weights``."""
        X = check_X(X, self.spec, self.dtype)
        y = check_y(y, self.spec, len(X), self.dtype)
        return self._loss_step(X, y)[2]

    # -- predict / evaluate ------------------------------------------------------

    def predict(self, X, batch_size: int | None = None) -> np.ndarray:
        """Outputs for X: (n_samples, n_outputs)."""
        X = check_X(X, self.spec, self.dtype)
        if batch_size is None or batch_size >= len(X):
            return self.forward(X).a[-1]
        return np.concatenate(
            [self.forward(X[i:i + batch_size]).a[-1] for i in range(0, len(X), batch_size)])

    #: rows per forward pass when evaluating: an image network's passes hold several
    #: arrays per image the size of its conv outputs (windows, sums, values, pooling)
    EVAL_CHUNK, EVAL_CHUNK_IMAGES = 4096, 256

    def _evaluate_arrays(self, X: np.ndarray, y: np.ndarray, chunk: int | None = None
                         ) -> dict[str, float]:
        chunk = chunk or (self.EVAL_CHUNK_IMAGES if self._image else self.EVAL_CHUNK)
        out = self.spec.layers[-1].activation
        sums = {"loss": 0.0, **{m: 0.0 for m in self.spec.metrics}}
        for i in range(0, len(X), chunk):
            xb, yb = X[i:i + chunk], y[i:i + chunk]
            fwd = self.forward(xb)
            sums["loss"] += float(losses.per_sample(self.spec.loss, yb, fwd.a[-1], fwd.z[-1], out)
                                  .sum(dtype=np.float64))
            for m in self.spec.metrics:
                sums[m] += float(metrics.per_sample(m, self.spec.loss, yb, fwd.a[-1]).sum())
        out = {k: v / len(X) for k, v in sums.items()}
        if self._regs is not None:
            out["loss"] += self.penalty()     # as Keras' evaluate reports it
        return out

    def evaluate(self, X, y) -> dict[str, float]:
        """Mean loss and metrics over all rows: {"loss": ..., "accuracy": ...}."""
        X = check_X(X, self.spec, self.dtype)
        y = check_y(y, self.spec, len(X), self.dtype)
        return self._evaluate_arrays(X, y)

    # -- training ------------------------------------------------------------------

    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            callbacks=None, verbose: int | str = 0) -> History:
        """Train with mini-batch gradient descent; returns a History.

        X: (n_samples, input_dim); y: (n_samples,) or (n_samples, n_outputs),
        or class labels (n_samples,) for sparse_categorical_crossentropy.
        ``validation_split`` takes the last fraction of the rows before
        shuffling. Training stops after the current batch when
        ``stop_training`` is set (from a callback or another thread).

        A dense model's fit of at least ``engine.compiled.MIN_BATCHES`` batches
        (epochs x steps; any with ``DEEPTERM_COMPILE=1``) trains on the compiled path
        (engine.compiled) unless a callback needs Python after every batch
        (``Callback.batch_interval_s``): chunks of
        batches in one compiled call each, ``on_batch_end`` at a chunk's last batch,
        and a stop heard at the chunk's end (within about 0.1 s); the numbers agree
        with the batch-by-batch path to float rounding. ``DEEPTERM_NO_COMPILE=1``
        turns it off. Where NumPy's BLAS runs kernels older than the CPU
        (engine.gemm.chosen), a float32 model's large products (batches of at
        least ``SMALL_BATCH_WORK`` multiply-adds) take engine.gemm's own product on
        the BLAS's threads instead, batch by batch.

        A run that diverges stops with ``stop_reason == "diverged"``: a NaN or
        infinite loss, metric or weight (that epoch is rolled back and not
        recorded), or a training loss above 1000 times its starting loss (the
        loss of the initial weights on the training rows) and above 1 in 3
        epochs in a row; a spike that recovers sooner is not divergence
        (``engine.callbacks.Divergence`` states the rule).

        ``verbose`` as in Keras: 0 silent, 1 a progress bar per epoch (a notebook
        widget in Jupyter; plain lines where output is not a terminal), 2 one line per
        epoch, "auto" 1 (``engine.progress``).
        """
        callbacks = with_progress(callbacks, verbose)
        run = prepare_fit(self.spec, self.dtype, X, y, epochs, batch_size, validation_split,
                          validation_data, shuffle)
        if self._compiles(run["epochs"], math.ceil(len(run["X"]) / run["batch_size"])):
            compiled.get()   # Numba's BLAS loads before _blas_threads limits the threads
        # overflow is how divergence shows itself: it is reported as the stop
        # reason "diverged", not as warnings
        rows = min(run["batch_size"], len(run["X"]))   # a batch's rows
        with np.errstate(over="ignore", invalid="ignore"), self._blas_threads(rows):
            return self._fit(run, callbacks)

    #: per-batch multiply-adds below which BLAS runs on one thread (see _blas_threads)
    SMALL_BATCH_WORK = 10_000_000

    def _blas_threads(self, batch_rows: int):
        """Small products run on one BLAS thread: splitting them across threads
        gains nothing, and on a busy machine OpenBLAS threads waiting for a
        descheduled sibling made such epochs 10-20x slower (bench/run.py).

        Large ones run on every thread BLAS has, or, where engine.gemm is chosen (a
        BLAS with kernels older than the CPU), a large dense float32 model's large
        products take engine.gemm's on that many threads, and the BLAS (the small
        products) one thread: its idle threads would otherwise spin on the cores gemm's
        work on. Large: ``kernels.FUSED_MIN`` weights or more, the models that load Numba
        for their fused passes anyway (a smaller model's short fit would pay more for
        Numba's import than the product saves)."""
        work = batch_rows * self.spec.multiply_adds()
        if work < self.SMALL_BATCH_WORK:
            return _one_blas_thread()
        if self._image or self.dtype != np.float32 or self.count_params() < kernels.FUSED_MIN \
                or kernels.get() is None or not gemm.chosen():
            return contextlib.nullcontext()
        return self._gemm_fit(_blas_thread_count())

    @contextlib.contextmanager
    def _gemm_fit(self, threads: int):
        self._gemm_threads = threads
        try:
            with _one_blas_thread():
                yield
        finally:
            self._gemm_threads = 0

    def _fit(self, run: dict[str, Any], callbacks) -> History:
        X, y, Xv, yv = run["X"], run["y"], run["X_val"], run["y_val"]
        epochs, batch_size = run["epochs"], run["batch_size"]
        n = len(X)
        steps = math.ceil(n / batch_size)
        params = {"epochs": epochs, "steps": steps, "samples": n, "batch_size": batch_size,
                  "validation_samples": 0 if Xv is None else len(Xv)}
        history = History(params)
        history.device = self.device
        self.history = history
        self._stop.clear()
        # fused passes for large models only: small ones gain little and Numba's import
        # and first compile would cost more than their whole run
        self._fused = kernels.get() if self.count_params() >= kernels.FUSED_MIN \
            and not self._image else None
        if self._fused is not None and self._gemm_threads > 1:   # updates on gemm's threads too
            self._fused = kernels.on_threads(self._fused, self._gemm_threads)
        cbs = CallbackList(callbacks, self, params)
        metric_names = self.spec.metrics
        regs = self._regs
        flat, grad_flat = [self._flat], [self._grad_flat]
        started = time.perf_counter()
        last_logs: dict[str, float] = {}
        diverged = False
        divergence = Divergence(self._start_loss(X, y)
                                if Divergence.needs_start_loss(epochs) else None)
        trainer = self._compiled_trainer(X, y, batch_size, cbs) \
            if self._compiles(epochs, steps) else None

        cbs.on_train_begin()
        snapshot = None
        for epoch in range(epochs):
            if self._stop.is_set():
                break
            cbs.on_epoch_begin(epoch)
            # the epoch's start, for a roll-back (arrays of the fit's first epoch, rewritten)
            if snapshot is None:
                snapshot = (self._flat.copy(), self.optimizer.get_state())
            else:
                np.copyto(snapshot[0], self._flat)
                self.optimizer.get_state(into=snapshot[1])
            order = self.rng.permutation(n) if run["shuffle"] else None
            loss_sum = 0.0
            metric_sums = dict.fromkeys(metric_names, 0.0)
            seen = 0
            start = 0
            if trainer is not None:   # compiled chunks of batches (engine.compiled)
                start, diverged, sums, failed = self._compiled_epoch(trainer, order, steps, cbs)
                seen = min(n, start * batch_size)
                loss_sum = float(sums[0])
                metric_sums = {m: float(sums[1 + i]) for i, m in enumerate(metric_names)}
                if failed:    # warned once: the NumPy path goes on from batch ``start``
                    trainer = None
            for b in range(start, steps) if trainer is None else ():
                lo, hi = b * batch_size, min(n, (b + 1) * batch_size)
                if order is None:
                    xb, yb = X[lo:hi], y[lo:hi]
                else:
                    idx = order[lo:hi]
                    xb, yb = X[idx], y[idx]
                fwd, sample_losses = self._train_step(xb, yb)
                batch_loss = float(sample_losses.sum(dtype=np.float64))
                if regs is not None:   # Keras' loss: the batch's mean plus the penalty
                    batch_loss += self.penalty() * (hi - lo)
                    self._add_penalty_grads(self._kernel_grads)
                if not math.isfinite(batch_loss):  # non-finite weights show up here next batch
                    diverged = True
                    break
                self.optimizer.apply(flat, grad_flat, self._fused)
                loss_sum += batch_loss
                for m in metric_names:
                    metric_sums[m] += float(metrics.per_sample(m, self.spec.loss, yb, fwd.a[-1]).sum())
                seen += hi - lo
                logs = {"loss": loss_sum / seen, **{m: s / seen for m, s in metric_sums.items()}}
                cbs.on_batch_end(b, logs)
                if self._stop.is_set():
                    break
            if not diverged and seen:
                logs = {"loss": loss_sum / seen, **{m: s / seen for m, s in metric_sums.items()}}
                if Xv is not None:
                    val = self._evaluate_arrays(Xv, yv)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if not all(math.isfinite(v) for v in logs.values()) or \
                        not np.isfinite(self._flat).all():
                    diverged = True
            if diverged:
                self._flat[...] = snapshot[0]
                self.optimizer.set_state(snapshot[1])
                self._stop.request("diverged")
                history.stopped_epoch = epoch
                break
            if not seen:
                break
            history.append(epoch, logs)
            last_logs = logs
            if divergence.epoch_end(logs["loss"]):   # exploded and stayed exploded
                self._stop.request("diverged")
            cbs.on_epoch_end(epoch, logs)
            if self._stop.is_set():
                history.stopped_epoch = epoch
                break
        reason = self._stop.reason or "completed"
        history.stop_reason = reason
        if reason == "completed":
            history.stopped_epoch = None
        for cb in cbs.callbacks:
            if getattr(cb, "best_epoch", None) is not None and hasattr(cb, "monitor"):
                history.best_epoch = cb.best_epoch
        cbs.on_train_end(last_logs)
        history.duration_s = time.perf_counter() - started
        return history

    def _start_loss(self, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
        """What measures the starting loss of engine.callbacks.Divergence: the loss
        on the training rows of the weights the fit begins with, when first asked
        (an evaluation of every row, as long as a small model's epoch)."""
        start = self._flat.copy()

        def measure() -> float:
            now = self._flat.copy()
            self._flat[...] = start
            try:
                return self._evaluate_arrays(X, y)["loss"]
            finally:
                self._flat[...] = now

        return measure

    def _compiles(self, epochs: int, steps: int) -> bool:
        """Whether a fit of ``epochs`` x ``steps`` batches may take the compiled path
        (engine.compiled): a dense spec it trains, and a fit long enough to pay for it."""
        return not self._image and not self._gemm_threads and compiled.supports(self.spec) \
            and compiled.worth_it(epochs * steps)

    def _compiled_trainer(self, X: np.ndarray, y: np.ndarray, batch_size: int,
                          cbs: CallbackList) -> compiled.Trainer | None:
        """The compiled loop for a fit that ``_compiles``, or None: a callback needs
        every batch, or the path is off or unavailable."""
        if cbs.batch_interval_s() is None:
            return None
        kernel = compiled.get()
        if kernel is None:
            return None
        return compiled.Trainer(self, kernel, X, y, batch_size)

    def _compiled_epoch(self, trainer: compiled.Trainer, order: np.ndarray | None,
                        steps: int, cbs: CallbackList):
        """One epoch's batches in compiled chunks (engine.compiled): after each chunk
        ``on_batch_end`` of its last batch with the running logs, then a stop is
        heard. Returns (batches done, diverged, the per-sample sums: loss, then each
        metric, failed): failed when the loop could not compile or run (warned once;
        the NumPy path goes on from the batch reached)."""
        n, batch_size = len(trainer.X), trainer.batch_size
        order = trainer.in_order if order is None else order.astype(np.int64, copy=False)
        sums = np.zeros(1 + len(self.spec.metrics))
        names = ("loss", *self.spec.metrics)
        b = 0
        while b < steps:
            interval = cbs.batch_interval_s()
            trainer.last_chunk = trainer.chunk(trainer.last_chunk,
                                               compiled.CHUNK_S if interval is None else interval)
            end = min(steps, b + trainer.last_chunk)
            try:
                reached, bad = trainer.run(order, b, end, sums)
            except Exception as exc:  # noqa: BLE001 - e.g. Numba cannot compile or cache it
                compiled.fail(exc)
                return b, False, sums, True
            b = reached
            if bad:
                return b, True, sums, False
            if interval != math.inf:   # a callback wants batch ends: the running logs
                seen = min(n, b * batch_size)
                cbs.on_batch_end(b - 1, {k: float(v) / seen for k, v in zip(names, sums)})
            if self._stop.is_set():
                break
        return b, False, sums, False

    # -- description -----------------------------------------------------------------

    def summary(self) -> str:
        """A Keras-style table of the layers, their output shapes and parameters."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        kernel_shapes = iter(self.spec.kernel_shapes())
        counters: dict[str, int] = {}
        for layer, shape in zip(self.spec.layers, self.spec.layer_output_shapes()):
            name = {Layer: "dense", Dropout: "dropout", Conv2D: "conv2d",
                    MaxPooling2D: "max_pooling2d", Flatten: "flatten"}[type(layer)]
            index = counters.get(name, 0)
            counters[name] = index + 1
            out_shape = f"(None, {', '.join(map(str, shape))})"
            if isinstance(layer, Dropout):
                rows.append((f"dropout_{index} (Dropout, {layer.rate:g})", out_shape, "0"))
                continue
            if isinstance(layer, (MaxPooling2D, Flatten)):
                kind = "MaxPooling2D, {}x{}".format(*layer.pool_size) \
                    if isinstance(layer, MaxPooling2D) else "Flatten"
                rows.append((f"{name}_{index} ({kind})", out_shape, "0"))
                continue
            kernel = next(kernel_shapes)
            count = math.prod(kernel) + (kernel[-1] if layer.use_bias else 0)
            if isinstance(layer, Conv2D):
                rows.append((f"conv2d_{index} (Conv2D, {layer.activation}, "
                             f"{layer.kernel_size[0]}x{layer.kernel_size[1]})", out_shape,
                             f"{count:,}"))
                continue
            reg = layer.kernel_regularizer
            extra = "" if reg is None else ", " + ", ".join(
                f"{k.upper()} {v:g}" for k, v in reg.to_dict().items() if v)
            rows.append((f"dense_{index} (Dense, {layer.activation}{extra})", out_shape,
                         f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        line = "-" * (sum(widths) + 6)
        out = [f'Model: "sequential" ({self.backend} backend)', line]
        for j, row in enumerate(rows):
            out.append("  ".join(cell.ljust(w) if c < 2 else cell.rjust(w)
                                 for c, (cell, w) in enumerate(zip(row, widths))))
            if j == 0:
                out.append(line)
        out += [line, f"Total params: {self.count_params():,}",
                f"Optimizer: {self.spec.optimizer} (learning rate "
                f"{self.spec.effective_learning_rate:g}); loss: {self.spec.loss}"]
        return "\n".join(out)

    def __repr__(self) -> str:
        sizes = [self.spec.input_dim] + [layer.units for layer in self.spec.dense_layers]
        return f"NumpyModel({'-'.join(map(str, sizes))}, {self.spec.optimizer}, {self.spec.loss})"

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write spec, weights and optimizer state to one ``.npz`` file.

        The file opens with ``np.load``: ``spec`` and ``meta`` are JSON
        strings, ``weight_<i>`` the arrays of ``get_weights``, and
        ``opt_<slot>_<i>`` the optimizer's per-variable state. It is written to a
        temporary file of its own in the same folder, then renamed: a failed save
        (no such folder, a folder there, disk full) is one ModelFileError and
        leaves whatever ``path`` held unchanged.
        """
        path = os.fspath(path)
        meta = {
            "format": FORMAT, "version": FORMAT_VERSION, "backend": "numpy",
            "optimizer_iterations": self.optimizer.iterations,
            "rng_state": self.rng.bit_generator.state, "seed": self.seed,
            **({"dropout_rng_state": self.dropout_rng.bit_generator.state}
               if self.spec.has_dropout else {}),
            "history": self.history.to_dict() if self.history is not None else None,
            "metadata": self.metadata,
        }
        arrays: dict[str, np.ndarray] = {
            "spec": np.array(self.spec.to_json()),
            "meta": np.array(json.dumps(meta, default=json_default)),
        }
        for i, w in enumerate(self._variables()):
            arrays[f"weight_{i}"] = w
        for slot, (values,) in self.optimizer.state.items():
            for i, v in enumerate(self._split(values)):
                arrays[f"opt_{slot}_{i}"] = v

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

        write_model_file(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyModel:
        """A model saved by ``save``. The file is checked before anything is built: its
        entries' headers (never a pickle), its meta and spec, and every stored array's
        shape against the spec; a damaged file is one ModelFileError naming it."""
        path = os.fspath(path)
        check_model_path(path)
        try:
            with zipfile.ZipFile(path) as zf:
                headers = npz_headers(zf)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a deepterm NumPy model file ({exc})") from None
        if "spec" not in headers or "meta" not in headers:
            raise ModelFileError(f"{path}: not a deepterm NumPy model file (no spec/meta entries)")
        damaged = functools.partial(damaged_file, path, "NumPy")
        for name, (_, dtype) in headers.items():
            if dtype.hasobject:
                raise damaged(f"its entry {name!r} holds Python objects, which deepterm never "
                              f"unpickles")
        for name in ("spec", "meta"):
            shape, dtype = headers[name]
            if shape != () or dtype.kind != "U" or dtype.itemsize > MAX_JSON_BYTES:
                raise damaged(f"its {name!r} entry is not one JSON text (it holds {dtype} "
                              f"values of shape {shape})")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = read_json(data["meta"], "meta", damaged)
                check_meta(meta, path, "NumPy", FORMAT, FORMAT_VERSION)
                spec = read_spec(read_json(data["spec"], "spec", damaged), damaged)
                check_stored_weights(spec, headers, damaged)
                files = {name: data[name] for name in headers
                         if name.startswith(("weight_", "opt_"))}
            return cls._from_files(spec, meta, files)
        except ModelFileError:
            raise
        except MemoryError:
            raise ModelFileError(f"{path}: not enough memory to load this model") from None
        except KeyError as exc:
            raise damaged(f"it has no {exc.args[0]!r} entry") from None
        except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise damaged(str(exc) or type(exc).__name__) from None

    @classmethod
    def _from_files(cls, spec: ModelSpec, meta: dict, files: dict[str, np.ndarray]) -> NumpyModel:
        """The model from checked meta, spec and arrays (see ``load``)."""
        model = cls(spec, seed=meta.get("seed"))
        n_vars = len(model._variables())
        model.set_weights([files[f"weight_{i}"] for i in range(n_vars)])
        state = {"iterations": meta["optimizer_iterations"],
                 "slots": {slot: [np.concatenate([files[f"opt_{slot}_{i}"].ravel()
                                                  for i in range(n_vars)])]
                           for slot in model.optimizer.state}}
        model.optimizer.set_state(state)
        model.rng.bit_generator.state = meta["rng_state"]
        if meta.get("dropout_rng_state") is not None:
            try:
                model.dropout_rng.bit_generator.state = meta["dropout_rng_state"]
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                raise ValueError("its dropout state (dropout_rng_state) is not a PCG64 "
                                 "state") from None
        model.history = meta["history"]
        model.metadata = meta["metadata"]
        return model


# -- model files (both backends) -----------------------------------------------------------

#: the most bytes a model file's JSON entry (spec, meta, deepterm.json) may take
MAX_JSON_BYTES = 256 * 2 ** 20
_OS_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
               errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.EFBIG: "the file would be too large",
               errno.ENOENT: "its folder went away"}


def damaged_file(path: str, kind: str, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: damaged deepterm {kind} model file: {what}")


def real_weights(w: Any, i: int) -> np.ndarray:
    """``weights[i]`` as an array of real numbers; complex numbers (whose imaginary
    part a float array would drop) and anything else are refused."""
    arr = np.asarray(w)
    if np.iscomplexobj(arr):
        raise ValueError(f"weights[{i}] holds complex numbers (dtype {arr.dtype}); weights "
                         f"must be real")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"weights[{i}] must hold numbers, got an array of dtype {arr.dtype}")
    return arr


def check_model_path(path: str) -> None:
    """A model file to read must be a regular file: a FIFO would wait for a writer and a
    device never ends."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{path}: is a folder, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path}: not a regular file, so not a model file")


def npz_headers(zf: zipfile.ZipFile) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each array in an .npz archive, from the .npy headers alone
    (nothing is read or allocated beyond them)."""
    out = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            continue
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"{info.filename}: .npy format {version} is not supported")
        out[info.filename[: -len(".npy")]] = (tuple(shape), np.dtype(dtype))
    return out


def read_json(entry: Any, name: str, damaged: Callable[[str], ModelFileError]) -> Any:
    try:
        return json.loads(str(entry))
    except ValueError as exc:
        raise damaged(f"its {name!r} entry is not JSON ({exc})") from None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_meta(meta: Any, path: str, kind: str, fmt: str, newest: int) -> None:
    """Check a model file's meta (format, version, seed, shuffle state, history,
    metadata and, in a NumPy file, optimizer_iterations) in place: ``history``
    becomes a History or None, ``metadata`` a dict. ``kind``: "NumPy" or "Keras";
    ``fmt`` and ``newest``: the format name and the newest version this deepterm reads."""
    damaged = functools.partial(damaged_file, path, kind)
    if not isinstance(meta, dict):
        raise damaged(f"its meta is a JSON {_json_type(meta)}, not an object")
    if meta.get("format") != fmt:
        raise ModelFileError(f"{path}: not a deepterm {kind} model file (format "
                             f"{meta.get('format')!r})")
    version = meta.get("version", 0)
    if not _whole(version):
        raise damaged(f"its format version {version!r} is not a whole number")
    if version > newest:
        raise ModelFileError(f"{path}: written by a newer deepterm (format {version}); upgrade "
                             f"to read it")
    seed = meta.get("seed")
    if seed is not None and not _whole(seed):
        raise damaged(f"its seed {seed!r} is not a whole number >= 0")
    if kind == "NumPy" and not _whole(meta.get("optimizer_iterations")):
        raise damaged(f"its optimizer_iterations {meta.get('optimizer_iterations')!r} is not "
                      f"a whole number >= 0")
    if "rng_state" not in meta:
        raise damaged("its shuffle state (rng_state) is missing")
    try:
        np.random.default_rng().bit_generator.state = meta["rng_state"]
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise damaged("its shuffle state (rng_state) is not a PCG64 state") from None
    history = meta.get("history")
    if history is not None:
        try:
            if not isinstance(history, dict):
                raise TypeError
            meta["history"] = History.from_dict(history)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
            raise damaged("its training history cannot be read") from None
    metadata = meta.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise damaged(f"its metadata is a JSON {_json_type(metadata)}, not an object")
    meta["history"] = meta.get("history")
    meta["metadata"] = metadata or {}


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def read_spec(data: Any, damaged: Callable[[str], ModelFileError]) -> ModelSpec:
    if data is None:
        raise damaged("it has no spec")
    try:
        return ModelSpec.from_dict(data)
    except (SpecError, TypeError, ValueError) as exc:
        raise damaged(f"its spec is not a valid model spec ({exc})") from None


def weight_layout(spec: ModelSpec) -> list[tuple[str, tuple[int, ...]]]:
    """(what, shape) of each array of ``get_weights`` for ``spec``, computed without
    building anything."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for k, (shape, layer) in enumerate(zip(spec.kernel_shapes(), spec.weighted_layers), 1):
        out.append((f"layer {k} kernel", shape))
        if layer.use_bias:
            out.append((f"layer {k} bias", (shape[-1],)))
    return out


def check_array(name: str, shape: tuple, dtype: np.dtype, want: tuple[str, tuple],
                damaged: Callable[[str], ModelFileError]) -> None:
    """One stored array against what the spec says it is."""
    what, expected = want
    if tuple(shape) != tuple(expected):
        raise damaged(f"its spec's {what} is {tuple(expected)} but {name} holds "
                      f"{tuple(shape)}")
    if dtype.kind == "c":
        raise damaged(f"{name} holds complex numbers; weights are real")
    if dtype.kind not in "fiu":
        raise damaged(f"{name} holds {dtype} values, not numbers")


_OPT = re.compile(r"opt_(.+)_(\d+)")


def check_stored_weights(spec: ModelSpec, headers: dict, damaged) -> None:
    """Every weight_<i> and opt_<slot>_<i> entry of a NumPy model file against the spec."""
    layout = weight_layout(spec)
    weights = sorted(n for n in headers if n.startswith("weight_"))
    if len(weights) != len(layout) or any(f"weight_{i}" not in headers
                                          for i in range(len(layout))):
        raise damaged(f"it holds {len(weights)} weight arrays but its spec has {len(layout)} "
                      f"({', '.join(w for w, _ in layout)})")
    for i, want in enumerate(layout):
        check_array(f"weight_{i}", *headers[f"weight_{i}"], want, damaged)
    for name, (shape, dtype) in headers.items():
        m = _OPT.fullmatch(name)
        if name.startswith("opt_") and (m is None or int(m.group(2)) >= len(layout)):
            raise damaged(f"its entry {name!r} belongs to no weight of its spec")
        if m is not None:
            check_array(name, shape, dtype, layout[int(m.group(2))], damaged)


def write_model_file(path: str, write: Callable[[str], None]) -> None:
    """Write a model file through a temporary file of its own (a unique name, in the
    same folder), synced, then renamed over ``path``: a failed save leaves no temporary
    file behind and whatever ``path`` held unchanged, and two saves to one path never
    share a file. Any OSError is one ModelFileError naming ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: cannot save the model there: it is a folder")
    if not os.path.isdir(folder):
        raise ModelFileError(f"{path}: cannot save the model: the folder {folder} does not "
                             f"exist")
    name = os.path.basename(path)
    stem, ext = os.path.splitext(name)
    tmp = ""
    try:
        while True:
            tmp = os.path.join(folder, f".{stem}.{secrets.token_hex(6)}.tmp{ext}")
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                break
            except FileExistsError:
                continue
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = ""
    except OSError as exc:
        reason = _OS_REASONS.get(exc.errno or 0, "")
        detail = exc.strerror or str(exc)
        raise ModelFileError(f"{path}: cannot save the model: {reason or detail}"
                             f"{f' ({detail})' if reason and detail != reason else ''}; "
                             f"nothing was changed there") from None
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.remove(tmp)


#: (whether SciPy's BLAS had loaded, threadpoolctl's controllers of the BLAS libraries)
_blas: tuple[bool, list] | None = None


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries the process has loaded. Found
    once per process, and again once SciPy's BLAS (which Numba's ``np.dot`` calls,
    engine.compiled) has loaded: finding them walks the process's shared objects,
    about 1.5 ms, as long as 5-10 of a course model's epochs."""
    global _blas
    from threadpoolctl import ThreadpoolController

    scipy_blas = "scipy.linalg.cython_blas" in sys.modules
    if _blas is None or _blas[0] != scipy_blas:
        _blas = (scipy_blas, ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas[1]


def _blas_thread_count() -> int:
    """The threads NumPy's BLAS runs on now (its setting, or a limit in force), at
    least 1."""
    return max(1, min((lib.num_threads for lib in _blas_libraries()), default=1))


@contextlib.contextmanager
def _one_blas_thread():
    """Every BLAS library on one thread, then the threads each had back (as
    threadpoolctl's ``limit``, which costs 40 us a fit, about 2 us an epoch of a course
    model's bench fit; this a few us)."""
    libraries = _blas_libraries()
    before = [lib.num_threads for lib in libraries]
    for lib, threads in zip(libraries, before):
        if threads != 1:
            lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, threads in zip(libraries, before):
            if threads != 1:
                lib.set_num_threads(threads)
