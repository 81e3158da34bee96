"""The Runs screen: every stored run in a table (filter, sort, delete), and
the selected runs' curves overlaid on one chart beside their settings.

The store is read and written in a thread worker, so a locked store never
freezes the app; any store error (damaged, too new, locked...) is shown in
place and the screen stays usable.
"""

from __future__ import annotations

import math
import os
import textwrap
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Header, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from engine.formatting import format_metric
from engine.text import markup, printable

from ..widgets.compare_chart import CompareChart
from ..widgets.footer import AppFooter

#: The table's columns, left to right: (key, heading). A run's sweep label comes
#: right after its id, so that the runs of a sweep read apart at any width.
COLUMNS = (
    ("mark", "✓"), ("id", "id"), ("label", "label"), ("dataset", "dataset"),
    ("layers", "layers"), ("optimizer", "optim"), ("lr", "lr"), ("epochs", "epochs"),
    ("stop", "stopped"), ("best_val_loss", "best val"), ("params", "params"),
    ("time", "UTC time"),
)
#: The columns that give way, first to last, when the table is narrower than all
#: of them: no column is ever cut at the right edge, and what a dropped column
#: showed is still in the settings table of the selected runs.
NARROW_DROPS = ("time", "params", "optimizer", "epochs", "layers", "dataset")
SORTABLE = tuple(key for key, _ in COLUMNS if key != "mark")
#: The most runs drawn on the chart at once (one colour each).
MAX_SELECTED = 10


def app_store(app: Any):
    """The RunStore the app keeps runs in (opened once, by the app), or None when it
    keeps none."""
    if hasattr(app, "run_store"):
        return app.run_store()
    from engine.store import RunStore

    store = getattr(app, "store", None)
    if store is False:
        return None
    if isinstance(store, RunStore):
        return store
    return RunStore(store if isinstance(store, (str, os.PathLike)) else None)


#: The runs table's layers column at most (a CNN's layers run long; they are whole in the
#: selected runs' settings table).
LAYERS_WIDTH = 22
#: A value of the settings table wider than this, or than its share of the pane, wraps
#: onto more lines of its row (a CNN's image layers: ``28x28x1 conv16x3 pool2 conv32x3
#: pool2`` ran past the pane at 100 columns)
SETTING_WIDTH = 24
#: ... and never narrower than this (more runs than fit scroll sideways)
SETTING_MIN_WIDTH = 10


def layers_text(run) -> str:
    """``10-32-2``, ``28x28x1-conv16x3-pool2-flatten-64-10`` (engine's one spelling)."""
    return run.sizes_text()


def time_text(created_at: str) -> str:
    """``2026-11-29T04:56:53+00:00`` -> ``11-29 04:56`` (the table) ."""
    return created_at.replace("T", " ")[5:16]


def _num(value: Any) -> str:
    return format_metric(value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def sort_value(run, key: str):
    """What the ``key`` column sorts by (numbers as numbers; missing values last)."""
    values = {
        "id": run.id, "time": run.created_at, "dataset": run.dataset_name.lower(),
        "layers": (len(run.spec.dense_layers), run.n_params), "optimizer": run.spec.optimizer,
        "lr": run.spec.effective_learning_rate, "epochs": run.epochs_done,
        "stop": run.status, "best_val_loss": run.best.get("val_loss"), "params": run.n_params,
        "label": (run.group or "", run.label or ""),
    }
    value = values[key]
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    return (value is None, value if value is not None else 0)


def row_cells(run, selected: bool) -> dict[str, Any]:
    """The run's cell in each column, by column key."""
    best = run.best.get("val_loss")
    label = short_label(run.label) if run.label else run.group or ""
    status = run.status
    colour = {"diverged": "red", "failed": "red", "interrupted": "yellow",
              "running": "yellow", "stopped": "yellow"}.get(status)
    return {
        "mark": Text("●", style="bold green") if selected else "",
        # a label and a dataset name are anyone's text: Text (not markup), escapes shown
        "id": run.id, "label": Text(printable(label)), "dataset": Text(printable(run.dataset_name)),
        "layers": _clip(layers_text(run), LAYERS_WIDTH),   # the settings table has it whole
        "optimizer": run.spec.optimizer, "lr": f"{run.spec.effective_learning_rate:g}",
        "epochs": f"{run.epochs_done}/{run.fit.get('epochs', '?')}",
        "stop": Text(status, style=colour) if colour else status,
        "best_val_loss": _num(best), "params": f"{run.n_params:,}",
        "time": time_text(run.created_at),
    }


def cell_width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def fitted_columns(widths: dict[str, int], room: int, padding: int = 1) -> list[str]:
    """The keys of the columns to show in ``room`` cells: every column when they all
    fit, else without the first of NARROW_DROPS, then the next, and so on.
    ``widths``: each column's widest cell (heading included); ``padding``: the
    table's cell padding on either side of a cell."""
    keys = [key for key, _ in COLUMNS]
    for key in NARROW_DROPS:
        if sum(widths[k] + 2 * padding for k in keys) <= room:
            break
        keys.remove(key)
    return keys


SHORT_SETTINGS = {"learning_rate": "lr", "batch_size": "batch"}
SHORT_LOSSES = {"categorical_crossentropy": "categorical CE", "binary_crossentropy": "binary CE",
                "sparse_categorical_crossentropy": "sparse cat. CE"}


def short_label(label: str) -> str:
    """``learning_rate=0.01`` -> ``lr=0.01`` (the table's last column is narrow)."""
    name, _, value = label.partition("=")
    return f"{SHORT_SETTINGS.get(name, name)}={value}" if value else label


def search_text(run) -> str:
    parts = [run.id, run.dataset_name, layers_text(run), run.spec.optimizer,
             f"lr={run.spec.effective_learning_rate:g}", run.status, run.label or "",
             run.group or "", run.backend, run.spec.loss, run.created_at.replace("T", " "),
             run.spec.dense_layers[0].activation]
    return " ".join(parts).lower()


def matches(run, text: str) -> bool:
    """Every word of ``text`` appears somewhere in the run's row (case-insensitive)."""
    hay = search_text(run)
    return all(word in hay for word in text.lower().split())


def settings_rows(runs) -> list[tuple[str, list[str]]]:
    """(setting, one value per run), for the side-by-side table."""
    def lr(run):
        return f"{run.spec.effective_learning_rate:g}"

    def val(run, key):
        return _num(run.best.get(key))

    def best_epoch(run):
        return "–" if run.best_epoch is None else str(run.best_epoch + 1)

    def duration(run):
        return "–" if run.duration_s is None else f"{run.duration_s:.1f} s"

    def patience(run):
        return "off" if run.fit.get("patience") is None else str(run.fit["patience"])

    getters = [
        ("dataset", lambda r: r.dataset_name),
        ("layers", dense_sizes_text),
        ("activation", lambda r: ", ".join(sorted({lyr.activation for lyr in r.spec.dense_layers[:-1]}))
         or "–"),
        ("output", lambda r: f"{r.spec.output_dim} {r.spec.layers[-1].activation}"),
        ("loss", lambda r: SHORT_LOSSES.get(r.spec.loss, r.spec.loss)),
        ("optimizer", lambda r: r.spec.optimizer),
        ("learning rate", lr),
        ("batch size", lambda r: str(r.fit.get("batch_size", "–"))),
        ("epochs", lambda r: f"{r.epochs_done}/{r.fit.get('epochs', '?')}"),
        ("validation", lambda r: f"{r.fit.get('validation_split', 0):g}"),
        ("patience", patience),
        ("backend", lambda r: f"{r.backend} ({r.device or '?'})"),
        ("seed", lambda r: str(r.seed)),
        ("params", lambda r: f"{r.n_params:,}"),
        ("status", lambda r: r.status),
        ("best val_loss", lambda r: val(r, "val_loss")),
        ("best loss", lambda r: val(r, "loss")),
        ("best epoch", best_epoch),
        ("final loss", lambda r: _num(r.final.get("loss"))),
        ("duration", duration),
        ("sweep", lambda r: _clip(r.group or "–", 18)),
        ("created (UTC)", lambda r: r.created_at.replace("T", " ")[:16]),
    ]
    rows = [(name, [get(run) for run in runs]) for name, get in getters]
    if any(run.spec.is_image for run in runs):   # a CNN: its image layers on a row of their own
        rows.insert(1, ("image layers", [image_layers_text(run) for run in runs]))
    # Playground's settings, where any of the runs has them
    extra = [("penalty", penalty_text), ("dropout", dropout_text), ("inputs", inputs_text)]
    at = [name for name, _ in rows].index("learning rate") + 1
    for name, get in reversed(extra):
        values = [get(run) for run in runs]
        if any(v != "–" for v in values):
            rows.insert(at, (name, values))
    return rows


def image_layers_text(run) -> str:
    """An image network's input shape and image layers (``28x28x1 conv16x3 pool2``), or "–"."""
    return " ".join(run.image_words()) or "–"


def dense_sizes_text(run) -> str:
    """The layers' sizes (``10-32-2``); an image network's from its Flatten on
    (``flatten-64-10``: its image layers are on their own row)."""
    return "-".join(run.dense_words())


def penalty_text(run) -> str:
    """The kernels' L1/L2 rates ("L2 0.001"), or "–"."""
    regs = {layer.kernel_regularizer for layer in run.spec.dense_layers} - {None}
    return " / ".join(" ".join(f"{k.upper()} {v:g}" for k, v in reg.to_dict().items() if v)
                      for reg in regs) or "–"


def dropout_text(run) -> str:
    from engine.spec import Dropout

    rates = sorted({layer.rate for layer in run.spec.layers if isinstance(layer, Dropout)})
    return ", ".join(f"{r:g}" for r in rates) or "–"


def inputs_text(run) -> str:
    """A run's feature crosses (x₁ x₂ x₁x₂), or "–" for the data's own features."""
    features = ((run.fit or {}).get("recipe") or {}).get("features")
    if not features:
        return "–"
    from engine.features import labels

    return " ".join(labels(features))


def _some(ids: list[str], most: int = 6) -> str:
    """``a, b, c and 4 more``."""
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


class ConfirmDelete(ModalScreen[bool]):
    """Asks before deleting; y or Delete confirms, n or esc cancels."""

    BINDINGS = [Binding("y", "confirm", "Delete", id="confirm-delete"),
                Binding("n,escape", "cancel", "Cancel", id="cancel-delete")]

    def __init__(self, ids: list[str], hidden: list[str] = ()) -> None:
        """``ids``: the runs to delete; ``hidden``: selected runs that the filter
        hides, which are not deleted (the dialog says so)."""
        super().__init__()
        self.ids = ids
        self.hidden = list(hidden)

    def compose(self) -> ComposeResult:
        text = (f"{_some(self.ids)}\nTheir histories and weights are removed from the store. "
                "This cannot be undone.")
        if self.hidden:
            n = len(self.hidden)
            are = "run is" if n == 1 else "runs are"
            text += (f"\n\n[b]{n} other selected {are} hidden by the filter and "
                     f"{'is' if n == 1 else 'are'} NOT deleted:[/] {_some(self.hidden)}")
        with Vertical(id="confirm-box"):
            yield Static(f"[b]Delete {len(self.ids)} run(s)?[/]", classes="dialog-title")
            yield Static(text, id="confirm-text")
            with Horizontal(id="confirm-actions"):
                yield Button("Delete (y)", id="confirm-yes", variant="error")
                yield Button("Cancel (n)", id="confirm-no")

    @on(Button.Pressed, "#confirm-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(False)


class RunsScreen(Screen):
    """Stored runs: filter, sort, delete; select several to compare their curves."""

    CSS_PATH = os.path.join(os.path.dirname(__file__), "runs.tcss")
    #: The table has the keys when the screen opens or comes back from a dialog (the
    #: filter field, first in the focus chain, would take every letter instead)
    AUTO_FOCUS = "#runs-table"
    #: The footer fits 80 columns: / and m are shown where they act (the filter's
    #: placeholder, the metric's label), s and S share one entry.
    BINDINGS = [
        Binding("space", "toggle", "Select", id="runs-select"),
        Binding("slash", "filter", "Filter", id="runs-filter", show=False),
        Binding("s", "sort", "Sort", key_display="s/S", tooltip="sort by the next column",
                id="runs-sort"),
        Binding("S", "reverse", "Reverse", show=False, tooltip="reverse the order",
                id="runs-reverse"),
        Binding("m", "metric", "Metric", id="runs-metric", show=False),
        Binding("d,delete", "delete", "Delete", id="runs-delete"),
        Binding("a", "select_shown", "Select all", id="runs-select-shown"),
        Binding("c", "clear", "Clear", id="runs-clear"),
        Binding("r", "reload", "Reload", id="runs-reload", show=False),
        Binding("escape", "back", "Back", id="runs-back"),
    ]

    def __init__(self, store: Any = None) -> None:
        super().__init__(id="runs")
        self._store_arg = store
        self.store = None
        self.runs: list = []           # every stored run, newest first
        self.shown: list = []          # the runs in the table, filtered and sorted
        self.selected: list[str] = []  # ids, in the order picked
        self.filter_text = ""
        self.sort_key: str | None = None
        self.sort_reverse = False
        self.metric = "loss"
        self.error: str | None = None
        self.loaded = False
        self._dialog = False
        self._histories_asked: set[str] = set()   # ids whose histories were asked for

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="runs-bar"):
            yield Input(placeholder="/ filters: dataset, optimizer, status, sweep…",
                        id="runs-filter-input")
            yield Label("metric (m)", id="runs-metric-label")
            yield Select([("loss", "loss")], value="loss", allow_blank=False, id="runs-metric",
                         compact=True)
        yield Static("Loading the run store…", id="runs-message")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="runs-compare"):
            yield CompareChart(id="runs-chart")
            yield DataTable(id="runs-settings", cursor_type="none", zebra_stripes=True,
                            show_cursor=False)
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "saved runs"
        table = self.query_one("#runs-table", DataTable)
        for key, heading in COLUMNS:
            table.add_column(heading, key=key)
        self.query_one("#runs-chart", CompareChart).replot()
        table.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self._dialog:        # back from our own question: nothing changed elsewhere
            self._dialog = False
        elif self.loaded:
            self.reload()

    # -- the store, off the UI thread ---------------------------------------------------------

    def reload(self) -> None:
        if self._store_arg is None and getattr(self.app, "store", None) is False:
            self._show_message("[b]Runs are not kept in this session[/] (the app was started "
                               "without a run store).")
            self.loaded = True
            return
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-store")
    def _load(self) -> list:
        from engine.store import RunStore

        if self.store is None:
            arg = self._store_arg
            if arg is None:
                self.store = app_store(self.app)
            else:
                self.store = arg if isinstance(arg, RunStore) else RunStore(arg)
        return ("list", self.store.list())

    @work(thread=True, exit_on_error=False, group="runs-write")
    def _delete(self, ids: list[str]) -> list:
        deleted = []
        for run_id in ids:
            self.store.delete(run_id)
            deleted.append(run_id)
        return ("delete", deleted, self.store.list())

    @work(thread=True, exit_on_error=False, group="runs-history")
    def _load_histories(self, ids: list[str]) -> dict:
        """The histories of ``ids``: the list leaves them in the store until a run is drawn."""
        return {run_id: self.store.history(run_id) for run_id in ids}

    @on(Worker.StateChanged)
    def _histories_read(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "runs-history":
            return
        if event.state == WorkerState.SUCCESS:
            for run in self.runs:
                if run.id in event.worker.result:
                    run.history = event.worker.result[run.id]
            self.refresh_compare()
        elif event.state == WorkerState.ERROR:   # not asked again until the list is read again
            self.notify(f"A run's history cannot be read: {event.worker.error}",
                        severity="error", timeout=8)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group not in ("runs-store", "runs-write"):
            return
        if event.state == WorkerState.SUCCESS:
            result = event.worker.result
            self.error = None
            self.loaded = True
            if result[0] == "delete":
                self.selected = [i for i in self.selected if i not in result[1]]
                self.notify(f"Deleted {len(result[1])} run(s).", timeout=3)
            self.runs = result[-1]
            self._histories_asked.clear()   # new runs: their histories are read again
            self.selected = [i for i in self.selected if any(r.id == i for r in self.runs)]
            self.refresh_table()
            self.refresh_compare()
        elif event.state == WorkerState.ERROR and event.worker.group == "runs-write":
            self.notify(f"Nothing more was deleted: {event.worker.error}", severity="error",
                        timeout=8)
            self.reload()
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            self.loaded = True
            self.error = str(error)
            where = f" ({self.store.path})" if self.store is not None else ""
            self._show_message(f"[b red]The run store cannot be read{where}:[/] {error}\n"
                               f"Press r to try again.")

    def _show_message(self, text: str) -> None:
        message = self.query_one("#runs-message", Static)
        message.update(text)
        message.display = True

    # -- the table ----------------------------------------------------------------------------

    def refresh_table(self) -> None:
        if self.error is not None or self.store is None:
            return    # the store's error, or "not kept", stays in place
        runs = [r for r in self.runs if matches(r, self.filter_text)]
        if self.sort_key is not None:
            runs.sort(key=lambda r: sort_value(r, self.sort_key), reverse=self.sort_reverse)
            if self.sort_reverse:  # missing values stay last
                runs.sort(key=lambda r: sort_value(r, self.sort_key)[0])
        self.shown = runs
        table = self.query_one("#runs-table", DataTable)
        cursor = self._cursor_id()
        selected = set(self.selected)
        cells = {run.id: row_cells(run, run.id in selected) for run in self.runs}
        headings = {}
        for key, heading in COLUMNS:
            arrow = ""
            if key == self.sort_key:
                arrow = " ▼" if self.sort_reverse else " ▲"
            headings[key] = heading + arrow
        # every stored run counts, so that typing a filter does not make columns come and go
        widths = {key: max([cell_len(headings[key])] + [cell_width(row[key]) for row in cells.values()])
                  for key, _ in COLUMNS}
        keys = fitted_columns(widths, self._table_room(), table.cell_padding)
        # columns anew each time, at the widths their cells need: with auto widths, a
        # table cleared of its rows only kept some rows' old renders, cut to the widths
        # the columns had before (seen at 100x30)
        table.clear(columns=True)
        for key in keys:   # widths given: auto widths grew after some rows had been drawn
            table.add_column(headings[key], key=key, width=widths[key])
        for run in runs:
            table.add_row(*[cells[run.id][key] for key in keys], key=run.id)
        table.refresh(layout=True)   # its height is auto: laid out again for the new rows
        if cursor is not None and any(r.id == cursor for r in runs):
            table.move_cursor(row=table.get_row_index(cursor))
        message = self.query_one("#runs-message", Static)
        path = markup(self.store.path) if self.store is not None else "?"
        if not self.runs:
            message.update(f"[b]No runs yet.[/] Train one from the setup screen (ctrl+s) or run "
                           f"a sweep (w): finished runs are kept in {path}.")
        elif not runs:
            message.update(f"No run matches “{markup(self.filter_text)}” ({len(self.runs)} stored).")
        else:
            hidden = sum(1 for i in self.selected if all(r.id != i for r in runs))
            chosen = f", {len(self.selected)} selected" if self.selected else \
                ": space selects runs to compare"
            if hidden:
                chosen += f" ({hidden} hidden by the filter)"
            sort = f", sorted by {dict(COLUMNS)[self.sort_key]}" if self.sort_key else ""
            message.update(f"{len(runs)} of {len(self.runs)} run(s){sort}{chosen}.  [dim]{path}[/]")
        message.display = True

    def _table_room(self) -> int:
        """The cells a row of the table has, a vertical scrollbar's width kept free."""
        table = self.query_one("#runs-table", DataTable)
        width = table.size.width or self.size.width or self.app.size.width
        return width - table.styles.scrollbar_size_vertical

    def on_resize(self) -> None:
        self.refresh_table()     # the columns that fit the new width

    def _cursor_id(self) -> str | None:
        table = self.query_one("#runs-table", DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None

    @on(Input.Changed, "#runs-filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        if self.loaded and self.error is None:
            self.refresh_table()

    @on(Input.Submitted, "#runs-filter-input")
    def _filter_done(self) -> None:
        self.query_one("#runs-table", DataTable).focus()

    def action_filter(self) -> None:
        self.query_one("#runs-filter-input", Input).focus()

    def sort_by(self, key: str) -> None:
        """Sort by column ``key``; the same column again reverses the order."""
        if key not in SORTABLE:
            return
        if self.sort_key == key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        self.refresh_table()

    @on(DataTable.HeaderSelected, "#runs-table")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(event.column_key.value)

    def action_sort(self) -> None:
        """Sort by the next column shown (header clicks pick one directly)."""
        shown = [column.value for column in self.query_one("#runs-table", DataTable).columns]
        order = [key for key in SORTABLE if key in shown] or list(SORTABLE)
        key = order[(order.index(self.sort_key) + 1) % len(order)] \
            if self.sort_key in order else order[0]
        self.sort_by(key)

    def action_reverse(self) -> None:
        if self.sort_key is None:
            self.sort_key = "time"
        else:
            self.sort_reverse = not self.sort_reverse
        self.refresh_table()

    # -- selection and comparison ----------------------------------------------------------------

    @on(DataTable.RowSelected, "#runs-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        self.toggle(event.row_key.value)

    def action_toggle(self) -> None:
        run_id = self._cursor_id()
        if run_id is not None:
            self.toggle(run_id)

    def toggle(self, run_id: str) -> None:
        if run_id in self.selected:
            self.selected.remove(run_id)
        elif len(self.selected) >= MAX_SELECTED:
            self.notify(f"At most {MAX_SELECTED} runs on one chart.", severity="warning")
            return
        else:
            self.selected.append(run_id)
        self.refresh_table()
        self.refresh_compare()

    def action_select_shown(self) -> None:
        """Select every run the filter shows (a sweep's runs, say), up to MAX_SELECTED."""
        for run in self.shown:
            if len(self.selected) >= MAX_SELECTED:
                self.notify(f"At most {MAX_SELECTED} runs on one chart.", severity="warning")
                break
            if run.id not in self.selected:
                self.selected.append(run.id)
        self.refresh_table()
        self.refresh_compare()

    def action_clear(self) -> None:
        self.selected.clear()
        self.refresh_table()
        self.refresh_compare()

    def selected_runs(self) -> list:
        by_id = {r.id: r for r in self.runs}
        return [by_id[i] for i in self.selected if i in by_id]

    def _metrics(self, runs) -> list[str]:
        keys: list[str] = []
        for run in runs or self.runs:
            for key in run.final:     # the stored summary's metrics: no history is read
                if key not in keys:
                    keys.append(key)
        order = ["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae", "mse",
                 "val_mse"]
        return sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k)) \
            or ["loss"]

    def refresh_compare(self) -> None:
        runs = self.selected_runs()
        unread = [r.id for r in runs if not getattr(r, "history_loaded", True)
                  and r.id not in self._histories_asked]
        if unread:   # drawn when they are read
            self._histories_asked.update(unread)
            self._load_histories(unread)
        metrics = self._metrics(runs)
        if self.metric not in metrics:
            self.metric = metrics[0]
        select = self.query_one("#runs-metric", Select)
        with self.prevent(Select.Changed):
            select.set_options([(m, m) for m in metrics])
            select.value = self.metric
        chart = self.query_one("#runs-chart", CompareChart)
        chart.empty_text = "Select runs (space) to compare"
        chart.set_series([(printable(f"{r.id[:6]} {r.label or r.describe().split(' ')[0]}"),
                           *r.curve(self.metric))
                          for r in runs if getattr(r, "history_loaded", True)], metric=self.metric)
        chart.total_epochs = max((r.fit.get("epochs") or 0 for r in runs), default=None)
        chart.replot()
        table = self.query_one("#runs-settings", DataTable)
        table.clear(columns=True)
        if not runs:
            table.add_column("settings")
            table.add_row("Selected runs' settings, side by side")
            return
        table.add_column("", key="setting")
        for run in runs:
            table.add_column(run.id[:6], key=run.id)
        rows = settings_rows(runs)
        width = self._setting_width(table, max(cell_len(name) for name, _ in rows), len(runs))
        for name, values in rows:
            differ = len(set(values)) > 1
            style = "bold yellow" if differ else ""
            # a long value (a CNN's image layers) wraps at its spaces onto lines of its row
            cells = [textwrap.fill(printable(v), width, break_long_words=False) for v in values]
            table.add_row(Text(name, style="bold" if differ else "dim"),
                          *[Text(cell, style=style) for cell in cells],
                          height=max(cell.count("\n") + 1 for cell in cells))

    @staticmethod
    def _setting_width(table: DataTable, name_width: int, runs: int) -> int:
        """How wide a run's settings may be before they wrap: the pane's width shared
        by the runs' columns (each cell has a space either side, and the vertical
        scrollbar takes 2), at least SETTING_MIN_WIDTH."""
        if table.size.width <= 0:   # not laid out yet
            return SETTING_WIDTH
        room = table.size.width - (name_width + 2) - 2
        return max(SETTING_MIN_WIDTH, min(SETTING_WIDTH, room // runs - 2))

    @on(Select.Changed, "#runs-metric")
    def _metric_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.metric:
            self.metric = event.value
            self.refresh_compare()

    def action_metric(self) -> None:
        metrics = self._metrics(self.selected_runs())
        i = metrics.index(self.metric) if self.metric in metrics else -1
        self.metric = metrics[(i + 1) % len(metrics)]
        self.refresh_compare()

    # -- delete -------------------------------------------------------------------------------

    def action_delete(self) -> None:
        """Delete what the learner sees: the selected runs that the filter shows, or
        the run under the cursor when none of them is selected. Selected runs the
        filter hides are left alone, and the dialog says so."""
        if self.store is None or self.error is not None:
            self.notify("The run store is not available.", severity="error")
            return
        shown = {run.id for run in self.shown}
        hidden = [i for i in self.selected if i not in shown]
        ids = [i for i in self.selected if i in shown] or [
            i for i in [self._cursor_id()] if i is not None]
        if not ids:
            self.notify("No run to delete.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(ids)

        self._dialog = True
        self.app.push_screen(ConfirmDelete(ids, hidden), answered)

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
