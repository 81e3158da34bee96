"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COURSE_DATA = ROOT.parent / "shared" / "course-data"


@pytest.fixture
def course_data() -> Path:
    """The course's CSV files (../shared/course-data); skips when absent."""
    if not COURSE_DATA.is_dir():
        pytest.skip("../shared/course-data is not here (a fresh clone has no course files)")
    return COURSE_DATA
