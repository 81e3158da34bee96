"""Chart axes: a run that blew up is drawn on a log scale with readable ticks; the
legend gets room above the curves."""

from __future__ import annotations

import math

import pytest

from tui.widgets.charts import legend_headroom, log_scale_if_wide


class FakePlt:
    def __init__(self):
        self.calls = []

    def yscale(self, kind):
        self.calls.append(("yscale", kind))

    def yticks(self, ticks, labels):
        self.calls.append(("yticks", list(ticks), list(labels)))

    def ylim(self, lower, upper):
        self.calls.append(("ylim", lower, upper))


def test_values_spanning_many_orders_of_magnitude_get_a_log_axis_with_power_ticks():
    plt = FakePlt()
    assert log_scale_if_wide(plt, [2.9e17, 0.67, 0.61, math.nan, math.inf])
    assert plt.calls[0] == ("yscale", "log")
    _, ticks, labels = plt.calls[1]
    assert labels[-1] == "1e18" and ticks[0] <= 0.61 and len(labels) <= 7
    assert ticks == [10.0 ** int(label[2:]) for label in labels]


def test_ordinary_curves_and_curves_through_zero_stay_linear():
    for values in ([0.7, 0.5, 0.31], [0.0, 5e6], [-1.0, 2e9], [], [math.nan]):
        plt = FakePlt()
        assert not log_scale_if_wide(plt, values)
        assert plt.calls == []


def test_the_legend_rows_stay_above_the_highest_point():
    """Two legend rows in a chart 18 rows high (13 of plot): the data keeps to the
    part of the axis below the legend, so a loss curve's first epochs show."""
    plt = FakePlt()
    legend_headroom(plt, [0.73, 0.5, math.nan, 0.62], legend_rows=2, height=18)
    (_, low, top), = plt.calls
    assert low == 0.5
    above = (top - 0.73) / (top - low)          # the share of the axis above the data
    assert above == pytest.approx(2.5 / 13)
    plt = FakePlt()
    legend_headroom(plt, [1e-3, 1e3], legend_rows=3, height=18, log=True)
    (_, low, top), = plt.calls
    assert low == pytest.approx(1e-3)
    assert (math.log10(top) - 3) / (math.log10(top) + 3) == pytest.approx(3.5 / 13)


def test_no_finite_points_or_no_legend_leave_the_axis_alone():
    for values, rows in (([math.nan], 2), ([], 1), ([0.5, 0.7], 0)):
        plt = FakePlt()
        legend_headroom(plt, values, legend_rows=rows, height=18)
        assert plt.calls == []
    plt = FakePlt()
    legend_headroom(plt, [0.4, 0.4], legend_rows=1, height=0)    # flat, not laid out yet
    (_, low, top), = plt.calls
    assert low == 0.4 and top > 0.4
