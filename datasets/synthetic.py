"""Synthetic 2-D datasets in the spirit of TensorFlow Playground.

Every generator takes ``n`` (rows), ``noise`` (0 = clean, 1 = very noisy) and
``seed``, and returns ``(X, y)``: X (n, 2) float64 with both coordinates in about
[-6, 6], y (n,) int class labels (binary sets) or floats in [-1, 1] (regression).
Rows come in a random order, so that a validation split is a fair sample.
"""

from __future__ import annotations

import numpy as np

RADIUS = 5.0
SPAN = 6.0


def _jitter(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    return rng.uniform(-RADIUS, RADIUS, size=(n, 2)) * noise


def _shuffle(rng: np.random.Generator, X: np.ndarray, y: np.ndarray):
    order = rng.permutation(len(X))
    return X[order], y[order]


def circle(n: int, noise: float, rng: np.random.Generator):
    """Class 1 inside radius 2.5, class 0 on a ring from 3.5 to 5 (half each);
    noise moves the point used to decide the label, so labels near the gap flip."""
    n_in = n // 2
    r = np.concatenate([rng.uniform(0, 0.5 * RADIUS, n_in),
                        rng.uniform(0.7 * RADIUS, RADIUS, n - n_in)])
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    seen = X + _jitter(rng, n, noise)
    y = (np.hypot(seen[:, 0], seen[:, 1]) < 0.6 * RADIUS).astype(np.int64)
    return _shuffle(rng, X, y)


def xor(n: int, noise: float, rng: np.random.Generator):
    """Class 1 where x1 and x2 have the same sign (quadrants 1 and 3)."""
    X = rng.uniform(-RADIUS, RADIUS, size=(n, 2))
    X += np.where(X > 0, 0.3, -0.3)            # keep a little gap along the axes
    seen = X + _jitter(rng, n, noise)
    y = (seen[:, 0] * seen[:, 1] >= 0).astype(np.int64)
    return _shuffle(rng, X, y)


def gauss(n: int, noise: float, rng: np.random.Generator):
    """Two Gaussian clouds, class 1 around (2, 2) and class 0 around (-2, -2);
    noise widens them (standard deviation 0.7 + 2.3 * noise) until they overlap."""
    std = 0.7 + 2.3 * noise
    n_pos = n // 2
    centres = np.concatenate([np.full((n_pos, 2), 2.0), np.full((n - n_pos, 2), -2.0)])
    X = centres + rng.normal(0.0, std, size=(n, 2))
    y = np.concatenate([np.ones(n_pos, np.int64), np.zeros(n - n_pos, np.int64)])
    return _shuffle(rng, X, y)


def spiral(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved spiral arms, 1.75 turns each; noise scatters the points."""
    parts = []
    for label, delta, m in ((1, 0.0, n // 2), (0, np.pi, n - n // 2)):
        i = np.arange(m)
        r = i / max(m, 1) * RADIUS
        t = 1.75 * i / max(m, 1) * 2 * np.pi + delta
        pts = np.column_stack([r * np.sin(t), r * np.cos(t)])
        pts += rng.uniform(-1.0, 1.0, size=(m, 2)) * noise * RADIUS * 0.5
        parts.append((pts, np.full(m, label, np.int64)))
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return _shuffle(rng, X, y)


def plane(n: int, noise: float, rng: np.random.Generator):
    """Regression on a tilted plane: y = (x1 + x2) / 12, in [-1, 1]; noise shifts
    the point the target is read from."""
    X = rng.uniform(-SPAN, SPAN, size=(n, 2))
    seen = X + rng.uniform(-SPAN, SPAN, size=(n, 2)) * noise
    y = np.clip((seen[:, 0] + seen[:, 1]) / (2 * SPAN), -1.0, 1.0)
    return X, y


_BUMPS = ((-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0),
          (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0), (4.0, -2.5, -1.0))


def multi_gauss(n: int, noise: float, rng: np.random.Generator):
    """Regression on six bumps (+1 or -1 at their centres, falling to 0 at distance
    2): the target is the strongest bump at the point; noise shifts that point."""
    X = rng.uniform(-SPAN, SPAN, size=(n, 2))
    seen = X + rng.uniform(-SPAN, SPAN, size=(n, 2)) * noise
    y = np.zeros(n)
    for cx, cy, sign in _BUMPS:
        value = sign * np.clip(1.0 - np.hypot(seen[:, 0] - cx, seen[:, 1] - cy) / 2.0, 0.0, 1.0)
        y = np.where(np.abs(value) > np.abs(y), value, y)
    return X, y


#: name -> (generator, task, class names, one-line description)
GENERATORS = {
    "circle": (circle, "binary", ("outside", "inside"),
               "2-D points: a disc inside a ring (binary)"),
    "xor": (xor, "binary", ("different signs", "same sign"),
            "2-D points: x1 and x2 of the same sign or not (binary)"),
    "gauss": (gauss, "binary", ("lower left", "upper right"),
              "2-D points: two Gaussian clouds (binary)"),
    "spiral": (spiral, "binary", ("arm B", "arm A"),
               "2-D points: two interleaved spirals (binary)"),
    "plane": (plane, "regression", (), "2-D points on a tilted plane (regression)"),
    "multi_gauss": (multi_gauss, "regression", (),
                    "2-D points on six +1/-1 bumps (regression)"),
}
