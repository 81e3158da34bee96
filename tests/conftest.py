"""Shared fixtures."""

from __future__ import annotations

import importlib.util
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


@pytest.fixture(params=["numpy", "compiled"])
def fit_path(request, monkeypatch):
    """Runs a test on both training paths of the NumPy backend: batch by batch in Python
    ("numpy", DEEPTERM_NO_COMPILE=1) and in compiled chunks of batches ("compiled",
    engine.compiled; skipped where Numba cannot load). On the compiled path the test
    fails unless its fits took it: no silent fallback to the NumPy path."""
    if request.param == "numpy":
        monkeypatch.setenv("DEEPTERM_NO_COMPILE", "1")
        yield "numpy"
        return
    monkeypatch.delenv("DEEPTERM_NO_COMPILE", raising=False)
    monkeypatch.delenv("DEEPTERM_NO_NUMBA", raising=False)
    monkeypatch.setenv("DEEPTERM_COMPILE", "1")       # the tests' fits are short
    from engine import compiled

    if compiled.get() is None:
        if importlib.util.find_spec("numba") is not None:   # installed: it must work
            pytest.fail(f"Numba is installed but the compiled path failed: "
                        f"{compiled.failure()}")
        pytest.skip("Numba is not installed here")
    runs = []
    real_run = compiled.Trainer.run

    def counted(self, *args, **kwargs):
        runs.append(args[1:3])
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(compiled.Trainer, "run", counted)
    yield "compiled"
    assert compiled.failure() is None
    assert runs, "no fit took the compiled path"
