"""Exporting a model to ONNX (issue 20, point 2): onnxruntime's predictions match
model.predict to 1e-5, for every activation and both float types, through the library
and `deepterm runs export ID --model FILE.onnx`. TensorFlow is not needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install "
                                          "'deepterm[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from engine import BackendUnavailable, Layer, ModelSpec, RunStore, build, runner  # noqa: E402
from engine.export import export_model, onnx_model  # noqa: E402
from engine.predict import rows_for  # noqa: E402
from engine.recipe import RunConfig  # noqa: E402
from engine.spec import L2, Dropout  # noqa: E402
from engine.store import ENV_VAR  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

NETWORKS = {
    "relu-tanh-softmax": ([Layer(16, "relu"), Layer(8, "tanh"), Layer(3, "softmax")],
                          "categorical_crossentropy"),
    "sigmoid-linear": ([Layer(12, "sigmoid"), Layer(1, "linear")], "mse"),
    "relu-sigmoid-no-bias": ([Layer(6, "relu", use_bias=False), Layer(1, "sigmoid")],
                             "binary_crossentropy"),
    "linear-only": ([Layer(2, "linear")], "mae"),
    # Playground's settings: a Dropout passes values through when predicting, a penalty
    # changes only the loss (exporting such a model raised AttributeError before)
    "dropout-l2": ([Layer(8, "relu", kernel_regularizer=L2(0.01)), Dropout(0.3),
                    Layer(3, "softmax")], "categorical_crossentropy"),
}


def run_onnx(path: Path | str, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X})[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_onnxruntime_predicts_what_the_model_predicts(tmp_path, name, dtype):
    layers, loss = NETWORKS[name]
    spec = ModelSpec(input_dim=5, layers=layers, loss=loss, dtype=dtype)
    model = build(spec, seed=3)
    rng = np.random.default_rng(0)
    # weights moved off their initial values, so that biases are not all zeros
    model.set_weights([w + rng.normal(scale=0.3, size=w.shape) for w in model.get_weights()])
    X = (rng.normal(size=(200, 5)) * 2).astype(dtype)

    assert export_model(model, tmp_path / "m.onnx") == "ONNX"
    got = run_onnx(tmp_path / "m.onnx", X)
    assert got.dtype == np.dtype(dtype) and got.shape == (200, spec.output_dim)
    assert float(np.abs(got - model.predict(X)).max()) <= 1e-5


def test_the_file_keeps_what_new_rows_need_and_passes_onnxs_checker(tmp_path):
    spec = ModelSpec(input_dim=2, layers=[Layer(4, "relu"), Layer(2, "softmax")],
                     loss="categorical_crossentropy")
    model = build(spec, seed=0)
    scaler = {"kind": "standardize", "mean": [1.0, 2.0], "scale": [3.0, 4.0],
              "feature_names": ["a", "b"]}
    model.metadata.update({"preprocessing": scaler, "features": {"columns": ["a", "b"]},
                           "target": {"name": "y", "task": "binary", "classes": ["no", "yes"]},
                           "dataset": "not exported"})
    export_model(model, tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    props = {p.key: json.loads(p.value) for p in proto.metadata_props}
    assert props == {"deepterm.preprocessing": scaler, "deepterm.features": {"columns": ["a", "b"]},
                     "deepterm.target": {"name": "y", "task": "binary", "classes": ["no", "yes"]}}
    assert [op.version for op in proto.opset_import] == [17]
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Gemm", "Softmax"]


def test_a_failed_export_leaves_the_old_file_and_a_bad_suffix_is_refused(tmp_path):
    model = build(ModelSpec(input_dim=2, layers=[Layer(1)], loss="mse"), seed=0)
    with pytest.raises(ValueError, match="a .keras or an .onnx file"):
        export_model(model, tmp_path / "m.h5")
    with pytest.raises(ValueError, match="the folder .* does not exist"):
        export_model(model, tmp_path / "missing" / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_without_the_onnx_package_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = build(ModelSpec(input_dim=2, layers=[Layer(1)], loss="mse"), seed=0)
    with pytest.raises(BackendUnavailable, match=r"pip install 'deepterm\[onnx\]'"):
        onnx_model(model)


def deepterm(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(store.parent)
    env["DEEPTERM_LOG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "tui", *args, "--store", str(store)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_exports_a_stored_runs_model_to_onnx(tmp_path):
    """`runs export ID --model FILE.onnx` on a stored Titanic run: onnxruntime on the rows
    `predict` prepares gives the run's predictions; a run without weights is exit 1."""
    store = RunStore(tmp_path / "runs.db")
    config = RunConfig(dataset="titanic", hidden=((8, "relu"),), epochs=2)
    run = runner.run(config, store=store, save_weights=True, executor="thread")
    out = tmp_path / "titanic.onnx"
    proc = deepterm("runs", "export", run.id, "--model", str(out), store=tmp_path / "runs.db")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (f"wrote {out}: ONNX model of run {run.id}, input (10 "
                                           f"standardized features) -> output (2)")
    import datasets

    ds = datasets.load("titanic")
    rows = tmp_path / "rows.csv"
    ds.frame.drop(columns="survived").head(40).to_csv(rows, index=False)
    X, _ = rows_for(run.model, rows)
    assert float(np.abs(run_onnx(out, X) - run.model.predict(X)).max()) <= 1e-5

    unweighted = runner.run(config, store=store, executor="thread")
    proc = deepterm("runs", "export", unweighted.id, "--model", str(tmp_path / "x.onnx"),
                    store=tmp_path / "runs.db")
    assert proc.returncode == 1 and "kept no weights" in proc.stderr
    assert not (tmp_path / "x.onnx").exists()
    proc = deepterm("runs", "export", run.id, "--model", str(tmp_path / "x.pt"),
                    store=tmp_path / "runs.db")
    assert proc.returncode == 2 and "a .keras or an .onnx file" in proc.stderr
