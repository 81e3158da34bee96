"""Time from launching the app to its first frame, and whether TensorFlow was imported.

    python bench/tui_startup.py [--runs 5]

Each run is a fresh Python process (``python -c``) that starts deepterm's app
headless, waits until the setup screen has been painted once, prints the
wall-clock time and exits. The figure is launch (just before the process is
spawned) to that first frame, so it includes Python's own start-up and every
import. Target: under 1 s, with TensorFlow not imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, time, json
from tui.app import DeeptermApp
from tui.app.screens.setup import SetupScreen

class Probe(DeeptermApp):
    def on_mount(self):
        self.set_interval(0.002, self._check)

    def _check(self):
        if isinstance(self.screen, SetupScreen) and self.screen.is_mounted:
            self.screen.call_after_refresh(self._painted)

    def _painted(self):
        if getattr(self, "_done", False):
            return
        self._done = True
        line = json.dumps({"t": time.time(),
                           "tensorflow": any(m.split('.')[0] in ("tensorflow", "keras")
                                             for m in sys.modules)})
        os.write(1, (line + "\n").encode())  # Textual captures print() while it runs
        self.exit()

Probe(store=False).run(headless=True, size=(120, 40))
"""


def one_run() -> tuple[float, bool]:
    # .pyc files as on a user's machine: an environment that forbids writing them
    # (PYTHONDONTWRITEBYTECODE, set on some CI images) makes every launch compile
    # deepterm's and Textual's sources again, about a tenth of a second here
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60, env=env)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["t"] - start, data["tensorflow"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    one_run()  # warm the file cache and .pyc files
    times, tf = [], False
    for _ in range(args.runs):
        t, loaded = one_run()
        times.append(t)
        tf = tf or loaded
    print(f"launch to first frame: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs")
    print(f"TensorFlow imported at start-up: {'YES' if tf else 'no'}")
    print("target: < 1 s with TensorFlow not imported:",
          "met" if statistics.median(times) < 1.0 and not tf else "NOT met")


if __name__ == "__main__":
    main()
