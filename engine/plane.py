"""What a model does over the input plane of two-feature data: the numbers behind
TensorFlow Playground's pictures.

A ``Grid`` covers the plane of the data's two features (x1 across, x2 up) with
``width`` × ``height`` pixels; ``grid.points()`` are their centres, row 0 at the top.
``PlaneModel`` holds a small NumPy twin of a run's network, to which weights are
given as they arrive while it trains (on either backend: Keras' layout), and answers
for a grid: the model's outputs (``output``: equal to ``model.predict`` on the grid's
points turned into the model's inputs) and every node's values (``nodes``: each input
feature, each hidden neuron, each output unit), from one forward pass.

Nothing here imports a UI toolkit; the pictures are the front end's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The synthetic sets' points lie within this of 0 on both axes (datasets.synthetic.SPAN).
SYNTHETIC_SPAN = 6.0


@dataclass(frozen=True)
class Grid:
    """``width`` × ``height`` pixels over x1 in [x1_lo, x1_hi] (left to right) and x2 in
    [x2_lo, x2_hi] (bottom to top)."""

    x1_lo: float
    x1_hi: float
    x2_lo: float
    x2_hi: float
    width: int
    height: int

    def points(self) -> np.ndarray:
        """(height * width, 2) pixel centres, row by row from the top (x2 = high)."""
        x1 = self.x1_lo + (np.arange(self.width) + 0.5) / self.width * (self.x1_hi - self.x1_lo)
        x2 = self.x2_hi - (np.arange(self.height) + 0.5) / self.height * (self.x2_hi - self.x2_lo)
        a, b = np.meshgrid(x1, x2)
        return np.column_stack([a.ravel(), b.ravel()]).astype(np.float32)

    def pixels(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, inside) of each point of X (n, 2): the pixel it falls in, and
        whether it falls inside the grid at all."""
        X = np.asarray(X, dtype=np.float64)
        col = np.floor((X[:, 0] - self.x1_lo) / (self.x1_hi - self.x1_lo) * self.width)
        row = np.floor((self.x2_hi - X[:, 1]) / (self.x2_hi - self.x2_lo) * self.height)
        inside = (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        return row.astype(np.int64), col.astype(np.int64), inside

    def resized(self, width: int, height: int) -> Grid:
        return Grid(self.x1_lo, self.x1_hi, self.x2_lo, self.x2_hi, max(1, width), max(1, height))


def bounds_for(X: Any) -> tuple[float, float, float, float]:
    """The plane to draw for two-feature rows X: the synthetic sets' square (-6..6 on
    both axes) when the points fit in it, else each feature's range with a margin."""
    X = np.asarray(X, dtype=np.float64)
    if X.size and np.abs(X).max() <= SYNTHETIC_SPAN:
        return -SYNTHETIC_SPAN, SYNTHETIC_SPAN, -SYNTHETIC_SPAN, SYNTHETIC_SPAN
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def grid_for(X: Any, width: int, height: int) -> Grid:
    return Grid(*bounds_for(X), max(1, width), max(1, height))


class PlaneModel:
    """A NumPy twin of a run's network that answers for grids of the plane.

    ``data`` is the run's PreparedData (its feature crosses and standardizing turn
    points into the model's inputs); ``set_weights`` takes weights in Keras' layout
    (either backend's, as a 'weights' event carries them or ``model.get_weights()``
    gives them)."""

    def __init__(self, data: Any, weights: Any = None) -> None:
        from .numpy_backend import NumpyModel

        self.data = data
        self.spec = data.spec
        self.model = NumpyModel(self.spec, seed=0)
        self._inputs: dict[Grid, np.ndarray] = {}
        if weights is not None:
            self.set_weights(weights)

    def set_weights(self, weights: Any) -> None:
        self.model.set_weights([np.asarray(w, dtype=self.model.dtype) for w in weights])

    def inputs(self, grid: Grid) -> np.ndarray:
        """The model's inputs at the grid's pixels (kept: the grid does not move)."""
        got = self._inputs.get(grid)
        if got is None:
            if len(self._inputs) > 8:
                self._inputs.clear()
            got = self._inputs[grid] = np.ascontiguousarray(
                self.data.inputs_for(grid.points()), dtype=self.model.dtype)
        return got

    def output(self, grid: Grid) -> np.ndarray:
        """The model's outputs at each pixel: (height, width, output units)."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.model.forward(self.inputs(grid)).a[-1]
        return out.reshape(grid.height, grid.width, -1)

    def nodes(self, grid: Grid) -> list[np.ndarray]:
        """Every column of the network's drawing at each pixel: the inputs (the feature
        crosses, as the model sees them), each hidden layer's neurons, the output
        layer's units; each (height, width, nodes)."""
        inputs = self.inputs(grid)
        with np.errstate(over="ignore", invalid="ignore"):
            fwd = self.model.forward(inputs)
        return [a.reshape(grid.height, grid.width, -1) for a in [inputs, *fwd.a]]

    @property
    def kernels(self) -> list[np.ndarray]:
        return self.model.kernels


# -- what a pixel's outputs mean ---------------------------------------------------------


def class_probabilities(output: np.ndarray) -> np.ndarray:
    """(..., K) class probabilities from a classifier's outputs: one sigmoid unit
    becomes [1 - p, p]."""
    if output.shape[-1] == 1:
        p = output[..., 0]
        return np.stack([1 - p, p], axis=-1)
    return output


def signed_value(output: np.ndarray, task: str, scale: tuple[float, float] = (0.0, 1.0)
                 ) -> np.ndarray:
    """A value in [-1, 1] per pixel for a diverging colour scale: for two classes
    P(class 1) - P(class 0) (0 where the model cannot tell), for regression the
    prediction's distance from the middle of the targets' range over half that range
    (``scale``: ``regression_scale(y)``), clipped."""
    if task == "regression":
        centre, half = scale
        return np.clip((output[..., 0] - centre) / (half or 1.0), -1.0, 1.0)
    probs = class_probabilities(output)
    return np.clip(probs[..., 1] - probs[..., 0], -1.0, 1.0)


def winning_class(output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class, strength) per pixel for multiclass outputs: the most probable class and
    how sure it is, from 0 (all classes equally likely) to 1 (certain)."""
    probs = class_probabilities(output)
    k = probs.shape[-1]
    best = probs.argmax(axis=-1)
    top = probs.max(axis=-1)
    return best, np.clip((top - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)


def node_value(values: np.ndarray, activation: str) -> np.ndarray:
    """A node's values mapped to [-1, 1] for the diverging scale, as Playground colours
    its neurons: sigmoid outputs (0..1) centred on 0.5, others clipped to [-1, 1]."""
    if activation == "sigmoid":
        values = 2.0 * values - 1.0
    return np.clip(np.nan_to_num(values, nan=0.0), -1.0, 1.0)


def regression_scale(y: Any) -> tuple[float, float]:
    """(middle, half width) of regression targets' range: what 0 and +-1 on the colour
    scale mean (the synthetic sets' [-1, 1] gives (0, 1))."""
    y = np.asarray(y, dtype=np.float64)
    y = y[np.isfinite(y)]
    if not y.size:
        return 0.0, 1.0
    lo, hi = float(y.min()), float(y.max())
    half = (hi - lo) / 2
    return (lo + hi) / 2, half if half > 0 and math.isfinite(half) else 1.0


__all__ = ["Grid", "PlaneModel", "bounds_for", "class_probabilities", "grid_for",
           "node_value", "regression_scale", "signed_value", "winning_class"]
