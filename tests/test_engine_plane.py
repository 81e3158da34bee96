"""The numbers behind the decision boundary and the neurons' pictures (engine.plane):
the field over the plane is model.predict on the grid, each node's picture is that
node's values there, on either backend and through feature crosses."""

from __future__ import annotations

import numpy as np
import pytest

import datasets
from engine import runner
from engine.plane import (
    Grid,
    PlaneModel,
    bounds_for,
    grid_for,
    node_value,
    regression_scale,
    signed_value,
    winning_class,
)
from engine.recipe import RunConfig, prepare


def _trained(name="xor", features=None, backend="numpy", epochs=5, hidden=((5, "tanh"), (3, "relu"))):
    ds = datasets.load(name, n=200)
    config = RunConfig(dataset=name, dataset_options={"n": 200}, hidden=hidden, optimizer="adam",
                       learning_rate=0.03, epochs=epochs, batch_size=16, features=features,
                       backend=backend).for_dataset(ds)
    data = prepare(config, ds)
    return data, runner.run(config, data, executor="thread").model


def test_a_grid_runs_left_to_right_and_top_to_bottom():
    grid = Grid(-6, 6, -3, 3, width=4, height=2)
    points = grid.points()
    assert points.shape == (8, 2)
    np.testing.assert_allclose(points[0], [-4.5, 1.5])      # top left: x2 high
    np.testing.assert_allclose(points[3], [4.5, 1.5])
    np.testing.assert_allclose(points[4], [-4.5, -1.5])     # bottom row
    rows, cols, inside = grid.pixels(np.array([[-4.5, 1.5], [4.5, -1.5], [7.0, 0.0]]))
    assert rows[:2].tolist() == [0, 1] and cols[:2].tolist() == [0, 3]
    assert inside.tolist() == [True, True, False]


def test_the_synthetic_sets_get_their_square_and_other_data_its_own_range():
    assert bounds_for(datasets.load("spiral").X) == (-6.0, 6.0, -6.0, 6.0)
    lo1, hi1, lo2, hi2 = bounds_for(np.array([[0.0, 100.0], [10.0, 300.0]]))
    assert (lo1, hi1, lo2, hi2) == pytest.approx((-0.5, 10.5, 90.0, 310.0))


@pytest.mark.parametrize("features", [None, ("x1", "x2", "x1x2", "sin_x1")])
def test_the_field_is_model_predict_on_the_grid(features):
    data, model = _trained(features=features)
    grid = grid_for(data.dataset.X, 30, 20)
    plane = PlaneModel(data, model.get_weights())
    expected = model.predict(data.inputs_for(grid.points())).reshape(20, 30, -1)
    np.testing.assert_array_equal(plane.output(grid), expected)
    # and the model separates the classes there: the field is not a constant
    assert np.ptp(expected[..., 1]) > 0.5


def test_the_field_of_a_keras_model_is_its_predict_on_the_grid():
    pytest.importorskip("tensorflow")
    data, model = _trained(backend="keras", epochs=2)
    grid = grid_for(data.dataset.X, 24, 16)
    plane = PlaneModel(data, model.get_weights())
    np.testing.assert_allclose(plane.output(grid),
                               model.predict(data.inputs_for(grid.points())).reshape(16, 24, -1),
                               atol=1e-5)


def test_each_nodes_picture_is_its_values_on_the_grid():
    data, model = _trained(features=("x1", "x2", "x1^2"))
    grid = grid_for(data.dataset.X, 8, 6)
    nodes = PlaneModel(data, model.get_weights()).nodes(grid)
    W = model.get_weights()
    X = data.inputs_for(grid.points()).astype(np.float64)
    h1 = np.tanh(X @ W[0] + W[1])
    h2 = np.maximum(h1 @ W[2] + W[3], 0)
    assert [n.shape for n in nodes] == [(6, 8, 3), (6, 8, 5), (6, 8, 3), (6, 8, 2)]
    np.testing.assert_allclose(nodes[0].reshape(-1, 3), X, rtol=1e-6)
    np.testing.assert_allclose(nodes[1].reshape(-1, 5), h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nodes[2].reshape(-1, 3), h2, rtol=1e-5, atol=1e-6)


def test_what_a_pixels_outputs_mean():
    two = np.array([[[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]])
    np.testing.assert_allclose(signed_value(two, "binary"), [[-0.8, 0.0, 0.6]])
    np.testing.assert_allclose(signed_value(np.array([[[0.25]]]), "binary"), [[-0.5]])
    # regression: the distance from the targets' middle (1) over half their range (2)
    np.testing.assert_allclose(signed_value(np.array([[[3.0], [1.0], [-5.0]]]), "regression",
                                            (1.0, 2.0)), [[1.0, 0.0, -1.0]])
    best, strength = winning_class(np.array([[[0.1, 0.7, 0.2], [1 / 3, 1 / 3, 1 / 3]]]))
    assert best.tolist() == [[1, 0]]
    np.testing.assert_allclose(strength, [[(0.7 - 1 / 3) / (2 / 3), 0.0]])
    np.testing.assert_allclose(node_value(np.array([0.0, 0.75, 1.0]), "sigmoid"), [-1, 0.5, 1])
    np.testing.assert_allclose(node_value(np.array([-3.0, 0.2, 9.0]), "relu"), [-1, 0.2, 1])
    assert regression_scale(np.array([2.0, 6.0, 4.0])) == (4.0, 2.0)
