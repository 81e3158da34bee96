"""What Playground's views cost the training they watch: circle, in the app.

    python bench/playground_views.py [--epochs 200] [--repeats 9] [--runs 2]

Both sides are the app's training screen (a headless Textual app, Pilot) training
the same run of circle (500 points, 4-4 tanh, batch 10) at full speed on the NumPy
backend's child process, in alternating order so that a busy machine hurts both
alike: once with the views (the network's pictures and the decision boundary,
redrawn while it trains from the weights the run reports), once without (the same
screen as for any other dataset: curves and table, no weights reported). Both
measure samples per second from ``fit``'s own clock (History.duration_s).
Goal (issue 16): the views cost no more than 5% of in-app training throughput.
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
os.environ["DEEPTERM_PACE"] = "max"   # full speed: a pace would be measured

from tui_throughput import BenchScreen, in_app  # noqa: E402

import datasets  # noqa: E402
from engine.recipe import RunConfig, prepare  # noqa: E402


class WithViews(BenchScreen):
    """The training screen as two-feature data gets it: Playground's views."""

    def on_mount(self) -> None:
        if not self.query("#playground"):     # in_app raises the error
            self.state, self.error = "failed", "the views were not shown"
            self.done.set()


class NoViews(BenchScreen):
    """The training screen as for data without two features: no pictures drawn,
    no weights reported."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.playground, self.view = False, "curves"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--runs", type=int, default=2, help="runs per sample, in one app")
    args = parser.parse_args()
    config = RunConfig(dataset="circle", dataset_options={"n": 500}, hidden=((4, "tanh"), (4, "tanh")),
                       optimizer="adam", learning_rate=0.03, epochs=args.epochs, batch_size=10,
                       validation_split=0.3)
    data = prepare(config, datasets.load("circle", n=500))
    asyncio.run(in_app(config.with_changes(epochs=2), data, 1, NoViews))   # warm-up
    views, plain = [], []
    started = time.perf_counter()
    for i in range(args.repeats):
        order = [(views, WithViews), (plain, NoViews)]
        for out, screen_class in (order if i % 2 else order[::-1]):
            out.append(asyncio.run(in_app(config, data, args.runs, screen_class)))
    vm, pm = statistics.median(views), statistics.median(plain)
    pairwise = statistics.median(v / p for v, p in zip(views, plain))
    print(f"circle (500 points, 350 train), 4-4 tanh, batch 10, {args.epochs} epochs, "
          f"{args.repeats} interleaved samples of {args.runs} runs, "
          f"{time.perf_counter() - started:.0f} s in all")
    print(f"without views: median {pm:,.0f} samples/s  ({', '.join(f'{v:,.0f}' for v in plain)})")
    print(f"with views:    median {vm:,.0f} samples/s  ({', '.join(f'{v:,.0f}' for v in views)})")
    print(f"with / without: {vm / pm:.1%} (medians), {pairwise:.1%} (median of pairs)  "
          f"(goal >= 95%: {'met' if min(vm / pm, pairwise) >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
