"""Helpers shared by the TUI tests (imported, never via conftest)."""

from __future__ import annotations

import asyncio
import time

from engine import History

SIZE = (120, 40)


async def wait_until(pilot, condition, timeout: float = 30.0, what: str = "condition",
                     details=None) -> None:
    """Let the app run until ``condition()`` holds (fails after ``timeout`` seconds,
    with what ``details()`` says of the app then)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = f": {details()}" if details is not None else ""
            raise AssertionError(f"timed out waiting for {what}{said}")
        await pilot.pause(0.05)
        await asyncio.sleep(0.02)


def fixed_history(epochs: int, total: int = 20, stop_reason: str = "completed",
                  best_epoch: int | None = None) -> History:
    """A made-up but plausible classification history of ``epochs`` epochs."""
    h = History({"epochs": total, "steps": 20, "samples": 623, "batch_size": 32,
                 "validation_samples": 268})
    for e in range(epochs):
        logs = {"loss": 0.70 * 0.93 ** e + 0.02, "accuracy": 0.60 + 0.2 * (1 - 0.85 ** e),
                "val_loss": 0.68 * 0.94 ** e + 0.05 + (0.02 * max(0, e - 9) ** 1.5),
                "val_accuracy": 0.62 + 0.18 * (1 - 0.8 ** e)}
        h.append(e, logs)
    h.stop_reason = stop_reason
    h.best_epoch = best_epoch if best_epoch is not None or stop_reason != "early_stopped" \
        else h.best("val_loss")[0]
    h.duration_s = 12.5
    h.device = "CPU"
    return h


def setup(app):
    """The app's setup screen."""
    return app.setup_screen


def run_async(test):
    """Run an ``async def`` test with asyncio.run (no asyncio plugin needed);
    fixtures still work since the signature is kept."""
    import functools

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


async def ready(pilot) -> None:
    """Wait until the setup screen has its catalog and a valid first config."""
    app = pilot.app
    await wait_until(pilot, lambda: app.screen_stack and getattr(app.setup_screen, "catalog_ready",
                                                                 False)
                     and app.setup_screen.dataset is not None, what="the dataset catalog")
    await pilot.pause()
