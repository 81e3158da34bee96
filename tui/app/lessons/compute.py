"""A lesson's working network and the numbers it shows, all from the engine.

``LessonNet`` holds a lesson network's current weights and inputs (the
learner edits them), builds it as an engine model and asks the engine's
teaching view (``forward_trace``/``backward_trace``) for every weighted sum,
node value, slope and gradient. ``diagram`` turns those traces into the
plain description that ``NetworkView`` draws. No Textual here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import engine
from engine import Layer, ModelSpec

from .catalog import Net


def fmt(value: float) -> str:
    """A number as a lesson writes it: 26, -5, 2.01, 0.7885, 1.2e+07."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e6 or (0 < abs(value) < 1e-4):
        return f"{value:.4g}"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parse_number(text: str) -> float:
    """The learner's typed number; ValueError with a short reason otherwise."""
    cleaned = text.strip().replace("−", "-")
    if not cleaned:
        raise ValueError("type a number")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError("the number must be finite")
    if abs(value) > 1e6:
        raise ValueError("keep numbers within ±1,000,000")
    return value


class LessonNet:
    """A lesson network's current weights ``kernels`` (Keras layout, one
    (n_in, n_out) array per layer), inputs ``x`` (n_in,) and activations."""

    def __init__(self, net: Net, learning_rate: float = 0.01) -> None:
        self.net = net
        self.learning_rate = learning_rate
        self.reset()

    def reset(self) -> None:
        self.kernels = [np.array(w, dtype=float).T.copy() for w in self.net.weights]
        self.x = np.array(self.net.x, dtype=float)
        self.activations = list(self.net.activations)

    def copy(self) -> LessonNet:
        twin = LessonNet(self.net, self.learning_rate)
        twin.kernels = [k.copy() for k in self.kernels]
        twin.x = self.x.copy()
        twin.activations = list(self.activations)
        return twin

    @staticmethod
    def kernels_of(weights) -> list[np.ndarray]:
        """Per-node weights (the course's way) as Keras kernels."""
        return [np.array(w, dtype=float).T.copy() for w in weights]

    # -- names ----------------------------------------------------------------

    @property
    def columns(self) -> list[tuple[str, ...]]:
        """Node names per column: the inputs, then each layer."""
        return [self.net.inputs, *self.net.layers]

    # -- the engine -----------------------------------------------------------

    def spec(self) -> ModelSpec:
        return ModelSpec(
            input_dim=len(self.net.inputs),
            layers=[Layer(len(names), act, use_bias=False)
                    for names, act in zip(self.net.layers, self.activations)],
            loss="mse", optimizer="sgd", learning_rate=self.learning_rate, dtype="float64")

    def trainer_spec(self, learning_rate: float | None = None) -> ModelSpec:
        """This network as the trainer builds it: the same layers and
        activations, with biases (the trainer's layers always have them)."""
        return ModelSpec(
            input_dim=len(self.net.inputs),
            layers=[Layer(len(names), act)
                    for names, act in zip(self.net.layers, self.activations)],
            loss="mse", optimizer="sgd",
            learning_rate=self.learning_rate if learning_rate is None else learning_rate)

    def trainer_weights(self) -> list[np.ndarray]:
        """The current weights in the trainer's ``get_weights`` layout: each
        layer's kernel followed by a zero bias, so the trainer's model starts
        out computing exactly what the lesson shows."""
        weights: list[np.ndarray] = []
        for kernel in self.kernels:
            weights += [kernel.copy(), np.zeros(kernel.shape[1])]
        return weights

    def model(self, kernels=None):
        model = engine.build(self.spec(), seed=0)
        model.set_weights(self.kernels if kernels is None else kernels)
        return model

    def forward(self, x=None, kernels=None) -> engine.ForwardTrace:
        return engine.forward_trace(self.model(kernels), self.x if x is None else x)

    def backward(self, y, x=None, kernels=None) -> engine.BackwardTrace:
        return engine.backward_trace(self.model(kernels), self.x if x is None else x, y)

    # -- edits ----------------------------------------------------------------

    def set_weight(self, layer: int, src: int, dst: int, value: float) -> None:
        self.kernels[layer][src, dst] = value

    def set_input(self, i: int, value: float) -> None:
        self.x[i] = value

    def step(self, y) -> engine.BackwardTrace:
        """One gradient-descent step on ``(x, y)``: every weight moves by
        -learning_rate × its gradient from the teaching view. Returns the
        backward trace the step used."""
        back = self.backward(y)
        self.kernels = [k - self.learning_rate * g.kernel_grads
                        for k, g in zip(self.kernels, back.layers)]
        return back

    def descend(self, y, steps: int) -> list[float]:
        """Squared error before any step, then after each of ``steps`` steps
        (on a copy; this network is left alone)."""
        twin = self.copy()
        losses = [twin.backward(y).loss]
        for _ in range(steps):
            twin.step(y)
            losses.append(twin.backward(y).loss)
        return losses


# -- the drawing's description ----------------------------------------------------


@dataclass
class NodeInfo:
    name: str
    value: float
    editable: bool = False
    slope: float | None = None
    detail: str = ""


@dataclass
class EdgeInfo:
    layer: int
    src: int
    dst: int
    weight: float
    grad: float | None = None
    detail: str = ""


@dataclass
class Diagram:
    """What a ``NetworkView`` draws: node columns, edges, and the keys of the
    items to highlight (``("node", column, i)`` / ``("edge", layer, src, dst)``)."""

    columns: list[list[NodeInfo]]
    edges: list[EdgeInfo]
    highlight: set = field(default_factory=set)
    note: str = ""


def _act_text(name: str, inner: str) -> str:
    return inner if name == "linear" else f"{name}({inner})"


def diagram(lnet: LessonNet, trace: engine.ForwardTrace, back: engine.BackwardTrace | None = None,
            shown: set | None = None, editable_inputs: bool = True) -> Diagram:
    """The drawing for ``trace`` (one row). With ``back``, slopes and
    gradients are written on the items whose keys are in ``shown`` (all when
    ``shown`` is None)."""
    names = lnet.columns

    def visible(key) -> bool:
        return back is not None and (shown is None or key in shown)

    columns = [[NodeInfo(name, float(trace.x[i]), editable=editable_inputs,
                         detail=f"input {name} = {fmt(trace.x[i])}")
                for i, name in enumerate(names[0])]]
    edges: list[EdgeInfo] = []
    for k, lt in enumerate(trace.layers):
        col = []
        for j, name in enumerate(names[k + 1]):
            terms = " + ".join(f"{fmt(lt.inputs[i])}×{fmt(lt.kernel[i, j])}"
                               for i in range(lt.kernel.shape[0]))
            detail = f"{name} = {_act_text(lt.activation, terms)}"
            if lt.activation != "linear":
                detail += f" = {lt.activation}({fmt(lt.weighted_sums[j])})"
            detail += f" = {fmt(lt.values[j])}"
            slope = None
            if visible(("node", k + 1, j)):
                g = back.layers[k]
                slope = float(g.node_slopes[j])
                act = g.activation_slopes
                detail = (f"{name}: slope of the loss {fmt(slope)} × activation slope "
                          f"{fmt(act[j])} = {fmt(g.sum_slopes[j])}")
            col.append(NodeInfo(name, float(lt.values[j]), slope=slope, detail=detail))
        columns.append(col)
        for j in range(lt.kernel.shape[1]):
            for i in range(lt.kernel.shape[0]):
                w = float(lt.kernel[i, j])
                src, dst = names[k][i], names[k + 1][j]
                grad = None
                detail = f"weight {src} → {dst} = {fmt(w)}"
                if visible(("edge", k, i, j)):
                    g = back.layers[k]
                    grad = float(g.kernel_grads[i, j])
                    act = g.activation_slopes
                    # value at the input node × slope at the output node × activation slope
                    detail = (f"{src}→{dst}: weight {fmt(w)}, gradient {fmt(lt.inputs[i])}"
                              f"×{fmt(g.node_slopes[j])}×{fmt(act[j])} = {fmt(grad)}")
                edges.append(EdgeInfo(k, i, j, w, grad, detail))
    return Diagram(columns, edges)
