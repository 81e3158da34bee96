"""Image layers in the run recipe (engine.recipe.RunConfig.conv): stored and read back,
old recipes unchanged, the ModelSpec built from mnist's image shape, the --layers
grammar (conv8x3,pool2,flatten,32), a CLI run rerun number for number, and sweeps
over the first conv layer's filters and kernel size. Small: a few hundred mnist rows,
one epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import datasets
from engine import Conv2D, FitError, Flatten, Layer, MaxPooling2D, ModelSpec, runner
from engine.recipe import (
    RunConfig,
    config_of,
    conv_entry,
    conv_layer,
    conv_word,
    pool_layer,
    prepare,
)
from engine.store import RunStore
from engine.sweeps import SweepError, configs_for, variants
from tui.cli.commands import _layers

ROOT = Path(__file__).resolve().parent.parent
MNIST = ["--dataset", "mnist", "--dataset-option", "n=200"]


def deepterm(*args: str, store) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DEEPTERM_STORE"}
    env["DEEPTERM_LOG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "tui", *args, "--store", str(store)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def _mnist(**changes) -> RunConfig:
    return RunConfig(dataset="mnist", dataset_options={"n": 200}, standardize=None,
                     conv=(conv_layer(4, 3), pool_layer(2)), hidden=((8, "relu"),),
                     optimizer="adam", learning_rate=0.01, epochs=1) \
        .for_dataset(datasets.load("mnist", n=200)).with_changes(**changes)


# -- the recipe -----------------------------------------------------------------------------


def test_a_cnn_recipe_round_trips_through_json_and_old_recipes_load_unchanged():
    config = _mnist(conv=(conv_layer(4, 3, "tanh", strides=2, padding="same"), pool_layer(2)))
    data = json.loads(json.dumps(config.to_dict()))
    assert data["conv"] == [["conv", 4, 3, 2, "same", "tanh"], ["pool", 2]]
    assert RunConfig.from_dict(data) == config
    old = RunConfig(dataset="wages", hidden=((8, "relu"),)).to_dict()
    del old["conv"]                                  # a recipe stored before image layers
    assert RunConfig.from_dict(old) == RunConfig(dataset="wages", hidden=((8, "relu"),))
    assert RunConfig.from_dict(old).conv == ()
    with pytest.raises(FitError, match="conv entries are"):
        RunConfig.from_dict({**data, "conv": [["conv", 4, 0, 1, "valid", "relu"]]})


def test_the_spec_takes_mnists_image_shape_and_with_spec_reads_it_back():
    config = _mnist()
    spec = config.spec(784)                          # the shape from the dataset it names
    assert spec.input_shape == (28, 28, 1)
    assert spec.layers == (Conv2D(4, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                           Layer(8, "relu"), Layer(10, "softmax"))
    assert config.spec(784, (28, 28)) == spec
    assert config.with_changes(conv=()).with_spec(spec) == config
    assert "hidden conv4x3-pool2-flatten-8" in config.describe()
    data = prepare(config)
    assert data.spec == spec and data.X.shape == (200, 784)


def test_conv_layers_on_data_without_images_are_one_value_error():
    config = _mnist(dataset="wages", dataset_options={}, output_units=1,
                    output_activation="linear", loss="mse", metrics=("mae",))
    with pytest.raises(ValueError, match="conv layers .* need image data; dataset 'wages' has "
                                         "no image shape"):
        config.spec(9)
    with pytest.raises(FitError, match="a RunConfig describes square Conv2D"):
        RunConfig().with_spec(ModelSpec(input_shape=(8, 8, 1), layers=[
            Conv2D(2, (3, 1)), Flatten(), Layer(2, "softmax")], loss="categorical_crossentropy"))


# -- the command line -----------------------------------------------------------------------


def test_the_layers_grammar():
    assert _layers(None, None, "conv8x3,pool2,flatten,64") == [
        ("conv", 8, 3, 1, "valid", "relu"), ("pool", 2), 64]
    assert _layers(None, None, "conv16x5s2same, conv4x3 ,pool3,32,16") == [
        ("conv", 16, 5, 2, "same", "relu"), ("conv", 4, 3, 1, "valid", "relu"), ("pool", 3),
        32, 16]
    assert _layers(None, None, "50,32") == [50, 32]
    assert _layers(None, None, "none") == []
    for bad, words in (("conv8x3,64,pool2", "pool2 comes after flatten or a dense size"),
                       ("64,flatten", "flatten goes once"),
                       ("conv8x3,flatten,flatten,8", "flatten goes once"),
                       ("flatten,8", "flatten comes after conv or pool"),
                       ("conv0x3,8", "whole numbers >= 1"), ("pool0", "whole numbers >= 1"),
                       ("conv8,8", "image layers go first"), ("conv8x3x3", "image layers go")):
        with pytest.raises(click.ClickException, match=words) as caught:
            _layers(None, None, bad)
        assert caught.value.exit_code == 2 and "\n" not in caught.value.format_message()


def test_the_grammar_words_are_read_in_one_place_for_the_cli_and_the_app():
    assert conv_entry("conv16x3") == conv_layer(16, 3)
    assert conv_entry(" CONV8x5s2same ", "tanh") == conv_layer(8, 5, "tanh", strides=2,
                                                               padding="same")
    assert conv_entry("pool3") == pool_layer(3)
    assert conv_entry("64") is None and conv_entry("conv8") is None
    assert all(conv_entry(conv_word(entry)) == entry
               for entry in (conv_layer(4, 3), conv_layer(8, 5, strides=2, padding="same"),
                             pool_layer(2)))
    with pytest.raises(ValueError, match="conv0x3: filters, kernel, stride and pool sizes"):
        conv_entry("conv0x3")


def test_a_cli_cnn_run_is_stored_and_rerun_number_for_number(tmp_path):
    store = tmp_path / "runs.db"
    trained = deepterm("train", *MNIST, "--layers", "conv4x3,pool2,flatten,8", "--epochs", "1",
                       store=store)
    assert trained.returncode == 0, trained.stderr
    assert "28x28x1 -> conv4x3 relu -> pool2 -> flatten -> 8 relu -> 10 softmax" in trained.stdout
    (run,) = RunStore(store).list()
    assert run.spec.input_shape == (28, 28, 1)
    assert config_of(run).conv == (("conv", 4, 3, 1, "valid", "relu"), ("pool", 2))
    again = deepterm("runs", "rerun", run.id, store=store)
    assert again.returncode == 0, again.stderr
    assert f"the same history as run {run.id}, number for number" in again.stdout
    bad = deepterm("train", "--dataset", "wages", "--layers", "conv4x3,8", "--no-store",
                   store=store)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == ("Error: --layers: conv and pool layers need image data; "
                                  "wages has no image shape (mnist has: 28x28)")


# -- sweeps -----------------------------------------------------------------------------------


def test_a_sweep_over_the_first_conv_layers_filters_and_kernel_size(tmp_path):
    base = _mnist(conv=(conv_layer(4, 3), pool_layer(2), conv_layer(2, 3)))
    filters = configs_for(base, "filters", "2, 4", 784)
    assert [c.conv[0] for c in filters] == [("conv", 2, 3, 1, "valid", "relu"),
                                            ("conv", 4, 3, 1, "valid", "relu")]
    assert all(c.conv[1:] == base.conv[1:] for c in filters)
    kernels = configs_for(base, "kernel_size", [3, 5], 784)
    assert [c.conv[0][2] for c in kernels] == [3, 5] and kernels[1].label == "kernel_size=5"
    with pytest.raises(SweepError, match="kernel_size value 40: layers\\[0\\]"):
        configs_for(base, "kernel_size", [3, 40], 784)
    with pytest.raises(SweepError, match="needs an image network with a Conv2D layer"):
        variants(ModelSpec(input_dim=2, layers=[Layer(2, "softmax")],
                           loss="categorical_crossentropy"), "filters", [2, 4])
    runs = runner.sweep(filters, workers=1, store=RunStore(tmp_path / "runs.db"))
    assert [r.status for r in runs] == ["completed", "completed"]
    assert [r.spec.layers[0].filters for r in runs] == [2, 4]
    assert runs[0].n_params < runs[1].n_params


def test_cli_sweep_over_filters(tmp_path):
    proc = deepterm("sweep", *MNIST, "--layers", "conv2x3,pool2,flatten,4", "--setting",
                    "filters", "--values", "2,3", "--epochs", "1", "--workers", "1",
                    "--no-chart", store=tmp_path / "runs.db")
    assert proc.returncode == 0, proc.stderr
    assert "2 runs over filters (2, 3)" in proc.stdout
    assert sorted(r.label for r in RunStore(tmp_path / "runs.db").list()) == ["filters=2",
                                                                             "filters=3"]
