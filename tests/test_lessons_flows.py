"""Pilot tests of the lessons as a learner drives them with keys: edits in
place, reset, invalid input, identity/ReLU, stepping backwards through
backpropagation, gradient-descent steps, and "try it yourself" opening the
trainer. Every expected number is computed here with NumPy, not by the
lesson code."""

from __future__ import annotations

import numpy as np
import pytest
from _lessons_helpers import LessonApp
from _tui_helpers import ready, run_async, wait_until
from textual.widgets import DataTable, Input, Static

from tui.app.lessons import catalog
from tui.app.lessons.network_view import NetworkView

SIZE = (100, 30)
relu = lambda z: np.maximum(z, 0)  # noqa: E731


def _numbers(screen) -> str:
    return str(screen.query_one("#lesson-numbers", Static).render())


def _drawn(screen) -> str:
    return str(screen.query_one(NetworkView).render())


def _node(screen, column: int, i: int) -> float:
    return screen.query_one(NetworkView).diagram.columns[column][i].value


def _two_layer(W_hidden, w_out, x, hidden=lambda z: z, out=lambda z: z):
    """The course's way: one weight list per node."""
    x = np.asarray(x, float)
    h = hidden(np.asarray(W_hidden, float) @ x)
    return h, float(out(np.asarray(w_out, float) @ h))


# -- a. forward propagation: edits, reset, invalid input, identity/ReLU ---------------------


@run_async
async def test_editing_a_weight_or_an_input_recomputes_the_prediction():
    app = LessonApp("forward")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        view = screen.query_one(NetworkView)
        assert view.cursor == ("node", 0, 0)
        assert "prediction = -39" in _numbers(screen)
        # right from accounts is its own edge to node_0; weight 2 -> 3
        await pilot.press("right")
        assert view.cursor == ("edge", 0, 0, 0)
        await pilot.press("3", "enter")
        h, pred = _two_layer([[3, 4], [4, -5]], [2, 7], [3, 5])
        assert pred == -33
        assert f"prediction = {pred:g}" in _numbers(screen)
        assert _node(screen, 1, 0) == h[0] == 29 and _node(screen, 2, 0) == pred
        # back to accounts and type a new input: 3 -> -2.5
        await pilot.press("left")
        assert view.cursor == ("node", 0, 0)
        await pilot.press("minus", "2", ".", "5", "enter")
        h, pred = _two_layer([[3, 4], [4, -5]], [2, 7], [-2.5, 5])
        assert f"prediction = {pred:g}" in _numbers(screen)
        assert _node(screen, 0, 0) == -2.5 and _node(screen, 2, 0) == pytest.approx(pred)
        # Enter alone edits the current value; backspace + a digit replaces it
        await pilot.press("down", "right")        # children -> its edge to node_1
        assert view.cursor == ("edge", 0, 1, 1)
        await pilot.press("enter")
        assert view.buffer == "-5"
        await pilot.press("backspace", "backspace", "1", "enter")
        h, pred = _two_layer([[3, 4], [4, 1]], [2, 7], [-2.5, 5])
        assert f"prediction = {pred:g}" in _numbers(screen)

        # r restores the lesson's numbers
        await pilot.press("r")
        assert "prediction = -39" in _numbers(screen)
        np.testing.assert_array_equal(screen.lnet.kernels[0], [[2, 4], [4, -5]])
        np.testing.assert_array_equal(screen.lnet.x, [3, 5])
        assert [_node(screen, 1, j) for j in (0, 1)] == [26, -13]


INVALID = [
    (["1", "x"], "'1x' is not a number"),
    (["1", "e", "9", "9", "9"], "the number must be finite"),          # inf
    (["minus", "i", "n", "f"], "the number must be finite"),
    (["minus", "n", "a", "n"], "the number must be finite"),
    (["1", "e", "7"], "within ±1,000,000"),
    (["5", "backspace"], "type a number"),                             # empty
]


@run_async
async def test_invalid_input_is_reported_in_place_and_changes_nothing():
    app = LessonApp("forward")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        view = screen.query_one(NetworkView)
        await pilot.press("right")
        for typed, reason in INVALID:
            await pilot.press(*typed, "enter")
            assert view.error is not None and reason in view.error, typed
            assert f"✗ {view.error}" in _drawn(screen)
            assert "prediction = -39" in _numbers(screen)
            np.testing.assert_array_equal(screen.lnet.kernels[0], [[2, 4], [4, -5]])
            assert screen.lnet.activations == ["linear", "linear"]     # "a" was typed, not run
            # moving away does not commit it either; Escape drops it
            await pilot.press("down")
            assert view.cursor == ("edge", 0, 0, 0) and view.error
            await pilot.press("escape")
            assert view.buffer is None and view.error is None and "✗" not in _drawn(screen)
            assert app.screen is screen                                # Esc did not leave
        # a good number afterwards works
        await pilot.press("4", "enter")
        _, pred = _two_layer([[4, 4], [4, -5]], [2, 7], [3, 5])
        assert f"prediction = {pred:g}" in _numbers(screen)     # node_0 = 32: 64 - 91


@run_async
async def test_switching_the_hidden_activation_between_identity_and_relu():
    app = LessonApp("forward")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        _, linear = _two_layer([[2, 4], [4, -5]], [2, 7], [3, 5])
        h, with_relu = _two_layer([[2, 4], [4, -5]], [2, 7], [3, 5], hidden=relu)
        assert (linear, with_relu) == (-39, 52)
        assert "identity" in _numbers(screen) and f"with ReLU: {with_relu:g}" in _numbers(screen)
        await pilot.press("a")
        assert "ReLU" in _numbers(screen) and f"prediction = {with_relu:g}" in _numbers(screen)
        assert [_node(screen, 1, j) for j in (0, 1)] == list(h) == [26, 0]
        assert "node_1: 3×4 + 5×-5 = -13 → 0" in _numbers(screen)
        await pilot.press("a")
        assert f"prediction = {linear:g}" in _numbers(screen)
        # r also brings back the lesson's activation
        await pilot.press("a", "r")
        assert "prediction = -39" in _numbers(screen)


# -- b, c, d ------------------------------------------------------------------------------


@run_async
async def test_many_rows_table_follows_the_rows_and_edits():
    app = LessonApp("many_rows")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(DataTable)
        rows = [[3, 5], [1, -1], [0, 0], [8, 4]]
        preds = [_two_layer([[2, 4], [4, -5]], [2, 7], r, relu, relu)[1] for r in rows]
        assert preds == [52, 63, 0, 148]
        assert [str(table.get_cell(str(r), "prediction")) for r in range(4)] == \
            [f"[b]{p:g}[/b]" for p in preds]
        await pilot.press("n")
        assert screen.row == 1 and _node(screen, 0, 1) == -1 and _node(screen, 2, 0) == 63
        # edit row 1's accounts: 1 -> 2
        await pilot.press("2", "enter")
        pred = _two_layer([[2, 4], [4, -5]], [2, 7], [2, -1], relu, relu)[1]
        assert str(table.get_cell("1", "prediction")) == f"[b]{pred:g}[/b]"
        assert str(table.get_cell("1", "accounts")) == "2"
        await pilot.press("r")
        assert screen.row == 0 and str(table.get_cell("1", "prediction")) == "[b]63[/b]"


@run_async
async def test_deeper_network_edit_reaches_the_output():
    app = LessonApp("deeper")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen

        def deep(w00):
            x = np.array([3.0, 5.0])
            h1 = relu(np.array([[w00, 4], [4, -5]]) @ x)
            h2 = relu(np.array([[-1, 2], [1, 2]]) @ h1)
            return float(np.array([2, 7]) @ h2)

        assert "prediction = 182" in _numbers(screen) and deep(2) == 182
        await pilot.press("right", "minus", "3", "enter")
        assert f"prediction = {deep(-3):g}" in _numbers(screen)
        assert _node(screen, 3, 0) == deep(-3) == 77


@run_async
async def test_errors_parts_exact_prediction_and_mean_squared_error():
    app = LessonApp("errors")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        _, pred = _two_layer([[2, 1], [0, 0]], [2, 2], [3, 2], relu, relu)
        assert "error      = 16 - 5 = 11" in _numbers(screen) and pred - 5 == 11
        await pilot.press("right_square_bracket")
        _, moved = _two_layer([[2, 1], [0, 0]], [2.01, 2], [3, 2], relu, relu)
        assert f"the error moved by {moved - 7 - (pred - 7):.2f}" in _numbers(screen)
        await pilot.press("right_square_bracket")
        assert "Not exact yet" in _numbers(screen)
        # node_1 -> output from 1 to 0 makes 9 exact at 3
        await pilot.press("right", "right", "down", "right")
        assert screen.query_one(NetworkView).cursor == ("edge", 1, 1, 0)
        await pilot.press("0", "enter")
        assert "exact: the error is 0" in _numbers(screen)
        await pilot.press("right_square_bracket")
        X = np.array([[0, 3], [1, 2], [-1, -2], [4, 0]], float)
        y = np.array([1, 3, 5, 7], float)
        mse = [np.mean([(_two_layer(wh, wo, x, relu, relu)[1] - t) ** 2 for x, t in zip(X, y)])
               for wh, wo in (([[2, 1], [1, 2]], [1, 1]), ([[2, 1], [1, 1.5]], [1, 1.5]))]
        assert f"MSE weights_0 = {mse[0]:g}" in _numbers(screen)          # 37.5
        assert f"MSE weights_1 = {mse[1]:.4f}" in _numbers(screen)        # 49.8906
        # the drawing shows one of the table's rows; its inputs are editable too
        view = screen.query_one(NetworkView)
        assert view.cursor == ("node", 0, 0)
        await pilot.press("n")
        assert _node(screen, 2, 0) == _two_layer([[2, 1], [1, 1.5]], [1, 1.5], X[1], relu,
                                                 relu)[1]
        await pilot.press("2", "enter")               # row 1: accounts 1 -> 2
        X[1, 0] = 2
        mse_edit = np.mean([(_two_layer([[2, 1], [1, 1.5]], [1, 1.5], x, relu, relu)[1] - t) ** 2
                            for x, t in zip(X, y)])
        assert f"MSE weights_1 = {mse_edit:g}" in _numbers(screen)
        assert str(screen.query_one(DataTable).get_cell("1", "input")) == "2, 2"
        # node_1 -> output 1.5 -> 1
        await pilot.press("right", "right", "down", "right")
        assert view.cursor == ("edge", 1, 1, 0)
        await pilot.press("1", "enter")
        mse_edit = np.mean([(_two_layer([[2, 1], [1, 1.5]], [1, 1], x, relu, relu)[1] - t) ** 2
                            for x, t in zip(X, y)])
        assert f"MSE weights_1 = {mse_edit:g}" in _numbers(screen)
        # r: the part's own rows and weights again
        await pilot.press("r")
        assert f"MSE weights_1 = {mse[1]:.4f}" in _numbers(screen)
        assert str(screen.query_one(DataTable).get_cell("1", "input")) == "1, 2"


# -- e. gradient descent, f. backpropagation -----------------------------------------------------


@run_async
async def test_gradient_descent_step_and_the_twenty_step_plot():
    app = LessonApp("gradient_descent")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        x, w = np.array([1.0, 2, 3]), np.array([0.0, 2, 1])
        error = x @ w
        slopes = 2 * x * error
        w1 = w - 0.01 * slopes
        numbers = _numbers(screen)
        assert f"error = {error:g}" in numbers and "x1: 2×2×7 = 28" in numbers
        assert "weights → -0.14, 1.72, 0.58" in numbers and f"new error = {x @ w1:g}" in numbers
        assert [e.grad for e in screen.query_one(NetworkView).diagram.edges] == list(slopes)

        def losses(w):
            out = []
            for _ in range(21):
                out.append(float((x @ w) ** 2))
                w = w - 0.01 * 2 * x * (x @ w)
            return out

        np.testing.assert_allclose(screen.losses, losses(w))
        await pilot.press("s")
        np.testing.assert_allclose(screen.lnet.kernels[0][:, 0], w1)
        assert "steps taken 1" in _numbers(screen) and f"error = {x @ w1:g}" in _numbers(screen)
        np.testing.assert_allclose(screen.losses, losses(w1))
        await pilot.press("r")
        np.testing.assert_allclose(screen.lnet.kernels[0][:, 0], w)
        assert "steps taken 0" in _numbers(screen)


@run_async
async def test_backprop_node_by_node_then_update_and_forward_again():
    app = LessonApp("backprop")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        view = screen.query_one(NetworkView)
        x, target = np.array([1.0, 2]), 4.0
        W1, w2 = np.array([[1.0, 1], [1, -1]]), np.array([2.0, -1])   # per node
        z1 = W1 @ x
        a1 = relu(z1)
        pred = a1 @ w2
        d_out = 2 * (pred - target)
        d_a1 = w2 * d_out
        d_z1 = d_a1 * (z1 > 0)
        assert "prediction 6, target 4, error 2" in _numbers(screen)
        assert all(e.grad is None for e in view.diagram.edges)

        await pilot.press("b")         # the output node and the edges into it
        assert view.diagram.highlight == {("node", 2, 0), ("edge", 1, 0, 0), ("edge", 1, 1, 0)}
        assert view.diagram.columns[2][0].slope == d_out == 4
        assert [e.grad for e in view.diagram.edges if e.layer == 1] == list(a1 * d_out)
        assert all(e.grad is None for e in view.diagram.edges if e.layer == 0)
        assert "∇12" in _drawn(screen) and "∂ 4" in _drawn(screen)
        await pilot.press("b")         # node_0
        assert ("node", 1, 0) in view.diagram.highlight
        assert view.diagram.columns[1][0].slope == d_a1[0] == 8
        assert "accounts→node_0: 1×8 = 8" in _numbers(screen)
        await pilot.press("b")         # node_1: ReLU was off, so its gradients are 0
        assert view.diagram.columns[1][1].slope == d_a1[1] == -4
        assert "activation slope 0 → 0" in _numbers(screen)
        grads = {(e.src, e.dst): e.grad for e in view.diagram.edges if e.layer == 0}
        assert grads == {(i, j): x[i] * d_z1[j] for i in range(2) for j in range(2)}
        await pilot.press("b")         # nothing further back
        assert "Every gradient is known" in _numbers(screen)

        await pilot.press("u")
        W1n, w2n = W1 - 0.01 * np.outer(d_z1, x), w2 - 0.01 * a1 * d_out
        new_pred = relu(W1n @ x) @ w2n
        assert new_pred == pytest.approx(4.888)
        assert f"prediction {new_pred:.4g}" in _numbers(screen)
        assert f"squared error {(new_pred - target) ** 2:.4g}" in _numbers(screen)
        assert "(before update 1: 4)" in _numbers(screen)
        assert all(e.grad is None for e in view.diagram.edges)      # back to the forward pass
        np.testing.assert_allclose(screen.lnet.kernels[0], W1n.T)


# -- the app: f2 opens the lessons; "try it yourself" opens the trainer -----------------------------


async def _open_lesson(pilot, letter: str):
    from tui.app.lessons import LessonsScreen

    await pilot.press("f2")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, LessonsScreen), what="lessons")
    await pilot.press(letter)
    await pilot.pause()
    return pilot.app.screen


@run_async
async def test_try_it_yourself_opens_the_trainer_with_the_edited_network():
    from tui.app import DeeptermApp
    from tui.app.screens.setup import SetupScreen
    from tui.app.screens.training import TrainingScreen

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        lesson = await _open_lesson(pilot, "a")
        assert lesson.LESSON is catalog.FORWARD
        await pilot.press("a", "right", "3", "enter")       # ReLU; accounts -> node_0 = 3
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="the trainer")
        await pilot.pause(0.3)
        setup = app.screen
        c = setup.config
        assert (c.dataset, c.hidden, c.output_units, c.output_activation, c.loss, c.optimizer,
                c.learning_rate, c.standardize) == ("customers", ((2, "relu"),), 1, "linear",
                                                    "mse", "sgd", 0.001, False)
        assert c.validation_split == 0.0     # all 4 customers train; none held out
        expected = [np.array([[3.0, 4], [4, -5]]).T, np.zeros(2), np.array([[2.0], [7]]),
                    np.zeros(1)]
        assert len(setup.initial_weights) == 4
        for got, want in zip(setup.initial_weights, expected):
            np.testing.assert_array_equal(got, want)
        assert "Starts from the given weights" in str(setup.query_one("#params", Static).render())
        # one epoch starts from exactly those weights
        epochs = setup.query_one("#epochs", Input)
        epochs.value = "1"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        for got, want in zip(app.screen.weights, expected):
            np.testing.assert_array_equal(got, want)
        await wait_until(pilot, lambda: app.screen.state in ("finished", "failed"), 60, "the run")
        assert app.screen.state == "finished"
        assert app.screen.history.params["samples"] == 4
        assert "val_loss" not in app.screen.history.history


@run_async
async def test_try_it_yourself_from_gradient_descent_uses_its_own_rows():
    from tui.app import DeeptermApp
    from tui.app.screens.setup import SetupScreen

    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _open_lesson(pilot, "e")
        await pilot.press("s", "t")                  # one step, then the trainer
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="the trainer")
        await pilot.pause(0.3)
        setup = app.screen
        assert setup.dataset.name == "gradient_descent_rows" and setup.dataset.X.shape == (64, 3)
        np.testing.assert_array_equal(setup.dataset.X[0], [1, 2, 3])
        assert setup.dataset.y[0] == 0
        assert setup.config.hidden == () and setup.config.learning_rate == 0.01
        assert setup.config.validation_split == 0.3     # 64 rows: the usual hold-out
        x = np.array([1.0, 2, 3])
        w1 = np.array([0.0, 2, 1]) - 0.01 * 2 * x * 7
        np.testing.assert_allclose(setup.initial_weights[0][:, 0], w1)
        np.testing.assert_array_equal(setup.initial_weights[1], [0])
        assert "Starts from the given weights" in str(setup.query_one("#params", Static).render())


@run_async
async def test_try_it_yourself_without_a_trainer_says_so():
    app = LessonApp("backprop")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert any("not available" in n.message for n in app._notifications)
        assert app.screen.LESSON is catalog.BACKPROP


@run_async
async def test_try_it_yourself_hands_over_every_lesson_network():
    app = LessonApp(trainer=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for lesson in catalog.LESSONS:
            await pilot.press(lesson.letter)
            await pilot.pause()
            await pilot.press("t", "escape")
            await pilot.pause()
        assert len(app.opened) == len(catalog.LESSONS)
        for lesson, (spec, dataset, weights) in zip(catalog.LESSONS, app.opened):
            net = lesson.parts[0].net
            assert [layer.units for layer in spec.layers] == [len(n) for n in net.layers]
            assert [layer.activation for layer in spec.layers] == list(net.activations)
            assert spec.learning_rate == lesson.trainer_learning_rate
            kernels = weights[0::2]
            for kernel, per_node in zip(kernels, net.weights):
                np.testing.assert_array_equal(kernel, np.array(per_node, float).T)
            assert all(not b.any() for b in weights[1::2])
            expected = "customers" if lesson.key != "gradient_descent" else None
            assert (dataset if isinstance(dataset, str) else None) == expected
