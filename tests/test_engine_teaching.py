"""The teaching view: every weighted sum, value, slope and gradient of a small
network, from the same code that trains."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Layer, ModelSpec, backward_trace, build, forward_trace


def course_network(hidden="relu"):
    """Inputs (accounts, children) -> node_0 [2, 4], node_1 [4, -5] -> output [2, 7]."""
    spec = ModelSpec(input_dim=2, layers=[Layer(2, hidden, use_bias=False),
                                          Layer(1, "linear", use_bias=False)], dtype="float64")
    model = build(spec, seed=0)
    model.set_weights([np.array([[2.0, 4.0], [4.0, -5.0]]).T, np.array([[2.0], [7.0]])])
    return model


def test_forward_trace_of_the_course_network():
    x = np.array([3.0, 5.0])
    ident = forward_trace(course_network("linear"), x)
    np.testing.assert_array_equal(ident.layers[0].weighted_sums, [2 * 3 + 4 * 5, 4 * 3 - 5 * 5])
    np.testing.assert_array_equal(ident.layers[0].values, [26, -13])
    assert ident.prediction[0] == 2 * 26 + 7 * -13
    relu = forward_trace(course_network("relu"), x)
    np.testing.assert_array_equal(relu.layers[0].values, [26, 0])
    assert relu.prediction[0] == 52
    np.testing.assert_array_equal(relu.layers[1].inputs, [26, 0])
    np.testing.assert_array_equal(relu.layers[0].kernel, [[2, 4], [4, -5]])


def test_forward_trace_keeps_rows():
    rows = np.array([[3, 5], [1, -1], [0, 0], [8, 4]], dtype=float)
    trace = forward_trace(course_network("relu"), rows)
    hidden = np.maximum(rows @ np.array([[2, 4], [4, -5]]), 0)
    np.testing.assert_array_equal(trace.prediction[:, 0], hidden @ [2, 7])


def test_backward_trace_slopes_and_gradients():
    model = course_network("relu")
    x, target = np.array([3.0, 5.0]), 50.0
    trace = backward_trace(model, x, target)
    pred = 52.0
    assert trace.loss == pytest.approx((pred - target) ** 2)
    assert trace.error[0] == pred - target
    out, hidden = trace.layers[1], trace.layers[0]
    assert out.node_slopes[0] == 2 * (pred - target)             # dL/d prediction
    np.testing.assert_array_equal(out.kernel_grads[:, 0], [26 * 4, 0 * 4])  # value x slope
    np.testing.assert_array_equal(hidden.node_slopes, [4 * 2, 4 * 7])       # slope flows back
    np.testing.assert_array_equal(hidden.activation_slopes, [1, 0])         # relu'(26), relu'(-13)
    np.testing.assert_array_equal(hidden.sum_slopes, [8, 0])
    np.testing.assert_array_equal(hidden.kernel_grads, np.outer(x, [8, 0]))
    # the same numbers training uses
    for got, want in zip([hidden.kernel_grads, out.kernel_grads], model.gradients(x[None], [target])):
        np.testing.assert_array_equal(got, want)


def test_gradient_descent_lesson_numbers():
    """weights [0, 2, 1], input [1, 2, 3], target 0: prediction 7, slope 2*input*error."""
    model = build(ModelSpec(input_dim=3, layers=[Layer(1, use_bias=False)], dtype="float64"), seed=0)
    model.set_weights([np.array([[0.0], [2.0], [1.0]])])
    trace = backward_trace(model, [1, 2, 3], 0)
    assert trace.forward.prediction[0] == 7
    np.testing.assert_array_equal(trace.layers[0].kernel_grads[:, 0], [14, 28, 42])


def test_initializers_follow_keras_definitions():
    """glorot_uniform within sqrt(6/(fan_in+fan_out)); he_normal truncated at two
    standard deviations of sqrt(2/fan_in)/0.8796 (Keras' truncation fix); zeros."""
    spec = ModelSpec(input_dim=200, layers=[
        Layer(300, "relu", kernel_initializer="he_normal", bias_initializer="zeros"),
        Layer(100, "linear", kernel_initializer="glorot_uniform", bias_initializer="glorot_uniform"),
    ], dtype="float64")
    he, b0, glorot, b1 = build(spec, seed=0).get_weights()
    std = np.sqrt(2 / 200) / 0.87962566103423978
    assert np.abs(he).max() <= 2 * std
    assert he.std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)
    assert (b0 == 0).all()
    limit = np.sqrt(6 / 400)
    assert np.abs(glorot).max() <= limit and glorot.max() > 0.99 * limit
    assert glorot.var() == pytest.approx(limit**2 / 3, rel=0.03)
    assert np.abs(b1).max() <= np.sqrt(6 / 200)
