"""Conv2D, MaxPooling2D and Flatten on the NumPy backend: the spec (Keras' names,
layouts and shape rules), gradients against central finite differences in float64,
flat and image-shaped X, model files, and each bad input a ValueError naming the
layer and the field. Small images only (8x8x1, 6x6x2): the file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from engine import (
    Conv2D,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    ModelSpec,
    SpecError,
    build,
    load,
)
from engine.errors import FitError
from engine.numpy_backend import weight_layout


def _image_spec(layers, shape=(6, 6, 2), loss="categorical_crossentropy", dtype="float64",
                **extra) -> ModelSpec:
    units = 3 if loss.startswith(("categorical", "sparse")) else 1
    out = "softmax" if units == 3 else "linear"
    return ModelSpec(input_shape=shape, layers=[*layers, Layer(units, out)], loss=loss,
                     optimizer="sgd", learning_rate=0.1, dtype=dtype, **extra)


def _images(n=5, shape=(6, 6, 2), seed=0, classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *shape))
    y = np.eye(classes)[rng.integers(0, classes, size=n)]
    return X, y


# -- the spec -----------------------------------------------------------------------------


def test_keras_names_defaults_and_layouts():
    conv = Conv2D(8, 3)
    assert (conv.kernel_size, conv.strides, conv.padding, conv.activation, conv.use_bias) \
        == ((3, 3), (1, 1), "valid", "linear", True)
    assert MaxPooling2D(2).step == (2, 2) and MaxPooling2D((3, 2), strides=1).step == (1, 1)
    spec = ModelSpec(input_shape=(28, 28, 1),
                     layers=[Conv2D(8, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                             Layer(10, "softmax")], loss="categorical_crossentropy")
    assert spec.input_dim == 784 and spec.is_image
    assert spec.layer_output_shapes() == [(26, 26, 8), (13, 13, 8), (1352,), (10,)]
    assert spec.kernel_shapes() == [(3, 3, 1, 8), (1352, 10)]
    assert spec.count_params() == 3 * 3 * 8 + 8 + 1352 * 10 + 10
    assert [shape for _, shape in weight_layout(spec)] == [(3, 3, 1, 8), (8,), (1352, 10), (10,)]
    same = ModelSpec(input_shape=(7, 5, 2), layers=[Conv2D(4, 3, strides=2, padding="same"),
                                                    Flatten(), Layer(1)])
    assert same.layer_output_shapes()[0] == (4, 3, 4)   # ceil(size / stride)


def test_an_image_spec_round_trips_and_a_dense_spec_is_written_as_before():
    spec = _image_spec([Conv2D(3, (3, 2), strides=(1, 2), padding="same", activation="tanh",
                               use_bias=False), MaxPooling2D(2, strides=1), Dropout(0.25),
                        Flatten()])
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert spec.to_dict()["input_shape"] == [6, 6, 2]
    assert spec.replace(input_shape=(8, 8, 2)).input_dim == 128
    dense = ModelSpec(input_dim=3, layers=[Layer(2, "relu"), Layer(1)])
    assert "input_shape" not in dense.to_dict() and not dense.is_image
    assert ModelSpec(input_shape=(3,), layers=[Layer(1)]) == ModelSpec(input_dim=3,
                                                                        layers=[Layer(1)])
    assert ModelSpec.from_dict(dense.to_dict()) == dense


@pytest.mark.parametrize("make, words", [
    (lambda: ModelSpec(input_dim=36, layers=[Conv2D(2, 3), Flatten(), Layer(1)]),
     ["layers[0] (Conv2D)", "input_shape"]),
    (lambda: _image_spec([Flatten(), Conv2D(2, 3), Flatten()]), ["layers[1] (Conv2D)", "Flatten"]),
    (lambda: _image_spec([Conv2D(2, 7), Flatten()]),
     ["layers[0] (Conv2D)", "kernel_size (7, 7)", "(6, 6)", "'valid'"]),
    (lambda: _image_spec([Conv2D(2, 3), MaxPooling2D(5), Flatten()]),
     ["layers[1] (MaxPooling2D)", "pool_size (5, 5)", "(4, 4)"]),
    (lambda: _image_spec([Conv2D(2, 3)]), ["layers[1] (Layer)", "Flatten"]),
    (lambda: _image_spec([MaxPooling2D(2)]), ["layers[1] (Layer)", "Flatten"]),
    (lambda: _image_spec([Flatten(), Flatten()]), ["layers[1] (Flatten)"]),
    (lambda: Conv2D(0, 3), ["filters"]),
    (lambda: Conv2D(2, (3, 0)), ["kernel_size"]),
    (lambda: Conv2D(2, 3, padding="full"), ["padding", "'valid'", "'same'"]),
    (lambda: Conv2D(2, 3, strides=0), ["strides"]),
    (lambda: MaxPooling2D(0), ["pool_size"]),
    (lambda: ModelSpec(input_shape=(6, 6), layers=[Layer(1)]), ["input_shape"]),
    (lambda: ModelSpec(input_dim=10, input_shape=(2, 2, 1), layers=[Flatten(), Layer(1)]),
     ["input_dim", "input_shape"]),
    (lambda: ModelSpec.from_dict({"input_shape": [4, 4, 1],
                                  "layers": [{"type": "conv2d", "filters": 2, "kernel": 3},
                                             {"type": "flatten"}, {"units": 1}]}),
     ["conv2d", "kernel"]),
])
def test_bad_image_specs_name_the_layer_and_the_field(make, words):
    with pytest.raises(SpecError) as err:
        make()
    for word in words:
        assert word in str(err.value)
    assert isinstance(err.value, ValueError)


def test_x_flat_or_shaped_is_accepted_and_a_wrong_shape_names_input_shape():
    spec = _image_spec([Conv2D(2, 3, activation="relu"), Flatten()])
    model = build(spec, seed=0)
    X, _ = _images()
    np.testing.assert_array_equal(model.predict(X), model.predict(X.reshape(len(X), -1)))
    for bad in (X[:, :5], X.reshape(len(X), 2, 36), X.reshape(len(X), -1)[:, :-1]):
        with pytest.raises(FitError) as err:
            model.predict(bad)
        assert "input_shape" in str(err.value) and "layers[0] (Conv2D)" in str(err.value)


# -- the numbers ------------------------------------------------------------------------------


def _numeric_gradients(model, X, y, eps=1e-6):
    """Central differences of evaluate()'s mean loss, one weight at a time."""
    weights = model.get_weights()
    grads = []
    for w in weights:
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            keep = w[idx]
            w[idx] = keep + eps
            model.set_weights(weights)
            up = model.evaluate(X, y)["loss"]
            w[idx] = keep - eps
            model.set_weights(weights)
            down = model.evaluate(X, y)["loss"]
            w[idx] = keep
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    model.set_weights(weights)
    return grads


GRADIENT_CASES = {
    "valid-stride1": [Conv2D(2, 3, activation="tanh"), MaxPooling2D(2), Flatten()],
    "same-stride1": [Conv2D(2, 3, padding="same", activation="relu"), MaxPooling2D(2),
                     Flatten()],
    "valid-stride2": [Conv2D(3, (2, 3), strides=2, activation="sigmoid"), Flatten()],
    "same-stride2": [Conv2D(2, 3, strides=2, padding="same", use_bias=False), Flatten()],
    "two-convs-overlapping-pool": [Conv2D(2, 2, activation="relu"),
                                   MaxPooling2D(2, strides=1),
                                   Conv2D(2, 2, strides=(1, 2), activation="tanh"), Flatten(),
                                   Layer(3, "relu")],
}


@pytest.mark.parametrize("case", list(GRADIENT_CASES))
def test_gradients_match_finite_differences(case):
    spec = _image_spec(GRADIENT_CASES[case])
    model = build(spec, seed=4)
    X, y = _images()
    analytic = model.gradients(X, y)
    assert [g.shape for g in analytic] == [w.shape for w in model.get_weights()]
    numeric = _numeric_gradients(model, X, y)
    for a, b in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert max(float(np.abs(g).max()) for g in analytic) > 1e-3


def test_max_pooling_routes_the_gradient_to_the_maximum_alone():
    from engine import convolution

    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)[:, ::-1].copy()
    layer = MaxPooling2D(2)
    out, pooled = convolution.pool_forward(x, layer)
    np.testing.assert_array_equal(out[0, :, :, 0], [[13, 15], [5, 7]])
    grad = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    dx = convolution.pool_backward(grad, pooled, layer)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[0, 3], expected[2, 1], expected[2, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_a_convolution_equals_its_definition():
    """A direct loop over positions (zero padding as TensorFlow's "same") gives the
    same outputs as im2col and one matrix product."""
    from engine import convolution

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 6, 2))
    layer = Conv2D(3, (3, 2), strides=2, padding="same")
    kernel = rng.normal(size=(3, 2, 2, 3))
    z, _ = convolution.conv_forward(x, kernel, layer)
    (top, _), (left, _) = (convolution.same_padding(7, 3, 2), convolution.same_padding(6, 2, 2))
    padded = np.pad(x, ((0, 0), (top, 3), (left, 3), (0, 0)))
    expected = np.zeros_like(z)
    for i in range(z.shape[1]):
        for j in range(z.shape[2]):
            window = padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 2, :]
            expected[:, i, j] = np.einsum("nhwc,hwcf->nf", window, kernel)
    np.testing.assert_allclose(z, expected, rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
def test_every_optimizer_trains_a_small_convolutional_network(optimizer):
    spec = ModelSpec(input_shape=(8, 8, 1), layers=[
        Conv2D(4, 3, activation="relu"), MaxPooling2D(2), Flatten(), Layer(3, "softmax")],
        loss="categorical_crossentropy", optimizer=optimizer, learning_rate=0.05,
        metrics=["accuracy"])
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=60)
    X = rng.normal(scale=0.3, size=(60, 8, 8, 1))
    for k in range(3):     # each class lights up its own band of rows
        X[labels == k, 2 * k:2 * k + 3] += 1.0
    model = build(spec, seed=0)
    history = model.fit(X.reshape(60, 64), np.eye(3)[labels], epochs=8, batch_size=10)
    assert history.stop_reason == "completed"
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.6


def test_float32_throughout():
    spec = _image_spec([Conv2D(2, 3, activation="relu"), MaxPooling2D(2), Flatten()],
                       dtype="float32")
    model = build(spec, seed=0)
    X, y = _images()
    assert model.predict(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.gradients(X, y))
    model.fit(X, y, epochs=1, batch_size=2)
    assert all(w.dtype == np.float32 for w in model.get_weights())


def test_glorot_uniform_uses_keras_fans_for_a_kernel():
    spec = _image_spec([Conv2D(16, 3), Flatten()], shape=(8, 8, 4), dtype="float32")
    kernel = build(spec, seed=0).get_weights()[0]
    limit = np.sqrt(6.0 / (3 * 3 * 4 + 3 * 3 * 16))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit


# -- files ----------------------------------------------------------------------------------


def test_an_image_model_saves_loads_and_trains_on_the_same(tmp_path):
    spec = _image_spec([Conv2D(2, 3, activation="relu"), MaxPooling2D(2), Dropout(0.2),
                        Flatten()], dtype="float32", )
    spec = spec.replace(optimizer="adam", learning_rate=0.01)
    X, y = _images(n=12)
    model = build(spec, seed=5)
    model.fit(X, y, epochs=2, batch_size=4)
    model.save(tmp_path / "cnn.npz")
    again = load(tmp_path / "cnn.npz")
    assert again.spec == spec
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    h1 = model.fit(X, y, epochs=2, batch_size=4)
    h2 = again.fit(X, y, epochs=2, batch_size=4)
    assert h1.history == h2.history


# -- what does not take image networks yet says so --------------------------------------------


def test_export_and_traces_refuse_an_image_network_that_a_run_config_describes(tmp_path):
    from engine.export import export_model
    from engine.recipe import RunConfig
    from engine.teaching import forward_trace

    spec = _image_spec([Conv2D(2, 3), Flatten()])
    model = build(spec, seed=0)
    X, _ = _images(n=2)
    for call in (lambda: export_model(model, tmp_path / "m.onnx"),
                 lambda: export_model(model, tmp_path / "m.keras"),
                 lambda: forward_trace(model, X[0].ravel())):
        with pytest.raises(FitError, match="image layers"):
            call()
    # a RunConfig describes Conv2D/MaxPooling2D layers, one Flatten, then Dense layers
    assert RunConfig(dataset="xor").with_spec(spec).conv == (("conv", 2, 3, 1, "valid",
                                                              "linear"),)
    with pytest.raises(FitError, match="a RunConfig describes image networks as"):
        RunConfig(dataset="xor").with_spec(_image_spec([Flatten()]))


def test_a_run_store_keeps_an_image_spec_and_its_weights(tmp_path):
    from engine import train
    from engine.predict import model_of_run
    from engine.store import RunStore

    spec = _image_spec([Conv2D(2, 3, activation="relu"), MaxPooling2D(2), Flatten()],
                       dtype="float32")
    X, y = _images(n=10)
    store = RunStore(tmp_path / "runs.db")
    run = train(spec, (X.reshape(10, -1), y), store=store, epochs=2, save_weights=True)
    stored = store.get(run.id, weights=True)
    assert stored.spec == spec and stored.epochs_done == 2
    assert [w.shape for w in stored.weights] == [(3, 3, 2, 2), (2,), (8, 3), (3,)]
    np.testing.assert_array_equal(model_of_run(stored).predict(X), run.model.predict(X))
