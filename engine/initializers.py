"""Weight initializers with Keras' definitions, drawn from a NumPy Generator."""

from __future__ import annotations

import numpy as np

# Keras' VarianceScaling divides the standard deviation by this constant so
# that a normal truncated at two standard deviations keeps the intended variance.
_TRUNCATION_FIX = 0.87962566103423978


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras' ``compute_fans``: (fan_in, fan_out); a Conv2D kernel ``(kh, kw, in, out)``
    counts its window: ``kh * kw * in`` and ``kh * kw * out``."""
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    window = int(np.prod(shape[:-2]))
    return shape[-2] * window, shape[-1] * window


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    fan_in = fans(shape)[0]
    stddev = np.sqrt(2.0 / fan_in) / _TRUNCATION_FIX
    values = rng.standard_normal(size=shape)
    bad = np.abs(values) > 2
    while bad.any():  # redraw outside two standard deviations
        values[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(values) > 2
    return (values * stddev).astype(dtype)


def zeros(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {"glorot_uniform": glorot_uniform, "he_normal": he_normal, "zeros": zeros}


def initialize(name: str, rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    return INITIALIZERS[name](rng, shape, dtype)
