"""Every lesson's numbers from the engine's teaching view equal a direct NumPy
computation written here."""

from __future__ import annotations

import numpy as np
import pytest

from tui.app.lessons import catalog
from tui.app.lessons.compute import LessonNet, fmt, parse_number

relu = lambda z: np.maximum(z, 0)  # noqa: E731


def _net(lesson, part=0):
    return LessonNet(lesson.parts[part].net, lesson.learning_rate)


@pytest.mark.parametrize("act,expected", [("linear", -39.0), ("relu", 52.0)])
def test_forward_lesson_matches_numpy(act, expected):
    lnet = _net(catalog.FORWARD)
    lnet.activations[0] = act
    trace = lnet.forward()
    x = np.array([3.0, 5.0])
    z = np.array([x @ [2, 4], x @ [4, -5]])
    hidden = z if act == "linear" else relu(z)
    out = hidden @ [2, 7]
    np.testing.assert_allclose(trace.layers[0].weighted_sums, z)
    np.testing.assert_allclose(trace.layers[0].values, hidden)
    assert trace.prediction[0] == pytest.approx(out) == expected


def test_many_rows_lesson_matches_numpy():
    lnet = _net(catalog.MANY_ROWS)
    rows = np.array(catalog.MANY_ROWS.parts[0].rows, dtype=float)
    trace = lnet.forward(rows)
    hidden = relu(rows @ np.array([[2, 4], [4, -5]]).T)
    out = relu(hidden @ np.array([2, 7]))
    np.testing.assert_allclose(trace.layers[0].values, hidden)
    np.testing.assert_allclose(trace.prediction[:, 0], out)
    np.testing.assert_allclose(out, [52, 63, 0, 148])


def test_deeper_lesson_matches_numpy():
    trace = _net(catalog.DEEPER).forward()
    x = np.array([3.0, 5.0])
    h1 = relu(np.array([x @ [2, 4], x @ [4, -5]]))
    h2 = relu(np.array([h1 @ [-1, 2], h1 @ [1, 2]]))
    np.testing.assert_allclose(trace.layers[0].values, h1)
    np.testing.assert_allclose(trace.layers[1].values, h2)
    assert trace.prediction[0] == pytest.approx(h2 @ [2, 7]) == 182


def _two_layer_relu(w_hidden, w_out, x):
    return relu(relu(np.asarray(x, float) @ np.asarray(w_hidden, float).T) @ np.asarray(w_out))


def test_errors_lesson_matches_numpy():
    parts = catalog.ERRORS.parts
    # 1: the error
    back = LessonNet(parts[0].net).backward(parts[0].target)
    pred = _two_layer_relu([[2, 1], [0, 0]], [2, 2], [3, 2])
    assert back.forward.prediction[0] == pytest.approx(pred) == 16
    assert back.error[0] == pytest.approx(pred - 5)
    assert back.loss == pytest.approx((pred - 5) ** 2)
    # 2: 2 -> 2.01 with target 7
    lnet = LessonNet(parts[1].net)
    moved = lnet.backward(7).error[0]
    before = lnet.backward(7, kernels=LessonNet.kernels_of(parts[1].baseline)).error[0]
    assert before == pytest.approx(_two_layer_relu([[2, 1], [0, 0]], [2, 2], [3, 2]) - 7)
    assert moved == pytest.approx(_two_layer_relu([[2, 1], [0, 0]], [2.01, 2], [3, 2]) - 7)
    assert moved - before == pytest.approx(0.08)
    # 3: the learner's copy made exact by one weight
    lnet = LessonNet(parts[2].net)
    assert lnet.backward(3).error[0] == pytest.approx(
        _two_layer_relu([[2, 1], [1, 2]], [1, 1], [0, 3]) - 3) == 6
    lnet.set_weight(1, 1, 0, 0.0)
    assert lnet.backward(3).error[0] == pytest.approx(0)
    # 4: mean squared error of weights_0 and weights_1
    X = np.array(parts[3].rows, float)
    y = np.array(parts[3].targets, float)
    lnet = LessonNet(parts[3].net)
    mse0 = np.mean((_two_layer_relu([[2, 1], [1, 2]], [1, 1], X) - y) ** 2)
    mse1 = np.mean((_two_layer_relu([[2, 1], [1, 1.5]], [1, 1.5], X) - y) ** 2)
    assert lnet.backward(y, x=X, kernels=LessonNet.kernels_of(parts[3].baseline)).loss == \
        pytest.approx(mse0)
    assert lnet.backward(y, x=X).loss == pytest.approx(mse1)


def test_gradient_descent_lesson_matches_numpy():
    lesson = catalog.GRADIENT_DESCENT
    lnet = _net(lesson)
    x, w, target = np.array([1.0, 2, 3]), np.array([0.0, 2, 1]), 0.0
    back = lnet.backward(target)
    error = x @ w - target
    assert back.error[0] == pytest.approx(error) == 7
    np.testing.assert_allclose(back.layers[0].kernel_grads[:, 0], 2 * x * error)  # 14, 28, 42
    lnet.step(target)
    w1 = w - 0.01 * 2 * x * error
    np.testing.assert_allclose(lnet.kernels[0][:, 0], w1)
    assert lnet.backward(target).error[0] == pytest.approx(x @ w1) == pytest.approx(5.04)
    # 20 steps, squared error per step
    losses = _net(lesson).descend(target, 20)
    expected, ww = [], w.copy()
    for _ in range(21):
        expected.append((x @ ww - target) ** 2)
        ww = ww - 0.01 * 2 * x * (x @ ww - target)
    np.testing.assert_allclose(losses, expected)


def test_backprop_lesson_matches_numpy():
    lesson = catalog.BACKPROP
    lnet = _net(lesson)
    target = lesson.parts[0].target
    back = lnet.backward(target)
    x = np.array([1.0, 2])
    W1 = np.array([[1, 1], [1, -1]], float).T          # (n_in, n_out)
    w2 = np.array([2.0, -1])
    z1 = x @ W1
    a1 = relu(z1)
    pred = a1 @ w2
    d_out = 2 * (pred - target)                         # slope of the squared error
    d_a1 = d_out * w2
    slope1 = (z1 > 0).astype(float)
    d_z1 = d_a1 * slope1
    assert back.layers[1].node_slopes[0] == pytest.approx(d_out) == 4
    np.testing.assert_allclose(back.layers[1].kernel_grads[:, 0], a1 * d_out)
    np.testing.assert_allclose(back.layers[0].node_slopes, d_a1)
    np.testing.assert_allclose(back.layers[0].activation_slopes, slope1)
    np.testing.assert_allclose(back.layers[0].kernel_grads, np.outer(x, d_z1))
    lnet.step(target)
    W1n, w2n = W1 - 0.01 * np.outer(x, d_z1), w2 - 0.01 * a1 * d_out
    assert lnet.forward().prediction[0] == pytest.approx(relu(x @ W1n) @ w2n)


def test_numbers_are_written_and_read_safely():
    assert [fmt(v) for v in (26.0, -5.0, 2.01, 5.040000000001, -0.0)] == \
        ["26", "-5", "2.01", "5.04", "0"]
    assert parse_number(" -2.5 ") == -2.5
    for bad in ("", "abc", "1..2", "inf", "nan", "1e9"):
        with pytest.raises(ValueError):
            parse_number(bad)
