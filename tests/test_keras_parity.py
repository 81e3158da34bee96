"""The Keras backend gives the NumPy backend's numbers: predictions, weights
after training, histories, gradients and early stopping; the NumPy backend's
training on both of its paths (fit_path: batch by batch, and compiled)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _keras_helpers import Recorder, data, max_diff, spec_for  # noqa: E402

from engine import EarlyStopping, build  # noqa: E402

LOSSES = ("mse", "binary_crossentropy", "categorical_crossentropy")
OPTIMIZERS = [("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
              ("adam", {}), ("rmsprop", {}), ("adagrad", {})]


def _pair(spec, seed=3):
    """A NumPy model and a Keras model holding the same initial weights."""
    numpy_model = build(spec, backend="numpy", seed=seed)
    keras_model = build(spec, backend="keras", seed=seed + 1)
    keras_model.set_weights(numpy_model.get_weights())
    return numpy_model, keras_model


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("optimizer,options", OPTIMIZERS,
                         ids=["sgd", "sgd-momentum", "sgd-nesterov", "adam", "rmsprop", "adagrad"])
def test_full_batch_training_matches_numpy(loss, optimizer, options, fit_path):
    spec = spec_for(loss, optimizer, learning_rate=0.05, **options)
    X, y = data(loss)
    numpy_model, keras_model = _pair(spec)
    np.testing.assert_allclose(keras_model.predict(X), numpy_model.predict(X), atol=1e-5)

    hn = numpy_model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False)
    hk = keras_model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False)

    assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) < 1e-4
    np.testing.assert_allclose(keras_model.predict(X), numpy_model.predict(X), atol=1e-5)
    assert list(hk.history) == list(hn.history) == ["loss"]
    np.testing.assert_allclose(hk.history["loss"], hn.history["loss"], rtol=1e-5, atol=1e-6)
    # training moved the weights: the comparison is not of two untouched models
    assert hn.history["loss"][-1] != hn.history["loss"][0]


@pytest.mark.parametrize("loss", ["mse", "mae", "binary_crossentropy",
                                  "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_gradients_equal_numpy_backprop(loss):
    spec = spec_for(loss, hidden=(6, "relu"))
    X, y = data(loss, n=10)
    numpy_model, keras_model = _pair(spec)
    grads_numpy, grads_keras = numpy_model.gradients(X, y), keras_model.gradients(X, y)
    assert [g.shape for g in grads_keras] == [w.shape for w in numpy_model.get_weights()]
    assert max_diff(grads_keras, grads_numpy) < 1e-6
    assert max(float(np.abs(g).max()) for g in grads_numpy) > 1e-3


def test_gradients_without_bias_keep_the_layout():
    spec = spec_for("mse", hidden=(3, "sigmoid", False))
    X, y = data("mse", n=8)
    numpy_model, keras_model = _pair(spec)
    grads = keras_model.gradients(X, y)
    assert [g.shape for g in grads] == [(4, 3), (3, 1), (1,)]
    assert max_diff(grads, numpy_model.gradients(X, y)) < 1e-6


def test_same_seed_same_initial_weights_and_same_shuffled_minibatch_run(fit_path):
    spec = spec_for("categorical_crossentropy", "sgd", learning_rate=0.1, metrics=["accuracy"])
    X, y = data("categorical_crossentropy", n=40)
    numpy_model = build(spec, backend="numpy", seed=7)
    keras_model = build(spec, backend="keras", seed=7)
    assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) == 0.0

    for _ in range(2):  # the second fit continues the shuffle sequence on both
        hn = numpy_model.fit(X, y, epochs=3, batch_size=8, validation_split=0.25)
        hk = keras_model.fit(X, y, epochs=3, batch_size=8, validation_split=0.25)
        assert list(hk.history) == list(hn.history) == \
            ["loss", "accuracy", "val_loss", "val_accuracy"]
        for key in hn.history:
            np.testing.assert_allclose(hk.history[key], hn.history[key], atol=1e-5)
        assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) < 1e-5
    assert hk.params == hn.params == {"epochs": 3, "steps": 4, "samples": 30, "batch_size": 8,
                                      "validation_samples": 10}


def test_evaluate_matches_numpy_with_every_metric(fit_path):
    spec = spec_for("binary_crossentropy", metrics=["accuracy", "mae", "mse"])
    X, y = data("binary_crossentropy", n=30)
    numpy_model, keras_model = _pair(spec)
    numpy_model.fit(X, y, epochs=2, batch_size=10, shuffle=False)
    keras_model.fit(X, y, epochs=2, batch_size=10, shuffle=False)
    en, ek = numpy_model.evaluate(X, y), keras_model.evaluate(X, y)
    assert list(ek) == list(en) == ["loss", "accuracy", "mae", "mse"]
    for key in en:
        assert ek[key] == pytest.approx(en[key], abs=1e-5)
    assert 0.0 <= ek["accuracy"] <= 1.0


def test_callbacks_see_the_same_events_and_logs_on_both_backends(fit_path):
    spec = spec_for("sparse_categorical_crossentropy", "rmsprop", metrics=["accuracy"])
    X, y = data("sparse_categorical_crossentropy", n=20)
    numpy_model, keras_model = _pair(spec)
    rn, rk = Recorder(), Recorder()
    numpy_model.fit(X, y, epochs=2, batch_size=6, validation_split=0.2, shuffle=False,
                    callbacks=[rn])
    keras_model.fit(X, y, epochs=2, batch_size=6, validation_split=0.2, shuffle=False,
                    callbacks=[rk])
    assert rk.shape() == rn.shape()
    assert rk.shape()[:3] == [("train_begin", None, []), ("epoch_begin", 0, []),
                              ("batch_end", 0, ["loss", "accuracy"])]
    assert rk.shape()[-2][2] == ["loss", "accuracy", "val_loss", "val_accuracy"]
    for (_, _, logs_k), (_, _, logs_n) in zip(rk.events, rn.events):
        for key in logs_n:
            assert logs_k[key] == pytest.approx(logs_n[key], abs=1e-5)
    assert rk.params == rn.params


def _early_stopping_run(backend, restore):
    """A linear model walks from w = 0 towards the training slope w*; the
    validation rows follow w*/2, so validation loss falls for a few epochs,
    then rises while the training loss keeps falling."""
    rng = np.random.default_rng(5)
    X, Xv = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    w_true = np.array([1.0, -2.0, 0.5, 1.5])
    y, yv = X @ w_true, Xv @ (w_true / 2)
    model = build(spec_for("mse", "sgd", learning_rate=0.05, hidden=None), backend=backend,
                  seed=11)
    model.set_weights([np.zeros((4, 1)), np.zeros(1)])
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=restore)
    recorder = Recorder()
    history = model.fit(X, y, epochs=60, batch_size=len(X), shuffle=False,
                        validation_data=(Xv, yv), callbacks=[stopper, recorder])
    return model, history, stopper, recorder


@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_stops_at_the_same_epoch(restore, fit_path):
    mn, hn, sn, rn = _early_stopping_run("numpy", restore)
    mk, hk, sk, rk = _early_stopping_run("keras", restore)
    assert hn.stop_reason == hk.stop_reason == "early_stopped"
    assert hk.stopped_epoch == hn.stopped_epoch == sk.stopped_epoch == 9
    assert hk.best_epoch == hn.best_epoch == sk.best_epoch == 7
    assert len(hk) == len(hn) == hk.stopped_epoch + 1
    np.testing.assert_allclose(hk.history["val_loss"], hn.history["val_loss"], rtol=1e-5)
    expected = rk.weights[hk.best_epoch] if restore else rk.weights[-1]
    assert max_diff(mk.get_weights(), expected) == 0.0
    assert max_diff(mk.get_weights(), mn.get_weights()) < 1e-5
