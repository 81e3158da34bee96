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


def test_a_model_with_dropout_and_a_penalty_exports_them_to_keras(tmp_path):
    """Playground's settings reach the .keras file: plain Keras predicts the same (a
    Dropout passes values through) and its loss includes the same L2 penalty."""
    from engine.spec import L2, Dropout

    spec = ModelSpec(input_dim=4, layers=[Layer(8, "relu", kernel_regularizer=L2(0.01)),
                                          Dropout(0.25), Layer(3, "softmax")],
                     loss="categorical_crossentropy", optimizer="adam", learning_rate=0.01)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 60)]
    model = build(spec, seed=2)
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    export_model(model, tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dropout", "Dense"]
    assert loaded.layers[1].rate == 0.25
    assert float(np.abs(loaded.predict(X, verbose=0) - model.predict(X)).max()) <= 1e-6
    assert float(np.atleast_1d(loaded.evaluate(X, y, verbose=0))[0]) == pytest.approx(
        model.evaluate(X, y)["loss"], rel=1e-5)
    # and deepterm imports its own export back: the same layers, penalty and predictions
    from engine import from_keras

    back = from_keras(tmp_path / "m.keras")
    assert back.spec.layers == spec.layers
    assert float(np.abs(back.predict(X) - model.predict(X)).max()) <= 1e-6


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


# -- importing .keras files made elsewhere (point 3) ---------------------------------------------


def course_titanic_model(path, **compile_options):
    """The course's Titanic network, built and saved by plain Keras with its own layer names."""
    model = keras.Sequential([keras.Input(shape=(10,)), keras.layers.Dense(32, "relu", name="hidden"),
                              keras.layers.Dense(2, "softmax", name="out")])
    model.compile(**{"optimizer": keras.optimizers.SGD(learning_rate=0.01),
                         "loss": "categorical_crossentropy", "metrics": ["accuracy"],
                         **compile_options})
    rng = np.random.default_rng(2)
    model.set_weights([w + rng.normal(scale=0.2, size=w.shape) for w in model.get_weights()])
    model.save(path)
    return model


@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_a_keras_sequential_of_dense_layers_imports_with_its_predictions(tmp_path, backend):
    from engine import from_keras

    original = course_titanic_model(tmp_path / "course.keras")
    model = from_keras(tmp_path / "course.keras", backend=backend)
    assert model.backend == backend
    spec = model.spec
    assert (spec.input_dim, [(la.units, la.activation) for la in spec.layers]) == \
        (10, [(32, "relu"), (2, "softmax")])
    assert (spec.loss, spec.optimizer, spec.learning_rate, spec.metrics) == \
        ("categorical_crossentropy", "sgd", 0.01, ("accuracy",))
    X = np.random.default_rng(0).normal(size=(50, 10)).astype(np.float32)
    assert float(np.abs(model.predict(X) - original.predict(X, verbose=0)).max()) <= 1e-6
    for got, want in zip(model.get_weights(), original.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    # it trains on in deepterm
    y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    assert len(model.fit(X, y, epochs=2).history["loss"]) == 2


def test_importing_to_numpy_reads_the_file_without_tensorflow(tmp_path):
    import subprocess
    import sys

    course_titanic_model(tmp_path / "course.keras", optimizer="adam", loss="mse", metrics=["mae"])
    code = ("import sys, engine; m = engine.from_keras(sys.argv[1]); "
            "print(m.spec.optimizer, m.spec.loss, m.spec.metrics, 'tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "course.keras")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["adam", "mse", "('mae',)", "False"]


def test_an_exported_model_imports_back_with_its_metadata(tmp_path):
    from engine import from_keras

    model, X = trained("numpy")
    scaler = {"kind": "standardize", "mean": [0.0] * 4, "scale": [2.0] * 4, "feature_names": None}
    model.metadata["preprocessing"] = scaler
    export_model(model, tmp_path / "m.keras")
    back = from_keras(tmp_path / "m.keras")
    assert back.metadata == {"target": model.metadata["target"], "preprocessing": scaler}
    assert back.spec == model.spec
    np.testing.assert_allclose(back.predict(X), model.predict(X), atol=0)


def test_an_uncompiled_model_gets_the_loss_its_output_suggests(tmp_path):
    from engine.keras_import import read_keras

    bare = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1, "sigmoid")])
    bare.save(tmp_path / "bare.keras")
    found = read_keras(tmp_path / "bare.keras")
    assert (found.spec.loss, found.spec.optimizer) == ("binary_crossentropy", "adam")
    assert found.notes == ["the model was saved without compiling it: loss binary_crossentropy "
                           "(for its sigmoid output) and adam at 0.001 chosen"]


def _refused_models():
    L = keras.layers
    inp = keras.Input(shape=(4,))
    return {
        "dropout": (keras.Sequential([keras.Input(shape=(4,)), L.Dense(3, "relu"), L.Dense(1),
                                      L.Dropout(0.5)]), "its last layer is a Dropout"),
        "functional": (keras.Model(inp, L.Dense(1)(inp)), "it is a 'Functional' model"),
        "elu": (keras.Sequential([keras.Input(shape=(4,)), L.Dense(3, "elu"), L.Dense(1)]),
                "has the activation 'elu'"),
        "regularizer": (keras.Sequential([keras.Input(shape=(4,)),
                                          L.Dense(3, bias_regularizer="l2")]),
                        "has a bias regularizer"),
        "images": (keras.Sequential([keras.Input(shape=(28, 28)), L.Flatten(), L.Dense(10)]),
                   "its input has the shape [None, 28, 28]"),
    }


@pytest.mark.parametrize("case", ["dropout", "functional", "elu", "regularizer", "images",
                                  "huber", "logits", "nadam", "adam-beta"])
def test_what_deepterm_cannot_represent_is_refused_by_name(tmp_path, case):
    from engine import from_keras
    from engine.errors import ModelFileError

    compiled = {
        "huber": ({"loss": "huber"}, "compiled with the loss 'huber'"),
        "logits": ({"loss": keras.losses.CategoricalCrossentropy(from_logits=True)},
                   "takes logits (from_logits=True)"),
        "nadam": ({"optimizer": "nadam"}, "compiled with the optimizer 'Nadam'"),
        "adam-beta": ({"optimizer": keras.optimizers.Adam(beta_1=0.8)},
                      "its optimizer Adam has beta_1=0.8"),
    }
    path = tmp_path / f"{case}.keras"
    if case in compiled:
        options, words = compiled[case]
        course_titanic_model(path, **options)
    else:
        model, words = _refused_models()[case]
        model.save(path)
    with pytest.raises(ModelFileError) as info:
        from_keras(path)
    message = str(info.value)
    assert message.startswith(f"{path}: deepterm cannot represent this model: ")
    assert words in message
    assert message.endswith("it imports Keras Sequential models of Dense layers (and Dropout "
                            "between them)")


def test_a_file_that_is_not_a_keras_model_is_one_error(tmp_path):
    from engine import from_keras
    from engine.errors import ModelFileError

    (tmp_path / "text.keras").write_text("hello")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as zf:
        zf.writestr("other.txt", "x")
    for name, words in (("text.keras", "not a Keras .keras file"),
                        ("empty.keras", "it has no config.json"), ("gone.keras", "no such file")):
        with pytest.raises(ModelFileError, match=words):
            from_keras(tmp_path / name)
