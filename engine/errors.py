"""Errors raised by the engine.

Every error a user can cause is a ``ValueError`` subclass whose message names
the offending field and what it accepts, so scripts can catch ``ValueError``
and the UI can show the message as it is.
"""

from __future__ import annotations


class SpecError(ValueError):
    """A model spec field holds a value the engine cannot use."""


class FitError(ValueError):
    """Arguments or data given to ``fit``/``predict``/``evaluate`` are unusable."""


class ModelFileError(FitError):
    """A model file cannot be read (missing, damaged, not a model file) or written
    (no such folder, disk full...); the message names the file and what is wrong."""


class BackendUnavailable(RuntimeError):
    """A backend (TensorFlow for ``backend="keras"``) cannot be used here."""


def choices(values) -> str:
    """Format accepted values for an error message: ``'a', 'b' or 'c'``."""
    items = [repr(v) for v in values]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]
