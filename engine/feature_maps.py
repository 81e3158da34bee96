"""What a convolutional network has learned, as numbers to draw: each Conv2D layer's
filters, and each image layer's output (its feature maps) for one image.

``filters(model)`` gives every Conv2D layer's kernels: ``kernel`` (kh, kw, in, filters)
as the model holds it (Keras' layout) and ``pictures`` (filters, kh, kw), one picture
per filter; a layer with several input channels is drawn as the mean over its input
channels (the first layer of a grey-image network has one: its pictures are the
weights themselves).

``feature_maps(model, x)`` gives, for one image, each Conv2D and MaxPooling2D layer's
output (height, width, channels), in order, from one forward pass of the model on the
NumPy backend: a NumPy model's own pass; any other model (Keras) is copied into a
NumPy twin with its weights (Keras' layout, so the numbers are the same to float
rounding). ``flat_output(model, x)`` is what the first Dense layer receives.

``symmetric(values)`` scales values into [-1, 1] by their largest magnitude (0 stays
0): a diverging colour scale's input.

Nothing here imports a UI toolkit; the pictures are the front end's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .spec import Conv2D, Flatten, Layer, MaxPooling2D, SpecError

#: The layers' names: kind, then its count from 0 (``conv2d_0``, ``conv2d_1``, ...).
_KINDS = {Conv2D: "conv2d", MaxPooling2D: "max_pooling2d", Flatten: "flatten", Layer: "dense"}


def layer_names(spec: Any) -> list[str]:
    """Each spec layer's name as the model's summary and the Keras backend's layers
    name it: ``conv2d_0``, ``conv2d_1``, ``max_pooling2d_0``, ``flatten_0``,
    ``dense_0``, ``dropout_0``..."""
    seen: dict[str, int] = {}
    names = []
    for layer in spec.layers:
        base = _KINDS.get(type(layer), type(layer).__name__.lower())
        n = seen.get(base, 0)
        seen[base] = n + 1
        names.append(f"{base}_{n}")
    return names


@dataclass(frozen=True)
class LayerFilters:
    """One Conv2D layer's learned filters."""

    index: int              # the layer's index in spec.layers
    name: str               # conv2d_0, conv2d_1, ... (layer_names)
    layer: Conv2D
    kernel: np.ndarray      # (kh, kw, in_channels, filters), as the model holds it
    bias: np.ndarray | None  # (filters,)

    @property
    def in_channels(self) -> int:
        return int(self.kernel.shape[2])

    @property
    def pictures(self) -> np.ndarray:
        """(filters, kh, kw): each filter's weights, averaged over its input channels
        (one input channel: the weights themselves)."""
        return np.moveaxis(self.kernel.mean(axis=2), -1, 0)


@dataclass(frozen=True)
class FeatureMap:
    """One image layer's output for one image."""

    index: int              # the layer's index in spec.layers
    name: str
    layer: Conv2D | MaxPooling2D
    values: np.ndarray      # (height, width, channels)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.values.shape)  # type: ignore[return-value]


def _spec_of(model: Any) -> Any:
    spec = getattr(model, "spec", None)
    if spec is None or not getattr(spec, "is_image", False):
        raise SpecError("filters and feature maps need an image network (a spec with "
                        "input_shape=(height, width, channels) and Conv2D layers); "
                        "this model takes flat rows")
    return spec


def filters(model: Any) -> list[LayerFilters]:
    """Every Conv2D layer's filters, in order (empty when the network has none).
    ``model``: any backend's model of an image spec (its ``get_weights()``, Keras'
    layout: per weighted layer a kernel, then a bias unless ``use_bias=False``)."""
    spec = _spec_of(model)
    weights = [np.asarray(w) for w in model.get_weights()]
    names = layer_names(spec)
    out, k = [], 0
    for i, layer in enumerate(spec.layers):
        if not isinstance(layer, (Conv2D, Layer)):
            continue
        kernel = weights[k]
        bias = weights[k + 1] if layer.use_bias else None
        k += 2 if layer.use_bias else 1
        if isinstance(layer, Conv2D):
            out.append(LayerFilters(i, names[i], layer, kernel, bias))
    return out


def _numpy_twin(model: Any) -> Any:
    from .numpy_backend import NumpyModel

    if isinstance(model, NumpyModel):
        return model
    twin = NumpyModel(model.spec, seed=0)
    twin.set_weights([np.asarray(w, dtype=twin.dtype) for w in model.get_weights()])
    return twin


def _one_image(x: Any, spec: Any, dtype: Any) -> np.ndarray:
    """``x`` as a batch of one image (1, height, width, channels): from (h, w, c), a
    grey (h, w) image, a flat row (h * w * c,), or a batch of one of them."""
    from .data import check_X

    arr = np.asarray(x)
    shape = tuple(spec.input_shape)
    if arr.shape in (shape, (spec.input_dim,)) or (shape[2] == 1 and arr.shape == shape[:2]):
        arr = arr.reshape((1, *shape))
    elif len(arr) != 1:
        raise ValueError(f"x must be one image {shape} (or a flat row of {spec.input_dim}), "
                         f"got shape {arr.shape}")
    return check_X(arr, spec, dtype, name="x")


def _forward(model: Any, x: Any) -> tuple[Any, Any]:
    spec = _spec_of(model)
    twin = _numpy_twin(model)
    with np.errstate(over="ignore", invalid="ignore"):
        return spec, twin.forward(_one_image(x, spec, twin.dtype))


def feature_maps(model: Any, x: Any) -> list[FeatureMap]:
    """Each Conv2D and MaxPooling2D layer's output for the image ``x`` (one image:
    (height, width, channels), or its flat row), in the order of the layers; a Conv2D
    layer's after its activation. From one forward pass on the NumPy backend (the
    model's own, or a NumPy twin holding a Keras model's weights)."""
    spec, fwd = _forward(model, x)
    names = layer_names(spec)
    return [FeatureMap(i, names[i], layer, fwd.a[i][0])
            for i, layer in enumerate(spec.layers) if isinstance(layer, (Conv2D, MaxPooling2D))]


def flat_output(model: Any, x: Any) -> np.ndarray:
    """What the image part of the network hands the Dense part for image ``x``: the
    Flatten layer's output (n_features,), channels fastest."""
    spec, fwd = _forward(model, x)
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Flatten):
            return fwd.a[i][0]
    raise SpecError("this network has no Flatten layer")


def symmetric(values: Any) -> np.ndarray:
    """``values`` divided by their largest magnitude: in [-1, 1], 0 still 0, the sign
    kept (all zeros stay zeros; NaN becomes 0)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0,
                           neginf=0.0)
    top = float(np.abs(values).max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


__all__ = ["FeatureMap", "LayerFilters", "feature_maps", "filters", "flat_output",
           "layer_names", "symmetric"]
