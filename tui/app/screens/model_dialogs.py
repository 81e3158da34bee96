"""The results screen's dialogs that take the trained model elsewhere: predict on the
rows of a CSV file (``p``), and export the model to a .keras or .onnx file (``e``).

Both use the model the results screen holds (the run just trained), through the same
engine functions as ``deepterm predict`` and ``deepterm runs export --model``: the
file's columns are matched, encoded and standardized as the training data was
(``engine.predict``), and the export is ``engine.export``. The work runs in a thread
worker (an export to .keras loads TensorFlow); errors are one line in the dialog.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static
from textual.worker import Worker, WorkerState

from engine.formatting import format_metric
from engine.text import markup, printable

from .csv_dialog import PathInput, PathSuggester

#: rows of predictions the dialog's table shows (the saved file has them all)
SHOWN_ROWS = 200
CSS = Path(__file__).with_name("model_dialogs.tcss")


def error_text(error: BaseException) -> str:
    """One line for the dialog: a user's mistake as its message, anything else with its type."""
    message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
    return markup(" ".join(message.split()))


class PredictDialog(ModalScreen[None]):
    """Predictions of ``model`` on a CSV file's rows, shown and saved as CSV."""

    CSS_PATH = CSS
    BINDINGS = [Binding("escape", "close", "Close", id="predict-close")]

    def __init__(self, model: Any, path: str = "") -> None:
        super().__init__(id="predict-dialog")
        self.model = model
        self._path = path
        self.table: Any = None          # the last PredictionTable

    def compose(self) -> ComposeResult:
        with Vertical(id="predict-box", classes="model-box"):
            yield Static("Predict on a CSV file", classes="dialog-title")
            yield Static("Its columns are matched to the training columns by name (or by "
                         "position when named 0..n-1), then encoded and standardized as the "
                         "training data was.", classes="model-hint")
            with Horizontal(classes="field"):
                yield Label("CSV file", classes="field-label")
                yield PathInput(self._path, id="predict-path", suggester=PathSuggester(),
                                placeholder="path/to/rows.csv (enter predicts)", compact=True)
            yield Static("", id="predict-error", classes="error")
            yield Static("", id="predict-notes")
            yield DataTable(id="predict-table", zebra_stripes=True, cursor_type="row")
            with Horizontal(classes="field", id="predict-save-row"):
                yield Label("Save as", classes="field-label")
                yield Input("", id="predict-save", placeholder="predictions.csv (enter saves)",
                            compact=True)
            with Horizontal(classes="model-actions"):
                yield Button("Predict", id="predict-run", variant="primary", compact=True)
                yield Button("Save", id="predict-save-button", disabled=True, compact=True)
                yield Button("Close", id="predict-close-button", compact=True)

    def on_mount(self) -> None:
        self.query_one("#predict-table").display = False
        self.query_one("#predict-save-row").display = False
        self.query_one("#predict-path", Input).focus()

    def show_error(self, message: str) -> None:
        error = self.query_one("#predict-error", Static)
        error.update(message)
        error.set_class(bool(message), "-shown")

    @on(Input.Submitted, "#predict-path")
    @on(Button.Pressed, "#predict-run")
    def action_predict(self) -> None:
        path = os.path.expanduser(self.query_one("#predict-path", Input).value.strip())
        if not path:
            self.show_error("Give the path of a CSV file with the training data's columns")
            return
        self.query_one("#predict-run", Button).disabled = True
        self.show_error("[i]Predicting…[/]")
        self._predict(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="predict")
    def _predict(self, path: str):
        from engine.predict import predict_csv

        return path, predict_csv(self.model, path)

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "predict":
            self.query_one("#predict-run", Button).disabled = event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
            if event.state == WorkerState.SUCCESS:
                self._show(*event.worker.result)
            elif event.state == WorkerState.ERROR:
                self.show_error(error_text(event.worker.error))
        elif event.worker.group == "predict-save":
            if event.state == WorkerState.SUCCESS:
                self.show_error("")
                self.notify(f"Wrote {printable(event.worker.result)}", title="Predictions saved")
            elif event.state == WorkerState.ERROR:
                self.show_error(error_text(event.worker.error))

    def _show(self, path: str, table: Any) -> None:
        self.table = table
        self.show_error("")
        n = len(table.outputs)
        shown = f", the first {SHOWN_ROWS} shown" if n > SHOWN_ROWS else ""
        lines = [f"[b]{n}[/] rows of {markup(os.path.basename(path))} predicted{shown}"]
        lines += [f" • {markup(note)}" for note in table.notes]
        self.query_one("#predict-notes", Static).update("\n".join(lines))
        grid = self.query_one("#predict-table", DataTable)
        grid.clear(columns=True)
        grid.add_columns("row", *[Text(printable(h)) for h in table.header])   # class names: text
        numbers = len(table.header) - (1 if table.is_classification else 0)   # then the class
        for i, cells in enumerate(table.rows()[:SHOWN_ROWS]):   # the file keeps 9 digits
            grid.add_row(str(i + 1), *[format_metric(float(c)) for c in cells[:numbers]],
                         *[Text(printable(c)) for c in cells[numbers:]])
        grid.display = True
        save = self.query_one("#predict-save", Input)
        if not save.value:
            stem, _ = os.path.splitext(path)
            save.value = f"{stem}_predictions.csv"
        self.query_one("#predict-save-row").display = True
        self.query_one("#predict-save-button", Button).disabled = False

    @on(Input.Submitted, "#predict-save")
    @on(Button.Pressed, "#predict-save-button")
    def action_save(self) -> None:
        if self.table is None:
            return
        path = os.path.expanduser(self.query_one("#predict-save", Input).value.strip())
        if not path:
            self.show_error("Give a file name to save the predictions to")
            return
        self._save(path, self.table.to_csv())

    @work(thread=True, exclusive=True, exit_on_error=False, group="predict-save")
    def _save(self, path: str, text: str) -> str:
        if os.path.isdir(path):
            raise ValueError(f"{path} is a folder: give a file name")
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise ValueError(f"{path}: cannot write the predictions ({exc.strerror or exc})") \
                from None
        return path

    @on(Button.Pressed, "#predict-close-button")
    def action_close(self) -> None:
        self.dismiss(None)


class ExportDialog(ModalScreen[None]):
    """Export ``model`` to a .keras or .onnx file."""

    CSS_PATH = CSS
    BINDINGS = [Binding("escape", "close", "Close", id="export-close")]

    def __init__(self, model: Any, path: str = "model.onnx") -> None:
        super().__init__(id="export-dialog")
        self.model = model
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box", classes="model-box"):
            yield Static("Export the model", classes="dialog-title")
            yield Static(".keras: Keras' own file (keras.models.load_model opens it; TensorFlow "
                         "loads to write it). .onnx: for onnxruntime and the ONNX tools.",
                         classes="model-hint")
            with Horizontal(classes="field"):
                yield Label("File", classes="field-label")
                yield Input(self._path, id="export-path", compact=True,
                            placeholder="model.keras or model.onnx (enter exports)")
            yield Static("", id="export-error", classes="error")
            yield Static("", id="export-done")
            with Horizontal(classes="model-actions"):
                yield Button("Export", id="export-run", variant="primary", compact=True)
                yield Button("Close", id="export-close-button", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def show_error(self, message: str) -> None:
        error = self.query_one("#export-error", Static)
        error.update(message)
        error.set_class(bool(message), "-shown")

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-run")
    def action_export(self) -> None:
        path = os.path.expanduser(self.query_one("#export-path", Input).value.strip())
        if not path:
            self.show_error("Give a file name ending with .keras or .onnx")
            return
        self.query_one("#export-run", Button).disabled = True
        self.query_one("#export-done", Static).update("")
        self.show_error("[i]Exporting…[/]")
        self._export(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _export(self, path: str) -> tuple[str, str]:
        from engine.export import export_model

        return path, export_model(self.model, path)

    @on(Worker.StateChanged)
    def _exported(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "export":
            return
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.query_one("#export-run", Button).disabled = False
        if event.state == WorkerState.SUCCESS:
            path, kind = event.worker.result
            spec = self.model.spec
            scaled = self.model.metadata.get("preprocessing") is not None
            lines = [f"[b]Wrote[/] {markup(path)}: {kind} model, input {spec.input_dim} "
                     f"{'standardized ' if scaled else ''}features → output {spec.output_dim}"]
            if scaled:
                lines.append("Standardize new rows first, with the training rows' mean and "
                             "scale (kept in the file), as Predict does.")
            self.show_error("")
            self.query_one("#export-done", Static).update("\n".join(lines))
        elif event.state == WorkerState.ERROR:
            self.show_error(error_text(event.worker.error))

    @on(Button.Pressed, "#export-close-button")
    def action_close(self) -> None:
        self.dismiss(None)


__all__ = ["ExportDialog", "PredictDialog"]
