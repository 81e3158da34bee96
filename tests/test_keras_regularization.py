"""L1/L2 kernel regularizers and Dropout: the Keras backend gives the NumPy backend's
numbers (within the parity tolerances of test_keras_parity.py), TensorFlow's gradients
equal NumPy's backprop (dropout through the same fixed mask in both), and model files
round-trip; a Keras file written before they existed still loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _keras_helpers import OUTPUT, data, max_diff  # noqa: E402

from engine import L1, L1L2, L2, Dropout, Layer, ModelSpec, build  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
REGULARIZERS = {"l1": L1(0.02), "l2": L2(0.1), "l1l2": L1L2(0.01, 0.05)}


def _spec(loss: str, layers, optimizer="adam", **extra) -> ModelSpec:
    units = 1 if loss in ("mse", "mae", "binary_crossentropy") else 3
    return ModelSpec(input_dim=4, layers=[*layers, Layer(units, OUTPUT[loss], **extra)],
                     loss=loss, optimizer=optimizer, learning_rate=0.05)


def _pair(spec, seed=3):
    numpy_model = build(spec, backend="numpy", seed=seed)
    keras_model = build(spec, backend="keras", seed=seed + 1)
    keras_model.set_weights(numpy_model.get_weights())
    return numpy_model, keras_model


@pytest.mark.parametrize("name", list(REGULARIZERS))
@pytest.mark.parametrize("loss, optimizer", [("mse", "sgd"), ("binary_crossentropy", "adam"),
                                             ("categorical_crossentropy", "rmsprop")])
def test_training_with_a_penalty_matches_numpy(name, loss, optimizer):
    reg = REGULARIZERS[name]
    spec = _spec(loss, [Layer(5, "tanh", kernel_regularizer=reg)], optimizer,
                 kernel_regularizer=reg)
    X, y = data(loss)
    numpy_model, keras_model = _pair(spec)
    assert keras_model.evaluate(X, y)["loss"] == pytest.approx(numpy_model.evaluate(X, y)["loss"],
                                                               rel=1e-5)
    hn = numpy_model.fit(X, y, epochs=3, batch_size=8, shuffle=False, validation_split=0.25)
    hk = keras_model.fit(X, y, epochs=3, batch_size=8, shuffle=False, validation_split=0.25)
    assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) < 1e-4
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(hk.history[key], hn.history[key], rtol=1e-5, atol=1e-6)
    # the reported losses carry the penalty: the same run without it reports less
    plain = build(_spec(loss, [Layer(5, "tanh")], optimizer), seed=3)
    assert plain.fit(X, y, epochs=1, batch_size=8, shuffle=False).history["loss"][0] \
        < hn.history["loss"][0] - 1e-3


@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_tensorflow_gradients_with_a_penalty_equal_numpy_backprop(name):
    reg = REGULARIZERS[name]
    spec = _spec("binary_crossentropy", [Layer(6, "relu", kernel_regularizer=reg)],
                 kernel_regularizer=reg)
    X, y = data("binary_crossentropy", n=10)
    numpy_model, keras_model = _pair(spec)
    grads = keras_model.gradients(X, y)
    assert max_diff(grads, numpy_model.gradients(X, y)) < 1e-6
    without = build(_spec("binary_crossentropy", [Layer(6, "relu")]), seed=3)
    assert max_diff(grads, without.gradients(X, y)) > 1e-3   # the penalty's part is there


def _fix_masks(numpy_model, keras_model, masks):
    """Both backends drop through the given masks (one per Dropout layer, in order)."""
    numpy_model.dropout_mask = lambda layer, shape, rate: masks[layer - 1]
    for i, mask in enumerate(masks):
        layer = keras_model.keras_model.get_layer(f"dropout_{i}")
        layer.call = lambda inputs, training=False, m=mask: inputs * m if training else inputs


def _mask(shape, rate, seed):
    keep = np.random.default_rng(seed).random(shape) >= rate
    return (keep / (1 - rate)).astype(np.float32)


def test_dropout_passes_through_on_both_backends_when_predicting():
    spec = _spec("categorical_crossentropy", [Layer(6, "relu"), Dropout(0.5), Layer(5, "tanh"),
                                              Dropout(0.3)])
    X, y = data("categorical_crossentropy")
    numpy_model, keras_model = _pair(spec)
    np.testing.assert_allclose(keras_model.predict(X), numpy_model.predict(X), atol=1e-6)
    assert keras_model.evaluate(X, y)["loss"] == pytest.approx(numpy_model.evaluate(X, y)["loss"],
                                                               rel=1e-5)


def test_gradients_and_training_through_a_fixed_dropout_mask_match():
    spec = _spec("mse", [Layer(6, "tanh", kernel_regularizer=L2(0.05)), Dropout(0.4),
                         Layer(5, "relu"), Dropout(0.25)], optimizer="sgd")
    X, y = data("mse")
    numpy_model, keras_model = _pair(spec)
    masks = [_mask((len(X), 6), 0.4, 1), _mask((len(X), 5), 0.25, 2)]
    unmasked = numpy_model.gradients(X, y)
    _fix_masks(numpy_model, keras_model, masks)
    grads = numpy_model.gradients(X, y)
    assert max_diff(keras_model.gradients(X, y), grads) < 1e-6
    assert max_diff(grads, unmasked) > 1e-3           # the masks matter
    hn = numpy_model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False)
    hk = keras_model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False)
    np.testing.assert_allclose(hk.history["loss"], hn.history["loss"], rtol=1e-5, atol=1e-6)
    assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) < 1e-4


def test_a_keras_model_with_regularizers_and_dropout_saves_and_loads(tmp_path):
    from engine import load

    spec = _spec("mse", [Layer(5, "relu", kernel_regularizer=L1L2(0.01, 0.02)), Dropout(0.3)],
                 kernel_regularizer=L2(0.1))
    X, y = data("mse")
    model = build(spec, backend="keras", seed=2)
    model.fit(X, y, epochs=2, batch_size=8)
    model.save(tmp_path / "m.keras")
    again = load(tmp_path / "m.keras")
    assert again.spec == spec
    np.testing.assert_allclose(again.predict(X), model.predict(X), atol=1e-6)
    assert again.evaluate(X, y)["loss"] == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-6)


def test_a_keras_model_file_written_before_regularizers_still_loads():
    from engine import load

    model = load(DATA / "model-c4ac1f3.keras")
    assert model.spec.layers == (Layer(4, "tanh"), Layer(1, "sigmoid"))
    X = np.random.default_rng(0).normal(size=(30, 2))
    np.testing.assert_allclose(model.predict(X), np.load(DATA / "model-c4ac1f3.keras.predict.npy"),
                               atol=1e-6)
