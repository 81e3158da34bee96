"""The Keras backend applies the NumPy backend's divergence rule
(engine.callbacks.Divergence): a loss that explodes and stays exploded stops as
diverged, a spike that recovers does not (issue #14, item 18)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _keras_helpers import data, spec_for  # noqa: E402
from test_reliability_engine import scripted_fit  # noqa: E402

import engine  # noqa: E402
from engine import build  # noqa: E402


def test_scripted_explosions_end_as_on_the_numpy_backend():
    for off, reason, epochs in ((None, "diverged", [0, 1, 2, 3]), (2, "completed", list(range(6)))):
        numpy_history, keras_history = scripted_fit("numpy", off), scripted_fit("keras", off)
        assert keras_history.stop_reason == numpy_history.stop_reason == reason
        assert keras_history.epoch == numpy_history.epoch == epochs
        assert keras_history.stopped_epoch == numpy_history.stopped_epoch
        np.testing.assert_allclose(keras_history.history["loss"], numpy_history.history["loss"],
                                   rtol=1e-4)


@pytest.mark.parametrize("loss,optimizer", [("mse", "rmsprop"), ("mse", "adagrad"),
                                            ("categorical_crossentropy", "adam")])
def test_a_loss_that_explodes_and_stays_exploded_diverges_on_keras(loss, optimizer):
    X, y = data(loss, n=64)
    model = build(spec_for(loss, optimizer, 1000.0, hidden=(16, "relu")), backend="keras", seed=0)
    start = model.evaluate(X, y)["loss"]
    history = model.fit(X, y, epochs=8, batch_size=8)
    assert history.stop_reason == "diverged" and history.stopped_epoch == 2
    assert history.epoch == [0, 1, 2]
    assert all(v > 1000 * start for v in history.history["loss"])


def test_the_courses_too_high_learning_rate_completes_on_keras():
    import datasets
    from engine.sweeps import EXPERIMENTS

    experiment = EXPERIMENTS["learning-rates"]
    (too_high,) = [v for v in experiment.variants() if v.value == 1.0]
    run = engine.train(too_high.spec, datasets.load("titanic"), backend="keras", seed=0,
                       **experiment.fit)
    loss = run.history.history["loss"]
    assert run.status == "completed" and len(loss) == 10
    assert loss[0] > 1000 and all(0.6 < v < 0.7 for v in loss[2:])
