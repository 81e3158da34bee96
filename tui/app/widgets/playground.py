"""TensorFlow Playground's view of a run on two-feature data: the network with a
picture per node (``NeuronsView``) beside a large picture of the plane (``PlaneView``):
the model's output there (the decision boundary; each class's colour as strong as
the model is sure, several classes coloured by the winning one, a regression on the
diverging scale), with the training and validation points on top; or, when a node is
selected, that node's own output, large.

``PlaygroundPanel.set_weights`` takes the model's weights (Keras' layout) as they
arrive while it trains, and at the end; ``draw`` computes the pictures from them
(``engine.plane``) at the size the widgets have, and says what that cost.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from engine.features import labels as feature_labels
from engine.formatting import format_metric
from engine.plane import (
    Grid,
    PlaneModel,
    grid_for,
    node_value,
    regression_scale,
    signed_value,
    winning_class,
)
from engine.text import markup

from .neurons import NetworkPicture, NeuronsView
from .plane import (
    CLASS_COLOURS,
    Picture,
    PlaneView,
    class_pixels,
    class_point_colours,
    data_points,
    diverging_pixels,
    neutral_pixels,
    value_point_colours,
)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{v:02x}" for v in rgb)


def raw_inputs(data: Any) -> np.ndarray | None:
    """The two features of a run's rows as loaded (before crosses and standardizing),
    or None when its data does not have exactly two."""
    X = getattr(getattr(data, "dataset", None), "X", None)
    if X is None:
        return None
    X = np.asarray(X)
    return X if X.ndim == 2 and X.shape[1] == 2 else None


def has_plane(data: Any) -> bool:
    """Whether a run's data has two features: a plane to draw."""
    return raw_inputs(data) is not None


def output_pixels(output: np.ndarray, task: str, scale: tuple[float, float]) -> np.ndarray:
    """A grid of model outputs (h, w, units) as colours: two classes and regression on
    the diverging scale, several classes by the winning one."""
    if task == "multiclass":
        best, strength = winning_class(output)
        return class_pixels(best, strength)
    return diverging_pixels(signed_value(output, task, scale))


def effective_weights(kernel: np.ndarray, task: str) -> np.ndarray:
    """The weights into the drawing's one output node: one unit's own; two classes'
    difference (what moves P(class 1)); several classes' strongest."""
    if kernel.shape[1] == 1:
        return kernel
    if kernel.shape[1] == 2 and task != "multiclass":
        return (kernel[:, 1] - kernel[:, 0])[:, None]
    strongest = np.take_along_axis(kernel, np.abs(kernel).argmax(axis=1)[:, None], axis=1)
    return strongest


class PlaygroundPanel(Horizontal):
    """The network (left) and the plane (right) of one run."""

    def __init__(self, data: Any, weights: Any = None, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="playground")
        self.data = data
        self.task_kind = getattr(data.dataset, "task", "binary")
        self.raw = raw_inputs(data)
        self.plane = PlaneModel(data)
        self.grid = grid_for(self.raw, 1, 1)
        self.spec = data.spec
        hidden = self.spec.dense_layers[:-1]
        inputs = data.features or ("x1", "x2")
        self.input_labels = feature_labels(inputs)
        self.counts = [self.spec.input_dim, *[layer.units for layer in hidden], 1]
        self.weights = weights
        self.caption = ""
        self.selected = (len(self.counts) - 1, 0)
        self.render_cost = 0.0
        self.drawn_at = -math.inf   # never drawn (no clock origin assumed: perf_counter may start near 0)
        y = np.asarray(data.dataset.y)
        self.scale = regression_scale(y) if self.task_kind == "regression" else (0.0, 1.0)
        n_classes = getattr(data.dataset, "n_classes", 0) or 2
        self.point_colours = value_point_colours(signed_value(
            y[:, None].astype(np.float64), "regression", self.scale)) \
            if self.task_kind == "regression" else class_point_colours(y, n_classes)

    def compose(self) -> ComposeResult:
        yield NeuronsView(self.counts, id="pg-network")
        with Vertical(id="pg-side"):
            yield Static("", id="pg-title")
            yield PlaneView(id="pg-plane")
            yield Static(self._legend(), id="pg-legend")

    def on_mount(self) -> None:
        self.call_after_refresh(self.draw)

    def on_resize(self) -> None:
        self._fit()
        self.call_after_refresh(self.draw)

    def _fit(self) -> None:
        """The plane square (in pixels: two per cell vertically) and at most half the
        panel's width; the network takes the rest."""
        side = self.query_one("#pg-side", Vertical)
        rows = max(2, self.size.height - 2)
        side.styles.width = max(12, min(2 * rows, self.size.width // 2)) + 1   # and its margin

    # -- what to show -------------------------------------------------------------------

    def set_weights(self, weights: Any, caption: str = "") -> None:
        """New weights (Keras' layout) and a caption (after which epoch...); drawn by
        ``draw``."""
        self.weights = weights
        self.caption = caption

    def on_neurons_view_selected(self, event: NeuronsView.Selected) -> None:
        event.stop()
        self.selected = (event.column, event.index)
        self.draw()

    def _legend(self) -> str:
        ds = self.data.dataset
        marks = "● train ○ validation" if self.data.split_at < len(self.data.X) \
            else "● train"
        if self.task_kind == "regression":
            lo, hi = self.scale[0] - self.scale[1], self.scale[0] + self.scale[1]
            return f"{marks} · [#f59322]■[/]{lo:.2g} … [#0877bd]■[/]{hi:.2g}"
        names = [markup(n) for n in getattr(ds, "class_names", [])]
        if self.task_kind == "binary" and len(names) == 2:
            return f"{marks} · [#f59322]■[/] {names[0]} · [#0877bd]■[/] {names[1]}"
        swatches = [f"[{hex_colour(CLASS_COLOURS[k % 10])}]■[/] {name}"
                    for k, name in enumerate(names)]
        return f"{marks} · {' '.join(swatches)}"

    def _title(self) -> str:
        c, i = self.selected
        last = len(self.counts) - 1
        if c == last:
            what = "output"
        elif c == 0:
            what = f"input {self.input_labels[i]}" if i < len(self.input_labels) else "input"
        else:
            layer = self.spec.dense_layers[c - 1]
            what = f"layer {c} neuron {i + 1} ({layer.activation})"
        return f"[b]{what}[/]" + (f" · {self.caption}" if self.caption else "")

    # -- drawing ------------------------------------------------------------------------

    def node_images(self, grid: Grid) -> list[list[np.ndarray]]:
        """Every node's picture on ``grid``: the inputs and hidden neurons on the
        diverging scale of their values, the output as the plane shows it."""
        nodes = self.plane.nodes(grid)
        hidden = self.spec.dense_layers[:-1]
        images = [[diverging_pixels(node_value(nodes[0][..., j], "linear"))
                   for j in range(nodes[0].shape[-1])]]
        for layer, values in zip(hidden, nodes[1:-1]):
            images.append([diverging_pixels(node_value(values[..., j], layer.activation))
                           for j in range(values.shape[-1])])
        images.append([output_pixels(nodes[-1], self.task_kind, self.scale)])
        return images

    def big_picture(self, grid: Grid) -> np.ndarray:
        """The plane's pixels for the selected node (the output unless one is selected)."""
        c, i = self.selected
        if c == len(self.counts) - 1:
            return output_pixels(self.plane.output(grid), self.task_kind, self.scale)
        values = self.plane.nodes(grid)[c]
        if i >= values.shape[-1]:
            return neutral_pixels(grid.height, grid.width)
        activation = "linear" if c == 0 else self.spec.dense_layers[c - 1].activation
        return diverging_pixels(node_value(values[..., i], activation))

    def draw(self) -> None:
        """Compute and show every picture from the weights given so far (a blank plane
        with the points before any)."""
        if not self.is_mounted:
            return
        started = time.thread_time()
        view = self.query_one("#pg-plane", PlaneView)
        network = self.query_one("#pg-network", NeuronsView)
        width, height = view.pixel_size
        grid = self.grid.resized(width, height)
        points = data_points(grid, self.raw, self.data.split_at, self.point_colours)
        if self.weights is None:
            view.show(Picture(neutral_pixels(height, width), points))
        else:
            self.plane.set_weights(self.weights)
            view.show(Picture(self.big_picture(grid), points))
            tw, th = network.thumb
            thumbs = self.node_images(self.grid.resized(tw, th))
            kernels = [k.copy() for k in self.plane.kernels]
            kernels[-1] = effective_weights(kernels[-1], self.task_kind)
            network.show(NetworkPicture(
                titles=["inputs", *[f"layer {k}" for k in range(1, len(self.counts) - 1)],
                        "output"],
                labels=[self.input_labels, *[[] for _ in self.counts[1:]]],
                images=thumbs, weights=kernels))
        network.cursor = self.selected
        # one row, as wide as the plane: no layout pass (it would cost every widget's)
        self.query_one("#pg-title", Static).update(self._title(), layout=False)
        cost = time.thread_time() - started
        # what a draw costs, smoothed: one slow draw (the first, with every cache cold)
        # does not hold the next ones back for long
        self.render_cost = cost if math.isinf(self.drawn_at) else 0.5 * (self.render_cost + cost)
        self.drawn_at = time.perf_counter()


def boundary_tab(data: Any, model: Any, history: Any) -> ComposeResult:
    """The results screen's Boundary tab for two-feature data (nothing for other data):
    the trained model's network and plane, as the training screen drew them last."""
    if not has_plane(data) or model is None:
        return
    from textual.widgets import TabPane

    panel = PlaygroundPanel(data, model.get_weights(), id="boundary")
    epochs = len(history) if history is not None else 0
    logs = {k: v[-1] for k, v in history.history.items() if v} if history is not None else {}
    losses = " · ".join(f"{'val' if key == 'val_loss' else key} {format_metric(logs[key])}"
                        for key in ("loss", "val_loss") if key in logs)
    panel.caption = f"after {epochs} epochs" + (f" · {losses}" if losses else "")
    with TabPane("Boundary", id="tab-boundary"):
        yield panel
