"""Chart axes: a spike is drawn off scale instead of flattening every curve, a run
that blew up and stayed up goes on a log axis with readable ticks, the legend gets
room above the curves, and accuracy stops at 1. Charts are rendered as a learner
sees them (twice: a resize or a theme change builds a chart again)."""

from __future__ import annotations

import asyncio
import math

import pytest
from textual.app import App

from tui.app.widgets.charts import MetricChart, YAxis, nice_ticks
from tui.app.widgets.compare_chart import CompareChart

#: The course's learning-rate experiment on unscaled Titanic (engine.sweeps'
#: "learning-rates", 10 epochs): 1e-6 barely moves, 0.01 learns, 1 spikes to 3e17
#: in its first epoch and then settles near 0.67.
LR_SWEEP = {
    "learning_rate=1e-06": [4.79, 4.72, 4.65, 4.57, 4.5, 4.43, 4.36, 4.29, 4.21, 4.14],
    "learning_rate=0.01": [1.76, 0.686, 0.627, 0.644, 0.611, 0.608, 0.613, 0.608, 0.601, 0.615],
    "learning_rate=1": [2.88e17, 0.674, 0.672, 0.674, 0.666, 0.668, 0.667, 0.668, 0.67, 0.677],
}




def _within(axis: YAxis) -> list[float]:
    return [t for t in axis.ticks if axis.low - 1e-9 <= t <= axis.top + 1e-9]


def test_a_spike_is_drawn_off_scale_and_the_other_epochs_keep_the_height():
    axis = YAxis.plan(list(LR_SWEEP.values()), legend_rows=3, height=24)
    assert not axis.log
    assert axis.clip == 4.79                      # the highest point that is not a spike
    assert axis.low == 0.601 and 4.79 < axis.y(2.88e17) <= axis.top
    assert axis.y(0.674) == 0.674
    assert len(_within(axis)) >= 4 and max(axis.ticks) <= 4.79   # no tick beside the spike
    assert axis.labels == ["1", "2", "3", "4"]


def test_a_run_that_blew_up_and_stayed_up_gets_a_log_axis_ticked_inside_the_frame():
    exploded = [0.9, 4.5e16, 2.1e19, 8.0e18, 3.3e18, 1.2e19]
    axis = YAxis.plan([exploded, [0.7, 0.65, 0.6, 0.58, 0.55, 0.54]], legend_rows=2, height=20)
    assert axis.log and axis.clip is None
    assert axis.low == pytest.approx(math.log10(0.54))
    inside = _within(axis)
    assert len(inside) >= 4 and len(inside) == len(axis.ticks)
    assert all(label.startswith("1e") for label in axis.labels)
    assert axis.y(2.1e19) == pytest.approx(math.log10(2.1e19)) and math.isnan(axis.y(-1.0))


def test_a_loss_falling_three_decades_is_logarithmic_with_in_between_ticks():
    falling = [0.8 * 0.5 ** e for e in range(12)]          # 0.8 down to 4e-4
    axis = YAxis.plan([falling], legend_rows=1, height=20)
    assert axis.log
    assert len(_within(axis)) >= 4 and len(_within(axis)) == len(axis.ticks)
    assert "1e-3" in axis.labels and "1e-1" in axis.labels


def test_accuracy_stops_at_one_and_ordinary_curves_stay_linear():
    accuracy = [0.6, 0.7, 0.8, 0.9, 0.97]
    axis = YAxis.plan([accuracy, [0.62, 0.71, 0.78, 0.85, 0.9]], legend_rows=2, height=14,
                      ceiling=1.0)
    assert not axis.log and axis.top == 1.0 and max(axis.ticks) <= 1.0
    every_right = YAxis.plan([[1.0, 1.0, 1.0]], legend_rows=1, height=14, ceiling=1.0)
    assert every_right.top == 1.0 and every_right.low < 1.0
    for values in ([0.7, 0.5, 0.31], [0.0, 5e6], [-1.0, 2e9]):
        assert not YAxis.plan([values]).log


def test_the_legend_rows_stay_above_the_highest_point():
    """Two legend rows in a chart 18 rows high (13 of plot): the data keeps to the
    part of the axis below the legend, so a loss curve's first epochs show."""
    axis = YAxis.plan([[0.73, 0.5, math.nan, 0.62]], legend_rows=2, height=18)
    assert axis.low == 0.5
    assert (axis.top - 0.73) / (axis.top - axis.low) == pytest.approx(2.5 / 13)
    flat = YAxis.plan([[0.4, 0.4]], legend_rows=1, height=0)    # flat, not laid out yet
    assert flat.low == 0.4 and flat.top > 0.4


def test_nice_ticks_are_round_and_at_least_four():
    assert nice_ticks(0.6, 5.9) == [1, 2, 3, 4, 5]
    assert nice_ticks(0.6, 0.78) == [0.6, 0.65, 0.7, 0.75]
    assert len(nice_ticks(1e16, 5e16)) >= 4


class _Charts(App):
    def __init__(self, chart) -> None:
        super().__init__()
        self.chart = chart

    def compose(self):
        yield self.chart


def _read(chart, colours: dict[str, str] | None = None) -> tuple[list[str], dict[str, set[int]]]:
    """The y-axis labels inside the frame, and the rows each legend entry's colour
    occupies below the legend, from the chart as rendered (or each of ``colours``,
    label -> Rich style, for a chart without a legend)."""
    lines = chart.render().split("\n")
    plain = [line.plain for line in lines]
    top = next(i for i, p in enumerate(plain) if "┌" in p)
    bottom = next(i for i, p in enumerate(plain) if "└" in p)
    ticks = [p.split("┤")[0].strip() for p in plain[top + 1:bottom] if "┤" in p]
    colours, legend_rows = dict(colours or {}), set()
    for i in range(top + 1, bottom if not colours else top + 1):
        for label in chart_labels(chart):
            if f"▞▞ {label}" in plain[i]:
                at = plain[i].index("▞▞")
                span = next(sp for sp in lines[i].spans if sp.start <= at < sp.end)
                colours[label] = str(span.style).split(" on ")[0]
                legend_rows.add(i)
    rows: dict[str, set[int]] = {label: set() for label in colours}
    for i in range(top + 1, bottom):
        if i in legend_rows:
            continue
        for span in lines[i].spans:
            colour = str(span.style).split(" on ")[0]
            text = lines[i].plain[span.start:span.end]
            for label, c in colours.items():
                if c == colour and any(ch in "▖▗▘▙▚▛▜▝▞▟▀▄▌▐█" for ch in text):
                    rows[label].add(i)
    return ticks, rows


def chart_labels(chart) -> list[str]:
    if isinstance(chart, CompareChart):
        return [label for label, _, _ in chart.series]
    return [key for key, values in chart.series.items() if values]


@pytest.mark.parametrize("size", [(80, 14), (100, 20), (120, 30)])
def test_the_course_learning_rate_sweep_reads_on_the_compare_chart(size):
    """The course's headline experiment, as run by engine.sweeps on unscaled
    Titanic: at least four ticks inside the frame, every curve over several rows,
    the spike labelled with its value, and a second build draws the same picture."""
    from engine.sweeps import run_experiment

    runs = run_experiment("learning-rates")
    series = [(r.label, [e + 1 for e in r.history.epoch], r.history.history["loss"]) for r in runs]
    assert max(series[2][2]) > 1e12        # the "too high" rate still spikes

    async def scenario():
        chart = CompareChart(id="chart")
        async with _Charts(chart).run_test(size=size) as pilot:
            chart.set_series(series, metric="loss")
            chart.total_epochs = 10
            chart.replot()
            await pilot.pause()
            first = chart.render().plain
            assert chart.render().plain == first       # built again: the same chart
            ticks, rows = _read(chart)
            assert len(set(ticks)) >= 4, first
            assert len(rows) == 3 and all(len(r) >= 2 for r in rows.values()), (rows, first)
            assert len(rows["learning_rate=1"]) >= 3     # from the spike down to 0.67
            assert "↑" in first and "e+" in first        # the spike's value, compactly

    asyncio.run(scenario())


def test_a_training_chart_of_a_diverged_run_is_ticked_inside_its_frame():
    chart = MetricChart("loss", "loss", id="chart")

    async def scenario():
        async with _Charts(chart).run_test(size=(60, 16)) as pilot:
            for e, (loss, val) in enumerate([(0.9, 0.8), (4.5e16, 2.1e19), (8e18, 3e19),
                                             (3.3e18, 1e19), (1.2e19, 4e19)]):
                chart.add_epoch(e, {"loss": loss, "val_loss": val})
            chart.total_epochs = 5
            chart.replot()
            await pilot.pause()
            ticks, rows = _read(chart)
            assert len(set(ticks)) >= 3 and all(t.startswith("1e") for t in ticks)
            assert all(len(r) >= 2 for r in rows.values()) and len(rows) == 2
            assert chart.render().plain == chart.render().plain

    asyncio.run(scenario())
