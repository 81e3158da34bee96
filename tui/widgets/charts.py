"""Live metric charts (textual-plotext), redrawn only when asked.

A ``MetricChart`` keeps its series; ``replot()`` draws them again. The
training screen calls ``replot`` from a timer, so charts redraw at a bounded
rate however fast epochs arrive.
"""

from __future__ import annotations

import math
import time

from textual_plotext import PlotextPlot

COLORS = {"train": "cyan", "val": "orange", "best": "green"}
#: Curves whose values span this ratio or more are drawn on a log scale.
LOG_SCALE_SPAN = 1e3


class TimedPlot(PlotextPlot):
    """A PlotextPlot that remembers how long its last render took (``render_cost``,
    plotext's build), so screens can redraw it less often when it is slow."""

    render_cost = 0.0

    def render(self):
        started = time.perf_counter()
        try:
            return super().render()
        finally:
            self.render_cost = time.perf_counter() - started


class MetricChart(TimedPlot):
    """One metric and its validation twin over the epochs (1-based on the x axis)."""

    def __init__(self, metric: str, title: str, *, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.metric = metric
        self.title = title
        self.epochs: list[int] = []
        self.series: dict[str, list[float]] = {metric: [], f"val_{metric}": []}
        self.best_epoch: int | None = None
        self.total_epochs: int | None = None

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Keep one epoch's values (``epoch`` counted from 0)."""
        self.epochs.append(epoch + 1)
        for key in self.series:
            self.series[key].append(float(logs.get(key, math.nan)))

    def set_history(self, epochs: list[int], history: dict[str, list[float]]) -> None:
        self.epochs = [e + 1 for e in epochs]
        for key in self.series:
            self.series[key] = list(history.get(key, []))

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("epoch")
        if self.total_epochs:
            plt.xlim(1, max(2, self.total_epochs))
            plt.xticks(epoch_ticks(self.total_epochs))
        every = [v for series in self.series.values() for v in series]
        log = log_scale_if_wide(plt, every)
        drawn = 0
        for key, color in ((self.metric, COLORS["train"]), (f"val_{self.metric}", COLORS["val"])):
            values = self.series.get(key, [])
            points = [(e, v) for e, v in zip(self.epochs, values) if math.isfinite(v)]
            if points:
                xs, ys = zip(*points)
                plt.plot(list(xs), list(ys), label=key, color=color, marker="hd")
                drawn += 1
        if drawn:
            legend_headroom(plt, every, drawn, self.size.height, log)
        if self.best_epoch is not None and drawn:
            plt.vertical_line(self.best_epoch + 1, color=COLORS["best"])
            plt.text(f" best {self.best_epoch + 1}", self.best_epoch + 1,
                     _top(self.series), color=COLORS["best"])
        if not drawn:
            plt.xlim(1, max(2, self.total_epochs or 2))
            plt.ylim(0, 1)
        self.refresh()


def _top(series: dict[str, list[float]]) -> float:
    values = [v for vs in series.values() for v in vs if math.isfinite(v)]
    return max(values) if values else 1.0


def epoch_ticks(total: int, most: int = 8) -> list[int]:
    """Whole-number epoch ticks from 1 to ``total``, at most ``most`` of them."""
    step = max(1, math.ceil(total / most))
    ticks = list(range(1, total + 1, step))
    if ticks[-1] != total and total - ticks[-1] >= step / 2:
        ticks.append(total)
    return ticks


def log_scale_if_wide(plt, values) -> bool:
    """A log y axis, ticked at powers of ten, when the positive ``values`` span
    LOG_SCALE_SPAN or more (a run that blew up flattens every other curve on a
    linear axis, and its ticks read 288291046862532096.0)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or min(finite) <= 0 or max(finite) / min(finite) < LOG_SCALE_SPAN:
        return False
    plt.yscale("log")
    low, high = math.floor(math.log10(min(finite))), math.ceil(math.log10(max(finite)))
    step = max(1, math.ceil((high - low) / 6))
    powers = sorted(range(high, low - step, -step))   # from the top decade to the bottom one
    plt.yticks([10.0 ** k for k in powers], [f"1e{k}" for k in powers])
    return True


def legend_headroom(plt, values, legend_rows: int, height: int, log: bool = False) -> None:
    """Raise the top of the y axis so the legend (one row per curve, top left) sits
    above the data: loss curves start high at the left, where the legend would hide
    the first epochs. ``height`` is the chart's height in rows (its title, axes and
    frame take about five)."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite or legend_rows <= 0:
        return
    rows = max(6, height - 5) if height > 0 else 12
    share = min(0.5, (legend_rows + 0.5) / rows)   # of the plot's height, for the legend
    low, high = min(finite), max(finite)
    if log:
        low, high = math.log10(low), math.log10(high)
    span = high - low or max(abs(high), 1.0) * 0.1
    top = high + span * share / (1 - share)
    if log:
        plt.ylim(10.0 ** low, 10.0 ** top)
    else:
        plt.ylim(low, top)
