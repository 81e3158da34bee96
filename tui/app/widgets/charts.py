"""Live metric charts (textual-plotext), redrawn only when asked.

A ``MetricChart`` keeps its series; ``replot()`` draws them again. The
training screen calls ``replot`` from a timer, so charts redraw at a bounded
rate however fast epochs arrive.
"""

from __future__ import annotations

import math
import time

from textual_plotext import PlotextPlot

from engine.formatting import format_metric

COLORS = {"train": "cyan", "val": "orange", "best": "green"}
#: Curves whose values span this ratio or more are drawn on a log scale.
LOG_SCALE_SPAN = 1e3
#: Metrics that cannot exceed a value: their axis stops there.
BOUNDED_METRICS = {"accuracy": 1.0}


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
        curves = [(key, color, self.series.get(key, []))
                  for key, color in ((self.metric, COLORS["train"]),
                                     (f"val_{self.metric}", COLORS["val"]))]
        curves = [c for c in curves if any(math.isfinite(v) for v in c[2])]
        if not curves:
            plt.xlim(1, max(2, self.total_epochs or 2))
            plt.ylim(0, 1)
            self.refresh()
            return
        axis = YAxis.plan([values for _, _, values in curves], legend_rows=len(curves),
                          height=self.size.height, ceiling=BOUNDED_METRICS.get(self.metric))
        axis.apply(plt)
        for key, color, values in curves:
            axis.plot(plt, self.epochs, values, label=key, color=color)
        if self.best_epoch is not None:
            plt.vertical_line(self.best_epoch + 1, color=COLORS["best"])
            plt.text(f" best {self.best_epoch + 1}", self.best_epoch + 1,
                     axis.y(_top(self.series)), color=COLORS["best"])
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


def nice_ticks(low: float, high: float, most: int = 6, least: int = 4) -> list[float]:
    """Round ticks (steps of 1, 2 or 5 times a power of ten) inside [low, high]:
    the widest such step that still gives ``least`` ticks, at most ``most``."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return [low]
    power = 10.0 ** math.floor(math.log10(span / max(1, most - 1)))
    steps = [m * power * 10.0 ** e for e in (1, 0, -1) for m in (5, 2, 1)]   # widest first

    def ticks_for(step: float) -> list[float]:
        first = math.ceil(low / step - 1e-9)
        last = math.floor(high / step + 1e-9)
        return [round(k * step, 12) for k in range(first, last + 1)]

    fitting = [ticks_for(step) for step in steps]
    for ticks in fitting:
        if least <= len(ticks) <= most:
            return ticks
    fewer = [ticks for ticks in fitting if 2 <= len(ticks) <= most]    # widest step first
    return max(fewer, key=len) if fewer else [low, high]


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels with as many decimals as the step between ``ticks`` needs (0.60,
    0.65, 0.70); an exponent for very large or very small ones."""
    if len(ticks) < 2:
        return [f"{t:.3g}" for t in ticks]
    step = min(b - a for a, b in zip(ticks, ticks[1:]))
    biggest = max(abs(t) for t in ticks)
    if biggest >= 1e5 or 0 < biggest < 1e-3 or step <= 0:
        return [f"{t:.3g}" for t in ticks]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return [f"{t:.{decimals}f}" for t in ticks]


def spikes(values, ratio: float = LOG_SCALE_SPAN) -> list[bool]:
    """Which of a curve's values are spikes: more than ``ratio`` times the curve's
    median (its positive finite values). The course's "too high" learning rate
    jumps to 3e17 in its first epoch and then settles near 0.67: the jump is a spike,
    a curve that explodes and stays exploded has none."""
    finite = sorted(v for v in values if math.isfinite(v) and v > 0)
    if len(finite) < 3:
        return [False] * len(values)
    median = finite[len(finite) // 2]
    return [math.isfinite(v) and v > ratio * median for v in values]


class YAxis:
    """The y axis of a chart of one or more curves, planned from their values.

    - Spikes (see ``spikes``) do not stretch the axis: they are drawn one row above
      the highest other point, labelled with their value (``↑2.88e+17``), so the
      other epochs keep the chart's height.
    - The rest spanning LOG_SCALE_SPAN or more (a run that blew up and stayed up,
      or a loss falling to 1e-4) go on a log axis, ticked at powers of ten (and
      at 2 and 5 times them when fewer than four powers fit). The curves are drawn
      as log10 of their values on plotext's linear axis: plotext's own log scale
      transforms the data in place each time the chart is built, so a chart drawn
      twice (a resize, a theme change) took the log of the log, and its limits
      are not transformed at all.
    - The top leaves room for the legend above the highest point (one row per
      curve, top left), except that a bounded metric (accuracy) stops at its
      ``ceiling``.
    """

    def __init__(self, log: bool, low: float, top: float, clip: float | None,
                 ticks: list[float], labels: list[str], clip_at: float | None = None) -> None:
        self.log, self.low, self.top = log, low, top
        self.clip = clip          # values above this are spikes, drawn at clip_at
        self.clip_at = clip_at if clip_at is not None else top
        self.ticks, self.labels = ticks, labels

    @classmethod
    def plan(cls, curves, legend_rows: int = 0, height: int = 0,
             ceiling: float | None = None) -> YAxis:
        curves = [[float(v) for v in values] for values in curves]
        kept = [v for values in curves for v, spike in zip(values, spikes(values))
                if math.isfinite(v) and not spike]
        clipped = [v for values in curves for v, spike in zip(values, spikes(values)) if spike]
        if not kept:   # every finite point a spike cannot happen (a median is never one)
            kept = [v for values in curves for v in values if math.isfinite(v)] or [0.0, 1.0]
        log = min(kept) > 0 and max(kept) / min(kept) >= LOG_SCALE_SPAN
        axis_values = [math.log10(v) for v in kept] if log else kept
        low, high = min(axis_values), max(axis_values)
        span = high - low or max(abs(high), 1.0) * 0.1
        rows = max(6, height - 5) if height > 0 else 12      # title, axes and frame take ~5
        # rows above the data: the legend's, and one for the clipped points under it
        above = (legend_rows + 0.5 if legend_rows > 0 else 0.0) + (1.5 if clipped else 0.0)
        share = min(0.5, above / rows)
        top = high + span * share / (1 - share)
        if ceiling is not None and not log and high <= ceiling:
            top = min(top, ceiling)
            if top <= low:          # flat at the ceiling (every row right)
                low = top - span
        if top <= high and high == low:
            top = high + span
        clip_at = None
        if clipped:
            clip_at = min(top, high + (top - low) / rows)   # one row above the highest point
        # no more labels than the data's part of the axis has rows; four even in a short chart
        data_rows = max(1, int(rows * (1 - share)))
        most = min(6, max(4, data_rows))
        if log:
            ticks, labels = _log_ticks(low, high if clipped else top, most)
        else:
            # ticks stop at the highest point when spikes are drawn above it (off scale)
            ticks = nice_ticks(low, high if clipped else top, most=most, least=min(4, most))
            labels = tick_labels(ticks)
        return cls(log, low, top, max(kept) if clipped else None, ticks, labels, clip_at)

    def y(self, value: float) -> float:
        """Where ``value`` is drawn: on the axis, at its top when it is clipped, NaN
        when it has no place (non-finite, or not positive on a log axis)."""
        if not math.isfinite(value):
            return math.nan
        if self.clip is not None and value > self.clip:
            return self.clip_at
        if self.log:
            return math.log10(value) if value > 0 else math.nan
        return value

    def apply(self, plt) -> None:
        plt.ylim(self.low, self.top)
        plt.yticks(self.ticks, self.labels)

    def plot(self, plt, xs, values, *, label: str, color: str) -> None:
        """One curve (points without a place left out), and a label for the highest
        of its clipped points."""
        points = [(x, self.y(v), v) for x, v in zip(xs, values)]
        points = [p for p in points if math.isfinite(p[1])]
        if not points:
            return
        px, py, _ = zip(*points)
        plt.plot(list(px), list(py), label=label, color=color, marker="hd")
        if self.clip is not None:
            over = [(v, x) for x, _, v in points if v > self.clip]
            if over:
                v, x = max(over)
                plt.text(f" ↑{format_metric(v)}", x, self.clip_at, color=color, alignment="left",
                         background="default")


def _log_ticks(low: float, top: float, most: int = 6) -> tuple[list[float], list[str]]:
    """Ticks of a log axis from ``low`` to ``top`` (log10 units): the powers of ten
    inside, every n-th of them when there are many; with 2x and 5x between them
    when fewer than four powers fit."""
    first, last = math.ceil(low - 1e-9), math.floor(top + 1e-9)
    powers = list(range(first, last + 1))
    if len(powers) >= min(4, most):
        step = max(1, math.ceil(len(powers) / most))
        powers = powers[::-1][::step][::-1]       # keep the top decade
        return [float(k) for k in powers], [f"1e{k}" for k in powers]
    ticks = []
    for k in range(first - 1, last + 1):
        for m in (1, 2, 5):
            t = k + math.log10(m)
            if low - 1e-9 <= t <= top + 1e-9:
                ticks.append((t, f"{m}e{k}"))
    ticks = ticks[::-1][::max(1, math.ceil(len(ticks) / most))][::-1]
    return [t for t, _ in ticks], [label for _, label in ticks]
