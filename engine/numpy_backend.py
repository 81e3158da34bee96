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
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import activations, initializers, kernels, losses, metrics
from .callbacks import CallbackList, Divergence, StopSignal
from .data import check_X, check_y, prepare_fit
from .errors import FitError
from .history import History
from .numerics import json_default
from .optimizers import make_optimizer
from .spec import ModelSpec, allocation_failed, check_memory

FORMAT = "deepterm-numpy-model"
FORMAT_VERSION = 1


@dataclass
class Pass:
    """One forward pass: the input and every layer's weighted sums and values."""

    x: np.ndarray
    z: list[np.ndarray]
    a: list[np.ndarray]


@dataclass
class Backward:
    """One backward pass: per layer dL/da (node values), dL/dz (weighted sums)
    and the weight gradients (bias gradient None for a layer without bias)."""

    da: list[np.ndarray | None]
    dz: list[np.ndarray]
    kernel_grads: list[np.ndarray]
    bias_grads: list[np.ndarray | None]


class NumpyModel:
    """A model built from a ``ModelSpec`` that trains with NumPy on the CPU."""

    backend = "numpy"

    def __init__(self, spec: ModelSpec, seed: int | None = None) -> None:
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
        check_memory(spec)   # before anything is allocated
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        try:
            self._allocate(spec)
        except MemoryError as exc:
            raise allocation_failed(spec, exc) from None
        self._stop = StopSignal()
        self.device = "CPU"
        self.history: History | None = None
        self.metadata: dict[str, Any] = {}
        self._fused = None   # engine.kernels while a large model trains (see _fit)

    def _allocate(self, spec: ModelSpec) -> None:
        """The weights, drawn from the seeded generator, their gradients and the
        optimizer's state."""
        # All weights live in one contiguous array, and so do the gradients:
        # kernels and biases are views into it, so the optimizer updates every
        # weight with a handful of whole-array operations per batch.
        shapes: list[tuple[int, ...]] = []
        for (n_in, n_out), layer in zip(spec.layer_shapes(), spec.layers):
            shapes.append((n_in, n_out))
            if layer.use_bias:
                shapes.append((n_out,))
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
        for (n_in, n_out), layer in zip(spec.layer_shapes(), spec.layers):
            kernel = views[k]
            kernel[...] = initializers.initialize(layer.kernel_initializer, self.rng, (n_in, n_out),
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
            w = np.asarray(w)
            if w.shape != var.shape:
                raise ValueError(f"weights[{i}] must have shape {var.shape}, got {w.shape}")
            if not np.isfinite(w).all():
                raise ValueError(f"weights[{i}] contains NaN or infinity")
            var[...] = w

    def count_params(self) -> int:
        return self.spec.count_params()

    # -- stopping ------------------------------------------------------------

    @property
    def stop_training(self) -> bool:
        return self._stop.is_set()

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        if value:
            self._stop.request("stopped")
        else:
            self._stop.clear()

    def request_stop(self, reason: str = "stopped") -> None:
        """Stop after the current batch; safe to call from any thread."""
        self._stop.request(reason)

    # -- the passes ------------------------------------------------------------

    def forward(self, X: np.ndarray, fused=None) -> Pass:
        """Every layer's weighted sums ``z`` and node values ``a`` for rows X.
        ``fused``: engine.kernels, to add a ReLU layer's bias and apply it in one pass."""
        zs, as_ = [], []
        a = X
        for kernel, bias, layer in zip(self.kernels, self.biases, self.spec.layers):
            z = a @ kernel
            a = self._bias_and_activation(z, bias, layer.activation, fused)
            zs.append(z)
            as_.append(a)
        return Pass(X, zs, as_)

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
        n_layers = len(self.kernels)
        das: list[np.ndarray | None] = [None] * n_layers
        dzs: list[np.ndarray] = [None] * n_layers  # type: ignore[list-item]
        kgrads: list[np.ndarray] = [None] * n_layers  # type: ignore[list-item]
        bgrads: list[np.ndarray | None] = [None] * n_layers
        das[-1] = da_out
        dz = dz_out
        for i in range(n_layers - 1, -1, -1):
            dzs[i] = dz
            a_in = fwd.a[i - 1] if i > 0 else fwd.x
            if into_buffers:
                kgrads[i] = np.matmul(a_in.T, dz, out=self._kernel_grads[i])
                if self.biases[i] is not None:
                    bgrads[i] = np.sum(dz, axis=0, out=self._bias_grads[i])
            else:
                kgrads[i] = a_in.T @ dz
                if self.biases[i] is not None:
                    bgrads[i] = dz.sum(axis=0)
            if i > 0 or need_input_grad:
                da = dz @ self.kernels[i].T
                if i > 0:
                    das[i - 1] = da
                    activation = self.spec.layers[i - 1].activation
                    if (fused is not None and into_buffers and activation == "relu"
                            and kernels.call(fused, "relu_backward", da, fwd.z[i - 1])):
                        dz = da   # in place: training keeps no dL/da
                    else:
                        dz = activations.backward(activation, fwd.z[i - 1], fwd.a[i - 1], da)
                else:
                    self._input_grad = da
        return Backward(das, dzs, kgrads, bgrads)

    def _train_step(self, X: np.ndarray, y: np.ndarray):
        """Forward and backward for one batch; the gradients land in the flat
        gradient array. Returns the forward pass and the per-sample losses."""
        fused = self._fused
        fwd = self.forward(X, fused)
        out = self.spec.layers[-1].activation
        sample_losses, dz = losses.loss_and_grad(self.spec.loss, out, y, fwd.a[-1], fwd.z[-1])
        self.backward(fwd, dz, into_buffers=True, fused=fused)
        return fwd, sample_losses

    def _loss_step(self, X: np.ndarray, y: np.ndarray):
        """Forward, per-sample losses and gradients (new arrays) for one batch."""
        fwd = self.forward(X)
        out = self.spec.layers[-1].activation
        sample_losses, dz = losses.loss_and_grad(self.spec.loss, out, y, fwd.a[-1], fwd.z[-1])
        back = self.backward(fwd, dz)
        grads = []
        for kg, bg in zip(back.kernel_grads, back.bias_grads):
            grads.append(kg)
            if bg is not None:
                grads.append(bg)
        return fwd, sample_losses, grads

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

    def _evaluate_arrays(self, X: np.ndarray, y: np.ndarray, chunk: int = 4096) -> dict[str, float]:
        out = self.spec.layers[-1].activation
        sums = {"loss": 0.0, **{m: 0.0 for m in self.spec.metrics}}
        for i in range(0, len(X), chunk):
            xb, yb = X[i:i + chunk], y[i:i + chunk]
            fwd = self.forward(xb)
            sums["loss"] += float(losses.per_sample(self.spec.loss, yb, fwd.a[-1], fwd.z[-1], out)
                                  .sum(dtype=np.float64))
            for m in self.spec.metrics:
                sums[m] += float(metrics.per_sample(m, self.spec.loss, yb, fwd.a[-1]).sum())
        return {k: v / len(X) for k, v in sums.items()}

    def evaluate(self, X, y) -> dict[str, float]:
        """Mean loss and metrics over all rows: {"loss": ..., "accuracy": ...}."""
        X = check_X(X, self.spec, self.dtype)
        y = check_y(y, self.spec, len(X), self.dtype)
        return self._evaluate_arrays(X, y)

    # -- training ------------------------------------------------------------------

    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            callbacks=None, verbose: int = 0) -> History:
        """Train with mini-batch gradient descent; returns a History.

        X: (n_samples, input_dim); y: (n_samples,) or (n_samples, n_outputs),
        or class labels (n_samples,) for sparse_categorical_crossentropy.
        ``validation_split`` takes the last fraction of the rows before
        shuffling. Training stops after the current batch when
        ``stop_training`` is set (from a callback or another thread).

        A run that diverges stops with ``stop_reason == "diverged"``: a NaN or
        infinite loss, metric or weight (that epoch is rolled back and not
        recorded), or a training loss above 1000 times its starting loss (the
        loss of the initial weights on the training rows) and above 1 in 3
        epochs in a row; a spike that recovers sooner is not divergence
        (``engine.callbacks.Divergence`` states the rule).
        """
        run = prepare_fit(self.spec, self.dtype, X, y, epochs, batch_size, validation_split,
                          validation_data, shuffle)
        # overflow is how divergence shows itself: it is reported as the stop
        # reason "diverged", not as warnings
        with np.errstate(over="ignore", invalid="ignore"), self._blas_threads(run["batch_size"]):
            return self._fit(run, callbacks)

    #: per-batch multiply-adds below which BLAS runs on one thread (see _blas_threads)
    SMALL_BATCH_WORK = 10_000_000

    def _blas_threads(self, batch_size: int):
        """Small products run on one BLAS thread: splitting them across threads
        gains nothing, and on a busy machine OpenBLAS threads waiting for a
        descheduled sibling made such epochs 10-20x slower (bench/run.py)."""
        work = batch_size * sum(a * b for a, b in self.spec.layer_shapes())
        if work >= self.SMALL_BATCH_WORK:
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1, user_api="blas")

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
        self._fused = kernels.get() if self.count_params() >= kernels.FUSED_MIN else None
        cbs = CallbackList(callbacks, self, params)
        metric_names = self.spec.metrics
        flat, grad_flat = [self._flat], [self._grad_flat]
        started = time.perf_counter()
        last_logs: dict[str, float] = {}
        diverged = False
        divergence = Divergence(self._evaluate_arrays(X, y)["loss"]
                                if Divergence.needs_start_loss(epochs) else None)

        cbs.on_train_begin()
        for epoch in range(epochs):
            if self._stop.is_set():
                break
            cbs.on_epoch_begin(epoch)
            snapshot = (self._flat.copy(), self.optimizer.get_state())
            order = self.rng.permutation(n) if run["shuffle"] else None
            loss_sum = 0.0
            metric_sums = dict.fromkeys(metric_names, 0.0)
            seen = 0
            for b in range(steps):
                lo, hi = b * batch_size, min(n, (b + 1) * batch_size)
                if order is None:
                    xb, yb = X[lo:hi], y[lo:hi]
                else:
                    idx = order[lo:hi]
                    xb, yb = X[idx], y[idx]
                fwd, sample_losses = self._train_step(xb, yb)
                batch_loss = float(sample_losses.sum(dtype=np.float64))
                if not math.isfinite(batch_loss):  # non-finite weights show up here next batch
                    diverged = True
                    break
                self.optimizer.apply(flat, grad_flat)
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

    # -- description -----------------------------------------------------------------

    def summary(self) -> str:
        """A Keras-style table of the layers, their output shapes and parameters."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for i, ((n_in, n_out), layer) in enumerate(zip(self.spec.layer_shapes(), self.spec.layers)):
            count = n_in * n_out + (n_out if layer.use_bias else 0)
            rows.append((f"dense_{i} (Dense, {layer.activation})", f"(None, {n_out})", f"{count:,}"))
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
        sizes = [self.spec.input_dim] + [layer.units for layer in self.spec.layers]
        return f"NumpyModel({'-'.join(map(str, sizes))}, {self.spec.optimizer}, {self.spec.loss})"

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write spec, weights and optimizer state to one ``.npz`` file.

        The file opens with ``np.load``: ``spec`` and ``meta`` are JSON
        strings, ``weight_<i>`` the arrays of ``get_weights``, and
        ``opt_<slot>_<i>`` the optimizer's per-variable state.
        """
        path = os.fspath(path)
        meta = {
            "format": FORMAT, "version": FORMAT_VERSION, "backend": "numpy",
            "optimizer_iterations": self.optimizer.iterations,
            "rng_state": self.rng.bit_generator.state, "seed": self.seed,
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
        tmp = path + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyModel:
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                files = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise FitError(f"{path}: no such file") from None
        except Exception as exc:
            raise FitError(f"{path}: not a deepterm NumPy model file ({exc})") from None
        if "spec" not in files or "meta" not in files:
            raise FitError(f"{path}: not a deepterm NumPy model file (no spec/meta entries)")
        try:
            return cls._from_files(files)
        except FitError as exc:
            raise FitError(f"{path}: {exc}") from None
        except (KeyError, ValueError, TypeError) as exc:
            raise FitError(f"{path}: damaged deepterm NumPy model file ({exc})") from None

    @classmethod
    def _from_files(cls, files: dict[str, np.ndarray]) -> NumpyModel:
        meta = json.loads(str(files["meta"]))
        if meta.get("format") != FORMAT:
            raise FitError("not a deepterm NumPy model file")
        if meta.get("version", 0) > FORMAT_VERSION:
            raise FitError(f"written by a newer deepterm (format {meta['version']}); upgrade to read it")
        spec = ModelSpec.from_json(str(files["spec"]))
        model = cls(spec, seed=meta.get("seed"))
        n_vars = len(model._variables())
        model.set_weights([files[f"weight_{i}"] for i in range(n_vars)])
        state = {"iterations": meta["optimizer_iterations"],
                 "slots": {slot: [np.concatenate([files[f"opt_{slot}_{i}"].ravel()
                                                  for i in range(n_vars)])]
                           for slot in model.optimizer.state}}
        model.optimizer.set_state(state)
        model.rng.bit_generator.state = meta["rng_state"]
        if meta.get("history"):
            model.history = History.from_dict(meta["history"])
        model.metadata = meta.get("metadata") or {}
        return model

