"""The NumPy backend's compiled path (engine.compiled) against its batch-by-batch
path, side by side in one process, interleaved round by round.

    python bench/compiled.py                 # wages, titanic, MNIST-1750, 784-512-512-10 b256
    python bench/compiled.py --quick         # fewer rounds, 5k rows for the large workload
    python bench/compiled.py --rounds 7 --epochs 5
    python bench/compiled.py --only large    # the workloads whose name holds "large"

Each round trains each workload once on each path (``DEEPTERM_NO_COMPILE`` set or
not, in alternating order), ``--epochs`` timed epochs after a warm-up epoch; the
figures are the medians over every timed epoch of the rounds (an epoch includes its
validation pass, as the app times it). The compiled loop is compiled (or loaded from
Numba's cache) before the first round: its one-off cost is printed apart. The
workloads are bench/run.py's (the shipped course data where the catalog is there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import EpochTimer, workloads  # noqa: E402

from engine import build, compiled  # noqa: E402


def epochs_on(path: str, spec, X, y, batch_size, split, epochs: int) -> list[float]:
    """Seconds of each of ``epochs`` epochs after a warm-up epoch, on ``path``."""
    if path == "numpy":
        os.environ[compiled.NO_COMPILE_ENV] = "1"
    else:       # these fits are a few epochs: below MIN_BATCHES they would not compile
        os.environ.pop(compiled.NO_COMPILE_ENV, None)
        os.environ[compiled.COMPILE_ENV] = "1"
    timer = EpochTimer()
    model = build(spec, seed=0)
    model.fit(X, y, epochs=epochs + 1, batch_size=batch_size, validation_split=split,
              callbacks=[timer])
    return timer.times[1:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only", default="", help="only the workloads whose name holds this")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    os.environ.pop(compiled.NO_COMPILE_ENV, None)
    started = time.perf_counter()
    ready = compiled.warm()
    print(f"compiled loop ready: {ready} ({time.perf_counter() - started:.2f} s to import "
          f"Numba and compile or load it{'' if ready else '; ' + str(compiled.failure())})")
    if not ready:
        return 1
    rows = []
    for name, source, spec, X, y, batch_size, split in workloads(args.quick):
        if args.only not in name:
            continue
        times: dict[str, list[float]] = {"numpy": [], "compiled": []}
        for r in range(rounds):
            order = ("numpy", "compiled") if r % 2 == 0 else ("compiled", "numpy")
            for path in order:
                times[path] += epochs_on(path, spec, X, y, batch_size, split, args.epochs)
        numpy_ms = 1000 * statistics.median(times["numpy"])
        compiled_ms = 1000 * statistics.median(times["compiled"])
        rows.append((name, source, numpy_ms, compiled_ms))
        print(f"{name:34s} {source:9s} numpy {numpy_ms:9.2f} ms/epoch   compiled "
              f"{compiled_ms:9.2f} ms/epoch   compiled/numpy {compiled_ms / numpy_ms:5.2f}x",
              flush=True)
    os.environ.pop(compiled.NO_COMPILE_ENV, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
