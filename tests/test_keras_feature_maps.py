"""engine.feature_maps on a Keras model: its filters are the Conv2D layer's kernel and
its feature maps the outputs of the Keras layers of the same names (a functional
sub-model), to float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from engine import Conv2D, Flatten, Layer, MaxPooling2D, ModelSpec, build  # noqa: E402
from engine.feature_maps import feature_maps, filters, flat_output  # noqa: E402


def test_a_keras_model_s_maps_are_its_own_layers_outputs():
    import keras

    spec = ModelSpec(input_shape=(8, 8, 1),
                     layers=[Conv2D(2, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                             Layer(3, "softmax")], loss="categorical_crossentropy")
    model = build(spec, backend="keras", seed=0)
    image = np.random.default_rng(0).normal(size=(8, 8, 1)).astype(np.float32)
    net = model.keras_model
    names = ["conv2d_0", "max_pooling2d_0", "flatten_0"]
    sub = keras.Model(net.inputs, [net.get_layer(name).output for name in names])
    want = [np.asarray(v)[0] for v in sub([image[None]])]
    maps = feature_maps(model, image)
    assert [m.name for m in maps] == names[:2]
    for got, expected in zip([*(m.values for m in maps), flat_output(model, image)], want):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(filters(model)[0].kernel,
                                  net.get_layer("conv2d_0").get_weights()[0])
