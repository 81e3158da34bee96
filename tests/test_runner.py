"""One recipe and one runner for every front end (engine.recipe, engine.runner): the
rules in one place, the same numbers on every executor, one stored record, and
`deepterm runs rerun` repeating a run wherever it was started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until

import datasets
from engine import runner
from engine.recipe import RunConfig, config_of, output_layer, prepare, split_index
from engine.store import RunStore
from engine.sweeps import configs_for, experiment_config, get_experiment

ROOT = Path(__file__).resolve().parent.parent


def _titanic(**changes) -> RunConfig:
    return RunConfig(dataset="titanic", hidden=((16, "relu"),), optimizer="adam",
                     learning_rate=0.01, epochs=4).with_changes(**changes)


def deepterm(*args: str, store) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DEEPTERM_STORE"}
    env["DEEPTERM_LOG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "tui", *args, "--store", str(store)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


# -- the rules, once ------------------------------------------------------------------------


def test_the_validation_cut_is_fits_and_standardizing_sees_only_the_training_rows():
    config = _titanic(validation_split=0.3)
    ds = datasets.load("titanic")
    data = prepare(config, ds)
    assert data.split_at == split_index(1309, 0.3) == 916
    train = data.X[:916].astype(np.float64)
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)   # fitted on these rows...
    whole = (ds.X - ds.X[:916].mean(axis=0)) / np.where(ds.X[:916].std(axis=0) > 1e-12,
                                                         ds.X[:916].std(axis=0), 1)
    np.testing.assert_allclose(data.X, whole, atol=1e-4)            # ...applied to every row
    assert data.preprocessing["kind"] == "standardize"


def test_standardize_none_follows_the_datasets_own_default():
    pixels = prepare(RunConfig(dataset="mnist", dataset_options={"n": 100}, output_units=10,
                               standardize=None))
    assert not pixels.standardized and pixels.X.max() == 1.0
    wages = prepare(RunConfig(dataset="wages", output_units=1, output_activation="linear",
                              loss="mse", metrics=("mae",), standardize=None))
    assert wages.standardized


def test_one_output_rule_and_one_monitor_rule():
    assert output_layer("regression", 0) == (1, "linear", "mse", ("mae",))
    assert output_layer("binary", 2) == (2, "softmax", "categorical_crossentropy", ("accuracy",))
    assert output_layer("binary", 2, "binary_crossentropy")[:2] == (1, "sigmoid")
    assert output_layer("multiclass", 10, "binary_crossentropy")[2] == "categorical_crossentropy"
    assert _titanic(validation_split=0.3).monitor == "val_loss"
    assert _titanic(validation_split=0).monitor == "loss"
    (stopper,) = _titanic(patience=2, validation_split=0).callbacks()
    assert stopper.monitor == "loss" and stopper.patience == 2


def test_a_config_round_trips_as_json_data():
    import json

    config = _titanic(label="lr=0.01", group="g", patience=3, momentum=0.0, standardize=None)
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# -- one runner, several executors, one record -------------------------------------------------


def test_thread_and_child_give_the_same_numbers_and_the_same_record(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    config = _titanic(epochs=3, seed=5)
    events: dict[str, list[str]] = {"thread": [], "child": []}
    runs = {how: runner.run(config, executor=how, store=store,
                            listener=lambda kind, args, how=how: events[how].append(kind))
            for how in ("thread", "child")}
    assert runs["thread"].history.history == runs["child"].history.history
    for a, b in zip(runs["thread"].model.get_weights(), runs["child"].model.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    for how, kinds in events.items():
        assert kinds[0] == "started" and kinds[-1] == "finished" and "epochs" in kinds, how
    stored = {r.id: r for r in store.list()}
    a, b = (store.get(runs[how].id) for how in ("thread", "child"))
    assert a.fit == b.fit and a.dataset == b.dataset and len(stored) == 2
    assert a.fit["recipe"] == config.to_dict() and a.fit["initial_weights"]
    assert a.history.history == runs["thread"].history.history


class _CountingStore(RunStore):
    """Counts the store's write transactions."""

    writes = 0

    def _db(self, write=False):
        if write:
            type(self).writes += 1
        return super()._db(write)


def test_epochs_reported_together_are_written_in_one_transaction(tmp_path):
    """A sweep's fast runs report dozens of epochs at once: writing each in its
    own transaction kept the store's lock so busy that another run of the sweep
    could not begin within the store's 10 s (StoreLocked, seen on CI)."""
    store = _CountingStore(tmp_path / "runs.db")
    run = runner.run(_titanic(epochs=40, batch_size=512), executor="thread", store=store,
                     batch_interval_s=60)          # the first epoch, then 39 in one report
    stored = store.get(run.id)
    assert stored.epochs_done == 40 and stored.history.history == run.history.history
    assert stored.best == run.best and stored.final == run.final
    # begin, the first epoch, the other 39 together, and the whole run at the end
    assert _CountingStore.writes == 4


def test_two_workers_give_the_histories_of_one():
    configs = configs_for(_titanic(epochs=3), "learning_rate", [0.001, 0.003, 0.01, 0.03], 10)
    one = runner.sweep(configs, workers=1)
    two = runner.sweep(configs, workers=2)
    assert [r.history.history for r in one] == [r.history.history for r in two]
    assert [r.label for r in two] == [c.label for c in configs]
    # every run of one shape started from the same weights
    assert len({r.fit["initial_weights"] for r in two}) == 1


def test_a_failed_run_does_not_hide_the_others(monkeypatch):
    configs = configs_for(_titanic(epochs=2), "units", [4, 8, 12], 10)
    broken = configs[1].with_changes(batch_size=0)          # fit refuses it
    outcomes: dict[int, object] = {}
    results = runner.sweep([configs[0], broken, configs[2]], workers=2,
                           on_run=lambda i, outcome: outcomes.__setitem__(i, outcome))
    assert results[0].status == results[2].status == "completed"
    assert isinstance(outcomes[1], ValueError) and "batch_size" in str(outcomes[1])


def test_an_experiment_is_a_sweep_of_configs():
    experiment = get_experiment("learning-rates")
    base = experiment_config(experiment, seed=0)
    assert base.standardize is False and base.epochs == 10 and base.validation_split == 0.3
    configs = configs_for(base, experiment.setting, experiment.values, 10)
    assert [c.learning_rate for c in configs] == [0.000001, 0.01, 1.0]
    assert [c.label for c in configs] == ["learning_rate=1e-06", "learning_rate=0.01",
                                          "learning_rate=1"]


# -- rerun ----------------------------------------------------------------------------------


def test_rerun_repeats_a_cli_run_and_a_sweep_run_number_for_number(tmp_path):
    store = tmp_path / "runs.db"
    trained = deepterm("train", "--dataset", "wages", "--layers", "8", "--epochs", "4", store=store)
    assert trained.returncode == 0, trained.stderr
    swept = deepterm("sweep", "--dataset", "circle", "--dataset-option", "n=120", "--layers", "6",
                     "--setting", "learning_rate", "--values", "0.01,0.1", "--epochs", "3",
                     "--no-chart", store=store)
    assert swept.returncode == 0, swept.stderr
    for run in RunStore(store).list():
        again = deepterm("runs", "rerun", run.id, store=store)
        assert again.returncode == 0, again.stderr
        assert f"the same history as run {run.id}, number for number" in again.stdout
    assert len(RunStore(store).list()) == 6


@run_async
async def test_rerun_repeats_a_run_started_from_the_app(tmp_path):
    from tui.app import DeeptermApp
    from tui.app.screens.training import TrainingScreen

    store = tmp_path / "runs.db"
    app = DeeptermApp(store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("1")          # wages: standardized, as the app does by default
        await pilot.pause(0.3)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen)
                         and app.screen.state == "finished", 60, "the run")
    (run,) = RunStore(store).list()
    assert run.fit["recipe"]["dataset"] == "wages" and run.fit["standardize"] is True
    again = deepterm("runs", "rerun", run.id, store=store)
    assert again.returncode == 0, again.stderr
    assert f"the same history as run {run.id}, number for number (30 epochs)" in again.stdout


def test_rerun_refuses_a_run_whose_csv_changed(tmp_path):
    path = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    rows = [f"{a:.3f},{b:.3f},{int(a + b > 0)}" for a, b in rng.normal(size=(60, 2))]
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    store = tmp_path / "runs.db"
    assert deepterm("train", "--dataset", str(path), "--epochs", "2", store=store).returncode == 0
    (run,) = RunStore(store).list()
    path.write_text(path.read_text().replace("0.1", "0.2"))
    again = deepterm("runs", "rerun", run.id, store=store)
    assert again.returncode == 1
    assert again.stderr.strip() == (f"Error: run {run.id} trained on {path}, which has changed "
                                    "since (its sha256 differs)")


def test_a_run_stored_before_recipes_is_rebuilt_from_its_record(tmp_path):
    """Runs written before this version have no recipe: their dataset, spec and fit
    settings rebuild it."""
    import engine
    from engine.recipe import RecipeError, check_repeatable
    from engine.sweeps import load_dataset

    store = RunStore(tmp_path / "runs.db")
    ds = load_dataset("circle", {"n": 80})          # records its load options, as the CLI did
    spec = _titanic().with_changes(dataset="circle", dataset_options={"n": 80}).spec(2)
    old = engine.train(spec, ds, store=store, epochs=3, validation_split=0.25)
    kept = store.get(old.id)
    assert "recipe" not in kept.fit
    config = config_of(kept)
    assert (config.dataset, config.dataset_options, config.standardize) == ("circle", {"n": 80},
                                                                            False)
    again = runner.run(config, executor="thread")
    assert again.history.history == old.history.history
    # a run whose load options went unrecorded is refused, not trained on other rows
    unrecorded = engine.train(spec, datasets.load("circle", n=80), epochs=1)
    plain = config_of(unrecorded)
    with pytest.raises(RecipeError, match="trained on 80 rows of circle; loaded as recorded it "
                                          "has 500"):
        check_repeatable(unrecorded, plain, prepare(plain))
    with pytest.raises(ValueError, match="arrays given in a script"):
        config_of(engine.train(spec, (ds.X, ds.targets_for(spec.loss)), epochs=1))


def test_build_returns_the_one_model_contract_on_each_backend():
    import engine
    from engine.model import Model

    spec = _titanic().spec(10)
    model = engine.build(spec, seed=0)
    assert isinstance(model, Model) and model.backend == "numpy" and model.device == "CPU"
    assert model.count_params() == spec.count_params() and model.metadata == {}
    model.request_stop("stopped")
    assert model.stop_training
    abstract = {"fit", "predict", "evaluate", "get_weights", "set_weights", "gradients", "save"}
    assert abstract <= Model.__abstractmethods__
    from engine.keras_backend import KerasModel  # imports no TensorFlow until built

    assert issubclass(KerasModel, Model) and KerasModel.backend == "keras"
