"""Keras' ``.keras`` files made elsewhere, as deepterm models (either backend).

    model = engine.from_keras("course_model.keras")                 # NumpyModel
    model = engine.from_keras("course_model.keras", backend="keras")

deepterm represents a ``keras.Sequential`` of ``Dense`` layers: an input of
``(None, n_features)``, then Dense layers with a linear, relu, sigmoid, tanh or softmax
activation, with or without bias, in float32 or float64, compiled (or not) with one of
deepterm's losses (mse, mae, binary, categorical and sparse categorical crossentropy
on probabilities) and optimizers (SGD with its momentum and Nesterov, Adam, RMSprop,
Adagrad at Keras' default constants, a constant learning rate). Anything else (another
layer type, a Functional model, a regularizer or constraint, another activation, loss
or optimizer, a learning-rate schedule, logits) is refused with one ModelFileError
that names the layer or setting and why.

The file is read as data: its ``config.json`` and the HDF5 weights in
``model.weights.h5`` (with h5py), so nothing in it runs and TensorFlow is not imported
for the NumPy backend. An uncompiled model gets the loss its output suggests (softmax:
categorical crossentropy; one sigmoid unit: binary crossentropy; else mse) and Adam at
0.001, as a note in ``KerasFile.notes`` says. What ``engine.export`` wrote beside the
model (the features, target and standardization) becomes ``model.metadata``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BackendUnavailable, ModelFileError, SpecError
from .export import EXPORT_META, META_KEYS
from .numpy_backend import MAX_JSON_BYTES, check_model_path, weight_layout
from .spec import ACTIVATIONS, DTYPES, L1L2, Dropout, Layer, ModelSpec, Regularizer

WEIGHTS_FILE = "model.weights.h5"

#: Keras' names for deepterm's losses (functions, their aliases and classes)
LOSS_NAMES = {
    "mse": "mse", "mean_squared_error": "mse", "MeanSquaredError": "mse",
    "mae": "mae", "mean_absolute_error": "mae", "MeanAbsoluteError": "mae",
    "binary_crossentropy": "binary_crossentropy", "BinaryCrossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
}
#: Keras' optimizer classes, and the constants deepterm's versions use (Keras' defaults)
OPTIMIZERS = {
    "SGD": ("sgd", {}),
    "Adam": ("adam", {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}),
    "RMSprop": ("rmsprop", {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}),
    "Adagrad": ("adagrad", {"initial_accumulator_value": 0.1, "epsilon": 1e-7}),
}
#: optimizer settings that change nothing deepterm does, when at these values
_NEUTRAL = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
            "use_ema": False, "loss_scale_factor": None, "gradient_accumulation_steps": None}
_METRICS = {"accuracy": "accuracy", "acc": "accuracy", "categorical_accuracy": "accuracy",
            "binary_accuracy": "accuracy", "sparse_categorical_accuracy": "accuracy",
            "mae": "mae", "mean_absolute_error": "mae", "mse": "mse", "mean_squared_error": "mse",
            "Accuracy": "accuracy", "CategoricalAccuracy": "accuracy", "BinaryAccuracy": "accuracy",
            "SparseCategoricalAccuracy": "accuracy", "MeanAbsoluteError": "mae",
            "MeanSquaredError": "mse"}


@dataclass
class KerasFile:
    """What a .keras file holds, as deepterm reads it."""

    spec: ModelSpec
    weights: list[np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def from_keras(path: str | os.PathLike, backend: str = "numpy", **options: Any):
    """A deepterm model (``backend`` "numpy" or "keras"; Keras' ``device=`` in
    ``options``) holding the weights of the Keras Sequential model in ``path``."""
    from . import build

    found = read_keras(path)
    model = build(found.spec, backend=backend, **options)
    model.set_weights(found.weights)
    model.metadata.update(found.metadata)
    return model


def read_keras(path: str | os.PathLike) -> KerasFile:
    """The spec, weights and deepterm metadata of a .keras file; ModelFileError when it
    is not one deepterm can represent (see the module's docstring)."""
    path = os.fspath(path)
    check_model_path(path)
    refuse = functools.partial(_refused, path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "config.json" not in names:
                raise ModelFileError(f"{path}: not a Keras .keras file (it has no config.json); "
                                     f"older .h5 files are not read: save the model again "
                                     f"with model.save('model.keras')")
            config = _json_entry(zf, "config.json", path)
            meta = _json_entry(zf, EXPORT_META, path) if EXPORT_META in names else {}
            spec, notes = _spec(config, refuse)
            weights = _weights(zf, spec, path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ModelFileError(f"{path}: not a Keras .keras file ({exc})") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    metadata = {k: meta[k] for k in META_KEYS if isinstance(meta, dict) and isinstance(meta.get(k),
                                                                                     dict)}
    return KerasFile(spec, weights, metadata, notes)


def _refused(path: str, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: deepterm cannot represent this model: {what}; it imports "
                          f"Keras Sequential models of Dense layers (and Dropout between them)")


def _json_entry(zf: zipfile.ZipFile, name: str, path: str) -> Any:
    if zf.getinfo(name).file_size > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: its {name} is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        return json.loads(zf.read(name))
    except ValueError as exc:
        raise ModelFileError(f"{path}: its {name} is not JSON ({exc})") from None


def _layer_dtype(config: dict) -> str:
    dtype = config.get("dtype", "float32")
    if isinstance(dtype, dict):                       # Keras 3: a DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", "float32")
    return str(dtype)


def _spec(config: Any, refuse) -> tuple[ModelSpec, list[str]]:
    """The ModelSpec a Sequential model's config describes, and notes on what was chosen."""
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise refuse(f"it is a {kind!r} model, not a Sequential one")
    body = config.get("config") or {}
    layers = body.get("layers")
    if not isinstance(layers, list) or not layers:
        raise refuse("it has no layers")
    input_dim = None
    dense: list[Layer] = []
    stack: list[Layer | Dropout] = []    # the Dense layers and the Dropouts between them
    dtypes = set()
    for k, entry in enumerate(layers, 1):
        kind = entry.get("class_name") if isinstance(entry, dict) else None
        cfg = (entry.get("config") or {}) if isinstance(entry, dict) else {}
        name = cfg.get("name", f"#{k}")
        if kind == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            input_dim = _input_dim(shape, refuse)
            continue
        if kind == "Dropout":      # deepterm's own export writes them (Playground's dropout)
            rate = cfg.get("rate")
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or \
                    not 0 <= rate < 1 or cfg.get("noise_shape") not in (None, []):
                raise refuse(f"layer {k} ({name!r}) is a Dropout with rate {rate!r} and noise "
                             f"shape {cfg.get('noise_shape')!r} (deepterm: 0 <= rate < 1, no "
                             f"noise shape)")
            if not dense:
                raise refuse(f"layer {k} ({name!r}) is a Dropout before any Dense layer")
            stack.append(Dropout(float(rate)))
            continue
        if kind != "Dense":
            raise refuse(f"layer {k} ({name!r}) is a {kind} layer")
        if input_dim is None:          # no InputLayer: the first layer says what it takes
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape") or \
                [None, *((entry.get("build_config") or {}).get("input_shape") or [None])[1:]]
            input_dim = _input_dim(shape, refuse)
        activation = cfg.get("activation", "linear")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            shown = activation if isinstance(activation, str) else \
                (activation or {}).get("class_name", activation)
            raise refuse(f"layer {k} ({name!r}) has the activation {shown!r} (deepterm has "
                         f"{', '.join(ACTIVATIONS)})")
        penalty = _penalty(cfg.get("kernel_regularizer"), refuse, k, name)
        for setting in ("bias_regularizer", "activity_regularizer",
                        "kernel_constraint", "bias_constraint", "lora_rank",
                        "quantization_config"):
            if cfg.get(setting) not in (None, 0, False):
                raise refuse(f"layer {k} ({name!r}) has a {setting.replace('_', ' ')}")
        dtypes.add(_layer_dtype(cfg))
        units = cfg.get("units")
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise refuse(f"layer {k} ({name!r}) has {units!r} units")
        dense.append(Layer(units, activation, use_bias=bool(cfg.get("use_bias", True)),
                           kernel_regularizer=penalty))
        stack.append(dense[-1])
    if not dense:
        raise refuse("it has no Dense layer")
    if not isinstance(stack[-1], Layer):
        raise refuse("its last layer is a Dropout, not the Dense output layer")
    if len(dtypes) != 1 or next(iter(dtypes)) not in DTYPES:
        raise refuse(f"its layers compute in {', '.join(sorted(dtypes))} (deepterm: one of "
                     f"{', '.join(DTYPES)})")
    if input_dim is None:
        raise refuse("it does not say how many features it takes (no Input)")
    notes: list[str] = []
    loss, optimizer, learning_rate, extra, metrics = _compiled(config.get("compile_config"),
                                                              dense[-1], refuse, notes)
    try:
        spec = ModelSpec(input_dim=input_dim, layers=stack, loss=loss, optimizer=optimizer,
                         learning_rate=learning_rate, metrics=metrics, dtype=next(iter(dtypes)),
                         **extra)
    except SpecError as exc:
        raise refuse(str(exc)) from None
    return spec, notes


def _penalty(value: Any, refuse, k: int, name: str) -> Regularizer | None:
    """A Dense layer's kernel regularizer: Keras' L1, L2 or L1L2 (as deepterm's export
    writes them), else refused by name."""
    if value in (None, 0, False):
        return None
    kind = value.get("class_name") if isinstance(value, dict) else value
    cfg = (value.get("config") or {}) if isinstance(value, dict) else {}
    rates = {key: cfg.get(key, 0.0) for key in ("l1", "l2")}
    if kind not in ("L1", "L2", "L1L2") or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf")
            for v in rates.values()):
        raise refuse(f"layer {k} ({name!r}) has the kernel regularizer {kind!r} {cfg!r} "
                     f"(deepterm: L1, L2 or L1L2)")
    return L1L2(float(rates["l1"]), float(rates["l2"]))


def _input_dim(shape: Any, refuse) -> int:
    if not isinstance(shape, (list, tuple)) or len(shape) != 2 or \
            isinstance(shape[1], bool) or not isinstance(shape[1], int) or shape[1] < 1:
        raise refuse(f"its input has the shape {shape!r}; deepterm takes rows of features, "
                     f"(None, n_features)")
    return int(shape[1])


def _name_of(value: Any) -> tuple[str | None, dict]:
    """(a loss's or optimizer's name, its config) from a compile_config entry."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        cfg = value.get("config")
        name = value.get("class_name")
        if name == "function" and isinstance(cfg, str):   # a loss function, by name
            return cfg, {}
        return name, cfg if isinstance(cfg, dict) else {}
    return None, {}


def _compiled(compile_config: Any, out: Layer, refuse, notes: list[str]):
    """(loss, optimizer, learning rate, SGD's extra settings, metrics)."""
    if not isinstance(compile_config, dict) or compile_config.get("loss") is None:
        loss = "categorical_crossentropy" if out.activation == "softmax" else \
            "binary_crossentropy" if out.activation == "sigmoid" and out.units == 1 else "mse"
        notes.append(f"the model was saved without compiling it: loss {loss} (for its "
                     f"{out.activation} output) and adam at 0.001 chosen")
        return loss, "adam", 0.001, {}, []
    name, cfg = _name_of(compile_config.get("loss"))
    loss = LOSS_NAMES.get(name or "")
    if loss is None:
        raise refuse(f"it is compiled with the loss {name!r} (deepterm trains with "
                     f"{', '.join(sorted(set(LOSS_NAMES.values())))})")
    if cfg.get("from_logits"):
        raise refuse(f"its loss {name} takes logits (from_logits=True); deepterm's losses take "
                     f"the probabilities of a softmax or sigmoid output")
    if cfg.get("label_smoothing"):
        raise refuse(f"its loss {name} smooths labels")
    if cfg.get("reduction") not in (None, "auto", "sum_over_batch_size"):
        raise refuse(f"its loss {name} has the reduction {cfg['reduction']!r} (deepterm's losses "
                     f"are means over the batch)")
    name, cfg = _name_of(compile_config.get("optimizer"))
    if name not in OPTIMIZERS:
        raise refuse(f"it is compiled with the optimizer {name!r} (deepterm has "
                     f"{', '.join(OPTIMIZERS)})")
    optimizer, constants = OPTIMIZERS[name]
    for key, value in {**constants, **_NEUTRAL}.items():
        if key in cfg and not _same(cfg[key], value):
            raise refuse(f"its optimizer {name} has {key}={cfg[key]!r} (deepterm's {name} uses "
                         f"{value!r})")
    learning_rate = cfg.get("learning_rate", 0.001 if optimizer != "sgd" else 0.01)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise refuse(f"its optimizer {name} has a learning-rate schedule; deepterm's rate is one "
                     f"number")
    extra = {}
    if optimizer == "sgd" and (cfg.get("momentum") or cfg.get("nesterov")):
        extra = {"momentum": float(cfg.get("momentum") or 0.0),
                 "nesterov": bool(cfg.get("nesterov"))}
    metrics = []
    for metric in compile_config.get("metrics") or []:
        name, cfg = _name_of(metric)
        known = _METRICS.get(cfg.get("name") or "") or _METRICS.get(name or "")
        if known is None:
            notes.append(f"metric {cfg.get('name') or name!r} left out (deepterm has accuracy, "
                         f"mae and mse)")
        elif known not in metrics:
            metrics.append(known)
    # Keras keeps the rate as a float32 variable: 0.01 comes back as 0.009999999776
    return loss, optimizer, float(f"{learning_rate:.7g}"), extra, metrics


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    return a == b


def _weights(zf: zipfile.ZipFile, spec: ModelSpec, path: str) -> list[np.ndarray]:
    """The Dense layers' weights from model.weights.h5, in layer order (Keras 3 stores a
    Sequential's layers as layers/dense, layers/dense_1, ...), checked against the spec."""
    if WEIGHTS_FILE not in zf.namelist():
        raise ModelFileError(f"{path}: a .keras file without its weights ({WEIGHTS_FILE})")
    try:
        import h5py
    except ImportError:
        raise BackendUnavailable("reading a .keras file's weights needs h5py (it comes with "
                                 "TensorFlow): pip install h5py") from None

    def order(group: str) -> int:
        tail = group.rsplit("_", 1)
        return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0

    layout = weight_layout(spec)
    out: list[np.ndarray] = []
    try:
        with zf.open(WEIGHTS_FILE) as raw, h5py.File(raw, "r") as h5:
            layers = h5.get("layers")
            groups = sorted((g for g in (layers.keys() if layers is not None else ())
                             if g == "dense" or g.startswith("dense_")), key=order)
            for group in groups:
                variables = layers[group].get("vars")
                for k in sorted(variables.keys() if variables is not None else (), key=int):
                    out.append(np.asarray(variables[k][()], dtype=spec.dtype))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: its {WEIGHTS_FILE} cannot be read ({exc})") from None
    if len(out) != len(layout):
        raise ModelFileError(f"{path}: its {WEIGHTS_FILE} holds {len(out)} weight arrays, but "
                             f"its layers have {len(layout)}")
    for array, (what, shape) in zip(out, layout):
        if array.shape != shape:
            raise ModelFileError(f"{path}: {what} is {shape} in its config but {array.shape} in "
                                 f"its weights")
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: {what} holds NaN or infinity")
    return out


__all__ = ["KerasFile", "from_keras", "read_keras"]
