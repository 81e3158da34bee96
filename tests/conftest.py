"""Shared fixtures."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

# Runs in the app train as fast as they can in the tests, whatever the app's default
# pace (tests of the pace set their own).
os.environ["DEEPTERM_PACE"] = "max"

ROOT = Path(__file__).resolve().parent.parent
COURSE_DATA = ROOT.parent / "shared" / "course-data"


@pytest.fixture
def course_data() -> Path:
    """The course's CSV files (../shared/course-data); skips when absent."""
    if not COURSE_DATA.is_dir():
        pytest.skip("../shared/course-data is not here (a fresh clone has no course files)")
    return COURSE_DATA


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
