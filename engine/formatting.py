"""How a metric's value is written wherever deepterm shows one: the app's epoch
table, stats, results and runs, sweep tables and the command line.

One rule, so a loss that blew up (``2.12e+19``) reads the same everywhere and never
runs into the next column: four decimals when that fits in WIDTH characters and keeps
a significant digit, else three significant digits with an exponent.
"""

from __future__ import annotations

import math
from typing import Any

#: Values below this size (but not 0) are written with an exponent.
SMALL = 1e-3
#: The most characters ``format_metric`` writes for a number ("999.1234", "-1.2e-05").
WIDTH = 8


def format_metric(value: Any, missing: str = "–") -> str:
    """``0.6931`` -> ``"0.6931"``; ``2.124e19`` -> ``"2.12e+19"``; ``3e-7`` -> ``"3e-07"``
    (never more than WIDTH characters);
    NaN and infinities as ``nan``, ``inf``, ``-inf``; ``None`` as ``missing``.
    Integers (not bools) keep their digits with thousands commas."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0 or abs(value) >= SMALL:
        text = f"{value:.4f}"
        if text == "-0.0000":
            return "0.0000"
        if len(text) <= WIDTH:
            return text
    for digits in (3, 2, 1):     # fewer digits where the exponent has three (-1.01e+100)
        text = f"{value:.{digits}g}"
        if len(text) <= WIDTH:
            break
    return text
