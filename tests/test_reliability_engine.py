"""Bad input to the library ends in one ValueError naming the field (issue #14,
item 19): unhashable names, models too large for memory, EarlyStopping's
arguments, callbacks that are not a list, NumPy integers as seeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import engine.callbacks
import engine.numpy_backend
import engine.spec
from engine import Callback, EarlyStopping, FitError, Layer, ModelSpec, SpecError, build

# -- names that cannot be hashed ------------------------------------------------------


@pytest.mark.parametrize("field,value,named", [
    ("loss", ["mse"], ["mse"]), ("loss", {"name": "mse"}, {"name": "mse"}),
    ("metrics", [[1]], [1]), ("metrics", [{"a": 1}], {"a": 1}), ("metrics", [["mae"]], ["mae"]),
])
def test_an_unhashable_name_is_a_spec_error_naming_its_field(field, value, named):
    """These raised TypeError: unhashable type (the alias lookup came first)."""
    with pytest.raises(SpecError) as info:
        ModelSpec(input_dim=2, layers=[Layer(1)], **{field: value})
    assert str(info.value) == f"{field} must be one of {engine.spec.choices(accepted[field])}, got {named!r}"


accepted = {"loss": engine.spec.LOSSES, "metrics": engine.spec.METRICS}


@settings(max_examples=60, deadline=None)
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=3), inner, max_size=2),
                          max_leaves=6),
       field=st.sampled_from(["loss", "optimizer", "dtype", "metrics"]))
def test_any_value_of_a_name_field_is_accepted_or_a_spec_error(value, field):
    if field == "metrics":
        value = [value]
    try:
        ModelSpec(input_dim=2, layers=[Layer(1)], **{field: value})
    except SpecError as exc:
        assert str(exc).startswith(field)


# -- models too large for memory ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "keras"])
@pytest.mark.parametrize("units,count,size", [(10**12, "11,000,000,000,001", "200 TiB"),
                                              (10**30, "1.1e+31", "1.91e+14 EiB")])
def test_a_model_too_large_for_memory_is_refused_saying_its_size(units, count, size, backend):
    """Layer(10**12) raised MemoryError, Layer(10**30) numpy's bare 'Maximum allowed
    dimension exceeded'. The Keras backend checks before it imports TensorFlow."""
    spec = ModelSpec(input_dim=9, layers=[Layer(units, "relu"), Layer(1)])
    with pytest.raises(SpecError) as info:
        build(spec, backend=backend, seed=0)
    message = str(info.value)
    assert message.startswith(f"layers: this network has {count} weights; training it takes at "
                              f"least {size} (weights, gradients and the adam optimizer's state "
                              f"in float32), more than the ")
    assert message.endswith(" of memory available; use fewer or smaller layers")


def test_the_size_check_comes_before_any_allocation(monkeypatch):
    """With 1 MiB available, a 263,169-weight adam model (5 float32 arrays: 5.02 MiB)
    is refused before its arrays are allocated; a small one is built."""
    monkeypatch.setattr(engine.spec, "available_memory", lambda: 1 << 20)

    def no_allocation(self, spec):
        raise AssertionError("allocated before the size check")

    with monkeypatch.context() as patched:
        patched.setattr(engine.numpy_backend.NumpyModel, "_allocate", no_allocation)
        with pytest.raises(SpecError, match=r"263,169 weights; training it takes at least "
                                            r"5.02 MiB .* more than the 1 MiB of memory available"):
            build(ModelSpec(input_dim=512, layers=[Layer(512), Layer(1)]), seed=0)
    assert build(ModelSpec(input_dim=8, layers=[Layer(8), Layer(1)]), seed=0).count_params() == 81


def test_an_allocation_that_fails_anyway_is_a_spec_error(monkeypatch):
    def out_of_memory(self, spec):
        raise MemoryError("Unable to allocate 1.00 GiB")

    monkeypatch.setattr(engine.numpy_backend.NumpyModel, "_allocate", out_of_memory)
    with pytest.raises(SpecError) as info:
        build(ModelSpec(input_dim=8, layers=[Layer(8), Layer(1)]), seed=0)
    assert str(info.value) == ("layers: this network has 81 weights; the 1.58 KiB training takes "
                               "could not be allocated (MemoryError: Unable to allocate 1.00 GiB); "
                               "use fewer or smaller layers")


def test_memory_needed_counts_weights_gradients_and_the_optimizers_arrays():
    spec = ModelSpec(input_dim=9, layers=[Layer(10), Layer(1)])     # 111 weights
    assert spec.count_params() == 111
    assert spec.training_bytes() == 111 * 4 * 5                      # adam: m, v, scratch
    assert spec.replace(optimizer="sgd").training_bytes() == 111 * 4 * 2
    assert spec.replace(optimizer="sgd", momentum=0.9).training_bytes() == 111 * 4 * 3
    assert spec.replace(optimizer="rmsprop", dtype="float64").training_bytes() == 111 * 8 * 4


# -- EarlyStopping ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,field", [
    ({"baseline": "x"}, "baseline"), ({"baseline": float("nan")}, "baseline"),
    ({"baseline": True}, "baseline"), ({"baseline": [0.5]}, "baseline"),
    ({"restore_best_weights": "no"}, "restore_best_weights"),
    ({"restore_best_weights": 1}, "restore_best_weights"),
    ({"patience": 1.5}, "patience"), ({"min_delta": "0.1"}, "min_delta"),
])
def test_early_stopping_refuses_a_bad_argument_naming_it(kwargs, field):
    with pytest.raises(ValueError) as info:
        EarlyStopping(**kwargs)
    assert str(info.value).startswith(f"{field} must be ")


def test_early_stopping_takes_numpy_numbers():
    es = EarlyStopping(patience=np.int64(2), start_from_epoch=np.int32(1),
                       min_delta=np.float32(0.25), baseline=np.float64(0.5),
                       restore_best_weights=np.bool_(True))
    assert (es.patience, es.start_from_epoch, es.min_delta, es.baseline) == (2, 1, 0.25, 0.5)
    assert type(es.patience) is int and type(es.baseline) is float
    assert es.restore_best_weights is True


@pytest.mark.parametrize("callbacks,got", [(EarlyStopping(), "EarlyStopping"), (5, "int"),
                                           ("abc", "str")])
def test_callbacks_that_are_not_a_list_are_a_fit_error(callbacks, got):
    model = build(ModelSpec(input_dim=2, layers=[Layer(1)]), seed=0)
    with pytest.raises(FitError) as info:
        model.fit(np.zeros((4, 2)), np.zeros(4), epochs=1, callbacks=callbacks)
    assert str(info.value) == (f"callbacks must be a list of engine.Callback objects, got {got}"
                               + (" (pass callbacks=[EarlyStopping(...)])"
                                  if got == "EarlyStopping" else ""))


# -- seeds ----------------------------------------------------------------------------------


def test_a_numpy_integer_seed_builds_the_same_model_as_the_int():
    spec = ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(1)])
    model = build(spec, seed=np.int64(3))
    assert model.seed == 3 and type(model.seed) is int
    for a, b in zip(model.get_weights(), build(spec, seed=3).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [-1, 1.0, True, "3", np.float64(3), np.int64(-2)])
def test_a_bad_seed_is_a_spec_error(seed):
    with pytest.raises(SpecError, match=r"^seed must be an integer >= 0 or None, got "):
        build(ModelSpec(input_dim=2, layers=[Layer(1)]), seed=seed)


def test_a_seed_beyond_int64_is_refused():
    """A run store keeps seeds as SQLite INTEGERs (and Keras seeds are int64)."""
    build(ModelSpec(input_dim=2, layers=[Layer(1)]), seed=2**63 - 1)
    with pytest.raises(SpecError, match=r"^seed must be an integer >= 0 or None, at most 2\*\*63 - 1"):
        build(ModelSpec(input_dim=2, layers=[Layer(1)]), seed=2**63)


# -- divergence (item 18) ------------------------------------------------------------------------


def _regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.5, -2.0, 0.5]) + 0.3


@settings(max_examples=200, deadline=None)
@given(start=st.floats(0, 1e6), ratios=st.lists(st.sampled_from([0.5, 10.0, 999.0, 1001.0, 1e30]),
                                               max_size=12))
def test_divergence_is_three_exploded_epochs_in_a_row(start, ratios):
    """The rule on any sequence: diverged at the first epoch that ends three epochs
    in a row above max(1000 * starting loss, 1); never before, never otherwise."""
    losses = [max(start, 1e-3) * r for r in ratios]
    limit = max(1000 * start, 1.0)
    expected = [i >= 2 and all(x > limit for x in losses[i - 2:i + 1])
                for i in range(len(losses))]
    rule = engine.callbacks.Divergence(start)
    assert [rule.epoch_end(loss) for loss in losses] == expected
    # measured when first needed: the same verdicts, measured once a loss is past 1
    measured = []
    rule = engine.callbacks.Divergence(lambda: measured.append(start) or start)
    assert [rule.epoch_end(loss) for loss in losses] == expected
    assert len(measured) == (1 if any(x > 1.0 for x in losses) else 0)


def test_divergence_without_a_usable_starting_loss_never_explodes():
    for start in (None, float("nan"), float("inf")):
        rule = engine.callbacks.Divergence(start)
        assert not any(rule.epoch_end(1e300) for _ in range(10))


@pytest.mark.parametrize("loss,optimizer", [
    ("mse", "rmsprop"), ("mse", "adagrad"), ("mse", "adam"), ("mae", "rmsprop"), ("mae", "adam"),
    ("categorical_crossentropy", "adam"), ("sparse_categorical_crossentropy", "rmsprop"),
    ("binary_crossentropy", "adam"),
])
def test_a_loss_that_explodes_and_stays_exploded_diverges(loss, optimizer):
    """These ended 'completed' at losses of 1e5 to 1e28 (lr=1000; NumPy backend)."""
    from _keras_helpers import data, spec_for

    X, y = data(loss, n=64)
    model = build(spec_for(loss, optimizer, 1000.0, hidden=(16, "relu")), seed=0)
    start = model.evaluate(X, y)["loss"]
    history = model.fit(X, y, epochs=8, batch_size=8)
    assert history.stop_reason == "diverged"
    assert history.epoch == [0, 1, 2] and history.stopped_epoch == 2
    assert all(v > 1000 * start for v in history.history["loss"])
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_the_courses_too_high_learning_rate_spikes_recovers_and_completes():
    """The course's lr=1 (SGD, 100-100 relu, Titanic unscaled): the first epoch's loss
    is far above 1000 times the start, the rest are near 0.67 - a curve to compare."""
    import datasets
    from engine.sweeps import EXPERIMENTS

    experiment = EXPERIMENTS["learning-rates"]
    (too_high,) = [v for v in experiment.variants() if v.value == 1.0]
    dataset = datasets.load("titanic")
    for seed in (0, 2):
        run = engine.train(too_high.spec, dataset, seed=seed, **experiment.fit)
        loss = run.history.history["loss"]
        start = engine.build(too_high.spec, seed=seed).evaluate(
            dataset.X[:916], np.eye(2)[dataset.y[:916]])["loss"]
        assert run.status == "completed" and len(loss) == 10
        assert loss[0] > 1000 * start
        assert all(0.6 < v < 0.7 for v in loss[2:])


class Offset(Callback):
    """Adds ``offset`` to the output bias at the end of epoch ``on`` and takes it
    away again at the end of epoch ``off``: a scripted explosion (SGD at lr=1e-12
    leaves the weights as they are)."""

    def __init__(self, offset, on, off=None):
        super().__init__()
        self.offset, self.on, self.off = offset, on, off

    def on_epoch_end(self, epoch, logs=None):
        if epoch in (self.on, self.off):
            weights = self.model.get_weights()
            weights[-1] = weights[-1] + (self.offset if epoch == self.on else -self.offset)
            self.model.set_weights(weights)


def scripted_fit(backend, off):
    spec = ModelSpec(input_dim=3, layers=[Layer(8, "relu"), Layer(1)], loss="mse",
                     optimizer="sgd", learning_rate=1e-12)
    X, y = _regression()
    model = build(spec, backend=backend, seed=0)
    return model.fit(X, y, epochs=6, batch_size=8, callbacks=[Offset(1e4, 0, off)])


def test_three_exploded_epochs_diverge_and_two_do_not():
    """Epochs 1-3 at a loss near 1e8 (start about 10): diverged after epoch 3, those
    epochs recorded; epochs 1-2 only, then back: completed, all 6 epochs."""
    exploded = scripted_fit("numpy", None)
    assert exploded.stop_reason == "diverged"
    assert exploded.epoch == [0, 1, 2, 3] and exploded.stopped_epoch == 3
    assert all(v > 9e7 for v in exploded.history["loss"][1:])
    recovered = scripted_fit("numpy", 2)
    assert recovered.stop_reason == "completed" and recovered.epoch == [0, 1, 2, 3, 4, 5]
    assert recovered.history["loss"][1] > 9e7 and recovered.history["loss"][3] < 100


def test_divergence_wins_over_early_stopping_in_the_same_epoch():
    """Epoch 3 is both the third exploded epoch and the third without improvement."""
    spec = ModelSpec(input_dim=3, layers=[Layer(8, "relu"), Layer(1)], loss="mse",
                     optimizer="sgd", learning_rate=1e-12)
    X, y = _regression()
    history = build(spec, seed=0).fit(X, y, epochs=6, batch_size=8,
                                      callbacks=[Offset(1e4, 0), EarlyStopping("loss", patience=3)])
    assert history.stop_reason == "diverged" and history.stopped_epoch == 3
