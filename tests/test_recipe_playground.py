"""Playground's settings in the recipe (engine.recipe.RunConfig): feature crosses of
two-feature data, a synthetic set's noise, rows and seed, L1/L2 rates and dropout;
applied by prepare(), recorded with the run, repeated by `deepterm runs rerun`, on the
command line and in sweeps (the regularization and dropout rates are sweepable)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import datasets
from engine import L1L2, Dropout, FitError, Layer, runner
from engine.features import check_features, cross
from engine.recipe import RunConfig, config_of, prepare
from engine.store import RunStore
from engine.sweeps import SweepError, configs_for, parse_values

ROOT = Path(__file__).resolve().parent.parent


def deepterm(*args: str, store) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DEEPTERM_STORE"}
    env["DEEPTERM_LOG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "tui", *args, "--store", str(store)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


def _circle(**changes) -> RunConfig:
    return RunConfig(dataset="circle", dataset_options={"n": 200, "noise": 0.1, "seed": 4},
                     hidden=((4, "tanh"),), optimizer="sgd", learning_rate=0.1,
                     epochs=3, batch_size=10).for_dataset(datasets.load("circle")) \
        .with_changes(**changes)


# -- feature crosses ------------------------------------------------------------------------


def test_every_feature_cross_is_computed_from_x1_and_x2():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])
    got = cross(X, ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"])
    np.testing.assert_allclose(got, [[1, 2, 1, 4, 2, math.sin(1), math.sin(2)],
                                     [-0.5, 3, 0.25, 9, -1.5, math.sin(-0.5), math.sin(3)]],
                               rtol=1e-6)
    assert check_features("sin_x2, x1") == ("x1", "sin_x2")     # Playground's order, once each
    for bad, words in ((["x3"], "'x3' is not a feature"), ([], "choose at least one")):
        with pytest.raises(FitError, match=words):
            check_features(bad)


def test_prepare_crosses_before_the_cut_and_standardizes_on_the_training_rows():
    config = _circle(features=("x1^2", "x2^2", "x1x2"), validation_split=0.25)
    ds = datasets.load("circle", n=200, noise=0.1, seed=4)
    data = prepare(config, ds)
    assert data.spec.input_dim == 3 and data.features == ("x1^2", "x2^2", "x1x2")
    crossed = cross(ds.X, config.features).astype(np.float64)
    train = crossed[:150]
    expected = (crossed - train.mean(axis=0)) / train.std(axis=0)
    np.testing.assert_allclose(data.X, expected, rtol=1e-5, atol=1e-6)
    # the same transform turns points of the plane into the model's inputs
    np.testing.assert_allclose(data.inputs_for(ds.X), data.X, rtol=1e-6, atol=1e-6)
    assert data.preprocessing["feature_names"] == ["x₁²", "x₂²", "x₁x₂"]


def test_feature_crosses_need_two_features():
    config = RunConfig(dataset="wages", features=("x1", "x1^2"), output_units=1,
                       output_activation="linear", loss="mse", metrics=("mae",))
    with pytest.raises(FitError, match="feature crosses need data with two features"):
        prepare(config)


def test_the_synthetic_controls_are_the_sets_load_options():
    """Noise, rows and the data's seed travel as the catalog's load options, which the
    recipe records; the validation ratio is the recipe's validation_split."""
    quiet = prepare(_circle(dataset_options={"n": 300, "noise": 0.0, "seed": 1}))
    noisy = prepare(_circle(dataset_options={"n": 300, "noise": 0.5, "seed": 1}))
    other = prepare(_circle(dataset_options={"n": 300, "noise": 0.5, "seed": 2}))
    assert len(quiet.X) == len(noisy.X) == 300
    assert not np.array_equal(quiet.y, noisy.y) and not np.array_equal(noisy.X, other.X)
    record = _circle(dataset_options={"n": 300, "noise": 0.5, "seed": 2}).to_dict()
    assert record["dataset_options"] == {"n": 300, "noise": 0.5, "seed": 2}


# -- regularization and dropout in the recipe -------------------------------------------------


def test_the_recipe_regularizes_every_kernel_and_drops_after_each_hidden_layer():
    config = _circle(hidden=((8, "relu"), (6, "tanh")), l1=0.001, l2=0.01, dropout=0.2)
    spec = config.spec(2)
    assert spec.layers == (Layer(8, "relu", kernel_regularizer=L1L2(0.001, 0.01)), Dropout(0.2),
                           Layer(6, "tanh", kernel_regularizer=L1L2(0.001, 0.01)), Dropout(0.2),
                           Layer(2, "softmax", kernel_regularizer=L1L2(0.001, 0.01)))
    assert config.with_spec(spec) == config
    assert "L1 0.001, L2 0.01, dropout 0.2" in config.describe()
    plain = _circle()
    assert plain.spec(2).layers == (Layer(4, "tanh"), Layer(2, "softmax"))
    assert plain.describe() == ("circle: hidden 4, sgd lr=0.1, categorical_crossentropy, "
                                "3 epochs, batch 10")


def test_a_spec_a_recipe_cannot_describe_is_refused():
    spec = _circle(hidden=((8, "relu"), (6, "tanh"))).spec(2)
    uneven = spec.replace(layers=[spec.layers[0], Dropout(0.3), *spec.layers[1:]])
    with pytest.raises(FitError, match="one Dropout after each hidden layer"):
        _circle().with_spec(uneven)
    mixed = spec.replace(layers=[Layer(8, "relu", kernel_regularizer="l2"), *spec.layers[1:]])
    with pytest.raises(FitError, match="one regularizer on every layer's kernel"):
        _circle().with_spec(mixed)


def test_a_record_without_the_new_fields_loads_with_their_defaults():
    record = _circle().to_dict()
    for key in ("l1", "l2", "dropout", "features"):
        record.pop(key)
    record["written_by_a_newer_deepterm"] = 1
    config = RunConfig.from_dict(record)
    assert (config.l1, config.l2, config.dropout, config.features) == (0.0, 0.0, 0.0, None)
    again = RunConfig.from_dict(_circle(features=("x1", "x1x2")).to_dict())
    assert again.features == ("x1", "x1x2")


# -- sweeps -------------------------------------------------------------------------------------


def test_sweeps_over_l2_l1_and_dropout():
    base = _circle(hidden=((6, "tanh"), (6, "tanh")), dropout=0.1)
    configs = configs_for(base, "l2", "0, 0.01, 0.1", 2)
    assert [c.label for c in configs] == ["l2=0", "l2=0.01", "l2=0.1"]
    assert [c.l2 for c in configs] == [0.0, 0.01, 0.1] and {c.dropout for c in configs} == {0.1}
    assert configs[2].spec(2).dense_layers[0].kernel_regularizer == L1L2(0.0, 0.1)
    dropouts = configs_for(base, "dropout", "0, 0.5", 2)
    assert [c.dropout for c in dropouts] == [0.0, 0.5]
    assert sum(isinstance(layer, Dropout) for layer in dropouts[0].spec(2).layers) == 0
    depth = configs_for(base, "depth", "1, 3", 2)
    assert [len(c.hidden) for c in depth] == [1, 3] and {c.dropout for c in depth} == {0.1}
    for setting, text, words in (("l2", "0, -1", "from 0 to 10"), ("dropout", "0, 1", "below 1"),
                                 ("l1", "0.1, 0.1", "given twice")):
        with pytest.raises(SweepError, match=words):
            parse_values(setting, text)


def test_a_sweep_over_l2_rates_starts_every_run_from_the_same_weights_and_pays_its_penalty():
    base = _circle(hidden=((8, "tanh"),), epochs=2, optimizer="adam", learning_rate=0.01)
    runs = runner.sweep(configs_for(base, "l2", [0.0, 0.01, 0.1], 2), workers=1,
                        executor="thread")
    first = [run.history.history["loss"][0] for run in runs]
    assert first[0] < first[1] < first[2]      # the same start, a growing penalty
    assert len({run.fit["initial_weights"] for run in runs}) == 1


# -- the command line and rerun -----------------------------------------------------------------


def test_cli_trains_with_crosses_penalties_and_dropout_and_rerun_repeats_it(tmp_path):
    store = tmp_path / "runs.db"
    done = deepterm("train", "--dataset", "xor", "--dataset-option", "noise=0.3",
                    "--dataset-option", "n=120", "--dataset-option", "seed=9",
                    "--features", "x1,x2,x1x2,sin_x1", "--layers", "5", "--activation", "tanh",
                    "--l2", "0.01", "--l1", "0.001", "--dropout", "0.2", "--optimizer", "sgd",
                    "--momentum", "0.9", "--nesterov", "--epochs", "4", "--validation-split",
                    "0.25", store=store)
    assert done.returncode == 0, done.stderr
    assert "4 -> 5 tanh L1=0.001 L2=0.01 -> dropout 0.2 -> 2 softmax L1=0.001 L2=0.01" \
        in done.stdout
    (summary,) = RunStore(store).list()
    run = RunStore(store).get(summary.id)
    config = config_of(run)
    assert config.features == ("x1", "x2", "x1x2", "sin_x1")
    assert (config.l1, config.l2, config.dropout, config.momentum, config.nesterov) == \
        (0.001, 0.01, 0.2, 0.9, True)
    assert config.dataset_options == {"noise": 0.3, "n": 120, "seed": 9}
    shown = deepterm("runs", "show", run.id, store=store)
    assert "inputs x₁ x₂ x₁x₂ sin x₁" in shown.stdout
    again = deepterm("runs", "rerun", run.id, store=store)
    assert again.returncode == 0, again.stderr
    assert f"the same history as run {run.id}, number for number (4 epochs)" in again.stdout


@pytest.mark.parametrize("args, words", [
    (("--dataset", "xor", "--features", "x1,x3"), "'x3' is not a feature"),
    (("--dataset", "wages", "--features", "x1,x2"), "feature crosses need a dataset with two"),
    (("--dataset", "xor", "--dropout", "1"), "--dropout"),
    (("--dataset", "xor", "--l2", "-0.1"), "--l2"),
    (("--dataset", "xor", "--momentum", "0.9"), "apply to --optimizer sgd, not adam"),
])
def test_cli_refuses_bad_playground_settings_in_one_line(tmp_path, args, words):
    done = deepterm("train", *args, "--epochs", "1", "--no-store", store=tmp_path / "runs.db")
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_sweeps_l2_rates_on_spiral(tmp_path):
    done = deepterm("sweep", "--dataset", "spiral", "--layers", "6", "--activation", "tanh",
                    "--setting", "l2", "--values", "0,0.01,0.1", "--epochs", "2", "--workers",
                    "1", "--no-chart", store=tmp_path / "runs.db")
    assert done.returncode == 0, done.stderr
    for label in ("l2=0", "l2=0.01", "l2=0.1"):
        assert f"{label}: run " in done.stdout
    runs = RunStore(tmp_path / "runs.db").list()
    assert sorted(config_of(RunStore(tmp_path / "runs.db").get(r.id)).l2 for r in runs) == \
        [0.0, 0.01, 0.1]
