"""engine.EarlyStopping decides as Keras 3's EarlyStopping does: both are fed
the same scripted sequences of a monitored value, and the stop epoch, the best
epoch and the weights restored must agree (baseline, min_delta, patience,
start_from_epoch and both directions included)."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engine import EarlyStopping  # noqa: E402
from engine.keras_backend import _import_tf  # noqa: E402


class ScriptModel:
    """Stands in for a model: its 'weights' are the number of the current epoch."""

    def __init__(self) -> None:
        self.weights = -1
        self.stop_training = False
        self.stop_reason = None

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights

    def request_stop(self, reason):
        self.stop_training, self.stop_reason = True, reason


def drive(callback, values, monitor):
    """Feed ``values`` epoch by epoch as fit would; returns (last epoch run,
    stopped_epoch, best_epoch, weights at the end)."""
    model = ScriptModel()
    callback.set_model(model)
    callback.on_train_begin()
    epoch = -1
    for epoch, value in enumerate(values):
        model.weights = epoch
        callback.on_epoch_end(epoch, {monitor: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch, callback.stopped_epoch, callback.best_epoch, model.weights


def both(values, monitor="val_loss", **kwargs):
    _, keras = _import_tf()
    ours = drive(EarlyStopping(monitor=monitor, **kwargs), values, monitor)
    theirs = drive(keras.callbacks.EarlyStopping(monitor=monitor, **kwargs), values, monitor)
    return ours, theirs


@pytest.mark.parametrize("values,kwargs,expected", [
    # epochs that improve on each other without beating the baseline are each the
    # best so far (deepterm used to keep the baseline as best: it stopped in epoch 2
    # and restored epoch 0); the wait is not reset, so patience 3 stops in epoch 3
    ([0.9, 0.8, 0.7, 0.75, 0.72], {"baseline": 0.5, "patience": 3, "restore_best_weights": True},
     (3, 3, 2, 2)),
    ([0.9, 0.8, 0.85, 0.86], {"baseline": 0.5, "patience": 2, "restore_best_weights": True},
     (2, 2, 1, 1)),
    # the baseline is beaten in epoch 2: the wait starts again there
    ([0.9, 0.8, 0.4, 0.45, 0.46, 0.47], {"baseline": 0.5, "patience": 2,
                                         "restore_best_weights": True}, (4, 4, 2, 2)),
    # maximised: an accuracy that never reaches its baseline
    ([0.5, 0.6, 0.55, 0.58], {"monitor": "val_accuracy", "mode": "max", "baseline": 0.9,
                              "patience": 2, "restore_best_weights": True}, (2, 2, 1, 1)),
    # never beaten, but patience outlasts the run: no stop, the last (best) epoch kept
    ([0.9, 0.8, 0.7, 0.6, 0.55], {"baseline": 0.5, "patience": 4, "restore_best_weights": True},
     (4, 0, 4, 4)),
])
def test_baseline_decisions_match_keras(values, kwargs, expected):
    """(last epoch run, stopped_epoch, best_epoch, restored weights) agree with Keras."""
    ours, theirs = both(values, **kwargs)
    assert theirs == expected
    assert ours == theirs


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0]),
                    min_size=1, max_size=12),
    patience=st.integers(0, 4),
    min_delta=st.sampled_from([0.0, 0.05, 0.1]),
    baseline=st.sampled_from([None, 0.15, 0.3, 0.45, 0.7]),
    start_from_epoch=st.integers(0, 3),
    restore=st.booleans(),
    mode=st.sampled_from(["min", "max"]),
)
def test_every_scripted_sequence_decides_as_keras(values, patience, min_delta, baseline,
                                                  start_from_epoch, restore, mode):
    ours, theirs = both(values, patience=patience, min_delta=min_delta, baseline=baseline,
                        start_from_epoch=start_from_epoch, restore_best_weights=restore,
                        mode=mode)
    assert ours == theirs
