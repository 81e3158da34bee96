"""ModelSpec validation and round trips; bad input to fit/predict/evaluate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import ACTIVATIONS, LOSSES, OPTIMIZERS, Layer, ModelSpec, build
from engine.spec import INITIALIZERS

layers = st.builds(
    Layer,
    units=st.integers(1, 64),
    activation=st.sampled_from(ACTIVATIONS),
    use_bias=st.booleans(),
    kernel_initializer=st.sampled_from(INITIALIZERS),
    bias_initializer=st.sampled_from(INITIALIZERS),
)


@st.composite
def specs(draw):
    optimizer = draw(st.sampled_from(OPTIMIZERS))
    loss = draw(st.sampled_from(LOSSES))
    hidden = draw(st.lists(layers, max_size=4))
    out_units = draw(st.integers(2 if "categorical" in loss else 1, 10))
    out = Layer(out_units, draw(st.sampled_from(ACTIVATIONS)))
    sgd = optimizer == "sgd"
    return ModelSpec(
        input_dim=draw(st.integers(1, 100)),
        layers=hidden + [out],
        loss=loss,
        optimizer=optimizer,
        learning_rate=draw(st.none() | st.floats(1e-8, 10.0)),
        metrics=draw(st.lists(st.sampled_from(["accuracy", "mae", "mse"]), unique=True)),
        momentum=draw(st.floats(0, 0.99)) if sgd else 0.0,
        nesterov=draw(st.booleans()) if sgd else False,
        dtype=draw(st.sampled_from(["float32", "float64"])),
    )


@given(specs())
@settings(max_examples=150, deadline=None)
def test_spec_round_trips_through_dict_and_json(spec):
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert json.loads(spec.to_json()) == spec.to_dict()
    sizes = [spec.input_dim] + [layer.units for layer in spec.layers]
    assert spec.count_params() == sum(
        a * b + (b if layer.use_bias else 0) for a, b, layer in zip(sizes, sizes[1:], spec.layers))


@given(st.one_of(st.integers(max_value=0), st.floats(), st.text(), st.none(), st.booleans()))
def test_bad_units_name_the_field(units):
    if isinstance(units, int) and not isinstance(units, bool) and units >= 1:
        return
    with pytest.raises(ValueError, match="units"):
        Layer(units)


@given(st.one_of(st.floats(max_value=0), st.just(math.inf), st.just(math.nan), st.text(),
                 st.booleans()))
def test_bad_learning_rates_name_the_field(lr):
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        ModelSpec(input_dim=1, layers=[Layer(1)], learning_rate=lr)


@given(st.text().filter(lambda s: s not in ACTIVATIONS))
def test_unknown_activation_lists_the_accepted_ones(name):
    with pytest.raises(ValueError, match="activation must be one of 'linear', 'relu'"):
        Layer(3, name)


@pytest.mark.parametrize("kwargs,field", [
    ({"loss": "hinge"}, "loss must be one of 'mse', 'mae'"),
    ({"optimizer": "lion"}, "optimizer must be one of 'sgd', 'adam', 'rmsprop' or 'adagrad'"),
    ({"metrics": ["f1"]}, "metrics must be one of"),
    ({"metrics": "accuracy"}, "metrics must be a list"),
    ({"input_dim": 0}, "input_dim must be an integer >= 1"),
    ({"input_dim": 2.5}, "input_dim must be an integer >= 1"),
    ({"layers": []}, "layers must hold at least one Layer"),
    ({"layers": "relu"}, "layers must be a list"),
    ({"dtype": "float16"}, "dtype must be one of 'float32' or 'float64'"),
    ({"momentum": 1.5, "optimizer": "sgd"}, "momentum must be a number in"),
    ({"momentum": 0.9}, "momentum and nesterov apply to optimizer 'sgd' only"),
    ({"loss": "categorical_crossentropy"}, "needs an output layer of at least 2 units"),
])
def test_spec_errors_name_the_field_and_accepted_values(kwargs, field):
    base = {"input_dim": 2, "layers": [Layer(1)]}
    base.update(kwargs)
    with pytest.raises(ValueError, match=field):
        ModelSpec(**base)


def test_from_dict_rejects_unknown_and_missing_fields():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        ModelSpec.from_dict({"input_dim": 1, "layers": [{"units": 1}], "colour": "red"})
    with pytest.raises(ValueError, match="missing the field 'layers'"):
        ModelSpec.from_dict({"input_dim": 1})
    with pytest.raises(ValueError, match="cannot be read"):
        ModelSpec.from_json("{not json")


def test_aliases_are_normalised():
    spec = ModelSpec(input_dim=1, layers=[Layer(1)], loss="mean_squared_error", metrics=["acc"])
    assert spec.loss == "mse" and spec.metrics == ("accuracy",)


def test_build_rejects_unknown_backend_and_bad_seed():
    spec = ModelSpec(input_dim=1, layers=[Layer(1)])
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'keras'"):
        build(spec, backend="torch")
    with pytest.raises(ValueError, match="seed must be an integer"):
        build(spec, seed=-1)


# -- bad input to the model --------------------------------------------------------

SPEC = ModelSpec(input_dim=2, layers=[Layer(3, "relu"), Layer(1)], loss="mse")
X = np.ones((6, 2))
Y = np.ones(6)


@pytest.mark.parametrize("call,message", [
    (lambda m: m.fit(np.ones((6, 3)), Y), "X has 3 features .* input_dim is 2"),
    (lambda m: m.fit(np.ones(6), Y), "X must be 2-D"),
    (lambda m: m.fit(X, np.ones(5)), "y has 5 rows but X has 6"),
    (lambda m: m.fit(X, np.ones((6, 2))), r"y must have shape \(6, 1\)"),
    (lambda m: m.fit(X, Y, epochs=0), "epochs must be an integer >= 1"),
    (lambda m: m.fit(X, Y, epochs=2.5), "epochs must be an integer >= 1"),
    (lambda m: m.fit(X, Y, batch_size=0), "batch_size must be an integer >= 1"),
    (lambda m: m.fit(X, Y, validation_split=1.0), r"validation_split must be a number in \[0, 1\)"),
    (lambda m: m.fit(X, Y, validation_split=-0.1), r"validation_split must be a number in \[0, 1\)"),
    (lambda m: m.fit(X, Y, validation_split=0.9), "leaves 0 of 6 rows for training and 6"),
    (lambda m: m.fit(np.array([[1, np.nan]] * 6), Y), r"X contains NaN or infinity \(first at index 0, 1\)"),
    (lambda m: m.fit(np.array([[1, np.inf]] * 6), Y), "X contains NaN or infinity"),
    (lambda m: m.fit(X, np.array([1, 2, np.nan, 4, 5, 6])), "y contains NaN or infinity"),
    (lambda m: m.fit([["a", "b"]] * 6, Y), "X must hold numbers"),
    (lambda m: m.fit(X, Y, callbacks=[print]), "callbacks must be engine.Callback"),
    (lambda m: m.fit(X, Y, validation_data=X), r"validation_data must be a pair"),
    (lambda m: m.predict(np.ones((2, 5))), "X has 5 features"),
    (lambda m: m.evaluate(X, np.ones(2)), "y has 2 rows"),
    (lambda m: m.set_weights([np.ones(3)]), "set_weights needs 4 arrays"),
])
def test_bad_input_is_a_value_error_naming_the_field(call, message):
    model = build(SPEC, seed=0)
    with pytest.raises(ValueError, match=message):
        call(model)


@pytest.mark.parametrize("loss,units,act,y,message", [
    ("binary_crossentropy", 1, "sigmoid", np.array([0, 1, 2, 0, 1, 0]), r"values in \[0, 1\]"),
    ("categorical_crossentropy", 3, "softmax", np.array([0, 1, 2, 0, 1, 0]), "looks like class labels"),
    ("sparse_categorical_crossentropy", 3, "softmax", np.array([0, 1, 3, 0, 1, 0]), r"labels in 0\.\.2"),
    ("sparse_categorical_crossentropy", 3, "softmax", np.array([0, 1, 0.5, 0, 1, 0]), "integer class"),
    ("sparse_categorical_crossentropy", 3, "softmax", np.eye(3)[[0, 1, 2, 0, 1, 0]], "one-hot rows"),
])
def test_y_that_does_not_suit_the_loss(loss, units, act, y, message):
    model = build(ModelSpec(input_dim=2, layers=[Layer(units, act)], loss=loss), seed=0)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
