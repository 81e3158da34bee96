"""Floating-point housekeeping shared by the NumPy backend.

Subnormal numbers (below about 1.2e-38 in float32) make every float operation on
them take a slow microcode path on x86 CPUs, often 50-100x slower. They appear in
training where values decay towards zero: Adam's first moment for a weight whose
gradient stays at zero, and softmax or sigmoid outputs far in the tails. TensorFlow
flushes them to zero on its threads (the CPU's FTZ/DAZ flags, which NumPy cannot
set), so flushing them here also keeps the NumPy backend's numbers with Keras'.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: int view, mantissa bits, exponent bias, exponent mask
_LAYOUT = {np.dtype(np.float32): (np.int32, 23, 127, 0x7F800000),
           np.dtype(np.float64): (np.int64, 52, 1023, 0x7FF0000000000000)}


def flush_below(array: np.ndarray, power: int) -> np.ndarray:
    """Set every number with ``abs(x) < 2.0**power`` in ``array`` to zero, in place,
    and return it; ``power`` must lie in the normal range of the dtype.

    Works on the bits with integer operations (arithmetic on subnormals is what is
    slow); arrays of other dtypes, or not contiguous, are returned unchanged."""
    layout = _LAYOUT.get(array.dtype)
    if layout is None or not array.flags.c_contiguous:
        return array
    int_type, mantissa_bits, bias, exponent_mask = layout
    bits = array.view(int_type)
    bits *= (bits & int_type(exponent_mask)) >= int_type((power + bias) << mantissa_bits)
    return array


def flush_subnormals(array: np.ndarray) -> np.ndarray:
    """Set the subnormal numbers in ``array`` to zero (see ``flush_below``)."""
    return flush_below(array, 1 - _LAYOUT[array.dtype][2] if array.dtype in _LAYOUT else 0)


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: NumPy scalars and arrays as plain
    numbers and lists; anything else is a TypeError, as json itself would raise."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
