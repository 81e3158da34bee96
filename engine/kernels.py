"""Optimizer updates, and ReLU with its bias and its derivative, fused into one pass,
compiled by Numba (a dependency); where Numba cannot load or compile, the NumPy
passes do the work, with the same results.

Each NumPy update is a dozen whole-array passes (Adam: 12), each reading and
writing the variable's length of memory; the fused loop (engine.numba_ops, shared
with the compiled loop of engine.compiled_kernel) reads every element once. On
784-512-512-10 (669k weights, float32) a batch's Adam step fell from about 3.5 ms
to about 0.6 ms (bench/run.py). The results are bit-identical to the NumPy passes
(tests/test_engine_kernels.py).

Kernels are compiled on first use (about a second each) and cached on disk.
Only models of at least ``FUSED_MIN`` weights use them, so small models never
import Numba. ``DEEPTERM_NO_NUMBA=1`` turns them off.
"""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

#: Models (and optimizer variables) of at least this many weights use the kernels.
FUSED_MIN = 1 << 17

_lock = threading.Lock()
_kernels: SimpleNamespace | None = None
_tried = False
_disabled = False   # a kernel failed: kernels a caller already holds are not run again


def get() -> SimpleNamespace | None:
    """The compiled kernels (``adam``, ``sgd``, ``momentum``, ``rmsprop``,
    ``adagrad``, ``bias_relu``, ``relu_backward``), or None when Numba is missing,
    broken or turned off."""
    global _kernels, _tried
    if _tried:
        return _kernels
    with _lock:
        if not _tried:
            if os.environ.get("DEEPTERM_NO_NUMBA", "") not in ("", "0"):
                _kernels = None
            else:
                try:
                    _kernels = _build()
                except Exception:  # noqa: BLE001 - any failure: the NumPy passes do the work
                    _kernels = None
            _tried = True
    return _kernels


def call(k: SimpleNamespace | None, name: str, *args) -> bool:
    """Run kernel ``name`` of ``k``; False when there is none or it cannot compile
    (kernels are then off, and the caller does the NumPy passes: a kernel that fails
    to compile has not touched its arrays)."""
    if k is None or _disabled:
        return False
    try:
        getattr(k, name)(*args)
    except Exception:  # noqa: BLE001 - e.g. no writable cache: NumPy does the work
        disable()
        return False
    return True


def disable() -> None:
    """NumPy passes from now on (a kernel failed to compile, e.g. no writable cache)."""
    global _kernels, _tried, _disabled
    with _lock:
        _kernels, _tried, _disabled = None, True, True


#: the kernels, and how many of their leading arguments are arrays
_UPDATES = {"adam": 4, "sgd": 2, "momentum": 3, "rmsprop": 3, "adagrad": 3, "bias_relu": 3,
            "relu_backward": 2}


def on_threads(k: SimpleNamespace, threads: int) -> SimpleNamespace:
    """``k`` with its kernels split across engine.gemm's ``threads`` threads (each
    thread a slice of the arrays, or of their rows: the same results)."""
    from . import gemm

    def split(name, n_arrays):
        return lambda *args: gemm.elementwise(name, args[:n_arrays], args[n_arrays:], threads)

    return SimpleNamespace(**{**vars(k), **{name: split(name, n) for name, n in _UPDATES.items()}})


def _build() -> SimpleNamespace:
    from . import numba_ops as ops

    return SimpleNamespace(adam=ops.adam, sgd=ops.sgd, momentum=ops.momentum,
                           rmsprop=ops.rmsprop, adagrad=ops.adagrad, bias_relu=ops.bias_relu,
                           relu_backward=ops.relu_backward)
