"""Lesson e: gradient descent on a network without a hidden layer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual_plotext import PlotextPlot

from .base import LessonScreen, gradient_descent_dataset
from .catalog import GRADIENT_DESCENT
from .compute import diagram, fmt


class GradientDescentScreen(LessonScreen):
    LESSON = GRADIENT_DESCENT
    BINDINGS = [Binding("s", "step", "One step", id="lessons.step")]

    def __init__(self) -> None:
        super().__init__()
        self.reset_extra()

    def reset_extra(self) -> None:
        self.steps_taken = 0

    def compose_below(self) -> ComposeResult:
        yield PlotextPlot(id="descent-plot")

    def trainer_dataset(self):
        return gradient_descent_dataset()

    def action_step(self) -> None:
        self.lnet.step(self.part.target)
        self.steps_taken += 1
        self.recompute()

    def recompute(self) -> None:
        lnet, target, lr = self.lnet, self.part.target, self.LESSON.learning_rate
        back = lnet.backward(target)
        self.query_one("#network").show(diagram(lnet, back.forward, back))
        pred, error = back.forward.prediction[0], back.error[0]
        grads = back.layers[0].kernel_grads[:, 0]
        after = lnet.copy()
        after.step(target)
        new = after.backward(target)
        lines = [f"steps taken {self.steps_taken} · learning rate {fmt(lr)}", "",
                 f"prediction {fmt(pred)}, target {fmt(target)}",
                 f"[b]error = {fmt(error)}[/b], squared error {fmt(back.loss)}", "",
                 "slope = 2 × input × error:"]
        for i, name in enumerate(lnet.net.inputs):
            lines.append(f" {name}: 2×{fmt(lnet.x[i])}×{fmt(error)} = {fmt(grads[i])}")
        new_w = after.kernels[0][:, 0]
        lines += ["", f"one step: weights → {', '.join(fmt(w) for w in new_w)}",
                  f"[b]new error = {fmt(new.error[0])}[/b] (press s)"]
        self.set_numbers("\n".join(lines))

        losses = lnet.descend(target, self.LESSON.steps)
        self.losses = losses
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        steps = list(range(len(losses)))
        # one thin bar per step: 21 bars never run into one another
        plt.bar(steps, losses, width=0.4, marker="hd", color="magenta+", reset_ticks=False)
        plt.xticks(steps[::5])
        top = max(losses) if losses and max(losses) > 0 else 1.0
        plt.yticks([0, top / 2, top], ["0", f"{top / 2:.3g}", f"{top:.3g}"])
        plt.ylim(0, top * 1.05)
        plt.xlim(-0.8, len(losses) - 0.2)
        plt.title(f"squared error at steps 0-{self.LESSON.steps} from here: "
                  f"{fmt(losses[0])} → {fmt(losses[-1])}")
        plot.refresh()
