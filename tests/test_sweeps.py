"""Sweeps: variants of each setting, identical initial weights, bad input,
the course's experiments and their comparison table."""

from __future__ import annotations

import numpy as np
import pytest
from _store_helpers import TinyDataset, tiny_spec

import engine
from engine import Callback, Layer, ModelSpec
from engine.history import History
from engine.runs import Run, weights_digest
from engine.store import RunStore
from engine.sweeps import (
    EXPERIMENTS,
    SETTINGS,
    SweepError,
    comparison_rows,
    parse_values,
    run_experiment,
    run_sweep,
    variants,
)


class InitialWeights(Callback):
    """Keeps the weights a run starts from."""

    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def _sweep(setting, values, **kw):
    seen = {}

    def callbacks_for(variant):
        seen[variant.label] = InitialWeights()
        return [seen[variant.label]]

    kw.setdefault("epochs", 3)
    kw.setdefault("validation_split", 0.25)
    runs = run_sweep(kw.pop("spec", tiny_spec(units=(6, 4))), TinyDataset(), setting, values,
                     callbacks_for=callbacks_for, **kw)
    return runs, seen


# -- identical initial weights ----------------------------------------------------------------


@pytest.mark.parametrize("setting,values", [("learning_rate", [0.001, 0.1, 1.0]),
                                            ("optimizer", ["sgd", "adam", "rmsprop"]),
                                            ("batch_size", [4, 16])])
def test_runs_of_one_shape_start_from_identical_weights_even_unseeded(setting, values):
    # seed=None: two builds would differ, so equality comes from the shared start
    runs, seen = _sweep(setting, values, seed=None)
    assert [r.label for r in runs] == [f"{setting}={v:g}" if isinstance(v, float)
                                       else f"{setting}={v}" for v in values]
    first = seen[runs[0].label].weights
    for run in runs[1:]:
        for a, b in zip(first, seen[run.label].weights, strict=True):
            np.testing.assert_array_equal(a, b)
    assert len({r.fit["initial_weights"] for r in runs}) == 1
    assert runs[0].fit["initial_weights"] == weights_digest(first)
    # ... and the runs did train differently
    assert len({round(r.final["loss"], 8) for r in runs}) == len(runs)


def test_runs_of_other_shapes_start_from_the_same_seed():
    runs, seen = _sweep("units", [3, 8], seed=5)
    for run in runs:
        expected = engine.build(run.spec, seed=5).get_weights()
        for a, b in zip(expected, seen[run.label].weights, strict=True):
            np.testing.assert_array_equal(a, b)
    assert runs[0].fit["initial_weights"] != runs[1].fit["initial_weights"]


def test_a_sweep_shares_one_group_and_its_runs_are_stored(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    runs, _ = _sweep("learning_rate", "0.01, 0.1", store=store, group="g1")
    assert {r.group for r in runs} == {"g1"}
    stored = store.list(group="g1")
    assert sorted(r.label for r in stored) == ["learning_rate=0.01", "learning_rate=0.1"]
    assert all(r.status == "completed" and r.epochs_done == 3 for r in stored)
    runs2, _ = _sweep("learning_rate", [0.01, 0.1], store=store)
    assert runs2[0].group == runs2[1].group != "g1" and runs2[0].group.startswith("sweep-")


def test_on_run_and_should_stop():
    done = []
    runs = run_sweep(tiny_spec(), TinyDataset(), "learning_rate", [0.1, 0.2, 0.3], epochs=1,
                     on_run=lambda v, r: done.append((v.value, r.id)),
                     should_stop=lambda: len(done) >= 2)
    assert [v for v, _ in done] == [0.1, 0.2]
    assert [r.id for r in runs] == [i for _, i in done]


# -- variants ----------------------------------------------------------------------------------


def test_variants_for_each_setting():
    spec = ModelSpec(input_dim=3, layers=[Layer(8, "tanh"), Layer(5, "relu"), Layer(1)],
                     loss="mse", optimizer="sgd", learning_rate=0.1, momentum=0.9)
    lr = variants(spec, "learning_rate", [1e-6, 1])
    assert [v.spec.learning_rate for v in lr] == [1e-6, 1.0] and lr[0].fit == {}
    assert [v.label for v in lr] == ["learning_rate=1e-06", "learning_rate=1"]
    units = variants(spec, "units", ["10", 100])
    assert [[lyr.units for lyr in v.spec.layers] for v in units] == [[10, 10, 1], [100, 100, 1]]
    assert [lyr.activation for lyr in units[0].spec.layers] == ["tanh", "relu", "linear"]
    depth = variants(spec, "depth", [1, 3])
    assert [[(lyr.units, lyr.activation) for lyr in v.spec.layers] for v in depth] == [
        [(8, "tanh"), (1, "linear")], [(8, "tanh")] * 3 + [(1, "linear")]]
    opt = variants(spec, "optimizer", ["sgd", "Adam"])
    assert [(v.spec.optimizer, v.spec.momentum) for v in opt] == [("sgd", 0.9), ("adam", 0.0)]
    batch = variants(spec, "batch_size", [16, 64])
    assert [v.fit for v in batch] == [{"batch_size": 16}, {"batch_size": 64}]
    assert all(v.spec == spec for v in batch)
    assert [v.spec.count_params() for v in depth] == [3 * 8 + 8 + 8 + 1, 41 + 2 * 72]


def test_a_batch_size_variant_trains_with_its_batch_size():
    runs, _ = _sweep("batch_size", [5, 30], batch_size=8)
    assert [r.fit["batch_size"] for r in runs] == [5, 30]
    assert [r.history.params["steps"] for r in runs] == [6, 1]


@pytest.mark.parametrize("setting,values,words", [
    ("momentum", [0.1, 0.2], ["setting", "'learning_rate'", "'batch_size'", "'momentum'"]),
    ("learning_rate", [0.1, -1], ["learning_rate", "-1", "> 0"]),
    ("learning_rate", "0.1, abc", ["learning_rate", "'abc'", "numbers"]),
    ("learning_rate", [0.1, float("nan")], ["learning_rate", "nan"]),
    ("learning_rate", "0.01, 20", ["learning_rate values must be at most 10, got '20'"]),
    ("learning_rate", [0.01, 10.5], ["learning_rate values must be at most 10, got 10.5"]),
    ("units", [10, 0], ["units", "1 to"]),
    ("units", [10, 2.5], ["units", "2.5", "whole"]),
    ("depth", [1, 0], ["depth", "1 to"]),
    ("optimizer", ["adam", "nadam"], ["optimizer", "'nadam'", "'sgd'"]),
    ("batch_size", [True, 4], ["batch_size", "True"]),
    ("learning_rate", [0.1], ["at least 2"]),
    ("learning_rate", [], ["at least 2"]),
    ("units", [1, 2, 1], ["units", "twice"]),
    ("units", list(range(1, 20)), ["at most"]),
    ("depth", 3, ["depth", "list"]),
])
def test_bad_settings_and_values_raise_sweep_error(setting, values, words):
    with pytest.raises(SweepError) as info:
        variants(tiny_spec(), setting, values)
    assert isinstance(info.value, ValueError)
    for word in words:
        assert word in str(info.value)


def test_units_and_depth_need_a_hidden_layer():
    spec = ModelSpec(input_dim=2, layers=[Layer(1, "sigmoid")], loss="binary_crossentropy")
    for setting in ("units", "depth"):
        with pytest.raises(SweepError, match=f"{setting} needs a spec with at least one hidden"):
            variants(spec, setting, [2, 3])
    assert len(variants(spec, "learning_rate", [0.1, 0.2])) == 2


def test_parse_values_reads_text():
    assert parse_values("learning_rate", "1e-6, 0.01 1") == (1e-6, 0.01, 1.0)
    assert parse_values("learning_rate", "1, 10") == (1.0, 10.0)     # 10 is the app's cap too
    assert parse_values("Batch-Size", "16,32") == (16, 32)
    assert parse_values("optimizer", " sgd , ADAM") == ("sgd", "adam")
    assert set(SETTINGS) == {"learning_rate", "units", "depth", "optimizer", "batch_size", "l1", "l2",
                             "dropout", "filters", "kernel_size"}
    assert parse_values("kernel_size", "3, 5") == (3, 5)


# -- the course's experiments -------------------------------------------------------------------


def test_the_three_experiments_give_their_tables(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    expected = {
        "learning-rates": [("learning_rate=1e-06", 11402), ("learning_rate=0.01", 11402),
                           ("learning_rate=1", 11402)],
        # 10-10-10-2: 10*10+10 + 10*10+10 + 10*2+2; 10-100-100-2: 1100 + 10100 + 202
        "width": [("units=10", 242), ("units=100", 11402)],
        # 10-50-2, 10-50-50-2, 10-50-50-50-2
        "depth": [("depth=1", 652), ("depth=2", 652 + 2550), ("depth=3", 652 + 2 * 2550)],
    }
    assert set(EXPERIMENTS) == set(expected)
    tables = {}
    for name, rows_expected in expected.items():
        runs = run_experiment(name, store=store)
        rows = comparison_rows(runs)
        tables[name] = rows
        assert [(r["label"], r["n_params"]) for r in rows] == rows_expected
        assert [r["value"] for r in rows] == list(EXPERIMENTS[name].values)
        for row, run in zip(rows, runs, strict=True):
            assert row["best_val_loss"] == min(run.history.history["val_loss"])
            assert row["final_loss"] == run.history.history["loss"][-1]
            assert row["best_epoch"] == int(np.argmin(run.history.history["val_loss"])) + 1
            assert row["stop_reason"] in ("completed", "early_stopped", "diverged")
        assert len(store.list(group=runs[0].group)) == len(runs)
    assert EXPERIMENTS["learning-rates"].spec.optimizer == "sgd"
    assert tables["learning-rates"][0]["epochs"] == EXPERIMENTS["learning-rates"].fit["epochs"]
    # the lesson: 1e-6 barely learns and 1 overshoots; 0.01 does best
    lr = {r["value"]: r["best_val_loss"] for r in tables["learning-rates"]}
    assert lr[0.01] < lr[1.0] < lr[1e-6]
    # early stopping is on for width and depth
    assert any(r["stop_reason"] == "early_stopped" for r in tables["width"] + tables["depth"])


def test_experiment_options_override_its_fit():
    runs = run_experiment("depth", epochs=2, patience=None)
    assert [r.epochs_done for r in runs] == [2, 2, 2]
    assert all(r.fit["validation_split"] == 0.4 for r in runs)
    assert runs[0].group.startswith("depth-")
    with pytest.raises(SweepError, match="experiment must be one of 'learning-rates'"):
        run_experiment("nope")


def test_comparison_rows_from_a_fixed_history():
    history = History({"epochs": 3})
    for e, (loss, val) in enumerate([(1.0, 0.9), (0.5, 0.7), (0.4, 0.8)]):
        history.append(e, {"loss": loss, "val_loss": val})
    run = Run(spec=tiny_spec(units=(32,)), dataset={"name": "x"}, fit={}, history=history,
              status="early_stopped", label="units=32")
    (row,) = comparison_rows([run])
    assert row == {"id": run.id, "label": "units=32", "value": 32, "n_params": 2 * 32 + 32 + 33,
                   "best_val_loss": 0.7, "best_loss": 0.4, "best_epoch": 2, "final_loss": 0.4,
                   "final_val_loss": 0.8, "epochs": 3, "stop_reason": "early_stopped"}
    spec = ModelSpec(input_dim=10, layers=[Layer(32, "relu"), Layer(2, "softmax")],
                     loss="categorical_crossentropy")
    assert comparison_rows([Run(spec=spec, dataset={}, fit={})])[0]["n_params"] == 418
