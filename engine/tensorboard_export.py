"""Runs as TensorBoard event files, written without TensorFlow and without a running
TensorBoard (``pip install 'deepterm[tensorboard]'``: TensorBoard's own writer).

    from engine.tensorboard_export import export_runs
    export_runs([store.get(i) for i in ids], "logs")     # then: tensorboard --logdir logs

The layout is the one Keras' ``TensorBoard`` callback writes, so the charts look as
they do for a Keras script (training and validation curves of a metric on one chart):

    logs/<run>/train/       epoch_loss, epoch_accuracy ...    step = epoch, from 0 as in Keras
    logs/<run>/validation/  epoch_loss, epoch_accuracy ...    (from val_loss, val_accuracy)
    logs/<run>/             the run's settings: a text table ("hyperparameters") and an
                            HParams session (the HParams dashboard's table and plots)
    logs/<sweep>/<run>/     the runs of one sweep, grouped under the sweep's name

A run's folder is named ``<label>-<id>`` (or ``<dataset>-<id>``). Writing a run again
replaces the event files deepterm wrote for it (named ``*.deepterm``; other files stay).
``logs/`` gets the HParams experiment: every setting and metric of the runs written.
"""

from __future__ import annotations

import datetime as _dt
import glob
import itertools
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from .errors import BackendUnavailable

#: the folders a run's scalars go to, by the prefix of their history key
SPLITS = (("train", ""), ("validation", "val_"))
SUFFIX = ".deepterm"         # our event files' ending: an export replaces these, no others
EVENT_FILES = f"events.out.tfevents.*{SUFFIX}"


def _tensorboard():
    """TensorBoard's protos, summaries and record writer. (Its EventFileWriter is not used:
    it makes folders through ``tensorboard.compat.tf``, which imports TensorFlow when it is
    installed, ten seconds for nothing.)"""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.hparams import summary_v2 as hparams
        from tensorboard.plugins.text import summary_v2 as text
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError as exc:
        raise BackendUnavailable(f"writing TensorBoard files needs the tensorboard package "
                                 f"({exc}); install it with `pip install 'deepterm[tensorboard]'`"
                                 ) from None
    return event_pb2, summary_pb2, hparams, text, RecordWriter


class EventFile:
    """One event file in ``folder``, named as TensorFlow names them (with our suffix):
    a version record, then one record per ``add``."""

    _count = itertools.count()

    def __init__(self, folder: Path, started: float) -> None:
        event_pb2, _, _, _, RecordWriter = _tensorboard()
        self._event = event_pb2.Event
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(self._count)}{SUFFIX}")
        self._records = RecordWriter(open(folder / name, "wb"))   # closed by close()
        self.add(started, 0, file_version="brain.Event:2")

    def add(self, wall_time: float, step: int, **fields: Any) -> None:
        self._records.write(self._event(wall_time=wall_time, step=step, **fields)
                            .SerializeToString())

    def close(self) -> None:
        self._records.close()

    def __enter__(self) -> EventFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def safe_name(text: Any) -> str:
    """A folder name: letters, digits, '.', '=', '-' and '_' (anything else becomes '_')."""
    name = re.sub(r"[^A-Za-z0-9.=_-]+", "_", str(text)).strip("._")
    return name[:80] or "run"


def run_folder(run: Any) -> str:
    """``[<sweep>/]<label or dataset>-<id>``, relative to the export folder."""
    name = f"{safe_name(run.label or run.dataset_name)}-{run.id}"
    return f"{safe_name(run.group)}/{name}" if run.group else name


def hyperparameters(run: Any) -> dict[str, Any]:
    """A run's settings as HParams values (numbers, strings or booleans)."""
    spec, fit = run.spec, dict(run.fit or {})
    patience = fit.get("patience")
    return {
        "dataset": str(run.dataset_name), "backend": str(run.backend),
        "hidden": "-".join(str(u) for u in run.hidden_units) or "none",
        "activation": spec.layers[0].activation if len(spec.layers) > 1 else "none",
        "output": f"{spec.output_dim} {spec.layers[-1].activation}",
        "loss": spec.loss, "optimizer": spec.optimizer,
        "learning_rate": float(spec.effective_learning_rate),
        "batch_size": int(fit.get("batch_size") or 0), "epochs": int(fit.get("epochs") or 0),
        "validation_split": float(fit.get("validation_split") or 0.0),
        "patience": "none" if patience is None else str(patience),
        "seed": "none" if run.seed is None else str(run.seed), "params": int(run.n_params),
        "status": str(run.status),
    }


def _start_time(run: Any) -> float:
    try:
        return _dt.datetime.fromisoformat(run.created_at).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _clear(folder: Path) -> None:
    """Remove the event files an earlier export left in ``folder`` (those named with our
    suffix only: another program's files there stay)."""
    for old in glob.glob(os.path.join(glob.escape(str(folder)), EVENT_FILES)):
        os.remove(old)


def export_runs(runs: list[Any], folder: str | os.PathLike) -> list[Path]:
    """Write each run (a stored ``Run`` with its history) under ``folder``; returns the
    runs' folders. See the module's docstring for the layout."""
    _, summary_pb2, hparams_api, text_api, _ = _tensorboard()
    root = Path(folder)
    written: list[Path] = []
    metrics: set[tuple[str, str]] = set()
    names: dict[str, Any] = {}
    for run in runs:
        here = root / run_folder(run)
        start = _start_time(run)
        history = run.history
        per_epoch = (run.duration_s or 0.0) / max(1, len(history.epoch))
        for split, prefix in SPLITS:
            keys = [k for k in history.history
                    if (k.startswith(prefix) if prefix else not k.startswith("val_"))]
            if not keys:
                continue
            target = here / split
            target.mkdir(parents=True, exist_ok=True)
            _clear(target)
            with EventFile(target, start) as events:
                for i, epoch in enumerate(history.epoch):
                    values = [summary_pb2.Summary.Value(tag=f"epoch_{k[len(prefix):]}",
                                                        simple_value=float(history.history[k][i]))
                              for k in keys if i < len(history.history[k])]
                    events.add(start + (i + 1) * per_epoch, int(epoch),
                               summary=summary_pb2.Summary(value=values))
            metrics.update((split, f"epoch_{k[len(prefix):]}") for k in keys)
        here.mkdir(parents=True, exist_ok=True)
        _clear(here)
        settings = hyperparameters(run)
        for key, value in settings.items():
            names.setdefault(key, value)
        table = "| setting | value |\n|---|---|\n" + "\n".join(
            f"| {k} | {v} |" for k, v in settings.items())
        with EventFile(here, start) as events:
            events.add(start, 0, summary=text_api.text_pb(
                "hyperparameters", f"run {run.id}: {run.describe()}\n\n{table}"))
            events.add(start, 0, summary=hparams_api.hparams_pb(
                settings, trial_id=run.id, start_time_secs=start))
        written.append(here)
    if written:
        _clear(root)
        config = hparams_api.hparams_config_pb(
            hparams=[hparams_api.HParam(k) for k in names],
            metrics=[hparams_api.Metric(tag, group=split) for split, tag in sorted(metrics)])
        with EventFile(root, max(_start_time(r) for r in runs)) as events:
            events.add(max(_start_time(r) for r in runs), 0, summary=config)
    return written


__all__ = ["export_runs", "hyperparameters", "run_folder"]
