"""The Numba functions of the NumPy backend's fused passes (engine.kernels) and of its
compiled loop (engine.compiled_kernel): the optimizer updates and ReLU with its bias
and its derivative, each one pass over its arrays. Importing this module imports
Numba; nothing compiles until a function is first called (then cached on disk).

Each performs, element by element, exactly the NumPy operations of engine.optimizers
and engine.activations in the same order and precision: no fast-math (no
reassociation, no fused multiply-add) and NumPy's error model (a division by zero
gives inf, never an exception), so the results are bit-identical to the NumPy passes
(tests/test_engine_kernels.py).

Numba's disk cache of engine.compiled_kernel does not notice a change to this file
(it looks at its own file's time only): after editing a function here, touch
engine/compiled_kernel.py too. An installed release writes both files anew.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=False)


@_jit
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


@_jit
def sgd(var, grad, learning_rate):
    for i in range(var.size):
        var[i] -= grad[i] * learning_rate


@_jit
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


@_jit
def rmsprop(var, grad, v, learning_rate, rho, one_minus_rho, epsilon):
    # v = v*rho + (g*g)*(1 - rho); w -= (g*lr) / sqrt(v + epsilon)
    for i in range(var.size):
        g = grad[i]
        v_i = v[i] * rho + (g * g) * one_minus_rho
        v[i] = v_i
        var[i] -= (g * learning_rate) / np.sqrt(v_i + epsilon)


@_jit
def adagrad(var, grad, acc, learning_rate, epsilon):
    # acc += g*g; w -= (g*lr) / sqrt(acc + epsilon)
    for i in range(var.size):
        g = grad[i]
        a = acc[i] + g * g
        acc[i] = a
        var[i] -= (g * learning_rate) / np.sqrt(a + epsilon)


@_jit
def bias_relu(z, bias, out):
    # z += bias; out = np.maximum(z, 0): NaN stays NaN, -0.0 becomes 0.0, as NumPy's
    rows, cols = z.shape
    zero = out.dtype.type(0)
    for r in range(rows):
        for c in range(cols):
            value = z[r, c] + bias[c]
            z[r, c] = value
            out[r, c] = value if value > 0 or value != value else zero


@_jit
def relu_backward(da, z):
    # da *= (z > 0), in place: a multiply by 1 or 0, as NumPy's, so that inf and
    # NaN in da still turn into NaN
    rows, cols = da.shape
    one, zero = da.dtype.type(1), da.dtype.type(0)
    for r in range(rows):
        for c in range(cols):
            da[r, c] = da[r, c] * (one if z[r, c] > 0 else zero)
