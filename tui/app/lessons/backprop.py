"""Lesson f: backpropagation, one node at a time, then the update."""

from __future__ import annotations

from textual.binding import Binding

from .base import LessonScreen
from .catalog import BACKPROP
from .compute import diagram, fmt


class BackpropScreen(LessonScreen):
    LESSON = BACKPROP
    BINDINGS = [
        Binding("b", "back_step", "Step back", id="lessons.back_step"),
        Binding("u", "update", "Update", id="lessons.update"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reset_extra()

    def reset_extra(self) -> None:
        self.revealed = 0       # how many backward steps are shown
        self.updates = 0
        self.last_loss: float | None = None

    def backward_steps(self) -> list[set]:
        """The backward walk: each step shows one node's slope and the
        gradients of the edges that enter it, from the output back."""
        steps = []
        columns = self.lnet.columns
        for c in range(len(columns) - 1, 0, -1):
            for j in range(len(columns[c])):
                keys = {("node", c, j)}
                keys |= {("edge", c - 1, i, j) for i in range(len(columns[c - 1]))}
                steps.append(keys)
        return steps

    def action_back_step(self) -> None:
        self.revealed = min(self.revealed + 1, len(self.backward_steps()))
        self.recompute()

    def action_update(self) -> None:
        self.last_loss = self.lnet.backward(self.part.target).loss
        self.lnet.step(self.part.target)
        self.updates += 1
        self.revealed = 0
        self.recompute()

    def recompute(self) -> None:
        lnet, target = self.lnet, self.part.target
        back = lnet.backward(target)
        steps = self.backward_steps()
        shown = set().union(*steps[: self.revealed]) if self.revealed else set()
        current = steps[self.revealed - 1] if self.revealed else set()
        drawing = diagram(lnet, back.forward, back, shown=shown)
        drawing.highlight = set(current)
        view = self.query_one("#network")
        view.show(drawing)
        pred, error = back.forward.prediction[0], back.error[0]
        lines = [f"prediction {fmt(pred)}, target {fmt(target)}, error {fmt(error)}",
                 f"squared error {fmt(back.loss)}"]
        if self.last_loss is not None:
            lines.append(f"(before update {self.updates}: {fmt(self.last_loss)})")
        lines.append("")
        if not self.revealed:
            lines.append("Press b to step backwards from the output.")
        else:
            node = next(k for k in current if k[0] == "node")
            c, j = node[1], node[2]
            g = back.layers[c - 1]
            name = lnet.columns[c][j]
            if c == len(lnet.columns) - 1:
                lines.append(f"[b]{name}[/b]: slope of the loss = 2 × error = "
                             f"{fmt(g.node_slopes[j])}")
            else:
                parts = " + ".join(
                    f"{fmt(lnet.kernels[c][j, k])}×{fmt(back.layers[c].sum_slopes[k])}"
                    for k in range(len(lnet.columns[c + 1])))
                lines.append(f"[b]{name}[/b]: slope = {parts} = {fmt(g.node_slopes[j])}")
            lines.append(f"activation slope {fmt(g.activation_slopes[j])} → "
                         f"{fmt(g.sum_slopes[j])}")
            lines.append("gradients = value × that:")
            for i, src in enumerate(lnet.columns[c - 1]):
                lines.append(f" {src}→{name}: {fmt(back.forward.layers[c - 1].inputs[i])}"
                             f"×{fmt(g.sum_slopes[j])} = {fmt(g.kernel_grads[i, j])}")
        if self.revealed == len(steps):
            lines += ["", "Every gradient is known."]
        lines += ["", f"u: weights -= {fmt(self.LESSON.learning_rate)} × gradient, "
                  "then forward again"]
        self.set_numbers("\n".join(lines))
