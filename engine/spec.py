"""The model spec: a plain, validated description of a feed-forward network.

A ``ModelSpec`` is what both backends build from, what the run store saves and
what a user shares. It validates itself on creation and round-trips through a
plain dict and JSON::

    spec = ModelSpec(input_dim=9, layers=[Layer(50, "relu"), Layer(1)], loss="mse")
    ModelSpec.from_json(spec.to_json()) == spec   # True
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from .errors import SpecError, choices

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
LOSSES = (
    "mse",
    "mae",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
)
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
METRICS = ("accuracy", "mae", "mse")
INITIALIZERS = ("glorot_uniform", "he_normal", "zeros")
DTYPES = ("float32", "float64")

#: Keras 3's default learning rate for each optimizer.
#: The largest learning rate the app's setup screen and sweeps take (the course's
#: experiments go up to 1; 10 leaves room to see a run blow up). The library itself
#: takes any finite rate > 0.
MAX_LEARNING_RATE = 10.0
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001, "adagrad": 0.001}

#: Arrays of one value per weight that each optimizer keeps besides the weights and their
#: gradients (engine/optimizers.py): adam m, v and a scratch array; rmsprop and adagrad
#: their accumulator and a scratch array; sgd none (one more with momentum).
OPTIMIZER_ARRAYS = {"sgd": 0, "adam": 3, "rmsprop": 2, "adagrad": 2}
_ITEMSIZE = {"float32": 4, "float64": 8}

#: The rate Keras gives a regularizer named by a string ("l1", "l2").
DEFAULT_REGULARIZATION = 0.01
#: The largest L1/L2 rate the app, the command line and sweeps take (Playground's largest
#: is 10; the library takes any finite rate >= 0).
MAX_REGULARIZATION = 10.0

_METRIC_ALIASES = {"acc": "accuracy", "mean_absolute_error": "mae", "mean_squared_error": "mse"}
_LOSS_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_name(field_name: str, value: Any, accepted: tuple[str, ...],
                aliases: dict[str, str] | None = None) -> str:
    """``value`` if it is one of ``accepted`` (or an alias of one), else a SpecError
    naming the field; a value that is not a string (a list, a dict) is refused before
    any lookup, so it cannot fail as unhashable."""
    if isinstance(value, str) and aliases:
        value = aliases.get(value, value)
    if not isinstance(value, str) or value not in accepted:
        raise SpecError(f"{field_name} must be one of {choices(accepted)}, got {value!r}")
    return value


def _rate(field_name: str, value: Any, below_one: bool = False) -> float:
    """A finite number >= 0 (and < 1 with ``below_one``), else a SpecError naming the field."""
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) < 0 \
            or (below_one and float(value) >= 1):
        bounds = "in [0, 1)" if below_one else ">= 0"
        raise SpecError(f"{field_name} must be a finite number {bounds}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Regularizer:
    """Keras' ``L1L2`` kernel regularizer: ``l1 * sum(|kernel|) + l2 * sum(kernel**2)``
    is added to the loss (and so to the loss Keras reports, in training and in
    ``evaluate``); biases are not penalised. ``L1(0.01)``, ``L2(0.01)`` and
    ``L1L2(l1, l2)`` make one, as in ``keras.regularizers``."""

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "l1", _rate("kernel_regularizer l1", self.l1))
        object.__setattr__(self, "l2", _rate("kernel_regularizer l2", self.l2))

    def __bool__(self) -> bool:
        return bool(self.l1 or self.l2)

    def to_dict(self) -> dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    @classmethod
    def of(cls, value: Any) -> Regularizer | None:
        """A Regularizer from what ``Layer(kernel_regularizer=...)`` accepts: None, a
        Regularizer, "l1" or "l2" (Keras' rate 0.01), or a dict {"l1": .., "l2": ..};
        one whose rates are both 0 is None (it adds nothing)."""
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lower() in ("l1", "l2"):
            value = cls(**{value.strip().lower(): DEFAULT_REGULARIZATION})
        elif isinstance(value, dict):
            unknown = set(value) - {"l1", "l2"}
            if unknown:
                raise SpecError(f"kernel_regularizer has unknown field(s) {sorted(unknown)}; "
                                f"accepted: 'l1' or 'l2'")
            value = cls(**value)
        if not isinstance(value, cls):
            raise SpecError(f"kernel_regularizer must be None, 'l1', 'l2', L1(rate), L2(rate), "
                            f"L1L2(l1, l2) or a dict {{'l1': .., 'l2': ..}}, got {value!r}")
        return value if value else None


def L1(l1: float = DEFAULT_REGULARIZATION) -> Regularizer:  # noqa: N802 - Keras' name
    """``keras.regularizers.L1``: ``l1 * sum(|kernel|)``."""
    return Regularizer(l1=l1)


def L2(l2: float = DEFAULT_REGULARIZATION) -> Regularizer:  # noqa: N802 - Keras' name
    """``keras.regularizers.L2``: ``l2 * sum(kernel**2)``."""
    return Regularizer(l2=l2)


def L1L2(l1: float = 0.0, l2: float = 0.0) -> Regularizer:  # noqa: N802 - Keras' name
    """``keras.regularizers.L1L2``: both penalties."""
    return Regularizer(l1=l1, l2=l2)


@dataclass(frozen=True)
class Layer:
    """One Dense layer: ``units`` outputs, each ``activation(inputs @ kernel + bias)``;
    ``kernel_regularizer`` (Keras' name) adds an L1/L2 penalty on its kernel to the loss."""

    units: int
    activation: str = "linear"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bias_initializer: str = "zeros"
    kernel_regularizer: Regularizer | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.units) or self.units < 1:
            raise SpecError(f"units must be an integer >= 1, got {self.units!r}")
        object.__setattr__(self, "units", int(self.units))
        _check_name("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.use_bias, bool):
            raise SpecError(f"use_bias must be True or False, got {self.use_bias!r}")
        _check_name("kernel_initializer", self.kernel_initializer, INITIALIZERS)
        _check_name("bias_initializer", self.bias_initializer, INITIALIZERS)
        object.__setattr__(self, "kernel_regularizer", Regularizer.of(self.kernel_regularizer))

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``kernel_regularizer`` only when there is one, so a layer without
        one is written exactly as before regularizers existed."""
        data: dict[str, Any] = {
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }
        if self.kernel_regularizer is not None:
            data["kernel_regularizer"] = self.kernel_regularizer.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Layer:
        if isinstance(data, Layer):
            return data
        if not isinstance(data, dict):
            raise SpecError(f"layers must hold Layer objects or dicts, got {data!r}")
        data = dict(data)
        if data.get("type", "dense") != "dense":
            raise SpecError(f"a Dense layer's type is 'dense', got {data['type']!r}")
        data.pop("type", None)
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise SpecError(
                f"layer has unknown field(s) {sorted(unknown)}; "
                f"accepted: {choices(tuple(cls.__dataclass_fields__))}"
            )
        if "units" not in data:
            raise SpecError("layer is missing the field 'units'")
        return cls(**data)


@dataclass(frozen=True)
class Dropout:
    """Keras' Dropout layer: while training, each of its inputs is set to 0 with
    probability ``rate`` and the others are scaled by ``1 / (1 - rate)``; when
    predicting or evaluating it passes its inputs through. It has no weights, so
    ``get_weights`` keeps its layout (kernel, bias per Dense layer)."""

    rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _rate("Dropout rate", self.rate, below_one=True))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "dropout", "rate": self.rate}

    @classmethod
    def from_dict(cls, data: Any) -> Dropout:
        if isinstance(data, Dropout):
            return data
        data = {k: v for k, v in data.items() if k != "type"}
        if set(data) != {"rate"}:
            raise SpecError(f"a dropout layer has exactly the field 'rate', got {sorted(data)}")
        return cls(**data)


def _pair(field_name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (Keras' kernel_size, strides, pool_size) as a pair."""
    if _is_int(value):
        value = (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value) \
            and all(v >= minimum for v in value):
        return int(value[0]), int(value[1])
    raise SpecError(f"{field_name} must be an integer >= {minimum} or a pair of them, "
                    f"got {value!r}")


def _fields_from(cls, data: Any, kind: str, required: tuple[str, ...]) -> Any:
    """A layer of ``cls`` from its dict (``{"type": kind, ...}``), unknown fields refused."""
    if isinstance(data, cls):
        return data
    data = {k: v for k, v in data.items() if k != "type"}
    accepted = tuple(cls.__dataclass_fields__)
    unknown = set(data) - set(accepted)
    if unknown:
        raise SpecError(f"a {kind} layer has unknown field(s) {sorted(unknown)}; "
                        f"accepted: {choices(accepted)}")
    for name in required:
        if name not in data:
            raise SpecError(f"a {kind} layer is missing the field {name!r}")
    return cls(**data)


PADDINGS = ("valid", "same")


@dataclass(frozen=True)
class Conv2D:
    """Keras' Conv2D on channels-last images ``(height, width, channels)``: ``filters``
    outputs per position, each ``activation(window @ kernel + bias)``. Its kernel is
    ``(kh, kw, in_channels, filters)`` and its bias ``(filters,)``, as in Keras.
    ``padding="valid"`` keeps only whole windows; ``"same"`` pads with zeros so that the
    output is ``ceil(size / stride)`` (TensorFlow's split: the extra row/column at the
    bottom/right)."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    activation: str = "linear"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bias_initializer: str = "zeros"

    def __post_init__(self) -> None:
        if not _is_int(self.filters) or self.filters < 1:
            raise SpecError(f"Conv2D filters must be an integer >= 1, got {self.filters!r}")
        object.__setattr__(self, "filters", int(self.filters))
        object.__setattr__(self, "kernel_size", _pair("Conv2D kernel_size", self.kernel_size))
        object.__setattr__(self, "strides", _pair("Conv2D strides", self.strides))
        _check_name("Conv2D padding", self.padding, PADDINGS)
        _check_name("Conv2D activation", self.activation, ACTIVATIONS)
        if not isinstance(self.use_bias, bool):
            raise SpecError(f"Conv2D use_bias must be True or False, got {self.use_bias!r}")
        _check_name("Conv2D kernel_initializer", self.kernel_initializer, INITIALIZERS)
        _check_name("Conv2D bias_initializer", self.bias_initializer, INITIALIZERS)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "conv2d", "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}

    @classmethod
    def from_dict(cls, data: Any) -> Conv2D:
        return _fields_from(cls, data, "conv2d", ("filters", "kernel_size"))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(height, width, filters) for an input ``(height, width, channels)``; a size
        < 1 where the kernel does not fit."""
        (h, w), (kh, kw), (sh, sw) = shape[:2], self.kernel_size, self.strides
        if self.padding == "same":
            return -(-h // sh), -(-w // sw), self.filters
        return _windows(h, kh, sh), _windows(w, kw, sw), self.filters


def _windows(size: int, window: int, stride: int) -> int:
    """How many whole windows fit in ``size`` (0 when none does)."""
    return 0 if window > size else (size - window) // stride + 1


@dataclass(frozen=True)
class MaxPooling2D:
    """Keras' MaxPooling2D (padding "valid"): the largest value of each
    ``pool_size`` window per channel, windows ``strides`` apart (default: ``pool_size``,
    so they do not overlap). No weights."""

    pool_size: Any = 2
    strides: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pool_size", _pair("MaxPooling2D pool_size", self.pool_size))
        if self.strides is not None:
            object.__setattr__(self, "strides", _pair("MaxPooling2D strides", self.strides))

    @property
    def step(self) -> tuple[int, int]:
        """The strides in effect (``pool_size`` when none are given)."""
        return self.strides if self.strides is not None else self.pool_size

    def to_dict(self) -> dict[str, Any]:
        return {"type": "max_pooling2d", "pool_size": list(self.pool_size),
                "strides": None if self.strides is None else list(self.strides)}

    @classmethod
    def from_dict(cls, data: Any) -> MaxPooling2D:
        return _fields_from(cls, data, "max_pooling2d", ())

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        (h, w, c), (ph, pw), (sh, sw) = shape, self.pool_size, self.step
        return _windows(h, ph, sh), _windows(w, pw, sw), c


@dataclass(frozen=True)
class Flatten:
    """Keras' Flatten: an image ``(height, width, channels)`` becomes one row of
    ``height * width * channels`` values, channels fastest (Keras' channels-last order)."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "flatten"}

    @classmethod
    def from_dict(cls, data: Any) -> Flatten:
        return _fields_from(cls, data, "flatten", ())


_LAYER_TYPES = {"dropout": Dropout, "conv2d": Conv2D, "max_pooling2d": MaxPooling2D,
                "flatten": Flatten}
SpecLayer = Layer | Dropout | Conv2D | MaxPooling2D | Flatten


def layer_from(data: Any) -> SpecLayer:
    """A spec layer from a layer object or a dict (``{"type": "dropout", "rate": 0.2}``
    for a Dropout, ``"conv2d"``, ``"max_pooling2d"``, ``"flatten"`` for the image layers;
    any other dict is a Dense layer)."""
    for cls in _LAYER_TYPES.values():
        if isinstance(data, cls):
            return data
    if isinstance(data, dict) and data.get("type", "dense") in _LAYER_TYPES:
        return _LAYER_TYPES[data["type"]].from_dict(data)
    return Layer.from_dict(data)


@dataclass(frozen=True)
class ModelSpec:
    """A feed-forward network: its input size, its layers (Dense ``Layer``s, with
    ``Dropout`` layers between them if any; the last is the Dense output layer), the
    loss, the optimizer and the metrics to report.

    An image network gives ``input_shape=(height, width, channels)`` (Keras'
    channels-last layout) instead of ``input_dim``, and starts with ``Conv2D`` /
    ``MaxPooling2D`` layers, then ``Flatten()`` before its Dense layers; its
    ``input_dim`` is then ``height * width * channels`` (the width of a flat row of X).

    ``learning_rate=None`` means the optimizer's Keras default. ``momentum``
    and ``nesterov`` apply to ``sgd`` only. ``dtype`` is the float type the
    NumPy backend computes in.
    """

    input_dim: int | None = None
    layers: tuple[SpecLayer, ...] = ()
    loss: str = "mse"
    optimizer: str = "adam"
    learning_rate: float | None = None
    metrics: tuple[str, ...] = field(default_factory=tuple)
    momentum: float = 0.0
    nesterov: bool = False
    dtype: str = "float32"
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        shape = self.input_shape
        if shape is not None:
            if isinstance(shape, (str, bytes)) or not isinstance(shape, (list, tuple)) \
                    or len(shape) not in (1, 3) or not all(_is_int(v) and v >= 1 for v in shape):
                raise SpecError(f"input_shape must be (height, width, channels) of integers "
                                f">= 1 (or (n_features,)), got {shape!r}")
            shape = tuple(int(v) for v in shape)
            size = math.prod(shape)
            if self.input_dim is not None and self.input_dim != size:
                raise SpecError(f"input_dim {self.input_dim!r} does not match input_shape "
                                f"{shape} ({size} values); give one of them")
            object.__setattr__(self, "input_dim", size)
            # (n,) is input_dim=n: a dense spec is written as before
            object.__setattr__(self, "input_shape", shape if len(shape) == 3 else None)
        if self.input_dim is None:
            raise SpecError("a model spec needs input_dim (the number of features) or "
                            "input_shape (height, width, channels)")
        if not _is_int(self.input_dim) or self.input_dim < 1:
            raise SpecError(f"input_dim must be an integer >= 1, got {self.input_dim!r}")
        object.__setattr__(self, "input_dim", int(self.input_dim))

        layers = self.layers
        if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
            raise SpecError(f"layers must be a list of Layer, got {layers!r}")
        layers = tuple(layer_from(layer) for layer in layers)
        if not layers:
            raise SpecError("layers must hold at least one Layer (the output layer)")
        if not isinstance(layers[-1], Layer):
            raise SpecError("layers must end with a Layer (the output layer); Dropout goes "
                            "between layers")
        object.__setattr__(self, "layers", layers)
        self._check_shapes()

        object.__setattr__(self, "loss", _check_name("loss", self.loss, LOSSES, _LOSS_ALIASES))
        _check_name("optimizer", self.optimizer, OPTIMIZERS)

        lr = self.learning_rate
        if lr is not None:
            if not _is_real(lr) or not math.isfinite(float(lr)) or float(lr) <= 0:
                raise SpecError(
                    f"learning_rate must be a finite number > 0 (or None for the "
                    f"optimizer's default), got {lr!r}"
                )
            object.__setattr__(self, "learning_rate", float(lr))

        metrics = self.metrics
        if isinstance(metrics, str) or not hasattr(metrics, "__iter__"):
            raise SpecError(f"metrics must be a list of names from {choices(METRICS)}, got {metrics!r}")
        normalised = []
        for name in metrics:
            name = _check_name("metrics", name, METRICS, _METRIC_ALIASES)
            if name not in normalised:
                normalised.append(name)
        object.__setattr__(self, "metrics", tuple(normalised))

        m = self.momentum
        if not _is_real(m) or not math.isfinite(float(m)) or not 0.0 <= float(m) < 1.0:
            raise SpecError(f"momentum must be a number in [0, 1), got {m!r}")
        object.__setattr__(self, "momentum", float(m))
        if not isinstance(self.nesterov, bool):
            raise SpecError(f"nesterov must be True or False, got {self.nesterov!r}")
        if self.optimizer != "sgd" and (self.momentum != 0.0 or self.nesterov):
            raise SpecError(
                f"momentum and nesterov apply to optimizer 'sgd' only, "
                f"not {self.optimizer!r}"
            )
        _check_name("dtype", self.dtype, DTYPES)

        out = self.output_dim
        if self.loss in ("categorical_crossentropy", "sparse_categorical_crossentropy") and out < 2:
            raise SpecError(
                f"loss {self.loss!r} needs an output layer of at least 2 units (one per "
                f"class), got {out}; for two classes with one unit use 'binary_crossentropy'"
            )

    def _check_shapes(self) -> None:
        """Each layer fits the shape it receives: image layers take images, a Dense layer
        a flat row (Flatten between them), every output size >= 1. A SpecError names the
        layer (index and type) and the field."""
        shape: tuple[int, ...] = self.input_shape or (self.input_dim,)
        for i, layer in enumerate(self.layers):
            where = f"layers[{i}] ({type(layer).__name__})"
            if isinstance(layer, (Conv2D, MaxPooling2D)):
                if len(shape) != 3:
                    before = ("the input is flat (input_dim); give input_shape=(height, "
                              "width, channels)") if i == 0 or not any(
                        isinstance(x, Flatten) for x in self.layers[:i]) else \
                        "it comes after Flatten, whose output is flat"
                    raise SpecError(f"{where}: needs an image input (height, width, channels), "
                                    f"but {before}")
                out = layer.output_shape(shape)
                if out[0] < 1 or out[1] < 1:
                    if isinstance(layer, Conv2D):
                        field_name, size = "kernel_size", layer.kernel_size
                        more = f" with padding {layer.padding!r}"
                    else:
                        field_name, size = "pool_size", layer.pool_size
                        more = f" (strides {layer.step})"
                    raise SpecError(f"{where}: {field_name} {size} is larger than its input "
                                    f"{shape[:2]}{more}; the output would be "
                                    f"{max(out[0], 0)}x{max(out[1], 0)}")
                shape = out
            elif isinstance(layer, Flatten):
                if len(shape) != 3:
                    raise SpecError(f"{where}: its input is already flat; Flatten goes after "
                                    f"Conv2D/MaxPooling2D layers")
                shape = (math.prod(shape),)
            elif isinstance(layer, Layer):
                if len(shape) != 1:
                    raise SpecError(f"{where}: a Dense layer (units) needs a flat input but gets "
                                    f"an image {shape}; put Flatten() before it")
                shape = (layer.units,)

    # -- derived facts ------------------------------------------------------

    @property
    def is_image(self) -> bool:
        """Whether the network takes images (``input_shape`` given)."""
        return self.input_shape is not None

    @property
    def weighted_layers(self) -> tuple[Layer | Conv2D, ...]:
        """The layers with weights (Conv2D and Dense) in order: kernel and bias each."""
        return tuple(layer for layer in self.layers if isinstance(layer, (Layer, Conv2D)))

    def layer_output_shapes(self) -> list[tuple[int, ...]]:
        """Each layer's output shape without the batch axis, in order."""
        shape: tuple[int, ...] = self.input_shape or (self.input_dim,)
        out = []
        for layer in self.layers:
            if isinstance(layer, (Conv2D, MaxPooling2D)):
                shape = layer.output_shape(shape)
            elif isinstance(layer, Flatten):
                shape = (math.prod(shape),)
            elif isinstance(layer, Layer):
                shape = (layer.units,)
            out.append(shape)
        return out

    def kernel_shapes(self) -> list[tuple[int, ...]]:
        """The kernel shape of each weighted layer: ``(n_in, n_out)`` for Dense,
        ``(kh, kw, in_channels, filters)`` for Conv2D (Keras' layouts)."""
        shape: tuple[int, ...] = self.input_shape or (self.input_dim,)
        out: list[tuple[int, ...]] = []
        for layer, after in zip(self.layers, self.layer_output_shapes()):
            if isinstance(layer, Conv2D):
                out.append((*layer.kernel_size, shape[-1], layer.filters))
            elif isinstance(layer, Layer):
                out.append((shape[0], layer.units))
            shape = after
        return out

    def multiply_adds(self) -> int:
        """Multiply-adds of one sample's forward pass through the weighted layers."""
        total = 0
        for layer, kernel, out in zip(self.layers, self._kernel_per_layer(),
                                      self.layer_output_shapes()):
            if kernel is not None:
                total += math.prod(kernel) * (out[0] * out[1] if isinstance(layer, Conv2D) else 1)
        return total

    def _kernel_per_layer(self) -> list[tuple[int, ...] | None]:
        kernels = iter(self.kernel_shapes())
        return [next(kernels) if isinstance(layer, (Layer, Conv2D)) else None
                for layer in self.layers]

    @property
    def dense_layers(self) -> tuple[Layer, ...]:
        """The Dense layers in order (``layers`` without its Dropout layers): the
        layers with weights; the last is the output layer."""
        return tuple(layer for layer in self.layers if isinstance(layer, Layer))

    @property
    def output_layer(self) -> Layer:
        return self.layers[-1]   # always a Layer (checked on creation)

    @property
    def output_dim(self) -> int:
        return self.layers[-1].units

    def dropout_before(self) -> tuple[float, ...]:
        """For each Dense layer, the combined rate of the Dropout layers just before it
        (0.0 for none): the share of its inputs that training zeroes."""
        out: list[float] = []
        rates: list[float] = []
        for layer in self.layers:
            if isinstance(layer, Dropout):
                rates.append(layer.rate)
                continue
            if not isinstance(layer, Layer):
                continue
            keep = math.prod(1.0 - rate for rate in rates)
            out.append(rates[0] if len(rates) == 1 else 1.0 - keep)
            rates = []
        return tuple(out)

    @property
    def has_dropout(self) -> bool:
        return any(isinstance(layer, Dropout) for layer in self.layers)

    @property
    def has_regularizer(self) -> bool:
        return any(layer.kernel_regularizer is not None for layer in self.dense_layers)

    @property
    def effective_learning_rate(self) -> float:
        """The learning rate the optimizer uses (the Keras default when unset)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[self.optimizer]

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(n_in, n_out) of each Dense layer's kernel, in order."""
        if self.is_image:
            return [shape for shape, layer in zip(self.kernel_shapes(), self.weighted_layers)
                    if isinstance(layer, Layer)]
        sizes = [self.input_dim] + [layer.units for layer in self.dense_layers]
        return list(zip(sizes[:-1], sizes[1:]))

    def count_params(self) -> int:
        total = 0
        for shape, layer in zip(self.kernel_shapes(), self.weighted_layers):
            total += math.prod(shape) + (shape[-1] if layer.use_bias else 0)
        return total

    def training_bytes(self) -> int:
        """The least memory training takes, in bytes: the arrays of one value per
        weight that a built NumPy model holds (the weights, their gradients and the
        optimizer's state and scratch space; see ``engine.optimizers``)."""
        arrays = 2 + OPTIMIZER_ARRAYS[self.optimizer] + (self.momentum != 0.0)
        return self.count_params() * arrays * _ITEMSIZE[self.dtype]

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        data = self.to_dict()
        if "layers" in changes:
            changes["layers"] = [layer_from(layer).to_dict() for layer in changes["layers"]]
        # a new input_dim or input_shape replaces both
        if "input_shape" in changes and "input_dim" not in changes:
            data.pop("input_dim", None)
        if "input_dim" in changes and "input_shape" not in changes:
            data.pop("input_shape", None)
        data.update(changes)
        return ModelSpec.from_dict(data)

    # -- plain data ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``input_shape`` only for an image network, so a dense spec is
        written exactly as before image layers existed."""
        extra = {"input_shape": list(self.input_shape)} if self.is_image else {}
        return {
            **extra,
            "input_dim": self.input_dim,
            "layers": [layer.to_dict() for layer in self.layers],
            "loss": self.loss,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "metrics": list(self.metrics),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "dtype": self.dtype,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        if not isinstance(data, dict):
            raise SpecError(f"a model spec must be a dict, got {type(data).__name__}")
        accepted = tuple(cls.__dataclass_fields__)
        unknown = set(data) - set(accepted)
        if unknown:
            raise SpecError(f"spec has unknown field(s) {sorted(unknown)}; accepted: {choices(accepted)}")
        if "layers" not in data:
            raise SpecError("spec is missing the field 'layers'")
        if "input_dim" not in data and data.get("input_shape") is None:
            raise SpecError("spec is missing the field 'input_dim' (or 'input_shape')")
        return cls(**data)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise SpecError(f"spec JSON cannot be read: {exc}") from None
        return cls.from_dict(data)


# -- memory ---------------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation here (Linux: MemAvailable),
    else the machine's physical memory, else None when neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            continue
    return None


def format_bytes(n: int) -> str:
    """``n`` bytes to three significant digits: 512 B, 5.01 MiB, 200 TiB, 1.91e+14 EiB
    (any size: no float overflow for the counts of absurd specs)."""
    for i, unit in enumerate(("B", "KiB", "MiB", "GiB", "TiB", "PiB")):
        if n < 1024 ** (i + 1):
            return f"{n / 1024 ** i:.3g} {unit}"
    return f"{_significant(math.log10(n) - 60 * math.log10(2))} EiB"


def _significant(log10: float) -> str:
    """10 ** log10 to three significant digits, for any exponent."""
    if log10 < 300:
        return f"{10 ** log10:.3g}"
    exponent = math.floor(log10)
    return f"{10 ** (log10 - exponent):.3g}e+{exponent}"


def format_count(n: int) -> str:
    """A count with thousands commas, or to three significant digits beyond 10**18."""
    return f"{n:,}" if n < 10**18 else _significant(math.log10(n))


def check_memory(spec: ModelSpec) -> None:
    """Refuse, before anything is allocated, a model whose training arrays
    (``spec.training_bytes()``) need more memory than is available here, or
    more values than an array can hold: a SpecError naming ``layers`` and
    saying the size."""
    needed = spec.training_bytes()
    available = available_memory()
    if available is not None and needed > available:
        where = f"the {format_bytes(available)} of memory available"
    elif spec.count_params() > sys.maxsize:
        where = "one array can hold"
    else:
        return
    raise SpecError(
        f"layers: this network has {format_count(spec.count_params())} weights; training it "
        f"takes at least {format_bytes(needed)} (weights, gradients and the {spec.optimizer} "
        f"optimizer's state in {spec.dtype}), more than {where}; use fewer or smaller layers")


def allocation_failed(spec: ModelSpec, exc: BaseException) -> SpecError:
    """The SpecError for a model whose arrays could not be allocated after all."""
    return SpecError(
        f"layers: this network has {format_count(spec.count_params())} weights; the "
        f"{format_bytes(spec.training_bytes())} training takes could not be allocated "
        f"({type(exc).__name__}: {exc}); use fewer or smaller layers")


def weight_shapes(spec: ModelSpec) -> tuple[tuple[int, ...], ...]:
    """The shapes ``get_weights`` returns for ``spec``: kernel then bias per layer."""
    shapes: list[tuple[int, ...]] = []
    for shape, layer in zip(spec.kernel_shapes(), spec.weighted_layers):
        shapes.append(shape)
        if layer.use_bias:
            shapes.append((shape[-1],))
    return tuple(shapes)
