"""The compiled training path of the NumPy backend: whole runs of batches in Numba.

The NumPy backend's batch loop (``NumpyModel._fit``) spends most of a small model's
batch in Python: a few dozen NumPy calls of a few microseconds each. For a dense
model this module runs a chunk of batches (gather the rows in the shuffle order,
forward pass, loss, backward pass, optimizer step, the epoch's running loss and
metrics) in one compiled call, ``engine.compiled_kernel.train_batches``, with no
Python and no allocation per batch, then hands back to Python at the chunk's end.

When it is used (``NumpyModel._fit`` decides, per fit):

- ``supports(spec)``: a dense model (``Layer`` with or without biases and L1/L2
  kernel regularizers, and ``Dropout``, whose masks are the NumPy path's draws of
  the model's dropout generator, in the same order), any loss, activation,
  optimizer and metric of the spec, float32 or float64. Anything else trains as before, batch by batch.
- The fit is long enough to pay for it: at least ``MIN_BATCHES`` batches (epochs x
  steps), or ``DEEPTERM_COMPILE=1``. Loading Numba and the compiled loop costs a new
  process about 1.5 s (10 s the first time on a machine); the loop saves 60-140 us a
  batch on the course's models, so a course run (Titanic's 20 epochs: 580 batches, 0.05 s
  of training) would take 4x as long from the command line. The rule looks at the fit
  only, never at what the process has loaded, so a run and its re-run take one path.
- Not a fit whose large products engine.gemm takes (float32 batches of at least
  ``NumpyModel.SMALL_BATCH_WORK`` multiply-adds where NumPy's BLAS runs kernels older
  than the CPU): it trains batch by batch, its products on every thread the BLAS
  had; a batch of such a fit lasts milliseconds, so Python's cost per batch is
  under 1% of it (the large workload's compiled epochs took 0.97x the batch-by-batch
  ones' time with the BLAS's products).
- No callback needs Python after every batch (``engine.callbacks.batch_interval_s``
  states the rule: a callback that overrides ``on_batch_end`` without saying how
  often it wants it gets every batch, on the NumPy path).
- Numba loads and the function compiles; ``DEEPTERM_NO_COMPILE=1`` (or
  ``DEEPTERM_NO_NUMBA=1``) turns the path off. A failure to compile warns once and
  the run goes on on the NumPy path from the batch it had reached.

Chunks: each chunk lasts about the shortest ``batch_interval_s`` of the callbacks,
and at most ``CHUNK_S`` (sized from the measured time per batch), so ``on_batch_end``
is called at the chunk's last batch with the epoch's running logs, and a stop
(``model.stop_training``, ``request_stop`` from another thread, the runner's stop or
pause) takes effect at the next chunk boundary, within about ``CHUNK_S``. Epochs
(``on_epoch_begin``/``on_epoch_end``, validation, divergence, early stopping) are
exactly as on the NumPy path, and the shuffle order is the same draw of the model's
generator, so the two paths' histories agree to float rounding.

The function is compiled once per dtype (about 10 s) and cached on disk by Numba
(``cache=True``: in ``__pycache__`` beside the module, or where that is not
writable, as for an installed package, Numba's per-user cache directory, or
``NUMBA_CACHE_DIR``); loading it from the cache takes well under a second.
``warm()`` compiles or loads it ahead of time (the runner's prestarted child does,
in a background thread).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from . import gemm
from .spec import Dropout, Layer, ModelSpec

#: Set to 1 to train batch by batch in Python (the NumPy path) always.
NO_COMPILE_ENV = "DEEPTERM_NO_COMPILE"
#: Set to 1 to take the compiled path for fits of any length (benchmarks, tests).
COMPILE_ENV = "DEEPTERM_COMPILE"
#: Fits of fewer batches (epochs x steps) train batch by batch: see the module docstring.
MIN_BATCHES = 10_000
#: A chunk of batches lasts about this long at most (seconds), so a stop or a pause
#: is heard within about this long even when no callback wants batches.
CHUNK_S = 0.1
#: A chunk is at most this many times longer (in batches) than the one before: a
#: chunk sized from one fast batch would otherwise overshoot.
CHUNK_GROWTH = 8
#: A chunk of a model with Dropout draws its masks' uniforms ahead (float32): at most
#: this many, 4 MiB (without the cap, 0.1 s of MNIST batches with Dropout on the
#: 784 inputs would draw 100 MB a chunk).
MAX_DRAWS = 1 << 20

_ACTIVATIONS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "softmax": 4}
_LOSSES = {"mse": 0, "mae": 1, "binary_crossentropy": 2, "categorical_crossentropy": 3,
           "sparse_categorical_crossentropy": 4}
_OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "rmsprop": 3, "adagrad": 4}

_lock = threading.Lock()
_failed: str | None = None     # why the compiled path is off for this process


def enabled() -> bool:
    """Whether the environment allows the compiled path (not that it compiles)."""
    return (os.environ.get(NO_COMPILE_ENV, "") in ("", "0")
            and os.environ.get("DEEPTERM_NO_NUMBA", "") in ("", "0"))


def worth_it(batches: int) -> bool:
    """Whether a fit of ``batches`` batches (epochs x steps) takes the compiled path:
    ``MIN_BATCHES`` or more, or any with ``DEEPTERM_COMPILE=1``."""
    return batches >= MIN_BATCHES or os.environ.get(COMPILE_ENV, "") not in ("", "0")


def supports(spec: ModelSpec) -> bool:
    """Whether the compiled loop can train ``spec``: Dense layers (with or without
    biases, with or without kernel regularizers) and Dropout, float32 or float64; a
    sparse loss with the mae or mse metric (which the NumPy path broadcasts oddly) is
    left to the NumPy path."""
    if spec.is_image:
        return False
    if spec.dtype not in ("float32", "float64") or spec.loss not in _LOSSES:
        return False
    if spec.optimizer not in _OPTIMIZERS:
        return False
    for layer in spec.layers:
        if type(layer) is Dropout:
            continue
        if type(layer) is not Layer or layer.activation not in _ACTIVATIONS:
            return False
    if spec.loss == "sparse_categorical_crossentropy" and set(spec.metrics) & {"mae", "mse"}:
        return False
    return all(m in ("accuracy", "mae", "mse") for m in spec.metrics)


def get() -> ModuleType | None:
    """engine.compiled_kernel, or None when the path is off or failed in this process.
    Imports Numba (and SciPy's BLAS, which Numba's ``np.dot`` calls, so that the
    backend's BLAS thread limit covers it)."""
    if _failed is not None or not enabled():
        return None
    try:
        import scipy.linalg.cython_blas  # noqa: F401 - loaded before any thread limit is set

        from . import compiled_kernel
    except Exception as exc:  # noqa: BLE001 - no Numba, no SciPy, a broken install
        fail(exc)
        return None
    return compiled_kernel


def fail(exc: BaseException) -> None:
    """The compiled path is off for this process; warn once."""
    global _failed
    with _lock:
        if _failed is not None:
            return
        _failed = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    warnings.warn(f"deepterm: compiled training is unavailable ({_failed}); training "
                  f"batch by batch with NumPy instead", RuntimeWarning, stacklevel=3)


def failure() -> str | None:
    """Why the compiled path failed in this process (None: it did not)."""
    return _failed


def warm() -> bool:
    """Compile the loop for float32, or load it from Numba's cache, now: one tiny
    fit-shaped call. True when the compiled path is ready."""
    kernel = get()
    if kernel is None:
        return False
    spec = ModelSpec(input_dim=2, layers=[Layer(2, "relu"), Layer(1, "sigmoid")],
                     loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    from .numpy_backend import NumpyModel

    model = NumpyModel(spec, seed=0)
    X = np.zeros((2, 2), dtype=np.float32)
    y = np.zeros((2, 1), dtype=np.float32)
    try:
        trainer = Trainer(model, kernel, X, y, batch_size=2)
        trainer.run(np.arange(2, dtype=np.int64), 0, 1, np.zeros(2))
    except Exception as exc:  # noqa: BLE001 - e.g. no writable cache: the NumPy path
        fail(exc)
        return False
    return True


def warm_in_background() -> threading.Thread | None:
    """``warm()`` on a daemon thread (None when the path is off)."""
    if not enabled() or _failed is not None:
        return None
    thread = threading.Thread(target=warm, name="deepterm-compile", daemon=True)
    thread.start()
    return thread


class Trainer:
    """One fit's compiled loop: the model's tables and work arrays, allocated once.

    X: (n, input_dim) and y (as ``engine.data.check_y`` gives it) are the training
    rows; ``run`` trains batches of an epoch in place on the model's weights and
    optimizer state."""

    def __init__(self, model: Any, kernel: ModuleType, X: np.ndarray, y: np.ndarray,
                 batch_size: int) -> None:
        spec, dtype = model.spec, model.dtype
        self.model, self.kernel = model, kernel
        self.batch_size = int(batch_size)
        # the compiled function is typed by its arrays: always C-contiguous and writable
        self.X = _typed(X, dtype)
        if spec.loss == "sparse_categorical_crossentropy":
            self.labels = _typed(y, np.int64)
            self.Y = np.zeros((0, spec.output_dim), dtype=dtype)
        else:
            self.labels = np.zeros(0, dtype=np.int64)
            self.Y = _typed(y, dtype)
        layers, offset = [], 0
        for layer, (n_in, n_out) in zip(spec.dense_layers, spec.layer_shapes()):
            bias = offset + n_in * n_out if layer.use_bias else -1
            layers.append((n_in, n_out, offset, bias, _ACTIVATIONS[layer.activation]))
            offset += n_in * n_out + (n_out if layer.use_bias else 0)
        self.layers = np.array(layers, dtype=np.int64)
        self.regs = np.array([(layer.kernel_regularizer.l1, layer.kernel_regularizer.l2)
                              if layer.kernel_regularizer is not None else (0.0, 0.0)
                              for layer in spec.dense_layers], dtype=np.float64).reshape(-1, 2)
        #: the Dropout rate before each Dense layer (engine.spec.ModelSpec.dropout_before)
        self.drops = np.array(model._drop if model._drop is not None else [0.0] * len(layers),
                              dtype=np.float64)
        #: the dropout generator's draws per row of a batch (every dropped layer's inputs)
        self.draws_per_row = sum(n_in for (n_in, *_), rate in zip(layers, self.drops) if rate > 0)
        # room for one batch: at most every row (a batch_size beyond them allocates nothing)
        rows, table, size = max(1, min(self.batch_size, len(self.X))), [], 0
        for (n_in, n_out, *_), rate in zip(layers, self.drops):
            dropped = size + 3 * rows * n_out if rate > 0 else -1
            table.append((size, size + rows * n_out, size + 2 * rows * n_out, dropped))
            size += 3 * rows * n_out + (rows * n_in if rate > 0 else 0)
        table.append((size, size + rows * spec.input_dim, 0, 0))
        size += rows * (spec.input_dim + spec.output_dim)
        self.work_table = np.array(table, dtype=np.int64)
        self.work = np.zeros(size, dtype=dtype)
        self.lab = np.zeros(rows, dtype=np.int64)
        self.row_log = np.zeros((rows, 2), dtype=dtype)
        self.metric_codes = np.array([_metric_code(m, spec) for m in spec.metrics],
                                     dtype=np.int64)
        self.batch_metrics = np.zeros(max(1, len(spec.metrics)))
        # small float32 products on engine.gemm_kernel's tiles (compiled_kernel.TILE_MAX)
        self.tiles_ok = np.dtype(dtype) == np.float32 and gemm.cpu_has_avx512()
        tiles = kernel.tiles
        widest = -(-max(n_out for _, n_out, *_ in layers) // tiles.NR) if self.tiles_ok else 0
        self.packed = np.zeros(max(1, widest * tiles.NR * tiles.KC), dtype=np.float32)
        self.edge = np.zeros(tiles.MR * tiles.KC, dtype=np.float32)
        self.loss = _LOSSES[spec.loss]
        #: seconds per batch, as last measured (None: not yet), and the last chunk's batches
        self.batch_s: float | None = None
        self.last_chunk = 1
        #: the rows in order, for a fit without shuffling
        self.in_order = np.arange(len(self.X), dtype=np.int64)

    def run(self, order: np.ndarray, b0: int, b1: int, sums: np.ndarray) -> tuple[int, bool]:
        """Train batches ``b0 .. b1 - 1`` of the epoch whose rows come in ``order``
        ((n,) int64); ``sums`` (float64: loss, then each metric) gets their
        per-sample sums added. Returns (the batch reached, whether that batch's loss
        was not finite: it was not applied, and the run has diverged)."""
        model = self.model
        opt = model.optimizer
        code, s1, s2, hyper = optimizer_args(opt, model.dtype)
        rng = model.dropout_rng
        if self.draws_per_row:   # the masks' draws of these batches, as the NumPy path's
            state = rng.bit_generator.state
            uniforms = rng.random(self._draws(b0, b1), dtype=np.float32)
        else:
            uniforms = _NO_DRAWS
        started = time.perf_counter()
        try:
            reached, bad = self.kernel.train_batches(
                self.X, self.Y, self.labels, order, int(b0), int(b1), self.batch_size,
                model._flat, model._grad_flat, s1, s2, hyper, int(opt.iterations), code,
                self.loss, self.layers, self.regs, self.drops, uniforms, self.work,
                self.work_table, self.lab, self.row_log, self.metric_codes, sums,
                self.batch_metrics, self.tiles_ok, self.packed, self.edge)
        except BaseException:
            if self.draws_per_row:   # nothing trained: the NumPy path goes on from here
                rng.bit_generator.state = state
            raise
        reached = int(reached)
        if bad and self.draws_per_row:   # drawn up to the diverged batch (it ran forward)
            rng.bit_generator.state = state
            rng.random(self._draws(b0, reached + 1), dtype=np.float32)
        opt.iterations += reached - b0
        if reached > b0:
            self.batch_s = (time.perf_counter() - started) / (reached - b0)
        return reached, bool(bad)

    def _draws(self, b0: int, b1: int) -> int:
        """The dropout generator's draws for batches ``b0 .. b1 - 1``."""
        rows = min(len(self.X), b1 * self.batch_size) - b0 * self.batch_size
        return max(0, rows) * self.draws_per_row

    def chunk(self, previous: int, interval_s: float) -> int:
        """How many batches the next chunk has: about ``interval_s`` seconds' worth
        (capped at CHUNK_S, and at MAX_DRAWS dropout draws), one while the time per
        batch is unknown."""
        if self.batch_s is None or interval_s <= 0:
            return 1
        want = int(min(interval_s, CHUNK_S) / max(self.batch_s, 1e-9))
        if self.draws_per_row:
            want = min(want, MAX_DRAWS // (self.batch_size * self.draws_per_row))
        return max(1, min(want, previous * CHUNK_GROWTH))


def optimizer_args(opt: Any, dtype) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """What ``compiled_kernel`` takes for an engine.optimizers optimizer of one flat
    variable: (its code, state slot 1, state slot 2 (empty where it has fewer), its
    hyper-parameters as float64 (compiled_kernel.H_*))."""
    state, name, empty = opt.state, opt.name, _EMPTY[np.dtype(dtype)]
    if name == "sgd":
        code = _OPTIMIZERS["momentum" if opt.momentum != 0 else "sgd"]
        s1, s2 = (state["momentum"][0] if opt.momentum != 0 else empty), empty
    elif name == "adam":
        code, s1, s2 = _OPTIMIZERS["adam"], state["m"][0], state["v"][0]
    else:
        code = _OPTIMIZERS[name]
        s1, s2 = state["velocity" if name == "rmsprop" else "accumulator"][0], empty
    hyper = np.array([opt.learning_rate, getattr(opt, "momentum", 0.0),
                      float(getattr(opt, "nesterov", False)),
                      getattr(opt, "beta_1", 0.9), getattr(opt, "beta_2", 0.999),
                      getattr(opt, "epsilon", 1e-7), getattr(opt, "rho", 0.9)])
    return code, s1, s2, hyper


_NO_DRAWS = np.zeros(0, dtype=np.float32)
_EMPTY = {np.dtype(np.float32): np.zeros(0, dtype=np.float32),
          np.dtype(np.float64): np.zeros(0, dtype=np.float64)}


def _typed(arr: np.ndarray, dtype) -> np.ndarray:
    arr = np.ascontiguousarray(arr, dtype=dtype)
    return arr if arr.flags.writeable else arr.copy()


def _metric_code(name: str, spec: ModelSpec) -> int:
    from .metrics import accuracy_kind

    if name == "mae":
        return 0
    if name == "mse":
        return 1
    return {"binary": 2, "sparse_categorical": 3,
            "categorical": 4}[accuracy_kind(spec.loss, spec.output_dim)]
