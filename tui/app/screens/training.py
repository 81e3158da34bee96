"""The training screen: live charts, progress, a table of epochs, and controls.

A thread worker trains the run through the runner (``engine.runner.run``): with the
NumPy backend in a child process, so drawing and training do not take turns at
Python's lock; Keras in the worker thread itself. The runner's events become
messages; this screen keeps the numbers and a timer redraws the charts a few times a
second at most. The runner writes the run to the app's store as it trains.

A run trains at a pace (epochs per second, ``-``/``+``; as fast as possible at the
top), and from paused ``e`` trains one more epoch and ``E`` one more batch. On data
with two features the screen opens on TensorFlow Playground's view (``v`` switches
between it and the curves): the network with each neuron's picture, and the model's
output over the input plane with the data on top, drawn from the weights the run
reports a few times a second.
"""

from __future__ import annotations

import math
import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Header, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from engine.formatting import WIDTH, format_metric
from engine.recipe import PreparedData, RunConfig
from engine.runner import Control
from engine.runner.reporter import EPOCH_TIME_KEY
from engine.text import markup

from ..config import PACES, default_pace, pace_words
from ..messages import (
    BatchProgress,
    EpochEnded,
    TrainingFinished,
    TrainingPaused,
    TrainingStarted,
    WeightsReported,
    message_for,
)
from ..widgets.charts import MetricChart
from ..widgets.epoch_log import EpochLog
from ..widgets.footer import AppFooter
from .words import STOP_WORDS, format_duration, format_seconds

#: Training starts this long after the screen's first frame, once the footer has laid out
#: its keys: those layout passes would otherwise compete with the run's first epochs.
START_DELAY_S = 0.15
#: Seconds between redraws at most.
CHART_INTERVAL_S = 0.25
#: Share of one core that drawing may take while a run trains. Training in this
#: process (Keras) waits for Python's lock while the UI thread draws; the NumPy
#: backend's child process does not, but on a small machine it shares the CPU with
#: the drawing all the same. Redraws are spaced out until the UI stays within this share.
UI_BUDGET = 0.04
#: ...but the screen is brought up to date at least this often (seconds).
MAX_REDRAW_INTERVAL_S = 2.0
#: The share drawing may take while a run trains at a pace: the run waits out most of
#: each epoch's share of a second, so the pictures can follow it a few times a second.
PACED_UI_BUDGET = 0.5

#: Seconds between the weights a run on two-feature data reports for its pictures.
WEIGHTS_INTERVAL_S = 0.2

#: Below this many columns the charts go side by side above the progress and table.
NARROW_WIDTH = 110
#: Below this many rows the playground view gives the progress and the table fewer rows.
SHORT_HEIGHT = 30
#: The epoch table's narrower headings.
SHORT_HEADINGS = {"accuracy": "acc", "val_accuracy": "val_acc"}






class TrainingScreen(Screen):
    """Watch one run learn; pause, resume, stop, read the results, go back."""

    BINDINGS = [
        Binding("p", "pause", "Pause", tooltip="pause or resume the run", id="pause"),
        Binding("s", "stop", "Stop", tooltip="stop after this batch, keeping what was learned",
                id="stop"),
        Binding("e", "step('epoch')", "Step", key_display="e/E",
                tooltip="train one more epoch, then pause (while running: pause at the end "
                        "of this epoch)", id="step-epoch"),
        Binding("E", "step('batch')", "Step batch", show=False,
                tooltip="(shift+e) train one more batch, then pause", id="step-batch"),
        Binding("minus", "pace(-1)", "Pace", key_display="-/+",
                tooltip="slower: fewer epochs a second", id="pace-slower"),
        Binding("plus,equals_sign", "pace(1)", "Faster", show=False,
                tooltip="faster: more epochs a second, up to full speed", id="pace-faster"),
        Binding("v", "view", "View", tooltip="two-feature data: the network and the decision "
                "boundary, or the loss and metric curves", id="view"),
        Binding("r", "results", "Results", id="results"),
        Binding("n", "again", "Again", tooltip="train the same setup again from fresh weights",
                id="again"),
        Binding("escape", "back", "Back", tooltip="back to the setup screen", id="back"),
    ]

    def __init__(self, config: RunConfig, data: PreparedData, weights=None,
                 autostart: bool = True, pace: float | None | str = "default") -> None:
        super().__init__()   # no id: "train again" puts a second one in the stack
        self.config = config
        self.data = data
        self.weights = weights
        self.autostart = autostart
        self.control = Control(pace=default_pace() if pace == "default" else pace)
        from ..widgets.playground import has_plane

        #: two-feature data: the network and the plane can be drawn (Playground's view)
        self.playground = has_plane(data)
        self.view = "playground" if self.playground else "curves"
        self._weights_report: WeightsReported | None = None
        self.state = "starting"   # starting | running | paused | finished | failed
        self.history: Any = None
        self.model: Any = None
        self.error: str | None = None
        self.epochs: list[int] = []
        self.logs: list[dict[str, float]] = []
        self.params: dict[str, Any] = {"epochs": config.epochs}
        self.samples_per_s = 0.0
        self.elapsed_s = 0.0
        self._dirty = False
        self._pending_rows: list[str] = []
        self._batch: BatchProgress | None = None
        self._charts_drawn_at = -math.inf
        self._drawn_at = -math.inf  # perf_counter() and thread_time() at the last redraw
        self._drawn_cpu = 0.0
        self._status_text = ""
        self.charts: list[MetricChart] = []
        self.metric = config.metrics[0] if config.metrics else None
        self.monitor = config.monitor      # the one rule: engine.recipe.RunConfig.monitor

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(markup(self.config.describe()), id="run-title")   # a CSV file's name
        with Horizontal(id="training-body"):
            if self.playground:
                from ..widgets.playground import PlaygroundPanel

                yield PlaygroundPanel(self.data, id="playground")
            with Horizontal(id="charts"):
                yield MetricChart("loss", f"loss ({self.config.loss})", id="loss-chart")
                if self.metric:
                    yield MetricChart(self.metric, self.metric, id="metric-chart")
            with Vertical(id="side"):
                with Vertical(id="progress"):
                    yield Static("Starting…", id="status")
                    yield Label("Epoch", id="epoch-label")
                    yield ProgressBar(total=self.config.epochs, id="epoch-bar", show_eta=False)
                    yield Label("Batch", id="batch-label")
                    yield ProgressBar(total=1, id="batch-bar", show_eta=False)
                    yield Static("", id="stats")
                    with Horizontal(id="training-actions"):
                        yield Button("Pause", id="pause", compact=True)
                        yield Button("Stop", id="stop", compact=True, variant="error")
                        yield Button("Results", id="results", compact=True, variant="primary")
                with Vertical(id="epoch-table"):
                    yield Static("", id="epochs-header")
                    yield EpochLog(id="epochs")
        yield AppFooter()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_WIDTH, "-narrow")
        self.set_class(self.size.height < SHORT_HEIGHT, "-short")

    def on_mount(self) -> None:
        self.on_resize()
        self.set_class(self.view == "playground", "-playground")
        self.sub_title = "training"
        columns = ["epoch", "loss"]
        if self.config.validation_split > 0:
            columns.append("val_loss")
        if self.metric:
            columns.append(self.metric)
            if self.config.validation_split > 0:
                columns.append(f"val_{self.metric}")
        self.columns = columns
        headings = [SHORT_HEADINGS.get(c, c) for c in columns] + ["time", "/step"]
        self.widths = [6] + [max(WIDTH, len(h)) + 1 for h in headings[1:-2]] + [7, 7]
        self.query_one("#epochs-header", Static).update(_row(headings, self.widths))
        # kept: a DOM query costs about a millisecond, and epochs can arrive 50 times a second
        self.charts = list(self.query(MetricChart))
        for chart in self.charts:
            chart.total_epochs = self.config.epochs
            chart.replot()
        self.set_interval(CHART_INTERVAL_S, self._redraw)
        self._show_epoch(0, self.config.epochs)
        self._show_status()
        if self.autostart:
            self.call_after_refresh(self.set_timer, START_DELAY_S, self.start)

    def start(self) -> None:
        self.state = "starting"
        self.started_at = time.perf_counter()
        self.train()

    # -- the worker ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def train(self) -> None:
        from engine import runner
        from engine.store import StoreError

        store = self.app.run_store() if hasattr(self.app, "run_store") else None

        def train(store):
            return runner.run(self.config, self.data, listener=self._relay, control=self.control,
                              store=store, weights=self.weights, batch_interval_s=CHART_INTERVAL_S,
                              weights_interval_s=WEIGHTS_INTERVAL_S if self.playground else None,
                              save_weights=True)   # so that `deepterm predict` and export can use it

        try:
            run = train(store)
        except StoreError as exc:
            run = getattr(exc, "run", None)
            if run is None:      # refused before training: train without keeping the run
                self.app.call_from_thread(self.notify, f"This run will not be kept: {exc}",
                                          severity="warning", timeout=8)
                run = train(None)
            else:                # trained, but the last write failed
                self.app.call_from_thread(self.notify, f"The run was not saved: {exc}",
                                          severity="warning", timeout=8)
        self.run = run
        self.post_message(TrainingFinished(run.history, run.model, run.elapsed_s,
                                           run.samples_per_s))

    def _relay(self, kind: str, args: tuple) -> None:
        """One of the runner's events, posted as a message (the end comes as
        TrainingFinished from the worker)."""
        if kind != "finished":
            self.post_message(message_for(kind, *args))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "training":
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.state = "failed"
            self.error = f"{type(error).__name__}: {error}"
            self.notify(f"Training failed: {markup(error)}", title="Training failed", severity="error",
                        timeout=10)
            self._show_status()
            self.refresh_bindings()

    # -- messages from the training thread --------------------------------------------------

    def on_training_started(self, message: TrainingStarted) -> None:
        self.params = message.params
        self._drawn_at, self._drawn_cpu = time.perf_counter(), time.thread_time()
        # the (empty) charts were just drawn: their first curves wait out the same
        # spacing as every later redraw, so a short run is not slowed by them
        self._charts_drawn_at = self._drawn_at
        self.state = "paused" if self.control.paused else "running"
        bar = self.query_one("#batch-bar", ProgressBar)
        bar.update(total=max(1, message.params.get("steps", 1)), progress=0)
        self.device = message.device
        self._show_status()   # bindings are the same while starting and running: no refresh

    def on_batch_progress(self, message: BatchProgress) -> None:
        if self.state not in ("running", "paused"):
            return
        self.samples_per_s = message.samples_per_s
        self.elapsed_s = message.elapsed_s
        self._batch = message
        self._dirty = True      # drawn by the timer: the training thread keeps the CPU

    def on_epoch_ended(self, message: EpochEnded) -> None:
        for epoch, logs in message.earlier:
            self.add_epoch(epoch, logs)
        self.add_epoch(message.epoch, message.logs)
        self.samples_per_s = message.samples_per_s
        self.elapsed_s = message.elapsed_s

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one epoch (cheap); the timer puts it in the table, bars and charts."""
        self.epochs.append(epoch)
        self.logs.append(dict(logs))
        for chart in self.charts:
            chart.add_epoch(epoch, logs)
        cells = [str(epoch + 1)] + [_fmt(logs.get(c)) for c in self.columns[1:]]
        seconds = logs.get(EPOCH_TIME_KEY)
        steps = self.params.get("steps") or 0
        if seconds is not None:
            cells += [format_seconds(seconds), format_seconds(seconds / steps) if steps else ""]
        self._pending_rows.append(_row(cells, self.widths))
        if self.config.patience is not None:
            self._mark_best()
        self._dirty = True

    def _flush_progress(self) -> None:
        """Show what arrived since the last redraw: table rows, bars, labels, speed."""
        total = self.params.get("epochs", self.config.epochs)
        if self._pending_rows:
            self.query_one("#epochs", EpochLog).append(self._pending_rows)
            self._pending_rows.clear()
            self.query_one("#epoch-bar", ProgressBar).update(progress=len(self.epochs))
        batch = self._batch
        steps = self.params.get("steps") or 1
        if batch is not None and batch.epoch >= len(self.epochs):
            self.query_one("#batch-bar", ProgressBar).update(total=max(1, batch.steps),
                                                             progress=batch.batch + 1)
            self.query_one("#batch-label", Label).update(
                f"Batch {batch.batch + 1}/{batch.steps}   loss {_fmt(batch.logs.get('loss', math.nan))}")
            self._show_epoch(batch.epoch + 1, total)
        elif self.logs:
            self.query_one("#batch-bar", ProgressBar).update(total=steps, progress=steps)
            self.query_one("#batch-label", Label).update(
                f"Batch {steps}/{steps}   loss {_fmt(self.logs[-1].get('loss', math.nan))}")
            self._show_epoch(len(self.epochs), total)
        self._show_stats()

    def _show_epoch(self, epoch: int | None = None, total: int | None = None) -> None:
        """"Epoch 7/20 · 10 epochs/s": where the run is, and its pace."""
        total = total or self.params.get("epochs", self.config.epochs)
        if epoch is None:
            batch = self._batch
            epoch = batch.epoch + 1 if batch is not None and batch.epoch >= len(self.epochs) \
                else len(self.epochs)
        self.query_one("#epoch-label", Label).update(
            f"Epoch {epoch}/{total} · {pace_words(self.control.pace)}")

    def _mark_best(self) -> None:
        values = [lg.get(self.monitor, math.nan) for lg in self.logs]
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            return
        best = min(finite)[1]
        for chart in self.charts:
            chart.best_epoch = self.epochs[best]

    def on_weights_reported(self, message: WeightsReported) -> None:
        """The weights while training: drawn by the timer (the latest only)."""
        self._weights_report = message
        self._dirty = True

    def _weights_caption(self, epochs_done: int, batch: int | None) -> str:
        where = f"epoch {epochs_done}" if batch is None else \
            f"epoch {epochs_done + 1}, batch {batch}"
        logs = self.logs[epochs_done - 1] if 0 < epochs_done <= len(self.logs) else {}
        losses = " · ".join(f"{'val' if key == 'val_loss' else key} {_fmt(logs[key])}"
                            for key in ("loss", "val_loss") if key in logs)
        return where + (f" · {losses}" if losses else "")

    def on_training_paused(self, message: TrainingPaused) -> None:
        if self.state in ("running", "paused"):
            self.state = "paused" if message.paused else "running"
            self._show_status()

    def on_training_finished(self, message: TrainingFinished) -> None:
        self.history, self.model = message.history, message.model
        self.elapsed_s = message.elapsed_s
        self.samples_per_s = message.samples_per_s
        self.state = "finished"
        if self.playground and self.model is not None:
            self._weights_report = WeightsReported(len(self.history), None,
                                                   self.model.get_weights())
        if self.history.best_epoch is not None and self.config.patience is not None:
            for chart in self.charts:
                chart.best_epoch = self.history.best_epoch
        self._redraw(force=True)
        self._show_status()
        self._show_stats()
        self.refresh_bindings()
        reason = self.history.stop_reason
        severity = "warning" if reason == "diverged" else "information"
        self.notify(f"Training {STOP_WORDS.get(reason, reason)} after {len(self.history)} "
                    f"epoch(s). Press r for the results.", title="Training finished",
                    severity=severity, timeout=6)

    # -- drawing ------------------------------------------------------------------------------

    def _redraw(self, force: bool = False) -> None:
        """Timer tick: show what arrived, at most every CHART_INTERVAL_S, and less often
        while training when the UI thread's own work (drawing, rendering, messages) since
        the last redraw would exceed UI_BUDGET of the time (PACED_UI_BUDGET at a pace);
        charts and the playground's pictures follow the same rule with their own render
        cost."""
        if not (self._dirty or force):
            return
        now, cpu = time.perf_counter(), time.thread_time()
        if not force and self.state in ("running", "starting"):
            spent = cpu - self._drawn_cpu      # this (the UI) thread's CPU since the last redraw
            budget = UI_BUDGET if self.control.pace is None else PACED_UI_BUDGET
            wait = min(MAX_REDRAW_INTERVAL_S, max(CHART_INTERVAL_S, spent / budget))
            if now - self._drawn_at < wait:
                return
        self._drawn_at, self._drawn_cpu = now, cpu
        self._dirty = False
        self._flush_progress()
        if self.view == "playground":
            self._draw_playground(force)
            return
        charts = self.charts
        cost = sum(chart.render_cost for chart in charts)
        now = time.perf_counter()
        if force or now - self._charts_drawn_at >= max(CHART_INTERVAL_S, 20 * cost):
            self._charts_drawn_at = now
            for chart in charts:
                chart.replot()
        else:
            self._dirty = True   # the charts still owe a redraw

    def _draw_playground(self, force: bool) -> None:
        """The newest weights' pictures, no more often than their cost allows (as the
        charts: at most a twentieth of the time)."""
        from ..widgets.playground import PlaygroundPanel

        report = self._weights_report
        if report is None:
            return
        panel = self.query_one("#playground", PlaygroundPanel)
        now = time.perf_counter()
        if force or now - panel.drawn_at >= min(MAX_REDRAW_INTERVAL_S,
                                                 max(CHART_INTERVAL_S, 20 * panel.render_cost)):
            self._weights_report = None
            panel.set_weights(report.weights, self._weights_caption(report.epochs_done,
                                                                    report.batch))
            panel.draw()
        else:
            self._dirty = True

    def _show_status(self) -> None:
        status = self.query_one("#status", Static)
        device = getattr(self, "device", None) or ("CPU" if self.config.backend == "numpy" else "")
        where = f"{self.config.backend} on {device}" if device else self.config.backend
        if self.state == "starting":
            text = f"[b]Starting[/] ({where})…"
        elif self.state == "running":
            text = f"[b green]● Training[/] ({where})"
        elif self.state == "paused":
            text = "[b yellow]❚❚ Paused[/]: p resumes, e/E steps"
        elif self.state == "failed":
            text = f"[b red]✕ Failed:[/] {markup(self.error)}"
        else:
            reason = self.history.stop_reason
            colour = "red" if reason == "diverged" else "green"
            text = f"[b {colour}]■ Finished:[/] {STOP_WORDS.get(reason, reason)}"
        # A layout pass costs the UI thread, and so the training thread, about 10 ms:
        # none while the old and the new status both fit on one line.
        width = status.content_size.width

        def one_line(markup: str) -> bool:
            return 0 < Content.from_markup(markup).cell_length <= width

        status.update(text, layout=not (one_line(text) and one_line(self._status_text)))
        self._status_text = text
        pause = self.query_one("#pause", Button)
        pause.label = "Resume" if self.state == "paused" else "Pause"
        running = self.state in ("starting", "running", "paused")
        pause.disabled = not running
        self.query_one("#stop", Button).disabled = not running
        self.query_one("#results", Button).disabled = self.state != "finished"

    def _show_stats(self) -> None:
        total = self.params.get("epochs", self.config.epochs)
        done = len(self.epochs)
        eta = None
        if 0 < done < total and self.elapsed_s > 0 and self.state != "finished":
            eta = self.elapsed_s / done * (total - done)
        elif self.state == "finished":
            eta = 0.0
        best = ""
        values = [lg.get(self.monitor, math.nan) for lg in self.logs]
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if finite:
            value, i = min(finite)
            best = f"\nbest {self.monitor} [b]{_fmt(value)}[/] at epoch {self.epochs[i] + 1}"
        self.query_one("#stats", Static).update(
            f"[b]{self.samples_per_s:,.0f}[/] samples/s · elapsed {format_duration(self.elapsed_s)}"
            f" · ETA {format_duration(eta)}{best}")

    # -- controls ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """What the footer offers: while a run trains its controls (Results and Again
        left out, so that the keys fit at 80 columns), once it has ended Results and
        Again (Pause and Stop greyed out)."""
        running = self.state in ("starting", "running", "paused")
        if action in ("pause", "stop"):
            return True if running else None
        if action in ("step", "pace"):
            return running
        if action == "results":
            return True if self.state == "finished" else (False if running else None)
        if action == "again":
            return not running
        if action == "view":
            return self.playground
        return True

    @on(Button.Pressed, "#pause")
    def action_pause(self) -> None:
        if self.state not in ("starting", "running", "paused"):
            return
        self.state = "paused" if self.control.toggle_pause() else "running"
        self._show_status()

    def action_step(self, unit: str) -> None:
        """From paused: one more epoch or batch, then paused again. While running: pause
        at the end of this epoch (e) or after this batch (E)."""
        if self.state not in ("starting", "running", "paused"):
            return
        if not self.control.paused:
            self.control.pause()
            if unit == "epoch":
                self.control.step("epoch")
            self.state = "paused"
            self._show_status()
            return
        self.control.step(unit)

    def action_pace(self, direction: int) -> None:
        """The next pace down (-1) or up (+1) the ladder of PACES."""
        pace = self.control.pace
        ladder = [p for p in PACES if p is not None]
        if pace is None:
            index = len(PACES) - 1
        else:
            index = min(range(len(ladder)), key=lambda i: abs(ladder[i] - pace))
        index = min(max(0, index + direction), len(PACES) - 1)
        self.control.set_pace(PACES[index])
        self._show_epoch()
        self.notify(f"Pace: {pace_words(PACES[index])}", timeout=1.5)

    def action_view(self) -> None:
        """Two-feature data: the network and the plane, or the curves."""
        if not self.playground:
            return
        self.view = "curves" if self.view == "playground" else "playground"
        self.set_class(self.view == "playground", "-playground")
        if self.view == "curves":
            for chart in self.charts:
                chart.replot()
        elif self.model is not None:
            self._weights_report = WeightsReported(len(self.epochs), None,
                                                   self.model.get_weights())
        self._redraw(force=True)

    @on(Button.Pressed, "#stop")
    def action_stop(self) -> None:
        if self.state in ("starting", "running", "paused"):
            self.control.stop()
            self.query_one("#status", Static).update("[b yellow]Stopping[/] after this batch…")

    @on(Button.Pressed, "#results")
    def action_results(self) -> None:
        if self.state != "finished":
            return
        from .results import ResultsScreen

        self.app.push_screen(ResultsScreen(self.config, self.data, self.model, self.history))

    def action_again(self) -> None:
        """Train the same setup again from fresh weights (at the same pace)."""
        pace = self.control.pace
        self.control.stop()
        self.app.switch_screen(TrainingScreen(self.config, self.data, weights=self.weights,
                                              pace=pace))

    def action_back(self) -> None:
        self.control.stop()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        self.control.stop()


def _fmt(value: float | None) -> str:
    return format_metric(value, missing="")


def _row(cells: list[str], widths: list[int]) -> str:
    """One line of the epoch table (a Log: appending a line draws one line, where a
    DataTable redrew every visible cell on each new row)."""
    return "".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip()
