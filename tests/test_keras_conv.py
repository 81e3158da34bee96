"""Conv2D, MaxPooling2D and Flatten on the Keras backend: keras.layers with the same
initial weights, TensorFlow's gradients equal to NumPy's backprop, training that gives
the NumPy backend's numbers (the tolerances of test_keras_parity.py), and .keras files
that carry the new layers. Small images (8x8x1, 6x6x2), few filters."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _keras_helpers import max_diff  # noqa: E402

from engine import Conv2D, Flatten, Layer, MaxPooling2D, ModelSpec, build, load  # noqa: E402


def _spec(conv, optimizer="adam", shape=(6, 6, 2), dtype="float32", **extra) -> ModelSpec:
    return ModelSpec(input_shape=shape, layers=[*conv, Layer(3, "softmax")],
                     loss="categorical_crossentropy", optimizer=optimizer, learning_rate=0.05,
                     dtype=dtype, **extra)


def _images(n=16, shape=(6, 6, 2), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *shape))
    return X, np.eye(3)[rng.integers(0, 3, size=n)]


def _pair(spec, seed=3, keras_seed=None):
    """A NumPy model and a Keras model holding the same initial weights (the Keras one
    built with another seed unless ``keras_seed`` is given: set_weights moves them)."""
    numpy_model = build(spec, backend="numpy", seed=seed)
    keras_model = build(spec, backend="keras", seed=seed + 1 if keras_seed is None else keras_seed)
    keras_model.set_weights(numpy_model.get_weights())
    return numpy_model, keras_model


CONVS = {
    "valid-stride1": [Conv2D(3, 3, activation="relu"), MaxPooling2D(2), Flatten()],
    "same-stride1": [Conv2D(2, 3, padding="same", activation="tanh"), MaxPooling2D(2),
                     Flatten()],
    "valid-stride2": [Conv2D(3, (2, 3), strides=2, activation="sigmoid"), Flatten()],
    "same-stride2": [Conv2D(2, 3, strides=2, padding="same", activation="relu",
                            use_bias=False), MaxPooling2D(2, strides=1), Flatten(),
                     Layer(4, "tanh")],
}


def test_the_keras_model_is_built_from_keras_layers_with_the_same_initial_weights():
    spec = _spec(CONVS["valid-stride1"])
    numpy_model = build(spec, seed=0)
    keras_model = build(spec, backend="keras", seed=0)
    kinds = [type(layer).__name__ for layer in keras_model.keras_model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert keras_model.keras_model.input_shape == (None, 6, 6, 2)
    assert [w.shape for w in keras_model.get_weights()] == [(3, 3, 2, 3), (3,), (12, 3), (3,)]
    assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) == 0.0
    assert keras_model.count_params() == keras_model.keras_model.count_params()


@pytest.mark.parametrize("case", list(CONVS))
def test_forward_and_gradients_equal_numpy_backprop(case):
    spec = _spec(CONVS[case])
    X, y = _images(n=10)
    numpy_model, keras_model = _pair(spec)
    np.testing.assert_allclose(keras_model.predict(X), numpy_model.predict(X), atol=1e-5)
    # flat rows (as MNIST is stored) and images give the same outputs
    np.testing.assert_allclose(keras_model.predict(X.reshape(len(X), -1)),
                               keras_model.predict(X), atol=0)
    grads_numpy, grads_keras = numpy_model.gradients(X, y), keras_model.gradients(X, y)
    assert [g.shape for g in grads_keras] == [w.shape for w in numpy_model.get_weights()]
    assert max_diff(grads_keras, grads_numpy) < 1e-6
    assert max(float(np.abs(g).max()) for g in grads_numpy) > 1e-3


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
def test_three_epochs_of_training_match_numpy(optimizer):
    spec = _spec([Conv2D(3, 3, activation="relu"), MaxPooling2D(2), Flatten()], optimizer,
                 shape=(8, 8, 1), metrics=["accuracy"])
    X, y = _images(n=24, shape=(8, 8, 1), seed=1)
    numpy_model, keras_model = _pair(spec, keras_seed=3)   # one seed: the same shuffles
    hn = numpy_model.fit(X, y, epochs=3, batch_size=8, validation_split=0.25)
    hk = keras_model.fit(X, y, epochs=3, batch_size=8, validation_split=0.25)
    assert max_diff(keras_model.get_weights(), numpy_model.get_weights()) < 1e-4
    np.testing.assert_allclose(keras_model.predict(X), numpy_model.predict(X), atol=1e-5)
    assert list(hk.history) == list(hn.history)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(hk.history[key], hn.history[key], rtol=1e-5, atol=1e-6)
    assert hn.history["loss"][-1] != hn.history["loss"][0]


def test_a_keras_file_carries_the_image_layers(tmp_path):
    spec = _spec([Conv2D(2, 3, activation="relu"), MaxPooling2D(2), Conv2D(2, 1), Flatten(),
                  Layer(4, "relu")])
    X, y = _images(n=12)
    model = build(spec, backend="keras", seed=2)
    model.fit(X, y, epochs=1, batch_size=4)
    model.save(tmp_path / "cnn.keras")
    again = load(tmp_path / "cnn.keras")
    assert again.spec == spec
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    # the weights move between backends and files
    numpy_model = build(spec, seed=0)
    numpy_model.set_weights(again.get_weights())
    np.testing.assert_allclose(numpy_model.predict(X), again.predict(X), atol=1e-5)
