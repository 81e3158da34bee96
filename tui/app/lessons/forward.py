"""Lesson a: forward propagation, with the hidden activation switchable."""

from __future__ import annotations

from textual.binding import Binding

from .base import LessonScreen
from .catalog import FORWARD
from .compute import diagram, fmt

_NAMES = {"linear": "identity", "relu": "ReLU"}


class ForwardScreen(LessonScreen):
    LESSON = FORWARD
    BINDINGS = [Binding("a", "toggle_activation", "Identity/ReLU", id="lessons.activation")]

    def action_toggle_activation(self) -> None:
        acts = self.lnet.activations
        acts[0] = "relu" if acts[0] == "linear" else "linear"
        self.recompute()

    def recompute(self) -> None:
        trace = self.lnet.forward()
        self.query_one("#network").show(diagram(self.lnet, trace))
        hidden = trace.layers[0]
        act = self.lnet.activations[0]
        lines = [f"Hidden: [b]{_NAMES[act]}[/b] (a switches)", ""]
        for j, name in enumerate(self.lnet.net.layers[0]):
            terms = " + ".join(f"{fmt(hidden.inputs[i])}×{fmt(hidden.kernel[i, j])}"
                               for i in range(len(hidden.inputs)))
            lines.append(f"{name}: {terms} = {fmt(hidden.weighted_sums[j])}"
                         f" → {fmt(hidden.values[j])}")
        lines.append(f"[b]prediction = {fmt(trace.prediction[0])}[/b]")
        other = self.lnet.copy()
        other.activations[0] = "relu" if act == "linear" else "linear"
        lines.append(f"(with {_NAMES[other.activations[0]]}: "
                     f"{fmt(other.forward().prediction[0])})")
        self.set_numbers("\n".join(lines))
