"""The NumPy backend's gradients against central finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Layer, ModelSpec, build

HIDDEN = ["relu", "tanh", "sigmoid", "linear"]

# (output activation, loss): every pairing a learner could sensibly train
PAIRS = [
    ("linear", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("softmax", "mse"), ("relu", "mse"),
    ("linear", "mae"), ("tanh", "mae"),
    ("sigmoid", "binary_crossentropy"), ("softmax", "binary_crossentropy"),
    ("softmax", "categorical_crossentropy"), ("sigmoid", "categorical_crossentropy"),
    ("softmax", "sparse_categorical_crossentropy"), ("sigmoid", "sparse_categorical_crossentropy"),
]


def _targets(loss: str, units: int, n: int, rng: np.random.Generator):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, units, size=n)
    if loss == "categorical_crossentropy":
        return np.eye(units)[rng.integers(0, units, size=n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, units)).astype(float)
    return rng.normal(size=(n, units))


def _numeric_gradients(model, X, y, h=1e-6):
    weights = model.get_weights()
    numeric = []
    for i, w in enumerate(weights):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            for sign in (+1, -1):
                trial = [v.copy() for v in weights]
                trial[i][idx] += sign * h
                model.set_weights(trial)
                g[idx] += sign * model.evaluate(X, y)["loss"] / (2 * h)
        numeric.append(g)
    model.set_weights(weights)
    return numeric


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("out_act,loss", PAIRS, ids=[f"{a}-{loss}" for a, loss in PAIRS])
def test_backprop_matches_central_differences(out_act, loss, depth, use_bias):
    rng = np.random.default_rng(depth * 7 + use_bias)
    units = 1 if loss in ("mse", "mae") and out_act not in ("softmax",) and depth % 2 else 3
    hidden = [Layer(4, HIDDEN[(depth + k) % 4], use_bias=use_bias) for k in range(depth)]
    spec = ModelSpec(input_dim=3, layers=hidden + [Layer(units, out_act, use_bias=use_bias)],
                     loss=loss, dtype="float64")
    model = build(spec, seed=depth)
    if use_bias:  # non-zero biases, so their gradients are tested too
        model.set_weights([w + rng.normal(scale=0.3, size=w.shape) if w.ndim == 1 else w
                           for w in model.get_weights()])
    X = rng.normal(size=(6, 3))
    y = _targets(loss, units, 6, rng)
    analytic = model.gradients(X, y)
    numeric = _numeric_gradients(model, X, y)
    assert len(analytic) == len(numeric) == len(model.get_weights())
    for a, n in zip(analytic, numeric):
        assert a.shape == n.shape
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-7)


def test_gradients_are_means_over_samples():
    """Doubling the data set (the same rows twice) leaves the mean gradient unchanged."""
    rng = np.random.default_rng(0)
    spec = ModelSpec(input_dim=2, layers=[Layer(3, "tanh"), Layer(1)], dtype="float64")
    model = build(spec, seed=0)
    X, y = rng.normal(size=(5, 2)), rng.normal(size=5)
    once = model.gradients(X, y)
    twice = model.gradients(np.vstack([X, X]), np.concatenate([y, y]))
    for a, b in zip(once, twice):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_linear_model_gradient_has_the_closed_form():
    """For y_hat = X w + b and mse, dL/dw = 2/n X^T (y_hat - y)."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=7)
    model = build(ModelSpec(input_dim=3, layers=[Layer(1)], dtype="float64"), seed=0)
    w, b = model.get_weights()
    err = X @ w[:, 0] + b[0] - y
    gw, gb = model.gradients(X, y)
    np.testing.assert_allclose(gw[:, 0], 2 / 7 * X.T @ err, rtol=1e-12)
    np.testing.assert_allclose(gb[0], 2 / 7 * err.sum(), rtol=1e-12)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("out_act,loss", PAIRS, ids=[f"{a}-{loss}" for a, loss in PAIRS])
def test_a_training_step_moves_each_weight_by_its_gradient(out_act, loss, depth, use_bias,
                                                           fit_path):
    """One full-batch SGD step at learning rate 1 moves each weight by minus its
    gradient, on both training paths (fit_path): the compiled loop's backward pass is
    checked against central differences too."""
    rng = np.random.default_rng(depth * 7 + use_bias)
    units = 1 if loss in ("mse", "mae") and out_act not in ("softmax",) and depth % 2 else 3
    hidden = [Layer(4, HIDDEN[(depth + k) % 4], use_bias=use_bias) for k in range(depth)]
    spec = ModelSpec(input_dim=3, layers=hidden + [Layer(units, out_act, use_bias=use_bias)],
                     loss=loss, optimizer="sgd", learning_rate=1.0, dtype="float64")
    model = build(spec, seed=depth)
    if use_bias:
        model.set_weights([w + rng.normal(scale=0.3, size=w.shape) if w.ndim == 1 else w
                           for w in model.get_weights()])
    X = rng.normal(size=(6, 3))
    y = _targets(loss, units, 6, rng)
    numeric = _numeric_gradients(model, X, y)
    before = model.get_weights()
    model.fit(X, y, epochs=1, batch_size=len(X), shuffle=False)
    for b, a, n in zip(before, model.get_weights(), numeric, strict=True):
        np.testing.assert_allclose(b - a, n, rtol=1e-5, atol=1e-7)
