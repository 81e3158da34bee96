"""Chart axes: a run that blew up is drawn on a log scale with readable ticks."""

from __future__ import annotations

import math

from tui.widgets.charts import log_scale_if_wide


class FakePlt:
    def __init__(self):
        self.calls = []

    def yscale(self, kind):
        self.calls.append(("yscale", kind))

    def yticks(self, ticks, labels):
        self.calls.append(("yticks", list(ticks), list(labels)))


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
