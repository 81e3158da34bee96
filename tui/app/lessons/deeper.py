"""Lesson c: a network with two hidden layers."""

from __future__ import annotations

from .base import LessonScreen
from .catalog import DEEPER
from .compute import diagram, fmt


class DeeperScreen(LessonScreen):
    LESSON = DEEPER

    def recompute(self) -> None:
        trace = self.lnet.forward()
        self.query_one("#network").show(diagram(self.lnet, trace))
        lines = []
        for k, layer in enumerate(trace.layers):
            names = self.lnet.net.layers[k]
            values = ", ".join(f"{n} = {fmt(v)}" for n, v in zip(names, layer.values))
            lines.append(values if k == len(trace.layers) - 1
                         else f"hidden layer {k + 1}: {values}")
        lines.append("")
        lines.append(f"[b]prediction = {fmt(trace.prediction[0])}[/b]")
        self.set_numbers("\n".join(lines))
