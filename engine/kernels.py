"""Optimizer updates, and ReLU with its bias and its derivative, fused into one pass,
compiled by Numba (a dependency); where Numba cannot load or compile, the NumPy
passes do the work, with the same results.

Each NumPy update is a dozen whole-array passes (Adam: 12), each reading and
writing the variable's length of memory; the fused loop reads every element
once. On 784-512-512-10 (669k weights, float32) a batch's Adam step fell from
about 3.5 ms to about 0.6 ms (bench/run.py). Each kernel performs, element by
element, exactly the NumPy update's operations in the same order and
precision: no fast-math, so no reassociation and no fused multiply-add, and
NumPy's error model (a division by zero gives inf, never an exception). The
results are bit-identical to the NumPy passes (tests/test_engine_kernels.py).

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


def _build() -> SimpleNamespace:
    import numba
    import numpy as np

    jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=False)

    @jit
    def adam(var, grad, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
        # v += (g*g - v) * (1 - beta_2); m += (g - m) * (1 - beta_1)
        # w -= (m * alpha) / (sqrt(v) + epsilon)
        for i in range(var.size):
            g = grad[i]
            v_i = v[i] + (g * g - v[i]) * one_minus_beta_2
            m_i = m[i] + (g - m[i]) * one_minus_beta_1
            v[i] = v_i
            m[i] = m_i
            var[i] -= (m_i * alpha) / (np.sqrt(v_i) + epsilon)

    @jit
    def sgd(var, grad, learning_rate):
        for i in range(var.size):
            var[i] -= grad[i] * learning_rate

    @jit
    def momentum(var, grad, m, learning_rate, momentum, nesterov):
        # m = m*momentum - g*lr; w += m (nesterov: w += momentum*m - g*lr)
        for i in range(var.size):
            step = grad[i] * learning_rate
            m_i = m[i] * momentum - step
            m[i] = m_i
            if nesterov:
                var[i] += momentum * m_i - step
            else:
                var[i] += m_i

    @jit
    def rmsprop(var, grad, v, learning_rate, rho, one_minus_rho, epsilon):
        # v = v*rho + (g*g)*(1 - rho); w -= (g*lr) / sqrt(v + epsilon)
        for i in range(var.size):
            g = grad[i]
            v_i = v[i] * rho + (g * g) * one_minus_rho
            v[i] = v_i
            var[i] -= (g * learning_rate) / np.sqrt(v_i + epsilon)

    @jit
    def adagrad(var, grad, acc, learning_rate, epsilon):
        # acc += g*g; w -= (g*lr) / sqrt(acc + epsilon)
        for i in range(var.size):
            g = grad[i]
            a = acc[i] + g * g
            acc[i] = a
            var[i] -= (g * learning_rate) / np.sqrt(a + epsilon)

    @jit
    def bias_relu(z, bias, out):
        # z += bias; out = np.maximum(z, 0): NaN stays NaN, -0.0 becomes 0.0, as NumPy's
        rows, cols = z.shape
        zero = out.dtype.type(0)
        for r in range(rows):
            for c in range(cols):
                value = z[r, c] + bias[c]
                z[r, c] = value
                out[r, c] = value if value > 0 or value != value else zero

    @jit
    def relu_backward(da, z):
        # da *= (z > 0), in place: a multiply by 1 or 0, as NumPy's, so that inf and
        # NaN in da still turn into NaN
        rows, cols = da.shape
        one, zero = da.dtype.type(1), da.dtype.type(0)
        for r in range(rows):
            for c in range(cols):
                da[r, c] = da[r, c] * (one if z[r, c] > 0 else zero)

    return SimpleNamespace(adam=adam, sgd=sgd, momentum=momentum, rmsprop=rmsprop,
                           adagrad=adagrad, bias_relu=bias_relu, relu_backward=relu_backward)
