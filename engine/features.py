"""Feature crosses for two-input data, as TensorFlow Playground offers them.

A run on a dataset with two features (x1, x2) may train on any of seven inputs made
from them: x1, x2, x1², x2², x1·x2, sin x1 and sin x2. ``RunConfig.features`` names
them (None: the two features as they are), ``engine.recipe.prepare`` computes them
from the loaded data before the validation cut and standardizing, and the same
function turns points of the input plane into the model's inputs when a front end
draws what the model predicts there (``PreparedData.inputs_for``).

Nothing here imports a UI toolkit; NumPy is imported when features are computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import FitError, choices

#: Every feature cross, in the order Playground lists them: name -> how it reads.
FEATURES: dict[str, str] = {
    "x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1x2": "x₁x₂",
    "sin_x1": "sin x₁", "sin_x2": "sin x₂",
}
#: The inputs a two-feature dataset trains on when no crosses are chosen.
RAW = ("x1", "x2")


def check_features(names: Any) -> tuple[str, ...] | None:
    """``names`` as ``RunConfig.features`` keeps them: None, or at least one known name,
    in FEATURES' order, each once; a FitError names what is wrong."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    if not isinstance(names, Iterable):
        raise FitError(f"features must be a list of names from {choices(tuple(FEATURES))}, "
                       f"got {names!r}")
    chosen = list(names)
    unknown = [n for n in chosen if n not in FEATURES]
    if unknown:
        raise FitError(f"features: {unknown[0]!r} is not a feature; the features are "
                       f"{choices(tuple(FEATURES))}")
    if not chosen:
        raise FitError("features: choose at least one (x1, x2, x1^2...)")
    return tuple(name for name in FEATURES if name in chosen)


def labels(names: Iterable[str]) -> list[str]:
    """How the features read: x₁, x₁², sin x₂..."""
    return [FEATURES[name] for name in names]


def cross(X: Any, names: Iterable[str]):
    """The chosen features of two-feature rows: X (n, 2) -> (n, len(names)) float32."""
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise FitError(f"feature crosses need data with two features (x1, x2); this data "
                       f"has {X.shape[1] if X.ndim == 2 else X.ndim} "
                       f"{'features' if X.ndim == 2 else 'dimensions'}")
    x1, x2 = X[:, 0], X[:, 1]
    made = {"x1": lambda: x1, "x2": lambda: x2, "x1^2": lambda: x1 * x1,
            "x2^2": lambda: x2 * x2, "x1x2": lambda: x1 * x2,
            "sin_x1": lambda: np.sin(x1), "sin_x2": lambda: np.sin(x2)}
    return np.column_stack([made[name]() for name in names]).astype(np.float32)


__all__ = ["FEATURES", "RAW", "check_features", "cross", "labels"]
