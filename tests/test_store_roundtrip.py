"""The run store keeps every field of a run and gives it back unchanged."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from _store_helpers import TinyDataset, tiny_spec

import engine
from engine.callbacks import Callback
from engine.runs import Run
from engine.store import ENV_VAR, RunNotFound, RunStore, StoreError, default_store_path


def _train(store, **kw):
    kw.setdefault("epochs", 4)
    kw.setdefault("validation_split", 0.25)
    return engine.train(tiny_spec(), TinyDataset(), seed=1, store=store, **kw)


def test_a_trained_run_reads_back_with_every_field(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = _train(store, batch_size=8, patience=10)
    back = store.get(run.id)
    assert back.status == run.status == "completed"
    assert back.stop_reason == "completed"
    assert back.spec == run.spec
    assert back.history.epoch == [0, 1, 2, 3]
    assert back.history.history == run.history.history
    assert set(back.history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert back.fit["batch_size"] == 8 and back.fit["patience"] == 10
    assert back.fit["validation_split"] == 0.25
    assert back.dataset["name"] == "tiny" and back.dataset["rows"] == 40
    assert back.dataset["features"] == ["x1", "x2"]
    assert back.backend == "numpy" and back.device == "CPU" and back.seed == 1
    assert back.n_params == 2 * 6 + 6 + 6 + 1 == 25
    assert back.final == run.final and back.best == run.best
    assert back.best["val_loss"] == min(run.history.history["val_loss"])
    assert back.duration_s == pytest.approx(run.duration_s)
    assert back.best_epoch == run.best_epoch
    assert [r.id for r in store.list()] == [run.id]


def test_weights_are_kept_on_request_only(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    plain = _train(store)
    kept = _train(store, save_weights=True)
    assert store.weights(plain.id) is None
    got = store.get(kept.id, weights=True).weights
    want = kept.model.get_weights()
    assert len(got) == len(want) == 4
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_run_save_writes_an_in_memory_run(tmp_path):
    run = _train(None)
    assert run.model is not None
    run.save(RunStore(tmp_path / "runs.db"), weights=True)
    back = RunStore(tmp_path / "runs.db").get(run.id, weights=True)
    assert back.history.history == run.history.history
    np.testing.assert_array_equal(back.weights[0], run.model.get_weights()[0])


def test_ids_resolve_by_unique_prefix_and_unknown_ids_say_so(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = _train(store)
    assert store.get(run.id[:3]).id == run.id
    with pytest.raises(RunNotFound, match="no run 'zzz'") as err:
        store.get("zzz")
    assert isinstance(err.value, ValueError)
    with pytest.raises(RunNotFound):
        store.delete("zzz")
    assert len(store) == 1


def test_delete_removes_the_run_and_its_epochs(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    a, b = _train(store), _train(store)
    assert store.delete(a.id[:6]) == a.id
    assert [r.id for r in store.list()] == [b.id]
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        left = conn.execute("SELECT DISTINCT run_id FROM epochs").fetchall()
    assert left == [(b.id,)]


def test_list_filters_and_orders_newest_first(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    first = _train(store, group="g1")
    second = _train(store)
    assert [r.id for r in store.list()] == [second.id, first.id]
    assert [r.id for r in store.list(group="g1")] == [first.id]
    assert store.list(dataset="other") == []
    assert len(store.list(status="completed")) == 2


def test_csv_export_has_keras_csvlogger_layout(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = _train(store)
    out = tmp_path / "run.csv"
    text = store.export(run.id, out)
    assert out.read_text() == text.replace("\r\n", "\n") or out.read_bytes() == text.encode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert float(rows[2][2]) == run.history.history["loss"][1]


def test_csv_export_without_validation_writes_na_columns_like_csvlogger(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = _train(store, validation_split=0.0, epochs=2)
    rows = list(csv.reader(io.StringIO(store.export(run.id))))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert rows[1][3:] == ["NA", "NA"]


def test_json_export_round_trips(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = _train(store)
    data = json.loads(store.export(run.id, format="json"))
    assert data["id"] == run.id and data["status"] == "completed"
    assert data["n_params"] == 25 and data["best"]["val_loss"] == run.best["val_loss"]
    back = Run.from_dict(data)
    assert back.history.history == run.history.history and back.spec == run.spec
    with pytest.raises(StoreError, match="'csv' or 'json'"):
        store.export(run.id, format="xml")


def test_store_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere.db"))
    assert default_store_path() == tmp_path / "elsewhere.db"
    assert RunStore().path == tmp_path / "elsewhere.db"
    monkeypatch.delenv(ENV_VAR)
    assert default_store_path().name == "runs.db"
    assert "deepterm" in str(default_store_path())


class _Boom(Callback):
    def __init__(self, at, exc):
        super().__init__()
        self.at, self.exc = at, exc

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise self.exc


def test_ctrl_c_inside_training_keeps_the_run_as_stopped(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    with pytest.raises(KeyboardInterrupt):
        _train(store, epochs=50, callbacks=[_Boom(2, KeyboardInterrupt())])
    (run,) = store.list()
    assert run.status == "stopped"
    assert run.history.epoch == [0, 1, 2]


def test_a_failure_inside_training_is_kept_as_failed_and_raised(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    with pytest.raises(RuntimeError, match="sensor"):
        _train(store, epochs=50, callbacks=[_Boom(1, RuntimeError("sensor"))])
    (run,) = store.list()
    assert run.status == "failed" and "sensor" in run.error
    assert len(run.history) == 2


def test_bad_fit_arguments_raise_and_keep_nothing(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    with pytest.raises(ValueError, match="validation_split"):
        _train(store, validation_split=1.5)
    with pytest.raises(ValueError, match="unknown fit setting"):
        _train(store, epocs=3)
    assert store.list() == []
