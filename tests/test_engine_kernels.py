"""The fused optimizer kernels (engine.kernels, with Numba) give bit for bit the
numbers of the NumPy passes they replace, and training uses them for long
variables only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import kernels
from engine import optimizers as opt

ROOT = Path(__file__).resolve().parent.parent

MAKERS = {
    "sgd": lambda v: opt.SGD(0.1, v),
    "momentum": lambda v: opt.SGD(0.05, v, momentum=0.9),
    "nesterov": lambda v: opt.SGD(0.05, v, momentum=0.9, nesterov=True),
    "adam": lambda v: opt.Adam(0.01, v),
    "rmsprop": lambda v: opt.RMSprop(0.01, v),
    "adagrad": lambda v: opt.Adagrad(0.1, v),
}


@pytest.fixture(autouse=True)
def batch_by_batch(monkeypatch):
    """These tests are about the NumPy path's batch loop, not the compiled one."""
    monkeypatch.setenv("DEEPTERM_NO_COMPILE", "1")


@pytest.fixture(scope="module")
def compiled():
    k = kernels.get()
    if k is None:
        pytest.fail("numba is installed but engine.kernels did not build its kernels")
    return k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(MAKERS))
def test_fused_update_equals_the_numpy_passes_bit_for_bit(monkeypatch, compiled, name, dtype):
    rng = np.random.default_rng(11)
    n = kernels.FUSED_MIN + 1001
    start = rng.normal(size=n).astype(dtype)
    # gradients over many scales, with exact zeros (a dead unit's weights)
    grads = []
    for _ in range(6):
        g = (rng.normal(size=n) * 10.0 ** rng.integers(-8, 2, size=n)).astype(dtype)
        g[rng.random(n) < 0.1] = 0
        grads.append(g)

    def run(use_kernels: bool):
        monkeypatch.setattr(kernels, "get", lambda: compiled if use_kernels else None)
        var = start.copy()
        o = MAKERS[name]([var])
        for g in grads:
            o.apply([var], [g.copy()])
        return var, o.get_state()

    numpy_var, numpy_state = run(False)
    fused_var, fused_state = run(True)
    assert np.abs(numpy_var - start).max() > 0
    np.testing.assert_array_equal(fused_var, numpy_var)
    assert fused_var.dtype == dtype
    for slot, arrays in numpy_state["slots"].items():
        np.testing.assert_array_equal(fused_state["slots"][slot][0], arrays[0])


def test_training_a_large_model_uses_the_kernel_and_a_small_one_does_not(monkeypatch, compiled):
    from engine import Layer, ModelSpec, build

    calls = []

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(compiled, name)

    monkeypatch.setattr(kernels, "get", lambda: Spy())
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 300)).astype(np.float32), rng.integers(0, 3, 64)
    small = ModelSpec(input_dim=300, layers=[Layer(4, "relu"), Layer(3, "softmax")],
                      loss="sparse_categorical_crossentropy", optimizer="adam")
    build(small, seed=0).fit(X, y, epochs=1, batch_size=32)
    assert calls == []
    large = ModelSpec(input_dim=300, layers=[Layer(512, "relu"), Layer(3, "softmax")],
                      loss="sparse_categorical_crossentropy", optimizer="adam")
    assert build(large, seed=0).count_params() >= kernels.FUSED_MIN
    build(large, seed=0).fit(X, y, epochs=1, batch_size=32)
    assert calls == ["bias_relu", "relu_backward", "adam"] * 2   # two batches


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "mse"])
def test_training_with_the_kernels_gives_the_numpy_numbers_bit_for_bit(monkeypatch, compiled,
                                                                      loss):
    """Forward (bias and ReLU), backward (ReLU's derivative) and the optimizer fused:
    the same weights and losses, epoch by epoch, as without them."""
    from engine import Layer, ModelSpec, build

    rng = np.random.default_rng(5)
    X = rng.normal(size=(96, 200)).astype(np.float32)
    X[:, :20] = 0          # columns that leave some units at exactly z == 0
    y = rng.integers(0, 4, 96) if loss.startswith("sparse") else rng.normal(size=(96, 4))
    out = "softmax" if loss.startswith("sparse") else "linear"
    spec = ModelSpec(input_dim=200, layers=[Layer(400, "relu"), Layer(300, "relu"), Layer(4, out)],
                     loss=loss, optimizer="rmsprop")
    assert spec.count_params() >= kernels.FUSED_MIN

    def train(use_kernels):
        monkeypatch.setattr(kernels, "get", lambda: compiled if use_kernels else None)
        model = build(spec, seed=3)
        history = model.fit(X, y, epochs=3, batch_size=32, validation_split=0.25)
        return model.get_weights(), history.history

    numpy_weights, numpy_history = train(False)
    fused_weights, fused_history = train(True)
    assert fused_history == numpy_history
    for got, want in zip(fused_weights, numpy_weights):
        np.testing.assert_array_equal(got, want)


def test_deepterm_no_numba_turns_the_kernels_off():
    probe = ("from engine import kernels\nimport sys\n"
             "print(kernels.get() is None, 'numba' in sys.modules)")
    env = {**os.environ, "DEEPTERM_NO_NUMBA": "1"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_a_kernel_that_cannot_compile_leaves_the_numpy_passes_to_do_the_step(monkeypatch):
    rng = np.random.default_rng(2)
    start = rng.normal(size=kernels.FUSED_MIN).astype(np.float32)
    grad = rng.normal(size=kernels.FUSED_MIN).astype(np.float32)
    expected = start.copy()
    monkeypatch.setattr(kernels, "get", lambda: None)
    opt.Adam(0.01, [expected]).apply([expected], [grad.copy()])

    class Broken:
        def adam(self, *args):
            raise RuntimeError("cannot cache function 'adam': no locator available")

    disabled = []
    monkeypatch.setattr(kernels, "get", lambda: Broken())
    monkeypatch.setattr(kernels, "disable", lambda: disabled.append(True))
    var = start.copy()
    opt.Adam(0.01, [var]).apply([var], [grad.copy()])
    assert disabled == [True]
    np.testing.assert_array_equal(var, expected)


def test_after_a_failed_compile_a_training_run_stops_trying_the_kernels(monkeypatch, compiled):
    from engine import Layer, ModelSpec, build

    tries = []

    class FailsOnce:
        def __getattr__(self, name):
            def kernel(*args):
                tries.append(name)
                raise RuntimeError("cannot cache function: no locator available")
            return kernel

    for name in ("_kernels", "_tried", "_disabled"):   # the real disable() runs: undo it after
        monkeypatch.setattr(kernels, name, getattr(kernels, name))
    monkeypatch.setattr(kernels, "get", lambda: FailsOnce())
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(96, 300)).astype(np.float32), rng.integers(0, 3, 96)
    spec = ModelSpec(input_dim=300, layers=[Layer(512, "relu"), Layer(3, "softmax")],
                     loss="sparse_categorical_crossentropy", optimizer="adam")
    history = build(spec, seed=0).fit(X, y, epochs=2, batch_size=32)
    assert len(history) == 2 and np.isfinite(history.history["loss"]).all()
    assert tries == ["bias_relu"]          # one failure, then NumPy for every batch after
