"""The NumPy backend's compiled path (engine.compiled): the same training as batch by
batch in Python, within the Keras parity tolerances; when it is taken, and that a
failure to compile loses nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import warnings

import numpy as np
import pytest

from engine import L1, L1L2, L2, Callback, Dropout, Layer, ModelSpec, build, compiled
from engine.callbacks import batch_interval_s
from engine.progress import ProgressLogger
from engine.runner.control import Control
from engine.runner.reporter import Reporter

# (output activation, loss) as in test_engine_gradients: every pairing a learner could train
PAIRS = [
    ("linear", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("softmax", "mse"), ("relu", "mse"),
    ("linear", "mae"), ("tanh", "mae"),
    ("sigmoid", "binary_crossentropy"), ("softmax", "binary_crossentropy"),
    ("linear", "binary_crossentropy"),
    ("softmax", "categorical_crossentropy"), ("sigmoid", "categorical_crossentropy"),
    ("softmax", "sparse_categorical_crossentropy"), ("sigmoid", "sparse_categorical_crossentropy"),
]
OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "learning_rate": 0.1},
    "momentum": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    "nesterov": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "adam": {"optimizer": "adam", "learning_rate": 0.01},
    "rmsprop": {"optimizer": "rmsprop", "learning_rate": 0.01},
    "adagrad": {"optimizer": "adagrad", "learning_rate": 0.1},
}


@pytest.fixture(autouse=True)
def numba_here(monkeypatch):
    monkeypatch.delenv(compiled.NO_COMPILE_ENV, raising=False)
    monkeypatch.delenv("DEEPTERM_NO_NUMBA", raising=False)
    monkeypatch.setenv(compiled.COMPILE_ENV, "1")     # these fits are short: compile them
    if compiled.get() is None:
        if importlib.util.find_spec("numba") is not None:   # installed: it must work
            pytest.fail(f"Numba is installed but the compiled path failed: "
                        f"{compiled.failure()}")
        pytest.skip("Numba is not installed here")


def _data(loss: str, units: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if loss == "sparse_categorical_crossentropy":
        return X, rng.integers(0, units, size=n)
    if loss == "categorical_crossentropy":
        return X, np.eye(units)[rng.integers(0, units, size=n)]
    if loss == "binary_crossentropy":
        return X, rng.integers(0, 2, size=(n, units)).astype(float)
    return X, rng.normal(size=(n, units))


def _metrics(loss: str) -> list[str]:
    if loss in ("mse", "mae"):
        return ["mae", "mse"]
    return ["accuracy"] if loss == "sparse_categorical_crossentropy" else ["accuracy", "mae"]


def _fit(monkeypatch, path: str, spec: ModelSpec, X, y, **fit_args):
    if path == "numpy":
        monkeypatch.setenv(compiled.NO_COMPILE_ENV, "1")
    else:
        monkeypatch.delenv(compiled.NO_COMPILE_ENV, raising=False)
    model = build(spec, seed=3)
    history = model.fit(X, y, **fit_args)
    return model, history


def _spy(monkeypatch) -> list[tuple[int, int]]:
    """The (first, end) batches of every compiled chunk run from now on."""
    runs: list[tuple[int, int]] = []
    real = compiled.Trainer.run

    def run(self, order, b0, b1, sums):
        runs.append((b0, b1))
        return real(self, order, b0, b1, sums)

    monkeypatch.setattr(compiled.Trainer, "run", run)
    return runs


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("out_act,loss", PAIRS, ids=[f"{a}-{loss}" for a, loss in PAIRS])
def test_the_compiled_path_trains_as_the_numpy_path(monkeypatch, out_act, loss, opt):
    """Two hidden layers (every hidden activation over the cases), shuffled batches
    with a partial last one, validation: the histories (loss and metrics) and weights
    agree within the Keras parity tolerances, in float32."""
    hidden = ["relu", "tanh", "sigmoid", "linear", "softmax"]
    k = PAIRS.index((out_act, loss)) + list(OPTIMIZERS).index(opt)
    units = 1 if loss in ("mse", "mae", "binary_crossentropy") and out_act != "softmax" else 3
    spec = ModelSpec(input_dim=3, layers=[Layer(5, hidden[k % 5]), Layer(4, hidden[(k + 1) % 5]),
                                          Layer(units, out_act)],
                     loss=loss, metrics=_metrics(loss), **OPTIMIZERS[opt])
    X, y = _data(loss, units, 30, k)
    runs = _spy(monkeypatch)
    args = dict(epochs=3, batch_size=8, validation_split=0.2)
    numpy_model, numpy_history = _fit(monkeypatch, "numpy", spec, X, y, **args)
    assert runs == []
    model, history = _fit(monkeypatch, "compiled", spec, X, y, **args)
    assert runs, "the compiled path was not taken"
    assert list(history.history) == list(numpy_history.history)
    for key, values in numpy_history.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    for got, want in zip(model.get_weights(), numpy_model.get_weights(), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert model.optimizer.iterations == numpy_model.optimizer.iterations == 9
    for slot, (state,) in numpy_model.optimizer.state.items():
        np.testing.assert_allclose(model.optimizer.state[slot][0], state, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_in_float64_the_paths_agree_to_rounding(monkeypatch, opt):
    spec = ModelSpec(input_dim=3, layers=[Layer(6, "tanh"), Layer(3, "softmax")],
                     loss="categorical_crossentropy", metrics=["accuracy"], dtype="float64",
                     **OPTIMIZERS[opt])
    X, y = _data("categorical_crossentropy", 3, 40, 1)
    args = dict(epochs=4, batch_size=16, validation_split=0.25)
    numpy_model, numpy_history = _fit(monkeypatch, "numpy", spec, X, y, **args)
    model, history = _fit(monkeypatch, "compiled", spec, X, y, **args)
    for key, values in numpy_history.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-10, err_msg=key)
    for got, want in zip(model.get_weights(), numpy_model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_dead_weights_adam_moment_is_flushed_as_on_the_numpy_path(monkeypatch):
    """The optimizer's state is flushed below 2**-100 every 32 steps on both paths."""
    spec = ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(1)], loss="mse",
                     optimizer="adam", learning_rate=0.01, dtype="float64")
    X, y = _data("mse", 1, 8, 2)
    X[:, 0] = 0.0          # the kernel's first row never gets a gradient after step one
    models = []
    for path in ("numpy", "compiled"):
        model = build(spec, seed=3)
        model.optimizer.state["m"][0][:] = 2.0 ** -99    # decays below 2**-100 soon
        monkeypatch.setenv(compiled.NO_COMPILE_ENV, "1" if path == "numpy" else "0")
        model.fit(X, y, epochs=64, batch_size=8, shuffle=False)
        models.append(model)
    first_row = slice(0, 4)
    np.testing.assert_array_equal(models[1].optimizer.state["m"][0][first_row],
                                  models[0].optimizer.state["m"][0][first_row])
    np.testing.assert_allclose(models[1].get_weights()[0], models[0].get_weights()[0],
                               rtol=1e-10)


# -- when it is taken ---------------------------------------------------------------------


def _small():
    spec = ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(1)], loss="mse",
                     optimizer="sgd", learning_rate=0.05, metrics=["mae"])
    return spec, *_data("mse", 1, 40, 0)


def test_a_dense_model_without_batch_callbacks_takes_the_compiled_path(monkeypatch):
    runs = _spy(monkeypatch)
    spec, X, y = _small()
    history = build(spec, seed=0).fit(X, y, epochs=2, batch_size=4)
    assert runs and runs[0] == (0, 1)           # one batch first, to time it
    assert sum(b1 - b0 for b0, b1 in runs) == 20 and history.epoch == [0, 1]
    assert compiled.failure() is None


def test_a_batch_larger_than_the_data_allocates_for_the_rows_only(monkeypatch):
    runs = _spy(monkeypatch)
    spec, X, y = _small()
    model = build(spec, seed=0)
    history = model.fit(X, y, epochs=2, batch_size=10**9)
    assert runs and history.params["steps"] == 1 and model.optimizer.iterations == 2


def test_warm_in_background_loads_the_loop_ahead_of_a_run(monkeypatch):
    thread = compiled.warm_in_background()
    assert thread is not None
    thread.join(120)
    assert not thread.is_alive() and compiled.failure() is None
    monkeypatch.setenv(compiled.NO_COMPILE_ENV, "1")
    assert compiled.warm_in_background() is None and compiled.warm() is False


def test_deepterm_no_compile_turns_the_compiled_path_off(monkeypatch):
    runs = _spy(monkeypatch)
    spec, X, y = _small()
    monkeypatch.setenv(compiled.NO_COMPILE_ENV, "1")
    build(spec, seed=0).fit(X, y, epochs=2, batch_size=4)
    assert runs == [] and compiled.get() is None


def _both_paths(monkeypatch, spec, X, y, tol, **fit_args):
    """Fit ``spec`` batch by batch and on the compiled path (which must be taken); their
    histories and weights agree within ``tol``. Returns (numpy model, compiled model,
    compiled history)."""
    runs = _spy(monkeypatch)
    numpy_model, numpy_history = _fit(monkeypatch, "numpy", spec, X, y, **fit_args)
    model, history = _fit(monkeypatch, "compiled", spec, X, y, **fit_args)
    assert runs, "the compiled path was not taken"
    for key, values in numpy_history.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=tol, atol=tol, err_msg=key)
    for got, want in zip(model.get_weights(), numpy_model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    return numpy_model, model, history


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_kernel_regularizers_train_as_on_the_numpy_path(monkeypatch, opt, dtype, tol):
    """L1, L2 and L1L2 on some layers (none on another): the penalty joins the loss
    (history) and its gradient the step (weights), as batch by batch."""
    spec = ModelSpec(input_dim=3, layers=[Layer(6, "relu", kernel_regularizer=L1L2(0.01, 0.02)),
                                          Layer(5, "tanh"),
                                          Layer(4, "relu", kernel_regularizer=L1(0.03)),
                                          Layer(1, kernel_regularizer=L2(0.05))],
                     loss="mse", metrics=["mae"], dtype=dtype, **OPTIMIZERS[opt])
    X, y = _data("mse", 1, 40, 3)
    args = dict(epochs=4, batch_size=8, validation_split=0.25)
    _, _, history = _both_paths(monkeypatch, spec, X, y, tol, **args)
    # the penalties weigh far more than the tolerance: without them the first loss differs
    plain = ModelSpec(input_dim=3, layers=[Layer(6, "relu"), Layer(5, "tanh"), Layer(4, "relu"),
                                           Layer(1)],
                      loss="mse", metrics=["mae"], dtype=dtype, **OPTIMIZERS[opt])
    _, plain_history = _fit(monkeypatch, "compiled", plain, X, y, **args)
    assert history.history["loss"][0] - plain_history.history["loss"][0] > 1000 * tol


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_dropout_draws_the_numpy_paths_masks_and_trains_as_it(monkeypatch, dtype, tol):
    """Dropout before the first layer, two in a row before another, none before the
    output: the same masks (the dropout generator's draws, in the same order) and so
    the same history, weights and generator state; batches of 8 with a partial one."""
    spec = ModelSpec(input_dim=3, layers=[Dropout(0.2), Layer(6, "relu"), Dropout(0.5),
                                          Dropout(0.3), Layer(5, "tanh"), Layer(2, "softmax")],
                     loss="categorical_crossentropy", metrics=["accuracy"], dtype=dtype,
                     optimizer="adam", learning_rate=0.01)
    X, y = _data("categorical_crossentropy", 2, 45, 5)
    args = dict(epochs=4, batch_size=8, validation_split=0.2)
    numpy_model, model, history = _both_paths(monkeypatch, spec, X, y, tol, **args)
    assert model.dropout_rng.bit_generator.state == numpy_model.dropout_rng.bit_generator.state
    # the masks matter: without the Dropout layers the same fit ends elsewhere
    plain = ModelSpec(input_dim=3, layers=[x for x in spec.layers if type(x) is not Dropout],
                      loss="categorical_crossentropy", metrics=["accuracy"], dtype=dtype,
                      optimizer="adam", learning_rate=0.01)
    _, plain_history = _fit(monkeypatch, "compiled", plain, X, y, **args)
    assert abs(plain_history.history["loss"][-1] - history.history["loss"][-1]) > 1000 * tol


def test_a_chunk_draws_at_most_max_draws_dropout_uniforms(monkeypatch):
    """Chunks shrink so that their masks' draws stay under compiled.MAX_DRAWS, and the
    fit is the same as with one long chunk per epoch."""
    spec = ModelSpec(input_dim=3, layers=[Dropout(0.3), Layer(6, "relu"), Layer(1)], loss="mse",
                     optimizer="sgd", learning_rate=0.05)
    X, y = _data("mse", 1, 200, 4)
    args = dict(epochs=3, batch_size=8)
    _, whole = _fit(monkeypatch, "compiled", spec, X, y, **args)
    runs = _spy(monkeypatch)
    monkeypatch.setattr(compiled, "MAX_DRAWS", 50)     # two batches of 8 rows x 3 inputs
    _, small = _fit(monkeypatch, "compiled", spec, X, y, **args)
    assert runs and max(b1 - b0 for b0, b1 in runs) == 2
    assert small.history == whole.history


def test_a_diverged_batch_with_dropout_leaves_the_generator_as_the_numpy_path_does(monkeypatch):
    """A learning rate that overflows in the first epoch: both paths roll it back and
    stop, having drawn the same masks (up to and with the diverged batch)."""
    spec = ModelSpec(input_dim=3, layers=[Layer(8, "relu"), Dropout(0.5), Layer(1)],
                     loss="mse", optimizer="sgd", learning_rate=1e30)
    X, y = _data("mse", 1, 64, 2)
    args = dict(epochs=3, batch_size=8)
    numpy_model, numpy_history = _fit(monkeypatch, "numpy", spec, X, y, **args)
    model, history = _fit(monkeypatch, "compiled", spec, X, y, **args)
    assert numpy_history.stop_reason == history.stop_reason == "diverged"
    assert model.dropout_rng.bit_generator.state == numpy_model.dropout_rng.bit_generator.state


def test_what_it_does_not_train_takes_the_numpy_path(monkeypatch):
    from engine import Conv2D, Flatten

    runs = _spy(monkeypatch)
    spec = ModelSpec(input_shape=(4, 4, 1), layers=[Conv2D(2, 3), Flatten(), Layer(1)])
    assert not compiled.supports(spec)
    X = np.random.default_rng(0).normal(size=(8, 4, 4, 1))
    build(spec, seed=0).fit(X, np.ones(8), epochs=2, batch_size=4)
    assert runs == []


def test_a_callback_that_wants_every_batch_without_saying_so_gets_the_numpy_path(monkeypatch):
    class EveryBatch(Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_batch_end(self, batch, logs=None):
            self.batches.append(batch)

    runs = _spy(monkeypatch)
    spec, X, y = _small()
    cb = EveryBatch()
    build(spec, seed=0).fit(X, y, epochs=2, batch_size=4, callbacks=[cb])
    assert runs == [] and cb.batches == list(range(10)) * 2


def test_batch_interval_s_says_how_often_a_callback_needs_its_batches():
    class Quiet(Callback):
        def on_epoch_end(self, epoch, logs=None): ...

    class Every(Callback):
        def on_batch_end(self, batch, logs=None): ...

    class Often(Every):
        batch_interval_s = 0.5

    assert batch_interval_s(Quiet()) == math.inf
    assert batch_interval_s(Every()) is None
    assert batch_interval_s(Often()) == 0.5
    assert batch_interval_s(ProgressLogger(1)) == 0.1
    reporter = Reporter(None, Control(), batch_interval_s=0.25)
    assert batch_interval_s(reporter) == 0.25
    reporter._stepping = "batch"        # a step of one batch: every batch, compiled
    assert batch_interval_s(reporter) == 0.0


def test_chunks_call_on_batch_end_at_their_last_batch_with_the_running_logs(monkeypatch):
    """A callback content with a batch every 0 s gets every batch, with the NumPy path's
    logs; one content with a batch every minute gets fewer, the epoch's last among them
    (chunks grow from one batch, at most CHUNK_GROWTH times the one before)."""
    class Logs(Callback):
        def __init__(self, interval):
            super().__init__()
            self.batch_interval_s = interval
            self.seen: list[tuple[int, dict]] = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append((batch, dict(logs)))

    spec, X, y = _small()
    every, seldom = Logs(0.0), Logs(60.0)
    build(spec, seed=0).fit(X, y, epochs=1, batch_size=2, callbacks=[every])
    build(spec, seed=0).fit(X, y, epochs=1, batch_size=2, callbacks=[seldom])
    monkeypatch.setenv(compiled.NO_COMPILE_ENV, "1")
    reference = Logs(0.0)
    history = build(spec, seed=0).fit(X, y, epochs=1, batch_size=2, callbacks=[reference])
    assert [b for b, _ in every.seen] == list(range(20))
    for (_, got), (_, want) in zip(every.seen, reference.seen, strict=True):
        assert got.keys() == want.keys()
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6)
    batches = [b for b, _ in seldom.seen]
    assert 1 < len(batches) < 20 and batches == sorted(batches) and batches[-1] == 19
    assert seldom.seen[-1][1]["loss"] == pytest.approx(history.history["loss"][0], rel=1e-5)


def test_a_stop_from_a_callback_is_heard_at_the_chunks_end(monkeypatch):
    class StopSoon(Callback):
        batch_interval_s = 60.0

        def on_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    runs = _spy(monkeypatch)
    spec, X, y = _small()
    model = build(spec, seed=0)
    history = model.fit(X, y, epochs=5, batch_size=4, callbacks=[StopSoon()])
    assert runs == [(0, 1)]                     # the first chunk, of one batch
    assert history.stop_reason == "stopped" and history.epoch == [0]
    assert model.optimizer.iterations == 1


def test_divergence_on_the_compiled_path_rolls_the_epoch_back(monkeypatch):
    spec = ModelSpec(input_dim=3, layers=[Layer(8, "relu"), Layer(1)], loss="mse",
                     optimizer="sgd", learning_rate=1e6)
    X, y = _data("mse", 1, 40, 0)
    runs = _spy(monkeypatch)
    model = build(spec, seed=0)
    history = model.fit(X, y, epochs=20, batch_size=8)
    assert runs and history.stop_reason == "diverged"
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert all(np.isfinite(v) for values in history.history.values() for v in values)


# -- a failure to compile loses nothing ---------------------------------------------------


@pytest.mark.parametrize("fails_at", [0, 3])
def test_a_failure_falls_back_to_the_numpy_path_and_warns_once(monkeypatch, fails_at):
    """The compiled call fails (at the first chunk: as a failed compile; or later): the
    run goes on on the NumPy path from the batch reached, with the NumPy path's numbers,
    one warning, and later fits do not try again."""
    monkeypatch.setattr(compiled, "_failed", None)     # restored after the test
    calls = []
    real = compiled.Trainer.run

    def run(self, order, b0, b1, sums):
        calls.append(b0)
        if len(calls) > fails_at:
            raise RuntimeError("cannot cache function 'train_batches': no locator available")
        return real(self, order, b0, b1, sums)

    monkeypatch.setattr(compiled.Trainer, "run", run)

    class OneBatchAtATime(Callback):
        batch_interval_s = 0.0

        def on_batch_end(self, batch, logs=None): ...

    spec, X, y = _small()
    spec = ModelSpec.from_dict({**spec.to_dict(), "dtype": "float64"})
    with pytest.warns(RuntimeWarning, match="compiled training is unavailable"):
        history = build(spec, seed=0).fit(X, y, epochs=3, batch_size=4,
                                          callbacks=[OneBatchAtATime()])
    assert compiled.failure() is not None and len(calls) == fails_at + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = build(spec, seed=0).fit(X, y, epochs=3, batch_size=4)
    assert len(calls) == fails_at + 1            # not tried again
    for key, values in again.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-10, err_msg=key)
    assert history.stop_reason == "completed" and history.epoch == [0, 1, 2]


def test_a_short_fit_trains_batch_by_batch_unless_told_and_a_long_one_compiles(monkeypatch):
    """Loading Numba costs a new process about 1.5 s: fits under MIN_BATCHES batches
    (every course run) train batch by batch; the rule looks at the fit only."""
    monkeypatch.delenv(compiled.COMPILE_ENV)
    assert not compiled.worth_it(compiled.MIN_BATCHES - 1) and compiled.worth_it(
        compiled.MIN_BATCHES)
    runs = _spy(monkeypatch)
    spec = ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(1)], loss="mse")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    model = build(spec, seed=0)
    model.fit(X, y, epochs=20, batch_size=4, verbose=0)          # 200 batches
    assert runs == []
    monkeypatch.setattr(compiled, "MIN_BATCHES", 200)
    model.fit(X, y, epochs=20, batch_size=4, verbose=0)
    assert runs
    monkeypatch.setattr(compiled, "MIN_BATCHES", 10_000)
    runs.clear()
    monkeypatch.setenv(compiled.COMPILE_ENV, "1")
    model.fit(X, y, epochs=1, batch_size=4, verbose=0)
    assert runs


def test_a_small_fit_runs_every_blas_on_one_thread_and_gives_the_threads_back(monkeypatch):
    """NumPy's BLAS and SciPy's (Numba's np.dot) run a small model's products on one
    thread during the fit, the compiled path's too, and get their threads back after;
    the libraries are found once per process, not per fit."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from engine import numpy_backend

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas"}

    seen = []

    class Look(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(blas())

    X, y = _data("mse", 1, 64, 0)
    spec = ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(1)], optimizer="sgd")
    with threadpool_limits(limits=2, user_api="blas"):   # two threads, even on one core
        before = blas()
        assert len(before) >= 2 and set(before.values()) == {2}   # NumPy's and SciPy's
        for compile_it in ("1", "0"):
            monkeypatch.setenv(compiled.COMPILE_ENV, compile_it)
            model = build(spec, seed=0)
            model.fit(X, y, epochs=2, batch_size=16, callbacks=[Look()])
            assert model.history.stop_reason == "completed"
        assert blas() == before
    assert len(seen) == 4 and all(s.keys() == before.keys() for s in seen)
    assert all(set(s.values()) == {1} for s in seen)
    controller = numpy_backend._blas[1]
    build(spec, seed=0).fit(X, y, epochs=1, batch_size=16)
    assert numpy_backend._blas[1] is controller


def test_small_float32_products_on_the_gemm_tiles_give_the_numbers_of_the_blas(monkeypatch):
    # compiled_kernel._dot: products whose columns come in whole tiles of 32, or more
    # than one with a short inner dimension (here the 64- and 50-unit layers' forward
    # products and their kernels' gradients; 50 = a tile and 18 columns) take
    # engine.gemm_kernel's tiles on a CPU with AVX-512, the BLAS elsewhere
    from engine import gemm

    monkeypatch.setenv(compiled.COMPILE_ENV, "1")
    spec = ModelSpec(input_dim=12, layers=[Layer(64, "relu"), Layer(50, "relu"), Layer(1)],
                     loss="mse", optimizer="adam", learning_rate=0.01, metrics=["mae"])
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 12)).astype(np.float32)
    y = (X[:, :3].sum(axis=1, keepdims=True) ** 2).astype(np.float32)
    results = {}
    for avx512 in (True, False):
        monkeypatch.setattr(gemm, "_avx512", avx512)
        model = build(spec, seed=0)
        assert compiled.Trainer(model, compiled.get(), X, y, 32).tiles_ok is avx512
        history = model.fit(X, y, epochs=5, batch_size=32)
        results[avx512] = (history.history, model.get_weights())
    (tiles, tiled_weights), (blas, blas_weights) = results[True], results[False]
    for key in ("loss", "mae"):
        np.testing.assert_allclose(tiles[key], blas[key], rtol=1e-5)
    assert tiles["loss"][-1] < tiles["loss"][0] / 2   # it learned
    for a, b in zip(tiled_weights, blas_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # float64 models never take them
    monkeypatch.setattr(gemm, "_avx512", True)
    model64 = build(dataclasses.replace(spec, dtype="float64"), seed=0)
    assert compiled.Trainer(model64, compiled.get(), X, y, 32).tiles_ok is False
