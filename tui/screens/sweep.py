"""The Sweep screen: train the setup (or one of the course's experiments)
over several values of one setting, one run after another, and watch the
curves overlaid as they learn, with a table of parameter counts and best
validation losses filling in.

The runs train in a thread worker through ``engine.sweeps.run_sweep``; its
callbacks post messages, and a timer redraws the chart at a bounded rate.
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

from engine import Callback
from engine.sweeps import (
    EXPERIMENTS,
    SETTINGS,
    DatasetView,
    StandardizedDataset,
    SweepError,
    Variant,
    comparison_row,
    format_cell,
    parse_values,
    variants,
)
from engine.text import markup

from ..config import TrainConfig
from ..training_worker import TrainingControl
from ..widgets.compare_chart import CompareChart, curve_style
from ..widgets.footer import AppFooter
from .runs import app_store, short_label

#: Seconds between chart redraws at most.
CHART_INTERVAL_S = 0.25

#: Values offered when a setting is picked (the course's where it has them).
DEFAULT_VALUES = {
    "learning_rate": "0.000001, 0.01, 1",
    "units": "10, 100",
    "depth": "1, 2, 3",
    "optimizer": "sgd, adam, rmsprop",
    "batch_size": "16, 32, 128",
}
TABLE_COLUMNS = (("label", "run"), ("n_params", "params"), ("epochs", "epochs"),
                 ("best_val_loss", "best val"), ("best_epoch", "at"),
                 ("final_loss", "final loss"), ("final_val_loss", "final val"),
                 ("status", "status"))


# -- messages from the sweep thread -------------------------------------------------------------


@dataclass
class SweepRunStarted(Message):
    """A run of the sweep began: its fit params and parameter count."""

    label: str
    index: int
    params: dict
    n_params: int


@dataclass
class SweepEpoch(Message):
    """One finished epoch of one run (never coalesced: every epoch reaches the chart)."""

    label: str
    epoch: int
    logs: dict


@dataclass
class SweepRunDone(Message):
    label: str
    row: dict
    run: Any


class SweepCallback(Callback):
    """Reports one sweep run to the screen; pauses and stops it when asked (at a
    batch boundary, through the screen's ``TrainingControl``)."""

    def __init__(self, target: Any, variant: Variant, index: int, control: TrainingControl) -> None:
        super().__init__()
        self.target, self.variant, self.index, self.control = target, variant, index, control

    def on_train_begin(self, logs=None):
        self.target.post_message(SweepRunStarted(self.variant.label, self.index,
                                                 dict(self.params),
                                                 self.variant.spec.count_params()))

    def on_batch_end(self, batch, logs=None):
        if self.control.paused:
            self.control.wait_while_paused()
        if self.control.stop_requested:
            self.model.request_stop("stopped")

    def on_epoch_end(self, epoch, logs=None):
        self.target.post_message(SweepEpoch(self.variant.label, epoch,
                                            {k: float(v) for k, v in (logs or {}).items()}))


# -- the plan of a sweep ---------------------------------------------------------------------------


@dataclass
class SweepPlan:
    """What the Start button will run: a spec over values of a setting on data."""

    source: str                # "setup" or an experiment's name
    setting: str
    values: tuple
    variants: list[Variant]


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

    def __init__(self, config: TrainConfig, dataset: Any = None) -> None:
        super().__init__(id="sweep")
        self.config = config
        self.dataset = dataset
        self.state = "idle"        # idle | running | stopping | finished | failed
        self.plan: SweepPlan | None = None
        self.error: str | None = None        # what is wrong with the values typed
        self.error_text = ""                  # why the last sweep failed
        self.control = TrainingControl()
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
                yield Select([(s, s) for s in SETTINGS], value="learning_rate",
                             allow_blank=False, id="sweep-setting", compact=True)
                yield Label("values", classes="sweep-label")
                yield Input(DEFAULT_VALUES["learning_rate"], id="sweep-values",
                            placeholder="e.g. 0.001, 0.01, 0.1")
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
        try:
            values = parse_values(setting, text)
            found = variants(self._base_spec(source), setting, values)
        except (SweepError, ValueError) as exc:
            self.plan, self.error = None, str(exc)
        else:
            self.plan, self.error = SweepPlan(source, setting, values, found), None
        if self.state not in ("running", "stopping"):
            self._show_plan()
        error = self.query_one("#sweep-error", Static)
        error.update(f"✕ {markup(self.error)}" if self.error else "")
        error.display = bool(self.error)
        self.query_one("#sweep-values", Input).set_class(self.error is not None, "-invalid")
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

    @on(Input.Changed, "#sweep-values")
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
        self.control = TrainingControl()
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

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _sweep(self, plan: SweepPlan, dataset: Any, store: Any) -> list:
        from engine.store import StoreError
        from engine.sweeps import load_dataset, run_sweep

        config = self.config
        if plan.source == "setup":
            if dataset is None:
                if config.dataset is not None:
                    dataset = load_dataset(config.dataset, config.dataset_options)
                elif config.csv_path:
                    dataset = load_dataset(config.csv_path, {"target": config.csv_target}
                                           if config.csv_target else None)
                else:
                    raise SweepError("the setup's dataset is not loaded; go back and pick one")
            options = dict(config.dataset_options)
            if config.csv_target:
                options["target"] = config.csv_target
            if config.standardize:
                dataset = StandardizedDataset(dataset, config.validation_split, options)
            elif options:
                dataset = DatasetView(dataset, options=options)
            spec = config.spec(dataset.X.shape[1])
            fit = {**config.fit_kwargs(), "patience": config.patience}
            if config.patience is not None:
                fit["monitor"] = "val_loss" if config.validation_split > 0 else "loss"
                fit["restore_best_weights"] = config.restore_best_weights
        else:
            experiment = EXPERIMENTS[plan.source]
            dataset = load_dataset(experiment.dataset, experiment.dataset_options)
            if experiment.standardize:
                dataset = StandardizedDataset(dataset,
                                              experiment.fit.get("validation_split", 0.0))
            spec = experiment.spec
            fit = dict(experiment.fit)
        if store is not None:
            try:
                len(store)   # a damaged, newer or locked store is reported before training
            except StoreError as exc:
                self.app.call_from_thread(
                    self.notify, f"Runs of this sweep are not saved: {markup(exc)}",
                    severity="warning", timeout=8)
                store = None
        self.saved_to = store
        control = self.control
        index = {v.label: i for i, v in enumerate(plan.variants)}
        group = f"{plan.source if plan.source != 'setup' else 'sweep'}-{os.urandom(4).hex()}"
        return run_sweep(
            spec, dataset, plan.setting, plan.values, backend=config.backend, seed=config.seed,
            store=store, group=group,
            callbacks_for=lambda v: [SweepCallback(self, v, index[v.label], control)],
            on_run=lambda v, run: self.post_message(SweepRunDone(v.label, comparison_row(run),
                                                                 run)),
            should_stop=lambda: control.stop_requested, **fit)

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

    def on_sweep_run_started(self, message: SweepRunStarted) -> None:
        self.current = message.label
        row = self.rows.setdefault(message.label, {"label": message.label})
        row["status"] = "training"
        row["n_params"] = message.n_params
        self.total_epochs = message.params.get("epochs") or self.total_epochs
        self._dirty = True
        self._show_status()

    def on_sweep_epoch(self, message: SweepEpoch) -> None:
        epochs, logs = self.curves.setdefault(message.label, ([], {}))
        epochs.append(message.epoch + 1)
        for key, value in message.logs.items():
            logs.setdefault(key, []).append(value)
        row = self.rows.setdefault(message.label, {"label": message.label})
        row["epochs"] = len(epochs)
        monitor = "val_loss" if "val_loss" in logs else "loss"
        finite = [(v, i) for i, v in enumerate(logs.get(monitor, [])) if math.isfinite(v)]
        if "val_loss" in logs and finite:
            row["best_val_loss"] = min(finite)[0]
        if finite:
            row["best_epoch"] = min(finite)[1] + 1
        row["final_loss"] = logs.get("loss", [math.nan])[-1]
        self._dirty = True

    def on_sweep_run_done(self, message: SweepRunDone) -> None:
        row = dict(message.row)
        row["status"] = row.pop("stop_reason", None) or "done"
        self.rows[message.label] = row
        self.runs.append(message.run)
        self._dirty = True
        self._show_status()

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
            if self.current:
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
        for widget_id in ("#sweep-source", "#sweep-setting", "#sweep-values"):
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
