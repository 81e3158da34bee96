"""Optimizer updates fused into one pass, compiled by Numba when it is installed
(``pip install deepterm[fast]``); without Numba the optimizers use their NumPy
passes, with the same results.

Each NumPy update is a dozen whole-array passes (Adam: 12), each reading and
writing the variable's length of memory; the fused loop reads every element
once. On 784-512-512-10 (669k weights, float32) a batch's Adam step fell from
about 3.5 ms to about 0.6 ms (bench/run.py). Each kernel performs, element by
element, exactly the NumPy update's operations in the same order and
precision: no fast-math, so no reassociation and no fused multiply-add, and
NumPy's error model (a division by zero gives inf, never an exception). The
results are bit-identical to the NumPy passes (tests/test_engine_kernels.py).

Kernels are compiled on first use (about a second each) and cached on disk.
Only long variables use them (``engine.optimizers.FUSED_MIN``), so small
models never import Numba. ``DEEPTERM_NO_NUMBA=1`` turns them off.
"""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

_lock = threading.Lock()
_kernels: SimpleNamespace | None = None
_tried = False


def get() -> SimpleNamespace | None:
    """The compiled kernels (``adam``, ``sgd``, ``momentum``, ``rmsprop``,
    ``adagrad``), or None when Numba is missing, broken or turned off."""
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


def disable() -> None:
    """NumPy passes from now on (a kernel failed to compile, e.g. no writable cache)."""
    global _kernels, _tried
    with _lock:
        _kernels, _tried = None, True


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

    return SimpleNamespace(adam=adam, sgd=sgd, momentum=momentum, rmsprop=rmsprop,
                           adagrad=adagrad)
