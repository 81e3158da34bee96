"""Where ``validation_split`` cuts the rows: the one place this rule is written.

``fit`` cuts its validation rows with it (``engine.data``), and the run recipe
(``engine.recipe.prepare``) the rows it standardizes on. Imports nothing.
"""

from __future__ import annotations

import math


def split_index(n: int, split: float) -> int:
    """Keras' rule: the last ``split`` fraction of ``n`` rows, before any shuffling,
    validates; returns the number of training rows (all of them when ``split`` is 0)."""
    if split <= 0:
        return n
    return int(math.floor(n * (1.0 - split)))
