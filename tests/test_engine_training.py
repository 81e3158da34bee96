"""fit(): batches, validation, callbacks, early stopping, stopping, divergence,
determinism, dtypes, save/load."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine import Callback, EarlyStopping, Layer, ModelSpec, build, load


def regression_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.5, -2.0, 0.5]) + 0.3


def small_spec(**changes):
    base = dict(input_dim=3, layers=[Layer(8, "relu"), Layer(1)], loss="mse",
                optimizer="adam", learning_rate=0.01, metrics=["mae"])
    base.update(changes)
    return ModelSpec(**base)


class Recorder(Callback):
    """Records every event and the weights after each epoch; it asks for every batch
    in a way the compiled path honours too (engine.callbacks.Callback)."""

    batch_interval_s = 0.0

    def __init__(self):
        super().__init__()
        self.events, self.weights, self.batch_logs = [], [], []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.events.append(f"batch {batch}")
        self.batch_logs.append(dict(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end {epoch}")
        self.weights.append(self.model.get_weights())

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_history_uses_keras_keys_and_learns(fit_path):
    X, y = regression_data(200)
    model = build(small_spec(), seed=0)
    history = model.fit(X, y, epochs=30, batch_size=16, validation_split=0.25)
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history.epoch == list(range(30))
    assert all(len(v) == 30 for v in history.history.values())
    assert history.stop_reason == "completed" and history.stopped_epoch is None
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert model.history is history


def test_last_partial_batch_is_included_and_events_are_ordered(fit_path):
    X, y = regression_data(10)
    rec = Recorder()
    model = build(small_spec(), seed=0)
    model.fit(X, y, epochs=2, batch_size=4, callbacks=[rec])
    assert rec.params["steps"] == 3 and rec.params["samples"] == 10
    assert rec.events == ["train_begin",
                          "epoch_begin 0", "batch 0", "batch 1", "batch 2", "epoch_end 0",
                          "epoch_begin 1", "batch 0", "batch 1", "batch 2", "epoch_end 1",
                          "train_end"]
    assert model.optimizer.iterations == 6


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses(fit_path):
    """Batches of 4, 4 and 2 rows: the epoch loss weights each by its rows, as Keras does."""
    X, y = regression_data(10)
    model = build(small_spec(optimizer="sgd", learning_rate=1e-9), seed=0)  # weights ~fixed
    before = [model.evaluate(X[i:j], y[i:j])["loss"] for i, j in ((0, 4), (4, 8), (8, 10))]
    history = model.fit(X, y, epochs=1, batch_size=4, shuffle=False)
    expected = (4 * before[0] + 4 * before[1] + 2 * before[2]) / 10
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_validation_split_takes_the_last_rows_before_shuffling(fit_path):
    X, y = regression_data(10)
    model = build(small_spec(), seed=0)
    history = model.fit(X, y, epochs=3, batch_size=2, validation_split=0.3, shuffle=True)
    assert history.params["samples"] == 7 and history.params["validation_samples"] == 3
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(X[7:], y[7:])["loss"])


def test_validation_data_is_used_as_given(fit_path):
    X, y = regression_data(30)
    Xv, yv = regression_data(9, seed=1)
    model = build(small_spec(), seed=0)
    history = model.fit(X, y, epochs=2, validation_data=(Xv, yv))
    assert history.params["validation_samples"] == 9
    assert history.history["val_mae"][-1] == pytest.approx(model.evaluate(Xv, yv)["mae"])


def test_y_as_vector_or_column_gives_the_same_training(fit_path):
    X, y = regression_data(20)
    a = build(small_spec(), seed=1).fit(X, y, epochs=3).history
    b = build(small_spec(), seed=1).fit(X, y[:, None], epochs=3).history
    assert a == b


def test_same_seed_spec_and_data_give_an_identical_history(fit_path):
    X, y = regression_data(50)
    runs = []
    for _ in range(2):
        model = build(small_spec(), seed=42)
        h = model.fit(X, y, epochs=5, batch_size=8, validation_split=0.2)
        runs.append((h.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    other = build(small_spec(), seed=43).fit(X, y, epochs=5, batch_size=8, validation_split=0.2)
    assert other.history != runs[0][0]


def test_float32_by_default_and_float64_on_request():
    X, y = regression_data(8)
    m32 = build(small_spec(), seed=0)
    m64 = build(small_spec(dtype="float64"), seed=0)
    assert all(w.dtype == np.float32 for w in m32.get_weights())
    assert all(w.dtype == np.float64 for w in m64.get_weights())
    assert m32.predict(X).dtype == np.float32 and m64.predict(X).dtype == np.float64
    # same seed -> the same initial weights, up to float32 rounding
    for a, b in zip(m32.get_weights(), m64.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("loss,units,act,y_kind,expected", [
    ("binary_crossentropy", 1, "sigmoid", "binary", "binary"),
    ("categorical_crossentropy", 3, "softmax", "onehot", "categorical"),
    ("sparse_categorical_crossentropy", 3, "softmax", "labels", "sparse"),
])
def test_accuracy_kind_follows_the_loss(loss, units, act, y_kind, expected):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    labels = rng.integers(0, units if units > 1 else 2, size=30)
    y = {"binary": labels.astype(float), "onehot": np.eye(3)[labels], "labels": labels}[y_kind]
    model = build(ModelSpec(input_dim=2, layers=[Layer(units, act)], loss=loss,
                            metrics=["accuracy"]), seed=0)
    p = model.predict(X)
    if expected == "binary":
        want = np.mean((p[:, 0] > 0.5) == (labels == 1))
    else:
        want = np.mean(p.argmax(axis=1) == labels)
    assert model.evaluate(X, y)["accuracy"] == pytest.approx(want)


def test_binary_crossentropy_on_a_linear_output_clips_as_keras():
    X = np.array([[1.0], [2.0]])
    model = build(ModelSpec(input_dim=1, layers=[Layer(1, use_bias=False)],
                            loss="binary_crossentropy", dtype="float64"), seed=0)
    model.set_weights([np.array([[2.0]])])  # outputs 2 and 4: outside (0, 1)
    loss = model.evaluate(X, np.array([1.0, 0.0]))["loss"]
    p = 1 - 1e-7  # clipped
    assert loss == pytest.approx((-np.log(p) - np.log(1 - p)) / 2)
    assert np.isfinite(loss)


# -- early stopping --------------------------------------------------------------


class ScriptedValLoss(Callback):
    """Replaces val_loss in the shared logs with a scripted sequence (runs
    before EarlyStopping, which sees the same logs dict, as in Keras)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


class FakeModel:
    def __init__(self):
        self.weights, self.stop = 0, None

    def get_weights(self):
        return self.weights

    def set_weights(self, w):
        self.weights = w

    def request_stop(self, reason):
        self.stop = reason


def run_early_stopping(values, **kwargs):
    es = EarlyStopping(**kwargs)
    model = FakeModel()
    es.set_model(model)
    es.on_train_begin()
    for epoch, v in enumerate(values):
        model.weights = epoch
        es.on_epoch_end(epoch, {"val_loss": v, "val_accuracy": -v})
        if model.stop:
            break
    es.on_train_end()
    return es, model, epoch


@pytest.mark.parametrize("values,kwargs,stop_at,best", [
    ([0.5, 0.4, 0.45, 0.46, 0.3], {"patience": 2}, 3, 1),
    ([0.5, 0.4, 0.45, 0.46, 0.3], {"patience": 3}, None, 4),
    ([0.5, 0.4, 0.45, 0.2, 0.3, 0.31], {"patience": 0}, 2, 1),
    ([1.0, 0.99, 0.98, 0.97], {"patience": 1, "min_delta": 0.05}, 1, 0),
    ([1.0, 1.0, 1.0], {"patience": 1}, 1, 0),
    ([1.0, 0.9, 0.8, 0.85, 0.7], {"patience": 1, "monitor": "val_accuracy"}, 3, 2),
    ([0.5, 0.6, 0.7, 0.8], {"patience": 1, "start_from_epoch": 2}, 3, 2),
])
def test_early_stopping_on_scripted_sequences(values, kwargs, stop_at, best):
    es, model, last = run_early_stopping(values, **kwargs)
    if stop_at is None:
        assert model.stop is None and es.stopped_epoch == 0 and last == len(values) - 1
    else:
        assert model.stop == "early_stopped" and es.stopped_epoch == stop_at == last
    assert es.best_epoch == best


def test_restore_best_weights_sets_the_best_epochs_weights():
    es, model, _ = run_early_stopping([0.5, 0.3, 0.4, 0.45, 0.6], patience=2,
                                      restore_best_weights=True)
    assert es.best_epoch == 1 and model.weights == 1


def test_early_stopping_inside_fit_stops_and_restores(fit_path):
    X, y = regression_data(40)
    rec = Recorder()
    model = build(small_spec(), seed=0)
    es = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(X, y, epochs=20, validation_split=0.25,
                        callbacks=[ScriptedValLoss([0.9, 0.5, 0.7, 0.8, 0.1] + [0.0] * 20), es, rec])
    assert history.stop_reason == "early_stopped"
    assert history.epoch == [0, 1, 2, 3] and history.stopped_epoch == 3
    assert history.best_epoch == 1
    for got, best in zip(model.get_weights(), rec.weights[1]):
        np.testing.assert_array_equal(got, best)


def test_early_stopping_resets_between_fits(fit_path):
    X, y = regression_data(40)
    model = build(small_spec(), seed=0)
    es = EarlyStopping(patience=1)
    script = ScriptedValLoss([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert model.fit(X, y, epochs=6, validation_split=0.25, callbacks=[script, es]).epoch == [0, 1]
    assert model.fit(X, y, epochs=6, validation_split=0.25, callbacks=[script, es]).epoch == [0, 1]


# -- stopping and divergence ---------------------------------------------------------


def test_stop_training_from_a_callback_takes_effect_after_the_current_batch(fit_path):
    class StopAt(Callback):
        batch_interval_s = 0.0

        def on_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    X, y = regression_data(40)
    rec = Recorder()
    model = build(small_spec(), seed=0)
    history = model.fit(X, y, epochs=5, batch_size=4, callbacks=[StopAt(), rec])
    assert history.stop_reason == "stopped" and history.epoch == [0]
    assert [e for e in rec.events if e.startswith("batch")] == ["batch 0", "batch 1", "batch 2"]
    assert model.optimizer.iterations == 3
    assert rec.batch_logs[-1]["loss"] == pytest.approx(history.history["loss"][0])


def test_stop_from_another_thread_mid_epoch(fit_path):
    """A second thread sets stop_training while epoch 1 is at batch 5; training
    ends after that batch, keeping the partial epoch in the history."""
    reached = threading.Event()

    class Gate(Callback):
        batch_interval_s = 0.0

        def on_batch_end(self, batch, logs=None):
            if self.params and batch == 5 and len(self.model.history.epoch) == 1:
                reached.set()
                for _ in range(500):  # wait (bounded) for the other thread's stop
                    if self.model.stop_training:
                        break
                    threading.Event().wait(0.01)

    X, y = regression_data(64)
    model = build(small_spec(), seed=0)

    def stopper():
        assert reached.wait(30)
        model.stop_training = True

    t = threading.Thread(target=stopper)
    t.start()
    rec = Recorder()
    history = model.fit(X, y, epochs=10, batch_size=4, callbacks=[Gate(), rec])
    t.join(30)
    assert history.stop_reason == "stopped"
    assert history.epoch == [0, 1] and history.stopped_epoch == 1
    assert model.optimizer.iterations == 16 + 6


def test_a_huge_learning_rate_diverges_and_keeps_the_last_finite_weights(fit_path):
    X, y = regression_data(40)
    rec = Recorder()
    model = build(small_spec(optimizer="sgd", learning_rate=1e6), seed=0)
    initial = model.get_weights()
    history = model.fit(X, y, epochs=20, batch_size=8, callbacks=[rec])
    assert history.stop_reason == "diverged"
    assert all(np.isfinite(v) for vals in history.history.values() for v in vals)
    assert history.stopped_epoch == len(history.epoch)
    expected = rec.weights[-1] if rec.weights else initial
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(got, want)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_divergence_later_in_training_keeps_the_previous_epoch(fit_path):
    class Blow(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:  # make the next epoch's loss overflow
                self.model.set_weights([w * 1e30 for w in self.model.get_weights()])

    X, y = regression_data(40)
    rec = Recorder()
    model = build(small_spec(), seed=0)
    history = model.fit(X, y, epochs=10, callbacks=[rec, Blow()])
    assert history.stop_reason == "diverged" and history.epoch == [0, 1, 2]
    assert history.stopped_epoch == 3
    # the weights are those of the end of epoch 2 (after Blow scaled them: the
    # state the diverged epoch started from)
    assert all(np.isfinite(w).all() for w in model.get_weights())


# -- save / load -------------------------------------------------------------------


def test_save_load_resumes_exactly(tmp_path, fit_path):
    X, y = regression_data(30)
    straight = build(small_spec(), seed=5)
    straight.fit(X, y, epochs=3, batch_size=4)
    tail = straight.fit(X, y, epochs=3, batch_size=4)

    first = build(small_spec(), seed=5)
    first.fit(X, y, epochs=3, batch_size=4)
    first.save(tmp_path / "m.npz")
    resumed = load(tmp_path / "m.npz")
    assert resumed.spec == first.spec and resumed.optimizer.iterations == 3 * 8
    np.testing.assert_array_equal(resumed.predict(X), first.predict(X))
    again = resumed.fit(X, y, epochs=3, batch_size=4)
    assert again.history == tail.history
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_saved_file_opens_with_numpy_and_json(tmp_path):
    import json

    model = build(small_spec(), seed=0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        spec = json.loads(str(f["spec"]))
        meta = json.loads(str(f["meta"]))
        assert spec["layers"][0]["units"] == 8
        assert meta["format"] == "deepterm-numpy-model"
        np.testing.assert_array_equal(f["weight_0"], model.get_weights()[0])


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_loading_a_bad_file_is_a_value_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.npz"):
        load(path)
    with pytest.raises(ValueError, match="no such file"):
        load(tmp_path / "missing.npz")


def test_loading_a_damaged_or_newer_file_says_so(tmp_path):
    import json

    model = build(small_spec(), seed=0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        files = {k: f[k] for k in f.files}
    meta = json.loads(str(files["meta"]))
    meta["version"] = 99
    np.savez(tmp_path / "newer.npz", **{**files, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match="newer.npz: written by a newer deepterm"):
        load(tmp_path / "newer.npz")
    del files["weight_1"]
    np.savez(tmp_path / "damaged.npz", **files)
    with pytest.raises(ValueError, match="damaged.npz: damaged deepterm NumPy model file"):
        load(tmp_path / "damaged.npz")
