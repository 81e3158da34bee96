"""One stored record for every run, wherever it was started or trained.

The runner makes the ``Run`` in the process that started it (the app, the command
line, a sweep's client) and feeds it the run's events: the run is written when
training begins, each epoch as its report arrives, and the whole run again when it
ends. Executors in other processes or on other machines never open the store.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ..runs import Run, RunRecorder, resolve_dataset, weights_digest
from .reporter import epochs_of, metrics_only


def new_run(config: Any, data: Any, initial: list) -> Run:
    """The record of a run about to train: what it trains on, its settings, and the
    recipe (``config.to_dict()``) that ``deepterm runs rerun`` trains again."""
    info, _, _ = resolve_dataset(data.dataset, data.spec)
    options = config.load_options()
    if data.standardized:
        options["standardize"] = True     # what was done to the data, beside how it was loaded
    if options:
        info["options"] = {**info.get("options", {}), **options}
    if config.csv_path and "path" not in info:
        import os

        from ..runs import file_sha256

        info["path"] = os.path.abspath(config.csv_path)
        if os.path.isfile(config.csv_path):
            info["sha256"] = file_sha256(config.csv_path)
    fit = {**config.fit_kwargs(), "patience": config.patience,
           "monitor": config.monitor if config.patience is not None else None,
           "restore_best_weights": config.restore_best_weights if config.patience is not None
           else None,
           "standardize": data.standardized, "initial_weights": weights_digest(initial),
           "preprocessing": data.preprocessing,   # what new rows need before predict
           "recipe": config.to_dict()}
    return Run(spec=data.spec, dataset=info, fit=fit, backend=config.backend, seed=config.seed,
               group=config.group, label=config.label)


class EventRecorder:
    """Feeds a run's events to the engine's ``RunRecorder``: the same writes, in the
    same order, as a recorder inside ``fit`` makes."""

    def __init__(self, run: Run, store=None) -> None:
        self.run = run
        self.recorder = RunRecorder(run, store)

    @property
    def begun(self) -> bool:
        return self.recorder.begun

    @property
    def error(self):
        return self.recorder.error

    def __call__(self, kind: str, args: tuple) -> None:
        if kind == "started":
            params, device = args
            self.recorder.params = dict(params)
            self.recorder.model = SimpleNamespace(device=device)
            self.recorder.on_train_begin()
        elif kind == "epochs":
            self.recorder.epochs_ended([(epoch, metrics_only(logs))
                                        for epoch, logs in epochs_of(args)])
