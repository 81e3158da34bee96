"""Golden single- and multi-step tests of each optimizer's update rule.

The expected values come from reference implementations written out here,
scalar by scalar, from Keras 3's published update rules and defaults.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from engine import Layer, ModelSpec, build
from engine.optimizers import SGD, Adagrad, Adam, RMSprop

W0 = [0.5, -1.0, 2.0]
GRADS = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.5], [-0.3, 0.2, 0.05], [0.0, -0.7, 0.2], [1.5, 0.5, -0.1]]


def ref_sgd(lr=0.01, momentum=0.0, nesterov=False):
    w, m = list(W0), [0.0] * 3
    out = []
    for g in GRADS:
        for i in range(3):
            if momentum == 0:
                w[i] -= lr * g[i]
            else:
                m[i] = momentum * m[i] - lr * g[i]
                w[i] += momentum * m[i] - lr * g[i] if nesterov else m[i]
        out.append(list(w))
    return out


def ref_adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    w, m, v = list(W0), [0.0] * 3, [0.0] * 3
    out = []
    for t, g in enumerate(GRADS, start=1):
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        for i in range(3):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            w[i] -= alpha * m[i] / (math.sqrt(v[i]) + eps)
        out.append(list(w))
    return out


def ref_rmsprop(lr=0.001, rho=0.9, eps=1e-7):
    w, v = list(W0), [0.0] * 3
    out = []
    for g in GRADS:
        for i in range(3):
            v[i] = rho * v[i] + (1 - rho) * g[i] ** 2
            w[i] -= lr * g[i] / math.sqrt(v[i] + eps)
        out.append(list(w))
    return out


def ref_adagrad(lr=0.001, init=0.1, eps=1e-7):
    w, acc = list(W0), [init] * 3
    out = []
    for g in GRADS:
        for i in range(3):
            acc[i] += g[i] ** 2
            w[i] -= lr * g[i] / math.sqrt(acc[i] + eps)
        out.append(list(w))
    return out


CASES = {
    "sgd": (lambda v: SGD(0.01, v), ref_sgd()),
    "sgd-lr0.1": (lambda v: SGD(0.1, v), ref_sgd(lr=0.1)),
    "sgd-momentum": (lambda v: SGD(0.05, v, momentum=0.9), ref_sgd(0.05, 0.9)),
    "sgd-nesterov": (lambda v: SGD(0.05, v, momentum=0.9, nesterov=True), ref_sgd(0.05, 0.9, True)),
    "adam": (lambda v: Adam(0.001, v), ref_adam()),
    "adam-lr0.1": (lambda v: Adam(0.1, v), ref_adam(lr=0.1)),
    "rmsprop": (lambda v: RMSprop(0.001, v), ref_rmsprop()),
    "rmsprop-lr0.01": (lambda v: RMSprop(0.01, v), ref_rmsprop(lr=0.01)),
    "adagrad": (lambda v: Adagrad(0.001, v), ref_adagrad()),
    "adagrad-lr0.5": (lambda v: Adagrad(0.5, v), ref_adagrad(lr=0.5)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_single_and_multi_step_updates(name, dtype):
    make, expected = CASES[name]
    w = np.array(W0, dtype=dtype)
    opt = make([w])
    tol = 1e-12 if dtype == "float64" else 2e-6
    for step, g in enumerate(GRADS):
        opt.apply([w], [np.array(g, dtype=dtype)])
        assert w.dtype == np.dtype(dtype)
        np.testing.assert_allclose(w, expected[step], rtol=tol, atol=tol, err_msg=f"step {step + 1}")
    assert opt.iterations == len(GRADS)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_compiled_loops_updates_follow_the_same_golden_values(name, dtype, monkeypatch):
    """The compiled training loop's optimizer step (engine.compiled_kernel), on the same
    golden values as the NumPy optimizers."""
    from engine import compiled

    monkeypatch.delenv("DEEPTERM_NO_COMPILE", raising=False)
    monkeypatch.delenv("DEEPTERM_NO_NUMBA", raising=False)
    kernel = compiled.get()
    if kernel is None:
        if importlib.util.find_spec("numba") is not None:   # installed: it must work
            pytest.fail(f"Numba is installed but the compiled path failed: "
                        f"{compiled.failure()}")
        pytest.skip("Numba is not installed here")
    make, expected = CASES[name]
    w = np.array(W0, dtype=dtype)
    opt = make([w])
    code, s1, s2, hyper = compiled.optimizer_args(opt, w.dtype)
    tol = 1e-12 if dtype == "float64" else 2e-6
    for step, g in enumerate(GRADS):
        kernel._step(code, w, np.array(g, dtype=dtype), s1, s2, hyper, step)
        assert w.dtype == np.dtype(dtype)
        np.testing.assert_allclose(w, expected[step], rtol=tol, atol=tol, err_msg=f"step {step + 1}")


def test_first_adam_step_moves_each_weight_by_about_the_learning_rate():
    """A known property of Adam's bias correction: step one is lr * sign(g)."""
    w = np.array(W0)
    Adam(0.01, [w]).apply([w], [np.array(GRADS[0])])
    np.testing.assert_allclose(np.array(W0) - w, 0.01 * np.sign(GRADS[0]), rtol=1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
def test_defaults_are_keras_defaults(optimizer):
    spec = ModelSpec(input_dim=1, layers=[Layer(1)], optimizer=optimizer)
    expected = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001, "adagrad": 0.001}[optimizer]
    assert spec.effective_learning_rate == expected
    assert build(spec, seed=0).optimizer.learning_rate == expected


@pytest.mark.parametrize("optimizer,ref", [("sgd", ref_sgd), ("adam", ref_adam)])
def test_full_batch_training_follows_the_update_rule(optimizer, ref, fit_path):
    """Three full-batch epochs of y = X w (no bias, mse) follow the reference
    rule applied to the closed-form gradient 2/n X^T (X w - y), on both training
    paths (fit_path)."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    spec = ModelSpec(input_dim=3, layers=[Layer(1, use_bias=False)], loss="mse",
                     optimizer=optimizer, learning_rate=0.05, dtype="float64")
    model = build(spec, seed=0)
    model.set_weights([np.array(W0)[:, None]])
    model.fit(X, y, epochs=3, batch_size=8, shuffle=False)

    w = np.array(W0)
    lr = 0.05
    m, v = np.zeros(3), np.zeros(3)
    for t in range(1, 4):
        g = 2 / 8 * X.T @ (X @ w - y)
        if optimizer == "sgd":
            w = w - lr * g
        else:
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            w = w - lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(model.get_weights()[0][:, 0], w, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda v: SGD(0.1, v), lambda v: SGD(0.1, v, momentum=0.9, nesterov=True),
    lambda v: Adam(0.01, v), lambda v: RMSprop(0.01, v), lambda v: Adagrad(0.1, v),
], ids=["sgd", "nesterov", "adam", "rmsprop", "adagrad"])
def test_block_by_block_updates_equal_whole_array_updates(monkeypatch, make):
    """Long flat variables are updated in cache-sized blocks: bit for bit the same."""
    import engine.optimizers as opt

    rng = np.random.default_rng(3)
    start = rng.normal(size=1003).astype(np.float32)
    grads = [rng.normal(size=1003).astype(np.float32) for _ in range(4)]

    def run(block, blocked_min):
        monkeypatch.setattr(opt, "BLOCK", block)
        monkeypatch.setattr(opt, "BLOCKED_MIN", blocked_min)
        var = start.copy()
        o = make([var])
        for g in grads:
            o.apply([var], [g.copy()])
        return var, o.get_state()

    whole, whole_state = run(1 << 20, 1 << 20)
    blocked, blocked_state = run(64, 128)
    assert not np.array_equal(whole, start)
    np.testing.assert_array_equal(blocked, whole)
    for slot, arrays in whole_state["slots"].items():
        np.testing.assert_array_equal(blocked_state["slots"][slot][0], arrays[0])


def test_flush_below_zeroes_tiny_numbers_with_integer_bit_operations():
    from engine.numerics import flush_below, flush_subnormals

    for dtype in (np.float32, np.float64):
        tiny = np.finfo(dtype).tiny
        values = np.array([0.0, -0.0, tiny / 4, -tiny, 2.0**-100, -(2.0**-101), 1.5, -np.inf,
                           np.nan], dtype=dtype)
        out = flush_subnormals(values.copy())
        np.testing.assert_array_equal(out[[2]], [0.0])
        np.testing.assert_array_equal(out[[3, 4, 5, 6, 7]], values[[3, 4, 5, 6, 7]])
        out = flush_below(values.copy(), -100)
        np.testing.assert_array_equal(out[:6], [0, 0, 0, 0, 2.0**-100, 0])
        assert out[6] == 1.5 and out[7] == -np.inf and np.isnan(out[8])


def test_a_dead_weights_adam_moment_is_flushed_before_it_turns_subnormal():
    """Zero gradients shrink Adam's m by beta_1 each step: it must reach 0 without
    ever lingering as a (slow) subnormal number, and live weights are untouched."""
    var = np.array([1.0, 1.0], dtype=np.float32)
    o = Adam(0.001, [var])
    o.apply([var], [np.array([0.5, 0.5], dtype=np.float32)])
    tiny = np.finfo(np.float32).tiny
    for step in range(2, 1200):
        o.apply([var], [np.array([0.0, 0.5], dtype=np.float32)])
        m = o.state["m"][0]
        assert not (0 < abs(m[0]) < tiny), f"subnormal m at step {step}"
    assert m[0] == 0.0 and abs(m[1] - 0.5) < 1e-6


def test_softmax_and_sigmoid_tails_are_zero_not_subnormal():
    from engine import activations

    z = np.array([[0.0, -95.0, -200.0]], dtype=np.float32)
    p = activations.forward("softmax", z)
    assert p[0, 1] == 0.0 and p[0, 2] == 0.0 and p[0, 0] == 1.0
    s = activations.forward("sigmoid", np.array([[-95.0, -50.0]], dtype=np.float32))
    assert s[0, 0] == 0.0 and 0 < s[0, 1] < 1e-20
