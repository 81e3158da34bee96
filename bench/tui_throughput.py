"""Training throughput inside the app against headless, MNIST preset, NumPy backend.

    python bench/tui_throughput.py [--epochs 10] [--repeats 15] [--runs 3]

Headless: the same prepared data and config trained by the runner in this
thread, with no UI (``engine.runner.run(..., executor="thread")``). In the app: a
headless Textual app (Pilot) running the training screen, whose worker runs the same
runner with the NumPy backend's child process (engine.runner.child), relaying its
epochs and coalesced batch progress while the charts redraw and the runner records
the run. Both measure samples per second from ``fit``'s own clock
(History.duration_s) and are interleaved, in alternating order, so a busy
machine hurts both alike. A 10-epoch run lasts about a third of a second, and on a
shared machine two such runs back to back differ by up to 30%: hence each sample
trains the preset ``--runs`` times (in one app, one training screen after another),
many samples, and both the ratio of the medians and the median of the pairwise
ratios. With single runs and 15 pairs, one result's standard error was about 5%.
Target: in-app >= 95% of headless (the figure before the runner).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DEEPTERM_PACE"] = "max"   # the app's runs at full speed: a pace would be measured

import datasets  # noqa: E402
from engine import runner  # noqa: E402
from engine.recipe import prepare  # noqa: E402
from tui.app import DeeptermApp  # noqa: E402
from tui.app.config import PRESETS_BY_KEY  # noqa: E402
from tui.app.screens.training import TrainingScreen  # noqa: E402


def samples_per_s(histories) -> float:
    """Samples trained per second of ``fit``'s own clock, over all ``histories``."""
    samples = sum(h.params["samples"] * len(h) for h in histories)
    return samples / sum(h.duration_s for h in histories)


def headless(config, data, runs: int) -> float:
    return samples_per_s([runner.run(config, data, executor="thread").history
                          for _ in range(runs)])


class BenchScreen(TrainingScreen):
    """Tells the bench when the run ends (``done``): a polling loop would wake the UI
    thread more often than the app does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.done = asyncio.Event()

    def _show_status(self) -> None:
        super()._show_status()
        if self.state in ("finished", "failed"):
            self.done.set()


async def in_app(config, data, runs: int, screen_class=BenchScreen) -> float:
    """``runs`` runs in one app, one training screen (a ``screen_class``) after another."""
    app = DeeptermApp(store=False)
    histories = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(runs):
            screen = screen_class(config, data)
            await app.push_screen(screen)
            await screen.done.wait()
            if screen.state == "failed":
                raise RuntimeError(screen.error)
            histories.append(screen.history)
            await app.pop_screen()
    return samples_per_s(histories)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10,
                        help="10 is the preset's own; a longer run shows the steady state")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3,
                        help="preset runs per sample (one app trains them one after another)")
    args = parser.parse_args()
    config = PRESETS_BY_KEY["3"].config.with_changes(epochs=args.epochs)
    data = prepare(config, datasets.load("mnist", **config.dataset_options))
    headless(config.with_changes(epochs=1), data, 1)  # warm-up
    h, a = [], []
    started = time.perf_counter()
    for i in range(args.repeats):
        if i % 2:
            a.append(asyncio.run(in_app(config, data, args.runs)))
            h.append(headless(config, data, args.runs))
        else:
            h.append(headless(config, data, args.runs))
            a.append(asyncio.run(in_app(config, data, args.runs)))
    hm, am = statistics.median(h), statistics.median(a)
    print(f"MNIST preset (2500 images, 1750 train), {args.epochs} epochs, numpy backend, "
          f"{args.repeats} interleaved samples of {args.runs} runs each, "
          f"{time.perf_counter() - started:.0f} s in all")
    print(f"headless: median {hm:,.0f} samples/s  ({', '.join(f'{v:,.0f}' for v in h)})")
    print(f"in app:   median {am:,.0f} samples/s  ({', '.join(f'{v:,.0f}' for v in a)})")
    pairwise = statistics.median(x / y for x, y in zip(a, h))
    print(f"in-app / headless: {am / hm:.1%} (medians), {pairwise:.1%} (median of pairs)  "
          f"(target >= 95%: {'met' if min(am / hm, pairwise) >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
