"""L1/L2 kernel regularizers and Dropout layers on the NumPy backend: the spec,
the numbers (checked against central finite differences in float64), model files,
and files and run stores written before they existed (tests/data, written by
deepterm at commit c4ac1f3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine import L1, L1L2, L2, Dropout, Layer, ModelSpec, Regularizer, SpecError, build

DATA = Path(__file__).resolve().parent / "data"


def _spec(layers, loss="mse", dtype="float64", **extra) -> ModelSpec:
    return ModelSpec(input_dim=3, layers=layers, loss=loss, optimizer="sgd", learning_rate=0.1,
                     dtype=dtype, **extra)


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)


# -- the spec -----------------------------------------------------------------------------


def test_keras_names_and_defaults():
    assert L1() == Regularizer(l1=0.01) and L2(0.3) == Regularizer(l2=0.3)
    assert L1L2(0.1, 0.2) == Regularizer(0.1, 0.2)
    assert Layer(4, kernel_regularizer="l2").kernel_regularizer == L2(0.01)
    assert Layer(4, kernel_regularizer={"l1": 0.5}).kernel_regularizer == L1(0.5)
    assert Layer(4, kernel_regularizer=L1L2(0.0, 0.0)).kernel_regularizer is None   # adds nothing


def test_a_spec_with_regularizers_and_dropout_round_trips_and_keeps_the_weight_layout():
    spec = _spec([Layer(5, "relu", kernel_regularizer=L1L2(0.01, 0.02)), Dropout(0.25),
                  Layer(4, "tanh"), Dropout(0.5), Dropout(0.2), Layer(1, kernel_regularizer=L2(1e-3))])
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert [type(layer).__name__ for layer in again.layers] == \
        ["Layer", "Dropout", "Layer", "Dropout", "Dropout", "Layer"]
    assert [layer.units for layer in spec.dense_layers] == [5, 4, 1]
    assert spec.layer_shapes() == [(3, 5), (5, 4), (4, 1)]
    assert spec.count_params() == 3 * 5 + 5 + 5 * 4 + 4 + 4 + 1
    assert spec.dropout_before() == pytest.approx((0.0, 0.25, 1 - 0.5 * 0.8))
    model = build(spec, seed=0)
    assert [w.shape for w in model.get_weights()] == [(3, 5), (5,), (5, 4), (4,), (4, 1), (1,)]


def test_a_layer_without_a_regularizer_is_written_as_before_they_existed():
    """The JSON of a plain spec is the same as deepterm wrote it at c4ac1f3 (read from the
    NumPy model file saved then): old readers and digests see no change."""
    with np.load(DATA / "model-c4ac1f3.npz") as old:
        written_then = json.loads(str(old["spec"]))
    assert ModelSpec.from_dict(written_then).to_dict() == written_then
    assert "kernel_regularizer" not in json.dumps(written_then)


@pytest.mark.parametrize("make, words", [
    (lambda: Layer(3, kernel_regularizer=L2(-0.1)), "kernel_regularizer l2 must be a finite number >= 0"),
    (lambda: Layer(3, kernel_regularizer=L1(float("nan"))), "kernel_regularizer l1 must be"),
    (lambda: Layer(3, kernel_regularizer="l3"), "kernel_regularizer must be None, 'l1', 'l2'"),
    (lambda: Layer(3, kernel_regularizer={"l2": 0.1, "l0": 1}), "unknown field(s) ['l0']"),
    (lambda: Dropout(1.0), "Dropout rate must be a finite number in [0, 1), got 1.0"),
    (lambda: Dropout(-0.1), "Dropout rate must be"),
    (lambda: _spec([Layer(3), Dropout(0.5)]), "layers must end with a Layer (the output layer)"),
    (lambda: _spec([{"type": "dropout", "rate": 0.1, "units": 3}, Layer(1)]),
     "a dropout layer has exactly the field 'rate'"),
])
def test_bad_regularizers_and_dropouts_name_the_field(make, words):
    with pytest.raises(SpecError) as err:
        make()
    assert words in str(err.value)


# -- the numbers ------------------------------------------------------------------------------


def _numeric_gradients(model, X, y, eps=1e-6):
    """Central differences of evaluate()'s loss (the mean loss plus the penalty)."""
    weights = model.get_weights()
    grads = []
    for w in weights:
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            keep = w[idx]
            w[idx] = keep + eps
            model.set_weights(weights)
            up = model.evaluate(X, y)["loss"]
            w[idx] = keep - eps
            model.set_weights(weights)
            down = model.evaluate(X, y)["loss"]
            w[idx] = keep
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    model.set_weights(weights)
    return grads


@pytest.mark.parametrize("reg", [L1(0.05), L2(0.3), L1L2(0.02, 0.1)], ids=["l1", "l2", "l1l2"])
def test_gradients_with_a_penalty_match_finite_differences(reg):
    spec = _spec([Layer(4, "tanh", kernel_regularizer=reg), Layer(1, kernel_regularizer=reg)])
    model = build(spec, seed=2)
    X, y = _data()
    analytic = model.gradients(X, y)
    numeric = _numeric_gradients(model, X, y)
    for a, b in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    plain = build(_spec([Layer(4, "tanh"), Layer(1)]), seed=2)
    # the penalty's part is there: each kernel's gradient differs by l1*sign(W) + 2*l2*W
    for i in (0, 2):
        w = model.get_weights()[i]
        np.testing.assert_allclose(analytic[i] - plain.gradients(X, y)[i],
                                   reg.l1 * np.sign(w) + 2 * reg.l2 * w, rtol=1e-9, atol=1e-12)


def test_evaluate_reports_the_mean_loss_plus_the_penalty():
    spec = _spec([Layer(4, "relu", kernel_regularizer=L2(0.5)), Layer(1, kernel_regularizer=L1(0.2))])
    model = build(spec, seed=4)
    X, y = _data()
    w = model.get_weights()
    mse = float(np.mean((model.predict(X)[:, 0] - y) ** 2))
    penalty = 0.5 * float((w[0] ** 2).sum()) + 0.2 * float(np.abs(w[2]).sum())
    assert model.penalty() == pytest.approx(penalty, rel=1e-12)
    assert model.evaluate(X, y)["loss"] == pytest.approx(mse + penalty, rel=1e-12)
    assert penalty > 0.1   # the penalty is a real share of the loss here


def test_one_epoch_reports_the_batch_weighted_mean_of_loss_plus_penalty_and_shrinks_weights():
    """fit's loss: each batch's mean loss plus the penalty at that batch's weights, averaged
    over the batches by their rows (Keras' loss tracker)."""
    spec = _spec([Layer(3, "linear", kernel_regularizer=L2(0.2)), Layer(1)])
    X, y = _data(n=10)
    model, twin = build(spec, seed=1), build(spec, seed=1)
    history = model.fit(X, y, epochs=1, batch_size=4, shuffle=False)
    expected, rows = 0.0, 0
    for lo in range(0, 10, 4):
        xb, yb = X[lo:lo + 4], y[lo:lo + 4]
        batch = twin.evaluate(xb, yb)["loss"]          # mean loss + penalty, before the step
        expected += batch * len(xb)
        rows += len(xb)
        grads = twin.gradients(xb, yb)
        twin.set_weights([w - 0.1 * g for w, g in zip(twin.get_weights(), grads)])
    assert history.history["loss"][0] == pytest.approx(expected / rows, rel=1e-12)
    np.testing.assert_allclose(model.get_weights()[0], twin.get_weights()[0], rtol=1e-12)


def test_dropout_passes_through_when_predicting_and_drops_while_training():
    spec = _spec([Layer(6, "relu"), Dropout(0.5), Layer(1)])
    plain = _spec([Layer(6, "relu"), Layer(1)])
    model, twin = build(spec, seed=3), build(plain, seed=3)
    X, y = _data(n=400)
    np.testing.assert_array_equal(model.predict(X), twin.predict(X))
    assert model.evaluate(X, y) == twin.evaluate(X, y)
    fwd = model.forward(X, training=True)
    mask = fwd.masks[1]
    assert fwd.masks[0] is None
    assert set(np.unique(mask)) == {0.0, 2.0}                  # dropped, or kept times 1/(1-0.5)
    assert 0.45 < float((mask == 0).mean()) < 0.55
    np.testing.assert_array_equal(fwd.inputs[1], fwd.a[0] * mask)
    # the shuffle order is the model's own generator's: dropout draws from another
    model.fit(X, y, epochs=2, batch_size=50)
    twin.fit(X, y, epochs=2, batch_size=50)
    assert model.rng.bit_generator.state == twin.rng.bit_generator.state


def test_gradients_through_a_fixed_dropout_mask_match_finite_differences():
    spec = _spec([Layer(4, "tanh"), Dropout(0.5), Layer(2, "sigmoid")], loss="binary_crossentropy")
    model = build(spec, seed=5)
    X, _ = _data(n=8)
    y = (np.random.default_rng(1).random((8, 2)) > 0.5).astype(float)
    mask = np.array([[2.0, 0, 2, 2], [0, 0, 2, 2], [2, 2, 0, 2], [2, 0, 0, 0],
                     [0, 2, 2, 2], [2, 2, 2, 0], [0, 0, 0, 2], [2, 2, 0, 0]])
    model.dropout_mask = lambda layer, shape, rate: mask
    analytic = model.gradients(X, y)

    masked = build(_spec([Layer(4, "tanh"), Layer(2, "sigmoid")], loss="binary_crossentropy"), seed=5)
    real_forward = masked.forward

    def forward(X_, fused=None, training=False):   # the same network, the mask built in
        fwd = real_forward(X_, fused)
        a = fwd.a[0] * mask
        z = a @ masked.kernels[1] + masked.biases[1]
        fwd.z[1], fwd.a[1] = z, 1 / (1 + np.exp(-z))
        return fwd
    masked.forward = forward
    numeric = _numeric_gradients(masked, X, y)
    for a, b in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    # the mask matters: without it the gradients differ
    assert not np.allclose(build(spec, seed=5).gradients(X, y)[2], analytic[2])


# -- files ----------------------------------------------------------------------------------------


def test_a_model_with_regularizers_and_dropout_saves_and_loads_and_trains_on_the_same(tmp_path):
    from engine import load

    spec = _spec([Layer(5, "relu", kernel_regularizer=L2(0.01)), Dropout(0.3), Layer(1)],
                 dtype="float32")
    X, y = _data(n=40)
    model = build(spec, seed=7)
    model.fit(X, y, epochs=2, batch_size=8)
    model.save(tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert again.spec == spec
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    # the dropout generator's state travels too: training on gives the same numbers
    h1 = model.fit(X, y, epochs=2, batch_size=8)
    h2 = again.fit(X, y, epochs=2, batch_size=8)
    assert h1.history == h2.history


def test_a_numpy_model_file_written_before_regularizers_still_loads():
    from engine import load

    model = load(DATA / "model-c4ac1f3.npz")
    assert model.spec.layers == (Layer(4, "tanh"), Layer(1, "sigmoid"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    np.testing.assert_array_equal(model.predict(X), np.load(DATA / "model-c4ac1f3.npz.predict.npy"))


def test_a_run_store_written_before_regularizers_still_lists_shows_and_reruns(tmp_path):
    from engine.recipe import config_of
    from engine.store import RunStore

    shutil.copy(DATA / "runs-c4ac1f3.db", tmp_path / "runs.db")
    store = RunStore(tmp_path / "runs.db")
    (summary,) = store.list()
    run = store.get(summary.id)
    assert run.spec.dense_layers == run.spec.layers and run.epochs_done == 3
    config = config_of(run)
    assert config.dataset == "xor" and config.hidden == ((4, "tanh"),)
    assert (config.l1, config.l2, config.dropout, config.features) == (0.0, 0.0, 0.0, None)
