"""One number format for every metric deepterm shows (engine.formatting)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.formatting import WIDTH, format_metric


@pytest.mark.parametrize("value, text", [
    (0.693147, "0.6931"), (0.0, "0.0000"), (-0.0, "0.0000"), (12.5, "12.5000"),
    (999.56789, "999.5679"), (1234.5, "1.23e+03"), (-1234.5, "-1.2e+03"),
    (45185633846665400.0, "4.52e+16"),
    (21240534717293277184.0, "2.12e+19"), (3e-7, "3e-07"), (-1.234e-5, "-1.2e-05"),
    (float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf"),
    (None, "–"), (1234567, "1,234,567"), (True, "True"),
])
def test_values_read_compactly(value, text):
    assert format_metric(value) == text


def test_missing_text_can_be_chosen():
    assert format_metric(None, missing="") == ""


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 1e300 < abs(v) < math.inf))
def test_every_float_fits_the_width_and_reads_back_close(value):
    text = format_metric(value)
    assert len(text) <= WIDTH and " " not in text
    back = float(text)
    if math.isfinite(value) and abs(value) >= 1e-3:
        # three significant digits; two for negatives, one more for 3-digit exponents
        rel = (5e-3 if value > 0 else 5e-2) if abs(math.log10(abs(value))) < 99 else 0.5
        assert back == pytest.approx(value, rel=rel, abs=5e-5)
    elif math.isfinite(value):
        assert abs(back - value) <= max(abs(value) * 0.5, 5e-5)
    else:
        assert math.isnan(back) if math.isnan(value) else back == value
