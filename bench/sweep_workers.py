"""Sweep wall time with one worker against two (engine.runner.sweep's process pool).

Six course runs: the MNIST preset (784-50-50-10, adam, 10 epochs, 2500 images, 30%
validating) at six learning rates, a sweep a learner runs in chapter 4. Each round
trains the same sweep with workers=1 and workers=2, in alternating order, after one
warm-up sweep of each (the pools' child processes start once, as the app's stay
warm); every sweep's histories are compared with the first's.

    python bench/sweep_workers.py [--rounds 5] [--epochs 10]

Prints each round's times and the median of the per-round ratios (one worker's time
over two workers'). Run by hand; these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from engine import runner  # noqa: E402
from engine.recipe import prepare  # noqa: E402
from engine.sweeps import configs_for  # noqa: E402
from tui.app.config import PRESETS_BY_KEY  # noqa: E402

RATES = (0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    base = PRESETS_BY_KEY["3"].config.with_changes(epochs=args.epochs)
    data = prepare(base)
    configs = configs_for(base, "learning_rate", RATES, int(data.X.shape[1]))
    print(f"{len(configs)} runs: MNIST preset, {args.epochs} epochs, 2500 images; "
          f"{runner.default_workers()} cores here")

    reference = None

    def sweep(workers: int) -> float:
        nonlocal reference
        started = time.perf_counter()
        runs = runner.sweep(configs, data=data, workers=workers)
        took = time.perf_counter() - started
        histories = [r.history.history for r in runs]
        if reference is None:
            reference = histories
        elif histories != reference:
            raise SystemExit(f"workers={workers}: the histories differ from the first sweep's")
        return took

    sweep(1)
    sweep(2)           # warm-up: both pools' children started
    ratios, times = [], {1: [], 2: []}
    for round_ in range(args.rounds):
        order = (1, 2) if round_ % 2 == 0 else (2, 1)
        took = {workers: sweep(workers) for workers in order}
        for workers in (1, 2):
            times[workers].append(took[workers])
        ratios.append(took[1] / took[2])
        print(f"round {round_ + 1}: one worker {took[1]:.2f} s, two workers {took[2]:.2f} s, "
              f"ratio {took[1] / took[2]:.2f}")
    print(f"median: one worker {statistics.median(times[1]):.2f} s, two "
          f"{statistics.median(times[2]):.2f} s; median of the per-round ratios "
          f"{statistics.median(ratios):.2f}x (goal >= 1.7x); histories identical in every sweep")


if __name__ == "__main__":
    main()
