"""How the training and results screens put a run's end and its times into words."""

from __future__ import annotations

import math

STOP_WORDS = {
    "completed": "completed every epoch",
    "early_stopped": "stopped early (validation stopped improving)",
    "stopped": "stopped by you",
    "diverged": "diverged: the loss became NaN or infinite, or exploded and stayed exploded "
                "(try a smaller learning rate)",
    "failed": "failed",
}


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(round(seconds)))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_seconds(seconds: float) -> str:
    """A short time, as Keras' progress line writes it: 0.09ms, 3.2ms, 850ms, 1.24s, 12.5s,
    2m05s (at most 7 characters)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    if seconds < 0.001:
        return f"{seconds * 1000:.2f}ms"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
