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

_METRIC_ALIASES = {"acc": "accuracy", "mean_absolute_error": "mae", "mean_squared_error": "mse"}
_LOSS_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_name(field_name: str, value: Any, accepted: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in accepted:
        raise SpecError(f"{field_name} must be one of {choices(accepted)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Layer:
    """One Dense layer: ``units`` outputs, each ``activation(inputs @ kernel + bias)``."""

    units: int
    activation: str = "linear"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bias_initializer: str = "zeros"

    def __post_init__(self) -> None:
        if not _is_int(self.units) or self.units < 1:
            raise SpecError(f"units must be an integer >= 1, got {self.units!r}")
        object.__setattr__(self, "units", int(self.units))
        _check_name("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.use_bias, bool):
            raise SpecError(f"use_bias must be True or False, got {self.use_bias!r}")
        _check_name("kernel_initializer", self.kernel_initializer, INITIALIZERS)
        _check_name("bias_initializer", self.bias_initializer, INITIALIZERS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Layer:
        if isinstance(data, Layer):
            return data
        if not isinstance(data, dict):
            raise SpecError(f"layers must hold Layer objects or dicts, got {data!r}")
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
class ModelSpec:
    """A feed-forward network: its input size, its layers (the last is the
    output layer), the loss, the optimizer and the metrics to report.

    ``learning_rate=None`` means the optimizer's Keras default. ``momentum``
    and ``nesterov`` apply to ``sgd`` only. ``dtype`` is the float type the
    NumPy backend computes in.
    """

    input_dim: int
    layers: tuple[Layer, ...]
    loss: str = "mse"
    optimizer: str = "adam"
    learning_rate: float | None = None
    metrics: tuple[str, ...] = field(default_factory=tuple)
    momentum: float = 0.0
    nesterov: bool = False
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if not _is_int(self.input_dim) or self.input_dim < 1:
            raise SpecError(f"input_dim must be an integer >= 1, got {self.input_dim!r}")
        object.__setattr__(self, "input_dim", int(self.input_dim))

        layers = self.layers
        if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
            raise SpecError(f"layers must be a list of Layer, got {layers!r}")
        layers = tuple(Layer.from_dict(layer) for layer in layers)
        if not layers:
            raise SpecError("layers must hold at least one Layer (the output layer)")
        object.__setattr__(self, "layers", layers)

        loss = _LOSS_ALIASES.get(self.loss, self.loss)
        object.__setattr__(self, "loss", _check_name("loss", loss, LOSSES))
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
            name = _METRIC_ALIASES.get(name, name)
            _check_name("metrics", name, METRICS)
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

        out = self.layers[-1].units
        if self.loss in ("categorical_crossentropy", "sparse_categorical_crossentropy") and out < 2:
            raise SpecError(
                f"loss {self.loss!r} needs an output layer of at least 2 units (one per "
                f"class), got {out}; for two classes with one unit use 'binary_crossentropy'"
            )

    # -- derived facts ------------------------------------------------------

    @property
    def output_dim(self) -> int:
        return self.layers[-1].units

    @property
    def effective_learning_rate(self) -> float:
        """The learning rate the optimizer uses (the Keras default when unset)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[self.optimizer]

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(n_in, n_out) of each layer's kernel, in order."""
        sizes = [self.input_dim] + [layer.units for layer in self.layers]
        return list(zip(sizes[:-1], sizes[1:]))

    def count_params(self) -> int:
        total = 0
        for (n_in, n_out), layer in zip(self.layer_shapes(), self.layers):
            total += n_in * n_out + (n_out if layer.use_bias else 0)
        return total

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        data = self.to_dict()
        if "layers" in changes:
            changes["layers"] = [Layer.from_dict(layer).to_dict() for layer in changes["layers"]]
        data.update(changes)
        return ModelSpec.from_dict(data)

    # -- plain data ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
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
        for required in ("input_dim", "layers"):
            if required not in data:
                raise SpecError(f"spec is missing the field {required!r}")
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
