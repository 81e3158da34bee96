"""engine.feature_maps: a conv network's filters and one image's feature maps, checked
against a direct NumPy computation (loops over positions, no im2col) on tiny models
with known weights, and the last map, flattened, feeding the Dense part to give
model.predict."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Conv2D, Flatten, Layer, MaxPooling2D, ModelSpec, SpecError, build
from engine.feature_maps import feature_maps, filters, flat_output, layer_names, symmetric


def _spec(layers, shape=(7, 7, 1)) -> ModelSpec:
    return ModelSpec(input_shape=shape, layers=[*layers, Flatten(), Layer(3, "softmax")],
                     loss="categorical_crossentropy", dtype="float64")


def _model(spec, seed=0):
    """A model with known weights: every weight drawn from a seeded normal."""
    model = build(spec, seed=seed)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    return model


def _correlate(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras' Conv2D ('valid', stride 1) by loops: image (h, w, c), kernel (kh, kw, c, f)."""
    kh, kw, _, f = kernel.shape
    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((h, w, f))
    for r in range(h):
        for c in range(w):
            window = image[r:r + kh, c:c + kw, :]
            out[r, c] = np.tensordot(window, kernel, axes=([0, 1, 2], [0, 1, 2])) + bias
    return out


def _max_pool(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[0] // size, image.shape[1] // size
    out = np.zeros((h, w, image.shape[2]))
    for r in range(h):
        for c in range(w):
            out[r, c] = image[r * size:(r + 1) * size, c * size:(c + 1) * size].max(axis=(0, 1))
    return out


def test_feature_maps_equal_a_direct_computation_and_feed_the_dense_part():
    spec = _spec([Conv2D(3, 3, activation="relu"), MaxPooling2D(2), Conv2D(2, 2)])
    model = _model(spec)
    kernel1, bias1, kernel2, bias2, dense_k, dense_b = model.get_weights()
    image = np.random.default_rng(1).normal(size=(7, 7, 1))

    maps = feature_maps(model, image)
    conv1 = np.maximum(_correlate(image, kernel1, bias1), 0)
    pooled = _max_pool(conv1, 2)
    conv2 = _correlate(pooled, kernel2, bias2)
    assert [(m.name, m.index, m.shape) for m in maps] == [
        ("conv2d_0", 0, (5, 5, 3)), ("max_pooling2d_0", 1, (2, 2, 3)), ("conv2d_1", 2, (1, 1, 2))]
    for got, want in zip(maps, (conv1, pooled, conv2)):
        np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-12)

    # the last map, flattened (channels fastest), into the Dense layer: model.predict
    flat = maps[-1].values.reshape(-1)
    np.testing.assert_array_equal(flat_output(model, image), flat)
    z = flat @ dense_k + dense_b
    probs = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(model.predict(image[None])[0], probs, rtol=1e-10)
    # a flat row and a grey (h, w) image are the same image
    for same in (image.reshape(-1), image[:, :, 0], image[None]):
        np.testing.assert_array_equal(feature_maps(model, same)[0].values, maps[0].values)


def test_filters_are_the_kernels_per_output_channel_and_the_mean_over_inputs():
    spec = _spec([Conv2D(4, (3, 2)), Conv2D(2, 2, use_bias=False)], shape=(6, 6, 2))
    model = _model(spec, seed=3)
    kernel1, bias1, kernel2, _, _ = model.get_weights()
    first, second = filters(model)
    assert (first.name, first.index, first.in_channels, second.name, second.index) == \
        ("conv2d_0", 0, 2, "conv2d_1", 1)
    assert first.pictures.shape == (4, 3, 2) and second.pictures.shape == (2, 2, 2)
    for f in range(4):
        np.testing.assert_allclose(first.pictures[f], kernel1[:, :, :, f].mean(axis=2))
    np.testing.assert_array_equal(first.bias, bias1)
    assert second.bias is None
    np.testing.assert_array_equal(second.kernel, kernel2)


def test_one_input_channel_pictures_are_the_weights_themselves():
    model = _model(_spec([Conv2D(2, 3)]))
    kernel = model.get_weights()[0]
    np.testing.assert_array_equal(filters(model)[0].pictures, np.moveaxis(kernel[:, :, 0, :], -1, 0))


def test_a_flat_network_is_refused_with_what_is_needed():
    model = build(ModelSpec(input_dim=4, layers=[Layer(2, "softmax")],
                            loss="categorical_crossentropy"), seed=0)
    with pytest.raises(SpecError, match="input_shape"):
        filters(model)
    with pytest.raises(SpecError, match="image network"):
        feature_maps(model, np.zeros(4))


def test_a_batch_of_several_images_is_refused():
    model = _model(_spec([Conv2D(2, 3)]))
    with pytest.raises(ValueError, match="one image"):
        feature_maps(model, np.zeros((2, 7, 7, 1)))


def test_the_summary_s_names_and_the_symmetric_scale():
    spec = _spec([Conv2D(2, 2), Conv2D(2, 2), MaxPooling2D(2)])
    assert layer_names(spec) == ["conv2d_0", "conv2d_1", "max_pooling2d_0", "flatten_0", "dense_0"]
    assert [line.split()[0] for line in build(spec).summary().splitlines()[4:9]] == \
        layer_names(spec)
    np.testing.assert_allclose(symmetric([[-2.0, 1.0], [0.0, np.nan]]), [[-1, 0.5], [0, 0]])
    assert not symmetric(np.zeros((2, 2))).any()
