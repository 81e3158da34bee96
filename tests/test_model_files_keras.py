"""Keras' own .keras files (issue 20, points 2 and 3): a model of either backend exported
to a file that plain keras.models.load_model opens with the same predictions. These
tests load TensorFlow (about 10 s), so they are kept in this one module."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from engine import Layer, ModelSpec, build  # noqa: E402
from engine.export import EXPORT_META, export_model  # noqa: E402

SPEC = ModelSpec(input_dim=4, layers=[Layer(8, "relu"), Layer(5, "tanh"), Layer(3, "softmax")],
                 loss="categorical_crossentropy", optimizer="adam", learning_rate=0.01,
                 metrics=["accuracy"])


def trained(backend: str):
    """A model of ``backend`` trained a few epochs, with metadata to travel."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = np.eye(3)[rng.integers(0, 3, size=64)]
    model = build(SPEC, backend=backend, seed=1)
    model.fit(X, y, epochs=3, batch_size=16)
    model.metadata["target"] = {"name": "kind", "task": "multiclass", "classes": ["a", "b", "c"]}
    return model, X


@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_plain_keras_load_model_opens_the_export_with_the_same_predictions(tmp_path, backend):
    model, X = trained(backend)
    path = tmp_path / "model.keras"
    assert export_model(model, path) == "Keras"

    loaded = keras.models.load_model(path)        # no custom objects, nothing of deepterm's
    got = loaded.predict(X, verbose=0)
    if backend == "keras":                        # the same TensorFlow kernels: the same bits
        np.testing.assert_array_equal(got, model.predict(X))
    else:
        assert float(np.abs(got - model.predict(X)).max()) <= 1e-6
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dense", "Dense"]
    assert loaded.loss.__class__.__name__ in ("CategoricalCrossentropy", "LossFunctionWrapper")
    assert type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.01)
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read(EXPORT_META)) == {"target": model.metadata["target"]}


def test_cli_exports_a_stored_runs_model_to_keras(tmp_path):
    from click.testing import CliRunner

    from engine import RunStore, runner
    from engine.recipe import RunConfig
    from tui.cli import cli

    store = RunStore(tmp_path / "runs.db")
    config = RunConfig(dataset="wages", hidden=((6, "relu"),), output_units=1,
                       output_activation="linear", loss="mse", metrics=("mae",), epochs=2)
    run = runner.run(config, store=store, save_weights=True, executor="thread")
    out = tmp_path / "wages.keras"
    result = CliRunner().invoke(cli, ["runs", "export", run.id, "--model", str(out),
                                      "--store", str(store.path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (f"wrote {out}: Keras model of run {run.id}, input "
                                             f"(9 standardized features) -> output (1)")
    X = np.random.default_rng(1).normal(size=(30, 9)).astype(np.float32)
    got = keras.models.load_model(out).predict(X, verbose=0)
    assert float(np.abs(got - run.model.predict(X)).max()) <= 1e-5
