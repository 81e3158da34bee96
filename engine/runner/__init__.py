"""The runner: every front end trains a run, or a sweep of runs, through here.

    from engine.recipe import RunConfig
    from engine import runner

    run = runner.run(RunConfig(dataset="wages", ...), listener=print_event, store=store)
    runs = runner.sweep([config_a, config_b], workers=2, listener=on_event, store=store)

A run is a ``RunConfig`` prepared once (``engine.recipe.prepare``: load, validation
cut, standardize on the training rows), started from seeded initial weights built
here, and trained by an executor:

- ``"thread"``: in the calling thread (Keras, and wherever no process can start);
- ``"child"``: in a warm child process (``engine.runner.child``), the NumPy default;
- a sweep's runs in a pool of child processes, one per core by default
  (``workers=``), or as tasks on a Dask cluster (``cluster="tcp://host:8786"``,
  ``engine.runner.dask``).

Whatever the executor, the front end hears the same events (``engine.runner.reporter``:
started, batch, epochs, weights when asked for, paused, finished), pause, resume, stop,
the pace and steps travel through one ``Control``, and the run is recorded in one
place, here: written to the store when training begins, each epoch as its report
arrives, and whole when it ends.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..runs import Run, keep
from .control import Control
from .execute import build_model, execute, initial_weights
from .record import EventRecorder, new_run
from .reporter import EPOCH_TIME_KEY, EVENTS, Reporter

#: Seconds between reports of batches and epochs, unless the caller asks otherwise.
BATCH_INTERVAL_S = 0.25

Listener = Callable[[str, tuple], None]


class ThreadExecutor:
    """Trains in the calling thread (with a library caller's own callbacks, if any)."""

    name = "thread"

    def __init__(self, callbacks: list | None = None, epoch_interval_s: float | None = None) -> None:
        self.callbacks = list(callbacks or [])
        self.epoch_interval_s = epoch_interval_s

    def train(self, config: Any, data: Any, weights: list, send: Listener, control: Any,
              batch_interval_s: float, weights_interval_s: float | None = None):
        reporter = Reporter(lambda kind, *args: send(kind, args), control, batch_interval_s,
                            self.epoch_interval_s, weights_interval_s)
        try:
            model, history = execute(config, data, reporter, weights=weights, extra=self.callbacks)
        except BaseException:
            reporter.flush()
            raise
        return model, history, reporter.elapsed_s, reporter.samples_per_s


def executor_for(config: Any, executor: Any = "auto", threads: int | None = None):
    """An executor object for ``executor``: "auto" (a child process for the NumPy
    backend, the calling thread for Keras), "thread", "child", or an executor."""
    if not isinstance(executor, str):
        return executor
    if executor == "thread" or (executor == "auto" and config.backend != "numpy"):
        return ThreadExecutor()
    if executor in ("child", "auto"):
        from .child import ChildExecutor

        return ChildExecutor(threads)
    raise ValueError(f"executor must be 'auto', 'thread' or 'child', got {executor!r}")


def run(config: Any, data: Any = None, *, listener: Listener | None = None,
        control: Control | None = None, store=None, weights: list | None = None,
        executor: Any = "auto", batch_interval_s: float = BATCH_INTERVAL_S,
        save_weights: bool = False, threads: int | None = None,
        callbacks: list | None = None, weights_interval_s: float | None = None) -> Run:
    """Train one run and return its ``Run`` (``run.model`` is the trained model).

    ``data`` is the prepared data (``prepare(config)`` when not given); ``weights``
    the initial weights (the seeded ones when not given). ``listener(kind, args)``
    hears every event. The Run also carries ``elapsed_s`` and ``samples_per_s`` as
    the reporter measured them (pauses left out). With a ``store`` the run is written
    as it trains. A failure is kept as a ``failed`` run and raised again, Ctrl+C as
    ``stopped``; either exception carries the Run as ``exc.run``. A store that cannot
    be written raises StoreError before training. Where no child process can start,
    the run trains in this thread. ``callbacks`` (engine Callbacks of a library
    caller) train the run in this thread, where they can be called.
    ``weights_interval_s`` asks for ``weights`` events (the model's weights while it
    trains) at most that often, on every executor.
    """
    from ..recipe import prepare
    from ..store import RunStore

    if data is None:
        data = prepare(config)
    if weights is None:
        weights = initial_weights(data.spec, config.seed)
    if store is not None and not isinstance(store, RunStore):
        store = RunStore(store)
    record = new_run(config, data, weights)
    recorder = EventRecorder(record, store)

    def send(kind: str, args: tuple) -> None:
        recorder(kind, args)
        if listener is not None:
            listener(kind, args)

    chosen = ThreadExecutor(callbacks) if callbacks else executor_for(config, executor, threads)
    measured: dict[str, float] = {}

    def train():
        try:
            model, history, elapsed_s, rate = chosen.train(
                config, data, weights, send, control, batch_interval_s,
                **({"weights_interval_s": weights_interval_s} if weights_interval_s else {}))
        except OSError as exc:
            from .child import NoChild

            if not isinstance(exc, NoChild):
                raise
            model, history, elapsed_s, rate = ThreadExecutor().train(
                config, data, weights, send, control, batch_interval_s, weights_interval_s)
        measured.update(elapsed_s=elapsed_s, samples_per_s=rate)   # pauses left out
        return model, history

    keep(record, recorder.recorder, store, train, save_weights=save_weights)
    record.elapsed_s = measured.get("elapsed_s", record.duration_s)
    record.samples_per_s = measured.get("samples_per_s", 0.0)
    if listener is not None:
        listener("finished", (record,))
    return record


def default_workers() -> int:
    """One sweep worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not on Linux
        return max(1, os.cpu_count() or 1)


def sweep(configs: Sequence[Any], *, data: Any = None, dataset: Any = None,
          workers: int | None = None, cluster: str | None = None,
          listener: Callable[[int, str, tuple], None] | None = None,
          control: Control | None = None, store=None, executor: Any = "auto",
          batch_interval_s: float = BATCH_INTERVAL_S,
          on_run: Callable[[int, Run | BaseException], None] | None = None,
          callbacks_for: Callable[[int], list] | None = None,
          should_stop: Callable[[], bool] | None = None) -> list[Run | None]:
    """Train several runs (a sweep's variants) and return them in the order given;
    ``None`` for a run that never started (stopped before its turn).

    Runs whose weights have the same shapes start from the same initial weights
    (built once per shape with the config's seed). ``data`` is one prepared data for
    every run, or None to prepare each distinct dataset once (from ``dataset``, a
    loaded dataset, when given). ``callbacks_for(index)`` gives a library caller's
    own callbacks per run (those runs train in the calling thread, one at a time);
    ``should_stop()`` is asked before each run. ``workers`` runs train at
    once (default: one per core; one at a time with the Keras backend), in child
    processes; with ``cluster`` each run is a task on that Dask scheduler instead.
    ``listener(index, kind, args)`` hears every run's events, ``on_run(index, run)``
    each run as it ends (the exception of a failed one). A failed run never hides the
    others; ``control.stop()`` stops the runs training and starts no more. Ctrl+C
    stops every run (each kept as stopped) and is raised again at the end, carrying a
    stopped run as ``exc.run``.
    """
    from ..recipe import image_shape_of, prepare
    from ..spec import weight_shapes

    configs = list(configs)
    control = control or Control()
    if cluster:      # first: an unreachable scheduler is one error before any run
        from .dask import DaskExecutor

        executor = DaskExecutor(cluster)
    prepared: dict[Any, Any] = {}
    starts: dict[tuple, list] = {}
    plans = []
    for config in configs:
        key = (config.dataset_label, repr(sorted(config.load_options().items())),
               config.standardize, config.validation_split, config.loss, config.features)
        if data is not None:
            prepared.setdefault(key, data)
        elif key not in prepared:
            prepared[key] = prepare(config, dataset)
        run_data = prepared[key]
        spec = config.spec(run_data.X.shape[1], image_shape_of(run_data.dataset))
        if spec != run_data.spec:
            from dataclasses import replace

            run_data = replace(run_data, spec=spec)
        shapes = weight_shapes(spec)
        if shapes not in starts:
            starts[shapes] = initial_weights(spec, config.seed)
        plans.append((config, run_data, starts[shapes]))
    if cluster:
        workers = workers or len(plans)
    keras = any(config.backend != "numpy" for config in configs)
    if callbacks_for is not None:
        workers, executor = 1, "thread"
    workers = max(1, min(len(plans) or 1, workers or (1 if keras else default_workers())))
    threads = None if workers == 1 or cluster else max(1, default_workers() // workers)
    results: list[Run | None] = [None] * len(plans)
    lock = threading.Lock()
    interrupted: list[BaseException] = []

    def one(index: int) -> None:
        if control.stop_requested or (should_stop is not None and should_stop()):
            return
        config, run_data, start = plans[index]
        extra = callbacks_for(index) if callbacks_for is not None else None

        def hear(kind: str, args: tuple) -> None:
            if listener is not None:
                with lock:
                    listener(index, kind, args)

        try:
            results[index] = run(config, run_data, listener=hear, control=control, store=store,
                                 weights=start, executor=executor_for(config, executor, threads),
                                 batch_interval_s=batch_interval_s, callbacks=extra)
        except BaseException as exc:  # noqa: BLE001 - one run's failure is its own
            results[index] = getattr(exc, "run", None)
            if isinstance(exc, KeyboardInterrupt):
                control.stop()          # Ctrl+C: the other runs stop too, none starts
                interrupted.append(exc)
            if on_run is not None:
                on_run(index, exc)
            return
        if on_run is not None:
            on_run(index, results[index])

    try:
        if workers == 1:
            for index in range(len(plans)):
                one(index)
        else:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep")
            try:
                futures = [pool.submit(one, index) for index in range(len(plans))]
                for future in futures:
                    future.result()
            except KeyboardInterrupt as exc:   # in this (the main) thread: stop every run
                control.stop()
                interrupted.append(exc)
            finally:
                pool.shutdown(wait=True)
    finally:
        if cluster:
            executor.close()
    if interrupted:
        exc = interrupted[0]
        if getattr(exc, "run", None) is None:
            exc.run = next((r for r in results if r is not None and r.status == "stopped"), None)
        raise exc
    return results


__all__ = ["BATCH_INTERVAL_S", "EPOCH_TIME_KEY", "EVENTS", "Control", "Reporter",
           "ThreadExecutor", "build_model", "default_workers", "execute", "executor_for",
           "initial_weights", "run", "sweep"]
