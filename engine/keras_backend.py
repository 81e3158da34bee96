"""The Keras backend: the same models as the NumPy backend, trained by Keras 3
on TensorFlow, on the GPU when there is one.

``KerasModel`` has exactly ``NumpyModel``'s interface and numbers: the spec
becomes a ``keras.Sequential`` (Input, then one Dense layer per spec layer),
compiled with the same loss, metrics and optimizer defaults. The initial
weights come from the same seeded ``np.random.default_rng(seed)`` draws as on
the NumPy backend, and so does the shuffle order, so the same spec and seed
train the same way on both backends (up to float rounding).

TensorFlow is imported the first time a ``KerasModel`` is built or
``devices()`` is called, never when this module is imported:
``BackendUnavailable`` says what to do when it is missing or broken.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
import time
import zipfile
import zlib
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import initializers, metrics
from .callbacks import CallbackList, Divergence
from .data import check_X, check_y, prepare_fit
from .errors import BackendUnavailable, FitError, ModelFileError, SpecError, choices
from .history import History
from .model import Model
from .numerics import json_default
from .numpy_backend import (
    MAX_JSON_BYTES,
    check_array,
    check_meta,
    check_model_path,
    damaged_file,
    read_spec,
    real_weights,
    weight_layout,
    write_model_file,
)
from .spec import Conv2D, Dropout, Flatten, MaxPooling2D, ModelSpec, check_memory

FORMAT = "deepterm-keras-model"
FORMAT_VERSION = 1
META_FILE = "deepterm.json"  # our entry inside the .keras zip, beside Keras' own

#: rows per call when predicting or evaluating without a batch size
CHUNK = 4096


class DeviceError(SpecError):
    """The device asked for does not exist here (or is not a device name)."""


class DeviceOutOfMemory(FitError):
    """The device ran out of memory while training, predicting or evaluating."""


# -- TensorFlow, loaded on first use ------------------------------------------------

_tf = None
_keras = None
_import_lock = threading.Lock()

INSTALL_HINT = ("install it with `pip install tensorflow` (or `pip install 'deepterm[gpu]'` "
                "for an NVIDIA GPU), or use backend='numpy'")


def _import_tf():
    """(tensorflow, keras), imported once; BackendUnavailable when that fails."""
    global _tf, _keras
    if _tf is not None:
        return _tf, _keras
    with _import_lock:
        if _tf is not None:
            return _tf, _keras
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ info spam in the terminal
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise BackendUnavailable(
                f"the Keras backend needs TensorFlow, which is not installed ({exc}); "
                f"{INSTALL_HINT}") from exc
        except Exception as exc:  # a broken install: missing libraries, bad versions
            raise BackendUnavailable(
                f"TensorFlow is installed but failed to import ({type(exc).__name__}: {exc}); "
                f"reinstall it with `pip install --force-reinstall tensorflow`, "
                f"or use backend='numpy'") from exc
        try:
            import keras
        except Exception as exc:
            raise BackendUnavailable(
                f"Keras failed to import ({type(exc).__name__}: {exc}); reinstall it with "
                f"`pip install --force-reinstall keras`, or use backend='numpy'") from exc
        if keras.backend.backend() != "tensorflow":
            raise BackendUnavailable(
                f"Keras is set to the {keras.backend.backend()!r} backend (KERAS_BACKEND or "
                f"~/.keras/keras.json); deepterm's Keras backend needs 'tensorflow': set "
                f"KERAS_BACKEND=tensorflow, or use backend='numpy'")
        for gpu in tf.config.list_physical_devices("GPU"):
            try:  # take GPU memory as needed, not the whole card
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):
                pass  # the GPU is already initialised: growth can no longer change
        _tf, _keras = tf, keras
        return tf, keras


# -- devices -----------------------------------------------------------------------

def _cpu_description() -> tuple[str, int | None]:
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if not name:
        import platform

        name = platform.processor() or platform.machine() or "CPU"
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    return f"{name} ({os.cpu_count() or 1} cores)", memory


def _gpu_memory(tf, count: int) -> list[int | None]:
    """Memory TensorFlow can use on each GPU, in bytes (None when unknown)."""
    out: list[int | None] = [None] * count
    try:
        from tensorflow.python.client import device_lib

        for dev in device_lib.list_local_devices():
            if dev.device_type == "GPU":
                index = int(dev.name.rsplit(":", 1)[1])
                if index < count:
                    out[index] = int(dev.memory_limit)
    except Exception:
        pass
    return out


def _gib(memory: int | None) -> str:
    return "" if memory is None else f", {memory / 2**30:.1f} GiB"


def devices() -> list[dict[str, Any]]:
    """What can train here: the CPU, then each GPU TensorFlow sees.

    Each entry: ``id`` (what ``device=`` accepts: "CPU", "GPU:0", ...),
    ``type`` and ``kind`` ("CPU" or "GPU"), ``name``, ``memory_bytes`` and
    ``memory`` ("139.8 GiB"; both None when unknown) and ``label`` (one line
    for a UI). Imports TensorFlow.
    """
    tf, _ = _import_tf()
    cpu_name, cpu_memory = _cpu_description()
    out = [_entry("CPU", "CPU", cpu_name, cpu_memory)]
    gpus = tf.config.list_physical_devices("GPU")
    memory = _gpu_memory(tf, len(gpus))
    for i, gpu in enumerate(gpus):
        try:
            name = tf.config.experimental.get_device_details(gpu).get("device_name") or "GPU"
        except Exception:
            name = "GPU"
        out.append(_entry(f"GPU:{i}", "GPU", name, memory[i]))
    return out


def _entry(ident: str, kind: str, name: str, memory: int | None) -> dict[str, Any]:
    human = None if memory is None else f"{memory / 2**30:.1f} GiB"
    return {"id": ident, "type": kind, "kind": kind, "name": name, "memory_bytes": memory,
            "memory": human, "label": f"{ident} ({name}{_gib(memory)})"}


def _normalise_device(name: Any) -> str:
    """'/device:GPU:1', 'gpu:1', 'cpu' -> 'GPU:1', 'GPU:1', 'CPU'."""
    if not isinstance(name, str) or not name.strip():
        raise DeviceError(
            f"device must be None (the GPU when there is one, else the CPU), 'CPU', 'GPU', "
            f"'GPU:<n>' or a list of GPUs, got {name!r}")
    text = name.strip().upper()
    for prefix in ("/DEVICE:", "/"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    if text in ("CPU", "CPU:0"):
        return "CPU"
    if text == "GPU":
        return "GPU"
    if text.startswith("GPU:") and text[4:].isdigit():
        return f"GPU:{int(text[4:])}"
    raise DeviceError(
        f"device must be None, 'CPU', 'GPU', 'GPU:<n>' or a list of GPUs, got {name!r}")


class Placement:
    """Where a model lives and trains: one device, or several GPUs under
    ``tf.distribute.MirroredStrategy``."""

    def __init__(self, tf, device: Any) -> None:
        gpus = tf.config.list_physical_devices("GPU")
        available = ["CPU"] + [f"GPU:{i}" for i in range(len(gpus))]

        def gpu_name(i: int) -> str:
            try:
                return tf.config.experimental.get_device_details(gpus[i]).get("device_name") \
                    or "GPU"
            except Exception:
                return "GPU"

        def missing(asked: Any) -> DeviceError:
            if not gpus:
                why = "TensorFlow sees no GPU here"
                fix = ("use device='CPU' (or None), or install the GPU build with "
                       "`pip install 'deepterm[gpu]'` on a machine with an NVIDIA GPU")
            else:
                why = f"this machine has {len(gpus)} GPU(s)"
                fix = f"use one of {choices(available)}"
            return DeviceError(f"device {asked!r} does not exist: {why}; {fix} "
                               f"(engine.devices() lists them)")

        if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
            chosen = [f"GPU:{i}" for i in range(len(gpus))] or ["CPU"]
        elif isinstance(device, (list, tuple)):
            if not device:
                raise DeviceError("device list is empty; give at least one GPU such as 'GPU:0'")
            chosen = []
            for d in device:
                norm = _normalise_device(d)
                if norm == "GPU":
                    raise DeviceError(f"a device list names single GPUs ('GPU:0', ...), "
                                      f"got {d!r}")
                if norm not in available:
                    raise missing(d)
                if norm not in chosen:
                    chosen.append(norm)
            if "CPU" in chosen and len(chosen) > 1:
                raise DeviceError(f"a device list can only hold GPUs, got {list(device)!r}")
        else:
            norm = _normalise_device(device)
            if norm == "GPU":
                if not gpus:
                    raise missing(device)
                chosen = [f"GPU:{i}" for i in range(len(gpus))]
            elif norm not in available:
                raise missing(device)
            else:
                chosen = [norm]

        self.devices = chosen
        self.on_gpu = chosen[0] != "CPU"
        if len(chosen) > 1:
            self.strategy = tf.distribute.MirroredStrategy(
                devices=[f"/{d.lower()}" for d in chosen])
            names = sorted({gpu_name(int(d[4:])) for d in chosen})
            self.label = f"{'+'.join(chosen)} (MirroredStrategy, {', '.join(names)})"
        else:
            self.strategy = None
            self.label = chosen[0] if chosen[0] == "CPU" else \
                f"{chosen[0]} ({gpu_name(int(chosen[0][4:]))})"
        self._tf = tf

    @contextmanager
    def scope(self):
        if self.strategy is not None:
            with self.strategy.scope():
                yield
        else:
            with self._tf.device(f"/{self.devices[0].lower()}:0" if self.devices[0] == "CPU"
                                 else f"/{self.devices[0].lower()}"):
                yield


# -- the model -----------------------------------------------------------------------

def _keras_loss(keras, loss: str):
    return {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "binary_crossentropy": keras.losses.BinaryCrossentropy,
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    }[loss]()


def _keras_metric(keras, name: str, spec: ModelSpec):
    """Metric objects named as the engine names them (loss, accuracy, mae, mse)."""
    if name == "mae":
        return keras.metrics.MeanAbsoluteError(name="mae")
    if name == "mse":
        return keras.metrics.MeanSquaredError(name="mse")
    kind = metrics.accuracy_kind(spec.loss, spec.output_dim)
    cls = {"binary": keras.metrics.BinaryAccuracy,
           "sparse_categorical": keras.metrics.SparseCategoricalAccuracy,
           "categorical": keras.metrics.CategoricalAccuracy}[kind]
    return cls(name="accuracy")


def _keras_optimizer(keras, spec: ModelSpec):
    lr = spec.effective_learning_rate
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=spec.momentum,
                                    nesterov=spec.nesterov)
    if spec.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    if spec.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, rho=0.9, epsilon=1e-7)
    return keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=0.1,
                                    epsilon=1e-7)


class KerasModel(Model):
    """A model built from a ``ModelSpec`` that trains with Keras on TensorFlow.

    ``device``: None trains on the GPU when there is one (every GPU, mirrored,
    when there are several), else on the CPU; or "CPU", "GPU", "GPU:<n>", or
    a list of GPUs. ``jit_compile``: XLA for the training step; "auto" turns
    it on for a single GPU only, as Keras does.
    """

    backend = "keras"

    def __init__(self, spec: ModelSpec, seed: int | None = None, device: Any = None,
                 jit_compile: bool | str = "auto") -> None:
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
        if jit_compile not in ("auto", True, False):
            raise SpecError(f"jit_compile must be True, False or 'auto', got {jit_compile!r}")
        check_memory(spec)   # before TensorFlow allocates anything
        tf, keras = _import_tf()
        self._tfm, self._km = tf, keras
        self._init_model(spec, seed)
        self.placement = Placement(tf, device)
        self.device = self.placement.label
        if jit_compile == "auto":
            jit_compile = self.placement.on_gpu and self.placement.strategy is None

        # the initial weights: the same draws, in the same order, as NumpyModel
        weights = []
        for kernel_shape, layer in zip(spec.kernel_shapes(), spec.weighted_layers):
            weights.append(initializers.initialize(
                layer.kernel_initializer, self.rng, kernel_shape, self.dtype))
            if layer.use_bias:
                weights.append(initializers.initialize(
                    layer.bias_initializer, self.rng, (kernel_shape[-1],), self.dtype))

        with self._scope("building the model"):
            layers = [keras.Input(shape=self._input_shape, dtype=spec.dtype, name="input")]
            dense = dropout = 0
            counts = {Conv2D: 0, MaxPooling2D: 0, Flatten: 0}
            for layer in spec.layers:
                if type(layer) in counts:
                    layers.append(_image_layer(keras, layer, counts[type(layer)], spec.dtype))
                    counts[type(layer)] += 1
                    continue
                if isinstance(layer, Dropout):
                    layers.append(keras.layers.Dropout(
                        layer.rate, seed=None if seed is None else seed + dropout + 1,
                        dtype=spec.dtype, name=f"dropout_{dropout}"))
                    dropout += 1
                    continue
                reg = layer.kernel_regularizer
                layers.append(keras.layers.Dense(
                    layer.units, activation=layer.activation, use_bias=layer.use_bias,
                    kernel_initializer=layer.kernel_initializer,
                    bias_initializer=layer.bias_initializer, dtype=spec.dtype,
                    kernel_regularizer=None if reg is None else
                    keras.regularizers.L1L2(l1=reg.l1, l2=reg.l2),
                    name=f"dense_{dense}"))
                dense += 1
            model = keras.Sequential(layers, name="sequential")
            optimizer = _keras_optimizer(keras, spec)
            optimizer.build(model.trainable_variables)
            self._loss = _keras_loss(keras, spec.loss)
            model.compile(optimizer=optimizer, loss=self._loss,
                          metrics=[_keras_metric(keras, m, spec) for m in spec.metrics],
                          jit_compile=bool(jit_compile))
            model.set_weights(weights)
        self.keras_model = model
        self.optimizer = optimizer
        self._predict_fn = None

    @property
    def _input_shape(self) -> tuple[int, ...]:
        """One sample's shape: (input_dim,), or (height, width, channels) for images."""
        return tuple(self.spec.input_shape) if self.spec.is_image else (self.spec.input_dim,)

    # -- errors and placement ---------------------------------------------------------

    @contextmanager
    def _scope(self, doing: str, batch_size: int | None = None):
        """Run on this model's device; a device out of memory becomes DeviceOutOfMemory."""
        tf = self._tfm
        try:
            with self.placement.scope():
                yield
        except tf.errors.ResourceExhaustedError as exc:
            batch = f" with batch_size={batch_size}" if batch_size else ""
            fix = ("use a smaller batch_size or a smaller network, or train on the CPU "
                   "with device='CPU'") if self.placement.on_gpu else \
                "use a smaller batch_size or a smaller network"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise DeviceOutOfMemory(
                f"{self.device} ran out of memory {doing}{batch} "
                f"({self.count_params():,} parameters); {fix} [{first[:200]}]") from exc

    # -- variables ---------------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights: per layer kernel (n_in, n_out) then bias (n_out,)."""
        return [np.array(w, dtype=self.dtype) for w in self.keras_model.get_weights()]

    def set_weights(self, weights) -> None:
        shapes = [tuple(v.shape) for v in self.keras_model.trainable_variables]
        weights = list(weights)
        if len(weights) != len(shapes):
            raise ValueError(
                f"set_weights needs {len(shapes)} arrays (kernel and bias per layer), "
                f"got {len(weights)}")
        arrays = []
        for i, (shape, w) in enumerate(zip(shapes, weights)):
            w = real_weights(w, i)
            if w.shape != shape:
                raise ValueError(f"weights[{i}] must have shape {shape}, got {w.shape}")
            if not np.isfinite(w).all():
                raise ValueError(f"weights[{i}] contains NaN or infinity")
            arrays.append(w.astype(self.dtype))
        self.keras_model.set_weights(arrays)

    def _get_state(self):
        """Weights and optimizer state, for rolling back a diverged epoch."""
        return ([v.numpy() for v in self.keras_model.trainable_variables],
                [v.numpy() for v in self.optimizer.variables])

    def _set_state(self, state) -> None:
        for var, value in zip(self.keras_model.trainable_variables, state[0]):
            var.assign(value)
        for var, value in zip(self.optimizer.variables, state[1]):
            var.assign(value)

    # -- predict / evaluate / gradients ------------------------------------------------------

    def _forward(self, X: np.ndarray) -> np.ndarray:
        if self._predict_fn is None:
            tf = self._tfm
            model = self.keras_model
            self._predict_fn = tf.function(
                lambda x: model(x, training=False), reduce_retracing=True,
                input_signature=[tf.TensorSpec([None, *self._input_shape], self.spec.dtype)])
        return np.asarray(self._predict_fn(X), dtype=self.dtype)

    def predict(self, X, batch_size: int | None = None) -> np.ndarray:
        """Outputs for X: (n_samples, n_outputs)."""
        X = check_X(X, self.spec, self.dtype)
        step = CHUNK if batch_size is None else max(1, int(batch_size))
        with self._scope("predicting", batch_size):
            if step >= len(X):
                return self._forward(X)
            return np.concatenate([self._forward(X[i:i + step]) for i in range(0, len(X), step)])

    def _evaluate_arrays(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        result = self.keras_model.evaluate(X, y, batch_size=min(len(X), CHUNK), verbose=0,
                                           return_dict=True)
        return {k: float(result[k]) for k in ("loss", *self.spec.metrics)}

    def evaluate(self, X, y) -> dict[str, float]:
        """Mean loss and metrics over all rows: {"loss": ..., "accuracy": ...}."""
        X = check_X(X, self.spec, self.dtype)
        y = check_y(y, self.spec, len(X), self.dtype)
        with self._scope("evaluating"):
            return self._evaluate_arrays(X, y)

    def gradients(self, X, y) -> list[np.ndarray]:
        """d loss / d weight for the mean loss over the rows of X (tf.GradientTape),
        in the layout of ``get_weights``."""
        tf = self._tfm
        X = check_X(X, self.spec, self.dtype)
        y = check_y(y, self.spec, len(X), self.dtype)
        with self._scope("computing gradients"):
            variables = self.keras_model.trainable_variables
            with tf.GradientTape() as tape:
                pred = self.keras_model(tf.constant(X), training=True)
                loss = self._loss(tf.constant(y), pred)
                if self.spec.has_regularizer:   # the kernels' penalties, as fit adds them
                    loss = loss + tf.add_n(self.keras_model.losses)
            grads = tape.gradient(loss, variables)
        return [np.asarray(g, dtype=self.dtype) for g in grads]

    # -- training ----------------------------------------------------------------------------

    def _train_dataset(self, X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool):
        """An endless tf.data stream of the batches NumpyModel would train on.

        Epoch after epoch it draws ``permutation(n)`` from a copy of the
        model's generator, as NumpyModel draws from its own; ``fit`` advances
        the real generator afterwards by the epochs actually started. Keras
        takes ``steps`` batches per epoch from it.
        """
        tf = self._tfm
        n = len(X)
        state = self.rng.bit_generator.state
        bit_generator = type(self.rng.bit_generator)

        def batches():
            rng = np.random.Generator(bit_generator())
            rng.bit_generator.state = state
            while True:
                order = rng.permutation(n) if shuffle else None
                for lo in range(0, n, batch_size):
                    if order is None:
                        yield X[lo:lo + batch_size], y[lo:lo + batch_size]
                    else:
                        idx = order[lo:lo + batch_size]
                        yield X[idx], y[idx]

        y_spec = tf.TensorSpec((None,), tf.int64) if y.ndim == 1 else \
            tf.TensorSpec((None, y.shape[1]), self.spec.dtype)
        signature = (tf.TensorSpec((None, *X.shape[1:]), self.spec.dtype), y_spec)
        return tf.data.Dataset.from_generator(batches, output_signature=signature) \
            .prefetch(tf.data.AUTOTUNE)

    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            callbacks=None, verbose: int | str = 0) -> History:
        """Train with ``keras.Model.fit``; returns the engine's History.

        Same arguments, checks, batches, events, stop reasons (divergence by the
        same rule, ``engine.callbacks.Divergence``) and History as
        ``NumpyModel.fit``. X: (n_samples, input_dim); y: (n_samples,) or
        (n_samples, n_outputs), or class labels (n_samples,) for
        sparse_categorical_crossentropy. ``verbose`` means what it means in Keras and
        shows what NumpyModel.fit shows (``engine.progress``; Keras' own bar stays off).
        """
        from .keras_callbacks import EngineBridge
        from .progress import with_progress

        callbacks = with_progress(callbacks, verbose)

        run = prepare_fit(self.spec, self.dtype, X, y, epochs, batch_size, validation_split,
                          validation_data, shuffle)
        X, y, Xv, yv = run["X"], run["y"], run["X_val"], run["y_val"]
        epochs, batch_size = run["epochs"], run["batch_size"]
        n = len(X)
        steps = math.ceil(n / batch_size)
        params = {"epochs": epochs, "steps": steps, "samples": n, "batch_size": batch_size,
                  "validation_samples": 0 if Xv is None else len(Xv)}
        history = History(params)
        history.device = self.device
        self.history = history
        self._stop.clear()
        cbs = CallbackList(callbacks, self, params)
        started = time.perf_counter()
        bridge = None
        try:
            with self._scope("training", batch_size):
                start_loss = self._evaluate_arrays(X, y)["loss"] \
                    if Divergence.needs_start_loss(epochs) else None
                bridge = EngineBridge(self, cbs, history, validation=Xv is not None,
                                      divergence=Divergence(start_loss))
                self.keras_model.fit(
                    self._train_dataset(X, y, batch_size, run["shuffle"]),
                    epochs=epochs, steps_per_epoch=steps, shuffle=False, callbacks=[bridge],
                    verbose=0,
                    validation_data=None if Xv is None else (Xv, yv),
                    validation_batch_size=None if Xv is None else
                    max(batch_size, min(len(Xv), CHUNK)))
        finally:
            if run["shuffle"] and bridge is not None:  # the shuffles NumpyModel would have drawn
                for _ in range(bridge.epochs_begun):
                    self.rng.permutation(n)
        history.duration_s = time.perf_counter() - started
        return history

    # -- description ------------------------------------------------------------------------

    def summary(self) -> str:
        """A Keras-style table of the layers, their output shapes and parameters."""
        from .numpy_backend import NumpyModel

        return NumpyModel.summary(self) + f"\nDevice: {self.device}"  # type: ignore[arg-type]

    def __repr__(self) -> str:
        sizes = [self.spec.input_dim] + [layer.units for layer in self.spec.dense_layers]
        return (f"KerasModel({'-'.join(map(str, sizes))}, {self.spec.optimizer}, "
                f"{self.spec.loss}, device={self.device!r})")

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to Keras' native ``.keras`` file (architecture,
        weights, optimizer state; ``keras.saving.load_model`` opens it) with
        the spec, seed, shuffle state, history and metadata in its
        ``deepterm.json`` entry so that ``KerasModel.load`` restores all of it.
        It is written to a temporary file of its own in the same folder, then
        renamed: a failed save (no such folder, disk full) is one ModelFileError
        and leaves whatever ``path`` held unchanged."""
        path = os.fspath(path)
        if not path.endswith(".keras"):
            raise FitError(f"a Keras model file name must end with .keras, got {path!r}")
        meta = {
            "format": FORMAT, "version": FORMAT_VERSION, "backend": "keras",
            "spec": self.spec.to_dict(), "seed": self.seed,
            "rng_state": self.rng.bit_generator.state,
            "history": self.history.to_dict() if self.history is not None else None,
            "metadata": self.metadata, "device": self.device,
        }
        text = json.dumps(meta, default=json_default)

        def write(tmp: str) -> None:
            self.keras_model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META_FILE, text)

        write_model_file(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike, device: Any = None) -> KerasModel:
        """A model saved by ``save``, ready to predict or continue training. Its
        ``deepterm.json`` and the shapes of the weights Keras stored are checked
        against each other before anything is built (TensorFlow is not even
        imported for a damaged file); a damaged file is one ModelFileError naming it."""
        path = os.fspath(path)
        check_model_path(path)
        damaged = functools.partial(damaged_file, path, "Keras")
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if META_FILE not in names:
                    raise ModelFileError(
                        f"{path}: a Keras file without deepterm's {META_FILE} entry; import "
                        f"it with engine.from_keras(path), or open it with "
                        f"keras.saving.load_model")
                if zf.getinfo(META_FILE).file_size > MAX_JSON_BYTES:
                    raise damaged(f"its {META_FILE} is larger than {MAX_JSON_BYTES:,} bytes")
                try:
                    meta = json.loads(zf.read(META_FILE))
                except ValueError as exc:
                    raise damaged(f"its {META_FILE} is not JSON ({exc})") from None
                check_meta(meta, path, "Keras", FORMAT, FORMAT_VERSION)
                spec = read_spec(meta.get("spec"), damaged)
                stored = _stored_weights(zf, damaged, spec)
        except FileNotFoundError:
            raise ModelFileError(f"{path}: no such file") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{path}: not a deepterm Keras model file ({exc})") from None
        layout = weight_layout(spec)
        if len(stored) != len(layout):
            raise damaged(f"it holds {len(stored)} weight arrays but its spec has {len(layout)} "
                          f"({', '.join(w for w, _ in layout)})")
        for (name, shape, dtype), want in zip(stored, layout):
            check_array(name, shape, dtype, want, damaged)
        try:
            model = cls(spec, seed=meta.get("seed"), device=device)
            with model._scope("loading the model"):
                try:
                    model.keras_model.load_weights(path)
                except Exception as exc:
                    raise damaged(f"the weights cannot be read ({exc})") from None
        except MemoryError:
            raise ModelFileError(f"{path}: not enough memory to load this model") from None
        model.rng.bit_generator.state = meta["rng_state"]
        model.history = meta["history"]
        model.metadata = meta["metadata"]
        return model


_WEIGHTS_FILE = "model.weights.h5"


def _image_layer(keras, layer, index: int, dtype: str):
    """The Keras layer for a spec's Conv2D, MaxPooling2D or Flatten (channels-last)."""
    if isinstance(layer, Conv2D):
        return keras.layers.Conv2D(
            layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
            activation=layer.activation, use_bias=layer.use_bias,
            kernel_initializer=layer.kernel_initializer,
            bias_initializer=layer.bias_initializer, data_format="channels_last",
            dtype=dtype, name=f"conv2d_{index}")
    if isinstance(layer, MaxPooling2D):
        return keras.layers.MaxPooling2D(layer.pool_size, strides=layer.step, padding="valid",
                                         data_format="channels_last", dtype=dtype,
                                         name=f"max_pooling2d_{index}")
    return keras.layers.Flatten(data_format="channels_last", dtype=dtype,
                                name=f"flatten_{index}")


def _weight_groups(spec: ModelSpec) -> list[str]:
    """The names Keras' weights file gives the spec's weighted layers, in order: per
    class ``conv2d``, ``conv2d_1``, ... and ``dense``, ``dense_1``, ..."""
    names, counts = [], {"conv2d": 0, "dense": 0}
    for layer in spec.weighted_layers:
        base = "conv2d" if isinstance(layer, Conv2D) else "dense"
        names.append(base if counts[base] == 0 else f"{base}_{counts[base]}")
        counts[base] += 1
    return names


def _stored_weights(zf: zipfile.ZipFile, damaged,
                    spec: ModelSpec | None = None) -> list[tuple[str, tuple, np.dtype]]:
    """(name, shape, dtype) of each layer weight in a .keras file's weights, in layer
    order, read from the HDF5 headers alone (h5py comes with Keras; nothing is
    allocated for the arrays). With ``spec``, its layers' names give the order."""
    if _WEIGHTS_FILE not in zf.namelist():
        raise damaged(f"it has no {_WEIGHTS_FILE} entry")
    try:
        import h5py
    except ImportError:             # Keras needs h5py: without it the load fails anyway
        raise BackendUnavailable(f"h5py is not installed; {INSTALL_HINT}") from None

    expected = _weight_groups(spec) if spec is not None else []

    def order(group: str) -> tuple[int, int]:   # Keras names them dense, dense_1, ...
        if group in expected:
            return 0, expected.index(group)
        tail = group.rsplit("_", 1)
        return 1, int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0

    out = []
    try:
        with zf.open(_WEIGHTS_FILE) as raw, h5py.File(raw, "r") as h5:
            layers = h5.get("layers")
            for group in sorted(layers.keys() if layers is not None else (), key=order):
                variables = layers[group].get("vars")
                for k in sorted(variables.keys() if variables is not None else (), key=int):
                    ds = variables[k]
                    out.append((f"{_WEIGHTS_FILE}:layers/{group}/vars/{k}", tuple(ds.shape),
                                np.dtype(ds.dtype)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError,
            zipfile.BadZipFile, zlib.error) as exc:
        raise damaged(f"its {_WEIGHTS_FILE} cannot be read ({exc})") from None
    return out
