"""The Sweep screen: train the setup (or one of the course's experiments)
over several values of one setting, one run after another, and watch the
curves overlaid as they learn, with a table of parameter counts and best
validation losses filling in.

The runs train through the runner (``engine.runner.sweep``), several at once in
child processes (the Workers field, one per core by default); their events become
messages, and a timer redraws the chart at a bounded rate.
Finished runs go to the app's run store when it has one.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from engine.runner import Control
from engine.runner.reporter import epochs_of, metrics_only
from engine.sweeps import (
    EXPERIMENTS,
    SETTINGS,
    SweepError,
    Variant,
    comparison_row,
    format_cell,
    parse_values,
    variants,
)
from engine.text import markup

from ..config import RunConfig
from ..widgets.compare_chart import CompareChart, curve_style
from ..widgets.footer import AppFooter
from .runs import app_store, short_label

#: The most runs a sweep trains at once.
MAX_WORKERS = 64
#: Seconds between chart redraws at most.
CHART_INTERVAL_S = 0.25

#: Values offered when a setting is picked (the course's where it has them).
DEFAULT_VALUES = {
    "learning_rate": "0.000001, 0.01, 1",
    "units": "10, 100",
    "depth": "1, 2, 3",
    "optimizer": "sgd, adam, rmsprop",
    "batch_size": "16, 32, 128",
    "l1": "0, 0.001, 0.01",
    "l2": "0, 0.001, 0.01, 0.1",
    "dropout": "0, 0.2, 0.5",
}
TABLE_COLUMNS = (("label", "run"), ("n_params", "params"), ("epochs", "epochs"),
                 ("best_val_loss", "best val"), ("best_epoch", "at"),
                 ("final_loss", "final loss"), ("final_val_loss", "final val"),
                 ("status", "status"))


# -- messages from the sweep's runs -------------------------------------------------------------


@dataclass
class SweepEvent(Message):
    """One event of one run of the sweep, as the runner reports every run
    (``engine.runner.reporter``: started, batch, epochs, paused, finished): the
    same events a single run's screen hears, tagged with the run's label. Epoch
    events carry every epoch since the last one, so every epoch reaches the chart."""

    label: str
    kind: str
    args: tuple


@dataclass
class SweepRunFailed(Message):
    label: str
    error: str


# -- the plan of a sweep ---------------------------------------------------------------------------


@dataclass
class SweepPlan:
    """What the Start button will run: a spec over values of a setting on data."""

    source: str                # "setup" or an experiment's name
    setting: str
    values: tuple
    variants: list[Variant]
    workers: int = 1


class SweepScreen(Screen):
    """Pick a setting and its values (or a course experiment), start, watch, compare."""

    CSS_PATH = os.path.join(os.path.dirname(__file__), "runs.tcss")
    BINDINGS = [
        Binding("ctrl+s", "start", "Start", id="sweep-start"),
        Binding("ctrl+x", "stop", "Stop", id="sweep-stop"),
        Binding("p", "pause", "Pause", tooltip="pause or resume the sweep", id="sweep-pause"),
        Binding("f4", "metric", "Metric", id="sweep-metric"),
        Binding("escape", "back", "Back", id="sweep-back"),
    ]

    def __init__(self, config: RunConfig, dataset: Any = None) -> None:
        super().__init__(id="sweep")
        self.config = config
        self.dataset = dataset
        self.state = "idle"        # idle | running | stopping | finished | failed
        self.plan: SweepPlan | None = None
        self.error: str | None = None        # what is wrong with the values typed
        self.error_text = ""                  # why the last sweep failed
        self.control = Control()
        self.paused_runs: set[str] = set()    # runs that said they are holding
        self.curves: dict[str, tuple[list[int], dict[str, list[float]]]] = {}
        self.rows: dict[str, dict] = {}
        self.runs: list = []
        self.labels: list[str] = []
        self.current: str | None = None
        self.metric = "loss"
        self.total_epochs = config.epochs
        self._dirty = False
        self._drawn_at = -math.inf
        self.saved_to = None

    # -- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Base: {markup(self.config.brief())}", id="sweep-title")
        with Vertical(id="sweep-form"):
            with Horizontal(classes="sweep-row"):
                yield Label("Train", classes="sweep-label")
                options = [("your setup (above)", "setup")] + [
                    (f"course: {e.title}", e.name) for e in EXPERIMENTS.values()]
                yield Select(options, value="setup", allow_blank=False, id="sweep-source",
                             compact=True)
                with Horizontal(id="sweep-actions"):
                    yield Button("Start", id="sweep-start-button", variant="primary",
                                 compact=True)
                    yield Button("Pause", id="sweep-pause-button", compact=True,
                                 disabled=True)
                    yield Button("Stop", id="sweep-stop-button", variant="error", compact=True,
                                 disabled=True)
            with Horizontal(classes="sweep-row"):
                yield Label(" over", classes="sweep-label")
                # the image layers' settings only for a setup that has image layers
                settings = [s for s in SETTINGS
                            if self.config.conv or s not in ("filters", "kernel_size")]
                yield Select([(s, s) for s in settings], value="learning_rate",
                             allow_blank=False, id="sweep-setting", compact=True)
                yield Label("values", classes="sweep-label")
                yield Input(DEFAULT_VALUES["learning_rate"], id="sweep-values",
                            placeholder="e.g. 0.001, 0.01, 0.1")
                yield Label("workers", classes="sweep-label")
                yield Input(str(self._default_workers()), id="sweep-workers", type="integer",
                            tooltip="runs that train at once, each in its own process "
                                    "(one per core by default; Keras trains one at a time)")
            yield Static("", id="sweep-error")
        yield Static("", id="sweep-status")
        with Vertical(id="sweep-body"):
            yield CompareChart(id="sweep-chart")
            yield DataTable(id="sweep-table", cursor_type="none", zebra_stripes=True,
                            show_cursor=False)
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "sweep"
        table = self.query_one("#sweep-table", DataTable)
        for key, heading in TABLE_COLUMNS:
            table.add_column(heading, key=key)
        chart = self.query_one("#sweep-chart", CompareChart)
        chart.empty_text = "Each run's curve appears here as it trains"
        chart.legend = False      # the table below names each curve in its colour
        chart.replot()
        self.set_interval(CHART_INTERVAL_S, self._redraw)
        self.validate()
        self._show_status()

    # -- validation as you type ----------------------------------------------------------------

    def _base_spec(self, source: str):
        if source == "setup":
            n_features = self._n_features()
            return self.config.spec(n_features or 1)
        return EXPERIMENTS[source].spec

    def _n_features(self) -> int | None:
        data = self._setup_dataset()
        return None if data is None else int(data.X.shape[1])

    def _setup_dataset(self) -> Any:
        """The setup screen's loaded dataset, when it is this config's."""
        if self.dataset is not None:
            return self.dataset
        try:
            setup = self.app.setup_screen
        except (LookupError, AttributeError):
            return None
        config = getattr(setup, "config", None)
        if config is not None and config.dataset_label == self.config.dataset_label:
            return getattr(setup, "dataset", None)
        return None

    def validate(self) -> bool:
        """Check the setting and values; show the problem under them. True when Start may run."""
        source = str(self.query_one("#sweep-source", Select).value)
        setting = str(self.query_one("#sweep-setting", Select).value)
        text = self.query_one("#sweep-values", Input).value
        workers_text = self.query_one("#sweep-workers", Input).value.strip()
        try:
            values = parse_values(setting, text)
            found = variants(self._base_spec(source), setting, values)
            workers = int(workers_text) if workers_text.isdigit() else 0
            if not 1 <= workers <= MAX_WORKERS:
                raise SweepError(f"workers must be a whole number from 1 to {MAX_WORKERS}, "
                                 f"got {workers_text!r}")
        except (SweepError, ValueError) as exc:
            self.plan, self.error = None, str(exc)
        else:
            self.plan, self.error = SweepPlan(source, setting, values, found, workers), None
        if self.state not in ("running", "stopping"):
            self._show_plan()
        error = self.query_one("#sweep-error", Static)
        error.update(f"✕ {markup(self.error)}" if self.error else "")
        error.display = bool(self.error)
        self.query_one("#sweep-values", Input).set_class(
            self.error is not None and not self.error.startswith("workers"), "-invalid")
        self.query_one("#sweep-workers", Input).set_class(
            self.error is not None and self.error.startswith("workers"), "-invalid")
        self._show_buttons()
        return self.error is None

    def _show_plan(self) -> None:
        """Before a start: the runs the values make, with their parameter counts."""
        plan = self.plan
        self.labels = [v.label for v in plan.variants] if plan is not None else []
        known = plan is not None and (plan.source != "setup" or self._n_features() is not None)
        self.rows = {v.label: {"label": v.label, "status": "planned",
                               "n_params": v.spec.count_params() if known else None}
                     for v in (plan.variants if plan is not None else [])}
        self.curves = {}
        self.runs = []
        if self.state in ("finished", "failed"):
            self.state = "idle"
            self._show_status()
        self._fill_table()
        self._dirty = True

    def _default_workers(self) -> int:
        """One per core; one with Keras (TensorFlow uses the cores itself)."""
        from engine.runner import default_workers

        return 1 if self.config.backend != "numpy" else default_workers()

    @on(Input.Changed, "#sweep-values")
    @on(Input.Changed, "#sweep-workers")
    def _values_changed(self) -> None:
        self.validate()

    @on(Input.Submitted, "#sweep-values")
    def _values_submitted(self) -> None:
        self.action_start()

    @on(Select.Changed, "#sweep-setting")
    def _setting_changed(self, event: Select.Changed) -> None:
        if self.state == "running":
            return
        experiment = EXPERIMENTS.get(str(self.query_one("#sweep-source", Select).value))
        if experiment is not None and experiment.setting == event.value:
            text = ", ".join(_value_text(v) for v in experiment.values)
        else:
            text = DEFAULT_VALUES.get(str(event.value), "")
        self.query_one("#sweep-values", Input).value = text
        self.validate()

    @on(Select.Changed, "#sweep-source")
    def _source_changed(self, event: Select.Changed) -> None:
        experiment = EXPERIMENTS.get(str(event.value))
        title = self.query_one("#sweep-title", Static)
        if experiment is None:
            title.update(f"Base: {markup(self.config.brief())}")
            self.validate()
            return
        fit = ", ".join(f"{k} {v}" for k, v in experiment.fit.items())
        title.update(f"[b]{experiment.title}[/] ({fit}): {experiment.blurb}")
        setting = self.query_one("#sweep-setting", Select)
        with self.prevent(Select.Changed):
            setting.value = experiment.setting
        self.query_one("#sweep-values", Input).value = ", ".join(
            _value_text(v) for v in experiment.values)
        self.validate()

    # -- running ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return True if self.state != "running" and self.plan is not None else None
        if action in ("stop", "pause"):
            return True if self.state == "running" else None
        return True

    @on(Button.Pressed, "#sweep-start-button")
    def action_start(self) -> None:
        if self.state in ("running", "stopping"):
            return
        if not self.validate() or self.plan is None:
            self.notify(f"Cannot start the sweep: {markup(self.error)}", severity="error")
            return
        plan = self.plan
        self.control = Control()
        self.paused_runs = set()
        self._show_plan()
        for row in self.rows.values():
            row["status"] = "waiting"
        self.runs = []
        self.current = None
        if plan.source == "setup":
            self.total_epochs = self.config.epochs
        else:
            self.total_epochs = EXPERIMENTS[plan.source].fit.get("epochs", self.config.epochs)
        self.state = "running"
        self._fill_table()
        self._dirty = True
        self._show_status()
        self._show_buttons()
        self.refresh_bindings()
        self._sweep(plan, self._setup_dataset(), app_store_or_none(self.app))

    def configs(self, plan: SweepPlan, n_features: int, group: str) -> list:
        """The sweep's runs as RunConfigs: the setup's config, or the course
        experiment's, with each variant's network or fit setting and label."""
        from engine.sweeps import configs_for, experiment_config

        if plan.source == "setup":
            base = self.config
        else:
            base = experiment_config(EXPERIMENTS[plan.source], backend=self.config.backend,
                                     seed=self.config.seed)
        return configs_for(base.with_changes(group=group), plan.setting, plan.values, n_features,
                           group=group)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _sweep(self, plan: SweepPlan, dataset: Any, store: Any) -> list:
        from engine import runner
        from engine.store import StoreError

        if store is not None:
            try:
                len(store)   # a damaged, newer or locked store is reported before training
            except StoreError as exc:
                self.app.call_from_thread(
                    self.notify, f"Runs of this sweep are not saved: {markup(exc)}",
                    severity="warning", timeout=8)
                store = None
        self.saved_to = store
        if plan.source != "setup":
            dataset = None            # the experiment's own data, loaded by the runner
        elif dataset is None and self.config.dataset is None and not self.config.csv_path:
            raise SweepError("the setup's dataset is not loaded; go back and pick one")
        group = f"{plan.source if plan.source != 'setup' else 'sweep'}-{os.urandom(4).hex()}"
        if dataset is None:
            base = self.config if plan.source == "setup" else None
            if base is not None:
                dataset = base.load_dataset()
        n_features = (int(dataset.X.shape[1]) if dataset is not None
                      else EXPERIMENTS[plan.source].spec.input_dim)
        configs = self.configs(plan, n_features, group)
        labels = [config.label for config in configs]

        def hear(index: int, kind: str, args: tuple) -> None:
            self.post_message(SweepEvent(labels[index], kind, args))

        def ended(index: int, outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                self.post_message(SweepRunFailed(labels[index],
                                                 f"{type(outcome).__name__}: {outcome}"))

        return runner.sweep(configs, dataset=dataset, workers=plan.workers, listener=hear,
                            control=self.control, store=store, on_run=ended,
                            batch_interval_s=CHART_INTERVAL_S)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "sweep":
            return
        if event.state == WorkerState.SUCCESS:
            self.state = "finished"
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            self.state = "failed"
            self.error_text = f"{type(error).__name__}: {error}"
            self.notify(f"The sweep failed: {markup(error)}", title="Sweep failed", severity="error",
                        timeout=10)
        elif event.state == WorkerState.CANCELLED:
            self.state = "finished"
        else:
            return
        for row in self.rows.values():
            if row.get("status") in ("waiting", "training"):
                row["status"] = "not run" if row.get("status") == "waiting" else "stopped"
        self._redraw(force=True)
        self._show_status()
        self._show_buttons()
        self.refresh_bindings()

    def on_sweep_event(self, message: SweepEvent) -> None:
        label, kind, args = message.label, message.kind, message.args
        row = self.rows.setdefault(label, {"label": label})
        if kind == "started":
            self.current = label
            row["status"] = "training"
            self.total_epochs = args[0].get("epochs") or self.total_epochs
            self._show_status()
        elif kind == "epochs":
            epochs, logs = self.curves.setdefault(label, ([], {}))
            for epoch, entry in epochs_of(args):
                epochs.append(epoch + 1)
                for key, value in metrics_only(entry).items():
                    logs.setdefault(key, []).append(value)
            row["epochs"] = len(epochs)
            monitor = "val_loss" if "val_loss" in logs else "loss"
            finite = [(v, i) for i, v in enumerate(logs.get(monitor, [])) if math.isfinite(v)]
            if "val_loss" in logs and finite:
                row["best_val_loss"] = min(finite)[0]
            if finite:
                row["best_epoch"] = min(finite)[1] + 1
            row["final_loss"] = logs.get("loss", [math.nan])[-1]
        elif kind == "paused":      # the run is held at a batch boundary (or goes on)
            if args[0]:
                self.paused_runs.add(label)
            else:
                self.paused_runs.discard(label)
            self._fill_table()
            self._show_status()     # the epoch it holds at, with the epochs it reported
            return
        elif kind == "finished":
            run = args[0]
            done = comparison_row(run)
            done["status"] = done.pop("stop_reason", None) or "done"
            self.rows[label] = done
            self.runs.append(run)
            if self.current == label:
                self.current = None
            self._show_status()
        else:
            return
        self._dirty = True

    def on_sweep_run_failed(self, message: SweepRunFailed) -> None:
        row = self.rows.setdefault(message.label, {"label": message.label})
        row["status"] = "failed"
        row["error"] = message.error
        self.notify(f"{message.label} failed: {message.error}", severity="error", timeout=8)
        self._dirty = True

    # -- drawing ----------------------------------------------------------------------------------

    def _redraw(self, force: bool = False) -> None:
        """Timer tick: the table and (at most every CHART_INTERVAL_S, less when drawing
        is slow) the chart."""
        if not (self._dirty or force):
            return
        self._fill_table()
        chart = self.query_one("#sweep-chart", CompareChart)
        now = time.perf_counter()
        if not force and now - self._drawn_at < max(CHART_INTERVAL_S, 20 * chart.render_cost):
            return    # still dirty: the chart is drawn at a later tick
        self._dirty = False
        self._drawn_at = now
        metrics = self.metrics()
        if self.metric not in metrics:
            self.metric = metrics[0]
        chart.total_epochs = self.total_epochs
        chart.set_series([(label, self.curves[label][0], self.curves[label][1].get(self.metric, []))
                          for label in self.labels if label in self.curves], metric=self.metric)
        chart.replot()
        self._show_status()

    def metrics(self) -> list[str]:
        keys: list[str] = []
        for _, logs in self.curves.values():
            for key in logs:
                if key not in keys:
                    keys.append(key)
        order = ["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae"]
        return sorted(keys, key=lambda k: (order.index(k) if k in order else 99, k)) or ["loss"]

    def _fill_table(self) -> None:
        table = self.query_one("#sweep-table", DataTable)
        table.clear()
        drawn = [lb for lb in self.labels if lb in self.curves]
        for label in self.labels:
            row = self.rows.get(label, {})
            name = Text(short_label(label))
            if label in drawn:      # the chart draws the curves in this order, one colour each
                name = Text.assemble(("▬ ", curve_style(drawn.index(label))), short_label(label))
            table.add_row(*[format_cell(key, row.get(key)) if key != "label" else name
                            for key, _ in TABLE_COLUMNS], key=label)

    def _show_status(self) -> None:
        status = self.query_one("#sweep-status", Static)
        n = len(self.labels)
        done = sum(1 for r in self.rows.values() if r.get("status") not in ("waiting", "training"))
        where = ""
        if self.saved_to is not None:
            where = "  [dim]kept in the run store (f3)[/]"
        if self.state == "idle":
            text = ("Pick what to vary and its values, then Start (ctrl+s). Every run starts "
                    "from the same initial weights where the shapes allow.")
        elif self.state == "running":
            at = f"run {min(done + 1, n)}/{n}"
            training = [r["label"] for r in self.rows.values() if r.get("status") == "training"]
            if len(training) > 1:    # several workers
                at = f"{done} of {n} done, training {', '.join(short_label(t) for t in training)}"
            elif self.current:
                done_epochs = self.rows.get(self.current, {}).get("epochs") or 0
                epoch = min(done_epochs + 1, self.total_epochs)   # the one training now
                at += f" ({self.current}, epoch {epoch}/{self.total_epochs})"
            if self.control.paused:
                text = f"[b yellow]❚❚ Paused[/] at {at}: p resumes, ctrl+x stops"
            else:
                text = (f"[b green]● Sweeping[/]: {at}; metric [b]{self.metric}[/]"
                        f" (f4 changes it); p pauses, ctrl+x stops")
        elif self.state == "stopping":
            text = "[b yellow]Stopping[/] after this batch…"
        elif self.state == "failed":
            text = f"[b red]✕ Failed:[/] {markup(self.error_text)}"
        else:
            text = (f"[b green]■ Finished[/]: {len(self.runs)} of {n} run(s) trained; metric "
                    f"[b]{self.metric}[/] (f4 changes it){where}")
        status.update(text)

    def _show_buttons(self) -> None:
        running = self.state in ("running", "stopping")
        self.query_one("#sweep-start-button", Button).disabled = running or self.plan is None
        self.query_one("#sweep-stop-button", Button).disabled = not running
        pause = self.query_one("#sweep-pause-button", Button)
        pause.disabled = self.state != "running"
        pause.label = "Resume" if self.control.paused and running else "Pause"
        for widget_id in ("#sweep-source", "#sweep-setting", "#sweep-values", "#sweep-workers"):
            self.query_one(widget_id).disabled = running
        self.refresh_bindings()

    # -- controls ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#sweep-stop-button")
    def action_stop(self) -> None:
        if self.state == "running":
            self.control.stop()
            self.state = "stopping"
            self._show_status()
            self._show_buttons()

    @on(Button.Pressed, "#sweep-pause-button")
    def action_pause(self) -> None:
        """Pause the sweep at the next batch boundary, or resume it."""
        if self.state != "running":
            return
        self.control.toggle_pause()
        self._show_status()
        self._show_buttons()

    def action_metric(self) -> None:
        metrics = self.metrics()
        i = metrics.index(self.metric) if self.metric in metrics else -1
        self.metric = metrics[(i + 1) % len(metrics)]
        self._redraw(force=True)

    def action_back(self) -> None:
        self.control.stop()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        self.control.stop()


def app_store_or_none(app: Any):
    """The app's RunStore, or None when it keeps none or cannot name one."""
    try:
        return app_store(app)
    except Exception:  # noqa: BLE001 - a bad store path: the sweep still runs, unsaved
        return None


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
