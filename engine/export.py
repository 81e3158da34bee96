"""A trained model (either backend) as files the rest of the ecosystem reads.

    from engine.export import export_model
    export_model(model, "titanic.keras")   # keras.models.load_model opens it
    export_model(model, "titanic.onnx")    # onnxruntime.InferenceSession runs it

- ``.keras``: Keras' own file of a plain ``keras.Sequential`` (an Input, then one
  ``Dense`` layer per layer, named dense_0, dense_1, ...) with the model's weights,
  compiled with the same loss, optimizer and metrics (the optimizer starts afresh).
  Nothing of deepterm's is needed to open it. Imports TensorFlow.
- ``.onnx``: an ONNX graph (opset 17) of ``Gemm`` (or ``MatMul`` without bias) and
  activation nodes, written with the ``onnx`` package (``pip install
  'deepterm[onnx]'``); TensorFlow is not needed. Its input ``input`` is
  ``(batch, input_dim)``, its output ``output`` is ``(batch, units)``: what
  ``model.predict`` returns.

Both take the features as ``model.predict`` takes them, that is standardized when the
model's training data was. What new rows need (the columns and their encoding, the
standardization, the classes: ``engine.predict``'s metadata) goes with the file, as
``deepterm_export.json`` inside the ``.keras`` zip and as the ONNX model's
``metadata_props`` (``deepterm.features``, ``deepterm.target``,
``deepterm.preprocessing``), so that ``engine.keras_import`` reads it back.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

from .errors import BackendUnavailable, FitError
from .numerics import json_default

#: the .keras zip entry holding what new rows need (Keras ignores entries it does not know)
EXPORT_META = "deepterm_export.json"
#: the metadata keys that travel with an exported model
META_KEYS = ("features", "target", "preprocessing")
ONNX_OPSET = 17
ONNX_IR_VERSION = 8       # the IR version of opset 17: onnxruntime 1.13 and later read it
FORMATS = {".keras": "Keras", ".onnx": "ONNX"}


def export_model(model: Any, path: str | os.PathLike) -> str:
    """Write ``model`` to ``path`` as its suffix says (.keras or .onnx); returns the
    format's name. A failed write is one ModelFileError and leaves ``path`` as it was."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    refuse_images(model)
    if suffix == ".keras":
        to_keras(model, path)
    elif suffix == ".onnx":
        to_onnx(model, path)
    else:
        raise FitError(f"{path}: a model is exported to a .keras or an .onnx file; name one "
                       f"(e.g. model.keras, model.onnx)")
    return FORMATS[suffix]


def refuse_images(model: Any) -> None:
    """Export writes Dense networks; one with Conv2D/MaxPooling2D/Flatten layers is a
    FitError (its own ``model.save`` keeps it)."""
    if getattr(model.spec, "is_image", False):
        raise FitError("export writes Dense networks only, and this model has image layers "
                       "(Conv2D, MaxPooling2D, Flatten); save it with model.save(path) instead")


def exported_metadata(model: Any) -> dict[str, Any]:
    """The part of ``model.metadata`` that an exported file keeps."""
    meta = getattr(model, "metadata", None) or {}
    return {k: meta[k] for k in META_KEYS if meta.get(k) is not None}


# -- Keras -----------------------------------------------------------------------------------


def keras_sequential(model: Any):
    """A plain ``keras.Sequential`` of Dense layers holding ``model``'s weights,
    compiled as the model is (imports TensorFlow)."""
    from .keras_backend import _import_tf, _keras_loss, _keras_metric, _keras_optimizer

    refuse_images(model)
    _, keras = _import_tf()
    spec = model.spec
    from .spec import Dropout

    layers = [keras.Input(shape=(spec.input_dim,), dtype=spec.dtype, name="input")]
    dense = dropout = 0
    for layer in spec.layers:
        if isinstance(layer, Dropout):     # as the model trains; nothing when it predicts
            layers.append(keras.layers.Dropout(layer.rate, dtype=spec.dtype,
                                               name=f"dropout_{dropout}"))
            dropout += 1
            continue
        reg = layer.kernel_regularizer
        layers.append(keras.layers.Dense(
            layer.units, activation=layer.activation, use_bias=layer.use_bias, dtype=spec.dtype,
            kernel_regularizer=None if reg is None else keras.regularizers.L1L2(l1=reg.l1,
                                                                                l2=reg.l2),
            name=f"dense_{dense}"))
        dense += 1
    out = keras.Sequential(layers, name="sequential")
    out.set_weights([w.astype(spec.dtype) for w in model.get_weights()])
    optimizer = _keras_optimizer(keras, spec)
    optimizer.build(out.trainable_variables)   # its (fresh) state is saved, and loads back
    out.compile(optimizer=optimizer, loss=_keras_loss(keras, spec.loss),
                metrics=[_keras_metric(keras, m, spec) for m in spec.metrics])
    return out


def to_keras(model: Any, path: str | os.PathLike) -> None:
    """``model`` as Keras' ``.keras`` file (see the module's docstring)."""
    from .numpy_backend import write_model_file

    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise FitError(f"a Keras model file name must end with .keras, got {path!r}")
    sequential = keras_sequential(model)
    text = json.dumps(exported_metadata(model), default=json_default)

    def write(tmp: str) -> None:
        sequential.save(tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            zf.writestr(EXPORT_META, text)

    write_model_file(path, write)


# -- ONNX ----------------------------------------------------------------------------------------


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise BackendUnavailable(f"exporting to ONNX needs the onnx package ({exc}); install it "
                                 f"with `pip install 'deepterm[onnx]'`") from None
    return onnx, helper, numpy_helper


_ONNX_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}


def onnx_model(model: Any):
    """``model`` as an ``onnx.ModelProto`` (checked by onnx's checker)."""
    import numpy as np

    refuse_images(model)
    onnx, helper, numpy_helper = _onnx()
    spec = model.spec
    dtype = np.dtype(spec.dtype)
    elem = onnx.TensorProto.DOUBLE if dtype == np.float64 else onnx.TensorProto.FLOAT
    weights = iter(model.get_weights())
    nodes, initializers = [], []
    current = "input"
    dense_layers = spec.dense_layers     # a Dropout passes its values through when predicting
    for i, layer in enumerate(dense_layers):
        kernel = np.asarray(next(weights), dtype=dtype)
        initializers.append(numpy_helper.from_array(kernel, f"dense_{i}/kernel"))
        last = i == len(dense_layers) - 1
        linear = layer.activation == "linear"
        z = "output" if last and linear else f"dense_{i}/z"
        if layer.use_bias:
            bias = np.asarray(next(weights), dtype=dtype)
            initializers.append(numpy_helper.from_array(bias, f"dense_{i}/bias"))
            nodes.append(helper.make_node("Gemm", [current, f"dense_{i}/kernel", f"dense_{i}/bias"],
                                          [z], name=f"dense_{i}/gemm"))
        else:
            nodes.append(helper.make_node("MatMul", [current, f"dense_{i}/kernel"], [z],
                                          name=f"dense_{i}/matmul"))
        if not linear:
            a = "output" if last else f"dense_{i}/a"
            extra = {"axis": -1} if layer.activation == "softmax" else {}
            nodes.append(helper.make_node(_ONNX_ACTIVATIONS[layer.activation], [z], [a],
                                          name=f"dense_{i}/{layer.activation}", **extra))
            z = a
        current = z
    graph = helper.make_graph(
        nodes, "deepterm",
        [helper.make_tensor_value_info("input", elem, ["batch", spec.input_dim])],
        [helper.make_tensor_value_info("output", elem, ["batch", spec.output_dim])],
        initializer=initializers)
    proto = helper.make_model(graph, producer_name="deepterm",
                              opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                              doc_string=f"{spec.input_dim}-"
                                         f"{'-'.join(str(layer.units) for layer in dense_layers)} "
                                         f"network trained by deepterm; loss {spec.loss}")
    proto.ir_version = ONNX_IR_VERSION
    for key, value in exported_metadata(model).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"deepterm.{key}", json.dumps(value, default=json_default)
    onnx.checker.check_model(proto)
    return proto


def to_onnx(model: Any, path: str | os.PathLike) -> None:
    """``model`` as an ``.onnx`` file (see the module's docstring)."""
    from .numpy_backend import write_model_file

    proto = onnx_model(model)
    data = proto.SerializeToString()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    write_model_file(os.fspath(path), write)


__all__ = ["EXPORT_META", "export_model", "exported_metadata", "keras_sequential", "onnx_model",
           "to_keras", "to_onnx"]
