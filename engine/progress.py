"""What ``model.fit(verbose=...)`` shows, with Keras' meaning, on both backends.

- ``0``: nothing (deepterm's default: its front ends show progress their own way);
- ``1``: a progress bar per epoch with the running metrics, finished with the
  validation metrics; drawn by tqdm's ``tqdm.auto``, which is a notebook widget in
  Jupyter and a text bar on a terminal. Where output is neither (a pipe, a CI log),
  one plain line per epoch instead, as Keras' own bar does there;
- ``2``: one line per epoch;
- ``"auto"``: as Keras 3 decides, ``1``.

A line is Keras' verbose=2 line:

    Epoch 3/20
    22/22 - 0s - 1ms/step - loss: 0.5830 - accuracy: 0.7008 - val_loss: 0.5570 - val_accuracy: 0.7127
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .callbacks import Callback
from .errors import FitError

VERBOSE = (0, 1, 2, "auto")


def resolve_verbose(verbose: Any) -> int:
    """0, 1 or 2 for ``fit``'s ``verbose`` ("auto" -> 1, as in Keras); FitError otherwise."""
    if verbose == "auto" and isinstance(verbose, str):
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise FitError(f"verbose must be 0 (silent), 1 (a progress bar), 2 (one line per "
                       f"epoch) or 'auto', got {verbose!r}")
    return int(verbose)


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where tqdm.auto draws a widget)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def _metrics(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressLogger(Callback):
    """Prints training progress as ``verbose`` says (see the module's docstring) to
    ``stream`` (default: sys.stdout, where Keras prints)."""

    def __init__(self, verbose: Any = 1, stream: Any = None) -> None:
        super().__init__()
        self.verbose = resolve_verbose(verbose)
        self.stream = stream
        self.bar: Any = None
        self._started = 0.0
        self._epoch = 0

    @property
    def _out(self) -> Any:
        return self.stream if self.stream is not None else sys.stdout

    def _interactive(self) -> bool:
        if self.stream is None and in_notebook():
            return True
        isatty = getattr(self._out, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (OSError, ValueError):
            return False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._started = time.perf_counter()
        title = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"
        if self.verbose == 1 and self._interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.params.get("steps"), desc=title, unit="step",
                            file=self._out, leave=True, dynamic_ncols=True,
                            bar_format="{desc} {n_fmt}/{total_fmt} {bar:20} {elapsed}{postfix}")
        elif self.verbose:
            print(title, file=self._out, flush=True)

    #: a bar redrawn about 10 times a second is enough (engine.callbacks.Callback)
    batch_interval_s = 0.1

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_metrics(logs or {}), refresh=False)
            self.bar.update(batch + 1 - self.bar.n)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        if self.bar is not None:
            self.bar.set_postfix_str(_metrics(logs), refresh=False)
            self.bar.close()
            self.bar = None
        elif self.verbose:
            steps = self.params.get("steps") or 1
            took = time.perf_counter() - self._started
            print(f"{steps}/{steps} - {took:.0f}s - {1000 * took / steps:.0f}ms/step - "
                  f"{_metrics(logs)}", file=self._out, flush=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.bar is not None:       # stopped inside an epoch
            self.bar.close()
            self.bar = None


def with_progress(callbacks: Any, verbose: Any) -> Any:
    """``callbacks`` with a ProgressLogger last when ``verbose`` asks for one."""
    level = resolve_verbose(verbose)
    if level == 0 or (callbacks is not None and not isinstance(callbacks, (list, tuple))):
        return callbacks            # CallbackList says what is wrong with anything else
    return [*(callbacks or []), ProgressLogger(level)]


__all__ = ["VERBOSE", "ProgressLogger", "in_notebook", "resolve_verbose", "with_progress"]
