"""What Playground's views cost a run training in the app: circle, NumPy backend, in
the training screen with the views (the network with each neuron's picture and the
decision boundary, drawn from the weights the run reports) against the same screen
without them (the curves), side by side.

    python bench/playground_throughput.py [--epochs 300] [--repeats 11] [--runs 3]

Both train at full speed (no pace) through the runner's child process, as the app
does, and measure samples per second from ``fit``'s own clock (History.duration_s),
in alternating order, so a busy machine hurts both alike (as bench/tui_throughput.py
measures the app against headless). Each sample trains ``--runs`` runs in one app.
Target: with the views >= 95% of without.
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
os.environ["DEEPTERM_PACE"] = "max"       # full speed: what the views could slow down

import datasets  # noqa: E402
from engine.recipe import RunConfig, prepare  # noqa: E402
from tui.app import DeeptermApp  # noqa: E402
from tui.app.screens.training import TrainingScreen  # noqa: E402


def samples_per_s(histories) -> float:
    samples = sum(h.params["samples"] * len(h) for h in histories)
    return samples / sum(h.duration_s for h in histories)


class BenchScreen(TrainingScreen):
    """The training screen, with Playground's views or without (``views=False``: the
    curves, and no weights reported), telling the bench when the run ends."""

    def __init__(self, *args, views: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.done = asyncio.Event()
        if not views:
            self.playground = False
            self.view = "curves"
        self.draws = 0

    def _draw_playground(self, force: bool) -> None:
        before = self._weights_report
        super()._draw_playground(force)
        if before is not None and self._weights_report is None:
            self.draws += 1

    def _show_status(self) -> None:
        super()._show_status()
        if self.state in ("finished", "failed"):
            self.done.set()


async def in_app(config, data, runs: int, views: bool) -> tuple[float, int]:
    app = DeeptermApp(store=False)
    histories, draws = [], 0
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(runs):
            screen = BenchScreen(config, data, views=views)
            await app.push_screen(screen)
            await screen.done.wait()
            if screen.state == "failed":
                raise RuntimeError(screen.error)
            histories.append(screen.history)
            draws += screen.draws
            await app.pop_screen()
    return samples_per_s(histories), draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ds = datasets.load("circle")
    config = RunConfig(dataset="circle", hidden=((8, "tanh"), (8, "tanh")), optimizer="adam",
                       learning_rate=0.03, epochs=args.epochs, batch_size=10).for_dataset(ds)
    data = prepare(config, ds)
    asyncio.run(in_app(config.with_changes(epochs=5), data, 1, True))   # warm-up
    with_views, without, draws = [], [], []
    started = time.perf_counter()
    for i in range(args.repeats):
        order = (True, False) if i % 2 else (False, True)
        for views in order:
            rate, n = asyncio.run(in_app(config, data, args.runs, views))
            (with_views if views else without).append(rate)
            if views:
                draws.append(n)
    wm, om = statistics.median(with_views), statistics.median(without)
    pairwise = statistics.median(a / b for a, b in zip(with_views, without))
    print(f"circle (500 rows, 350 train), 2-8-8-2 tanh, adam, batch 10, {args.epochs} epochs, "
          f"numpy backend in the app's child process, {args.repeats} alternating samples of "
          f"{args.runs} runs each, {time.perf_counter() - started:.0f} s in all")
    print(f"without the views: median {om:,.0f} samples/s  "
          f"({', '.join(f'{v:,.0f}' for v in without)})")
    print(f"with the views:    median {wm:,.0f} samples/s  "
          f"({', '.join(f'{v:,.0f}' for v in with_views)}); "
          f"pictures drawn per sample: {', '.join(map(str, draws))}")
    print(f"with / without: {wm / om:.1%} (medians), {pairwise:.1%} (median of pairs)  "
          f"(target >= 95%: {'met' if min(wm / om, pairwise) >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
