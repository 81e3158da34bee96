"""Several runs' curves of one metric overlaid on one chart, with a legend.

``CompareChart.set_series([(label, epochs, values), ...])`` keeps the curves
(epochs counted from 1); ``replot()`` draws them. The Runs screen draws the
selected runs; the Sweep screen redraws its runs from a timer as they train.
"""

from __future__ import annotations

import math

from .charts import BOUNDED_METRICS, TimedPlot, YAxis, epoch_ticks

#: One colour per run, in order (plotext colour names).
PALETTE = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "white",
           "gray", "violet")


class CompareChart(TimedPlot):
    """One metric of several runs, one coloured line each, labelled in the legend."""

    def __init__(self, metric: str = "loss", *, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.metric = metric
        self.series: list[tuple[str, list[int], list[float]]] = []
        self.total_epochs: int | None = None
        self.empty_text = "Select runs to compare"
        #: False when the screen names the curves itself (the sweep's table, in their colours)
        self.legend = True

    def set_series(self, series, metric: str | None = None) -> None:
        """``series``: (label, epochs counted from 1, values) per run."""
        if metric is not None:
            self.metric = metric
        self.series = [(str(label), list(xs), [float(v) for v in ys]) for label, xs, ys in series]

    def drawn_series(self) -> list[str]:
        """Labels of the runs that have at least one finite point (what the chart shows)."""
        return [label for label, xs, ys in self.series
                if any(math.isfinite(v) for v in ys[:len(xs)])]

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.metric if self.series else self.empty_text)
        plt.xlabel("epoch")
        longest = max((max(xs) for _, xs, _ in self.series if xs), default=0)
        total = max(self.total_epochs or 0, longest, 2)
        plt.xlim(1, total)
        plt.xticks(epoch_ticks(total))
        curves = [(label, xs, ys[:len(xs)], PALETTE[i % len(PALETTE)])
                  for i, (label, xs, ys) in enumerate(self.series)]
        curves = [c for c in curves if any(math.isfinite(v) for v in c[2])]
        if not curves:
            plt.ylim(0, 1)
            self.refresh()
            return
        axis = YAxis.plan([ys for _, _, ys, _ in curves],
                          legend_rows=len(curves) if self.legend else 0,
                          height=self.size.height,
                          ceiling=BOUNDED_METRICS.get(self.metric.removeprefix("val_")))
        axis.apply(plt)
        for label, xs, ys, color in curves:
            axis.plot(plt, xs, ys, label=label if self.legend else None, color=color)
        self.refresh()


def curve_style(index: int) -> str:
    """The Rich style of the ``index``-th curve's colour, for naming it outside the
    chart (plotext draws its colour names as these terminal colour numbers)."""
    from plotext._dict import color_codes

    return f"color({color_codes[PALETTE[index % len(PALETTE)]]})"
