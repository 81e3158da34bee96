"""Keras training behaves as NumPy training does: stops, divergence, bad
input, moving weights between backends, and saving to .keras."""

from __future__ import annotations

import threading
import zipfile

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _keras_helpers import Recorder, StopAt, data, max_diff, spec_for  # noqa: E402

import engine  # noqa: E402
from engine import Callback, FitError, build  # noqa: E402
from engine.keras_backend import KerasModel  # noqa: E402


def _both(spec, seed=2):
    return build(spec, backend="numpy", seed=seed), build(spec, backend="keras", seed=seed)


def test_a_stop_mid_epoch_records_the_partial_epoch_on_both():
    spec = spec_for("mse", "sgd", learning_rate=0.05)
    X, y = data("mse", n=20)
    histories, shapes = [], []
    for model in _both(spec):
        recorder = Recorder()
        histories.append(model.fit(X, y, epochs=5, batch_size=4, shuffle=False,
                                   validation_split=0.2, callbacks=[StopAt(1, 2), recorder]))
        shapes.append(recorder.shape())
    hn, hk = histories
    assert shapes[0] == shapes[1]
    assert hk.stop_reason == hn.stop_reason == "stopped"
    assert hk.stopped_epoch == hn.stopped_epoch == 1 and len(hk) == len(hn) == 2
    np.testing.assert_allclose(hk.history["val_loss"], hn.history["val_loss"], rtol=1e-5)


def test_a_stop_in_on_train_begin_trains_nothing():
    class StopNow(Callback):
        def on_train_begin(self, logs=None):
            self.model.request_stop()

    spec = spec_for("mse")
    X, y = data("mse", n=12)
    model = build(spec, backend="keras", seed=0)
    before = model.get_weights()
    recorder = Recorder()
    history = model.fit(X, y, epochs=3, batch_size=4, callbacks=[StopNow(), recorder])
    assert history.stop_reason == "stopped" and len(history) == 0
    assert history.stopped_epoch is None
    assert [e[0] for e in recorder.events] == ["train_begin", "train_end"]
    assert max_diff(model.get_weights(), before) == 0.0


def test_a_stop_from_another_thread_ends_training():
    spec = spec_for("mse", "sgd", learning_rate=0.001)
    X, y = data("mse", n=400)
    model = build(spec, backend="keras", seed=0)

    class Started(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                threading.Thread(target=model.request_stop).start()

    history = model.fit(X, y, epochs=10_000, batch_size=4, callbacks=[Started()])
    assert history.stop_reason == "stopped"
    assert 1 <= len(history) < 10_000 and history.stopped_epoch == history.epoch[-1]


def test_divergence_stops_on_the_same_epoch_and_keeps_the_last_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3))
    y = X.sum(axis=1) * 10
    spec = spec_for("mse", "sgd", learning_rate=0.3, hidden=(4, "relu"), d=3)
    results = []
    for model in _both(spec, seed=0):
        recorder = Recorder()
        history = model.fit(X, y, epochs=60, batch_size=32, shuffle=False, callbacks=[recorder])
        results.append((model, history, recorder))
    (mn, hn, rn), (mk, hk, rk) = results
    assert hn.stop_reason == hk.stop_reason == "diverged"
    assert hn.stopped_epoch == hk.stopped_epoch == len(hk) == 4
    assert all(np.isfinite(hk.history["loss"]))
    assert max_diff(mk.get_weights(), rk.weights[-1]) == 0.0
    assert all(np.isfinite(w).all() for w in mk.get_weights())
    assert rk.shape() == rn.shape()


def test_bad_input_is_refused_with_the_numpy_backends_messages():
    spec = spec_for("binary_crossentropy")
    X, y = data("binary_crossentropy", n=10)
    models = _both(spec)
    bad_calls = [
        dict(X=X[:, :3], y=y), dict(X=X, y=y[:5]), dict(X=X, y=y * 3),
        dict(X=X, y=y, epochs=0), dict(X=X, y=y, batch_size=0),
        dict(X=X, y=y, validation_split=1.0), dict(X=X, y=y, shuffle="yes"),
        dict(X=np.where(X > 1, np.nan, X), y=y), dict(X=X, y=y, callbacks=[object()]),
    ]
    for call in bad_calls:
        messages = []
        for model in models:
            with pytest.raises(FitError) as info:
                model.fit(call["X"], call["y"],
                          **{k: v for k, v in call.items() if k not in ("X", "y")})
            messages.append(str(info.value))
        assert messages[0] == messages[1]
    for model in models:
        with pytest.raises(FitError, match="features"):
            model.predict(X[:, :2])
        with pytest.raises(ValueError, match=r"weights\[0\] must have shape"):
            model.set_weights([np.zeros((3, 5))] + model.get_weights()[1:])


def test_weights_move_numpy_to_keras_and_back_mid_training():
    spec = spec_for("mse", "sgd", learning_rate=0.05)
    X, y = data("mse", n=16)
    reference = build(spec, backend="numpy", seed=4)
    reference.fit(X, y, epochs=6, batch_size=16, shuffle=False)

    numpy_model = build(spec, backend="numpy", seed=4)
    numpy_model.fit(X, y, epochs=2, batch_size=16, shuffle=False)
    keras_model = build(spec, backend="keras", seed=99)
    keras_model.set_weights(numpy_model.get_weights())
    keras_model.fit(X, y, epochs=2, batch_size=16, shuffle=False)
    numpy_model.set_weights(keras_model.get_weights())
    numpy_model.fit(X, y, epochs=2, batch_size=16, shuffle=False)
    assert max_diff(numpy_model.get_weights(), reference.get_weights()) < 1e-5


def test_save_and_load_restore_everything_and_training_continues(tmp_path):
    spec = spec_for("categorical_crossentropy", "adam", metrics=["accuracy"])
    X, y = data("categorical_crossentropy", n=30)
    straight = build(spec, backend="keras", seed=5)
    straight.fit(X, y, epochs=4, batch_size=10)

    model = build(spec, backend="keras", seed=5)
    model.fit(X, y, epochs=2, batch_size=10)
    model.metadata["note"] = "half way"
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = engine.load(path)
    assert isinstance(loaded, KerasModel) and loaded.spec == spec and loaded.seed == 5
    assert loaded.metadata == {"note": "half way"}
    assert loaded.history.history == model.history.history
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), atol=1e-7)
    # optimizer state and shuffle state came back: continuing equals training straight
    loaded.fit(X, y, epochs=2, batch_size=10)
    assert max_diff(loaded.get_weights(), straight.get_weights()) < 1e-6
    assert "deepterm.json" in zipfile.ZipFile(path).namelist()

    import keras

    plain = keras.saving.load_model(path)  # a plain Keras file too
    np.testing.assert_allclose(plain.predict(X, verbose=0), model.predict(X), atol=1e-6)


def test_bad_model_files_are_reported(tmp_path):
    model = build(spec_for("mse"), backend="keras", seed=0)
    with pytest.raises(FitError, match="must end with .keras"):
        model.save(tmp_path / "model.npz")
    with pytest.raises(FitError, match="no such file"):
        engine.load(tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(FitError, match="not a deepterm Keras model file"):
        engine.load(junk)
    plain = tmp_path / "plain.keras"
    model.keras_model.save(plain)
    with pytest.raises(FitError, match="keras.saving.load_model"):
        engine.load(plain)
