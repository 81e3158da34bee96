"""Open a CSV file: a path with completion (or pick it in the tree), the target
column chosen from the file's columns, the task, and errors shown in place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, DirectoryTree, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

TASK_CHOICES = [("auto (from the target)", "auto"), ("regression", "regression"),
                ("binary", "binary"), ("multiclass", "multiclass")]


class PathSuggester(Suggester):
    """Completes a path from the file system: directories and .csv files."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, prefix = os.path.split(expanded)
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            return None
        for name in names:
            if name.startswith(prefix) and not name.startswith(".") or (prefix.startswith(".")
                                                                         and name.startswith(prefix)):
                full = os.path.join(folder, name)
                if os.path.isdir(full):
                    return value + name[len(prefix):] + os.sep
                if name.lower().endswith(".csv"):
                    return value + name[len(prefix):]
        return None


class CsvTree(DirectoryTree):
    """Folders and CSV files only."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".")
                and (p.is_dir() or p.suffix.lower() == ".csv")]


class CsvDialog(ModalScreen[tuple[str, str | None, Any] | None]):
    """Returns (path, target column, Dataset), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="csv-cancel")]

    def __init__(self, path: str = "", root: str | os.PathLike | None = None) -> None:
        super().__init__(id="csv-dialog")
        self._path = path
        self._root = Path(root) if root is not None else Path.cwd()
        self.columns: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="csv-box"):
            yield Static("Open a CSV file", classes="dialog-title")
            with Horizontal(classes="field"):
                yield Label("Path", classes="field-label")
                yield Input(self._path, id="csv-path", placeholder="path/to/file.csv (→ completes)",
                            suggester=PathSuggester())
            yield CsvTree(self._root, id="csv-tree")
            with Horizontal(classes="field"):
                yield Label("Target column", classes="field-label")
                yield Select([], id="csv-target", prompt="choose a file first", compact=True)
            with Horizontal(classes="field"):
                yield Label("Task", classes="field-label")
                yield Select(TASK_CHOICES, id="csv-task", value="auto", allow_blank=False,
                             compact=True)
            yield Static("", id="csv-error", classes="error")
            with Horizontal(id="csv-actions"):
                yield Button("Load", id="csv-load", variant="primary", disabled=True)
                yield Button("Cancel", id="csv-cancel-button")

    def on_mount(self) -> None:
        self.query_one("#csv-path", Input).focus()
        if self._path:
            self._read_columns(self._path)

    @on(DirectoryTree.FileSelected, "#csv-tree")
    def _file_picked(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#csv-path", Input).value = str(event.path)

    @on(Input.Changed, "#csv-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._read_columns(event.value)

    @on(Input.Submitted, "#csv-path")
    def _path_submitted(self) -> None:
        if not self.query_one("#csv-load", Button).disabled:
            self.action_load()

    def show_error(self, message: str) -> None:
        error = self.query_one("#csv-error", Static)
        error.update(message)
        error.set_class(bool(message), "-shown")
        self.query_one("#csv-path", Input).set_class(bool(message), "-invalid")

    def _read_columns(self, text: str) -> None:
        import datasets

        path = os.path.expanduser(text.strip())
        target = self.query_one("#csv-target", Select)
        load = self.query_one("#csv-load", Button)
        self.columns = []
        load.disabled = True
        if not path:
            self.show_error("")
            target.set_options([])
            return
        if os.path.isdir(path):
            self.show_error(f"{path} is a folder: choose a .csv file in it")
            target.set_options([])
            return
        if not os.path.exists(path):
            self.show_error(f"{path}: no such file")
            target.set_options([])
            return
        try:
            columns = datasets.csv_columns(path)
        except ValueError as exc:
            self.show_error(str(exc))
            target.set_options([])
            return
        self.columns = columns
        target.set_options([(c, c) for c in columns])
        if columns:
            target.value = columns[-1]
        self.show_error("")
        load.disabled = False

    @on(Button.Pressed, "#csv-load")
    def action_load(self) -> None:
        path = os.path.expanduser(self.query_one("#csv-path", Input).value.strip())
        target = self.query_one("#csv-target", Select).value
        task = str(self.query_one("#csv-task", Select).value)
        self.query_one("#csv-load", Button).disabled = True
        self.show_error("[i]Reading…[/]")
        self._load(path, None if target is Select.NULL else str(target), task)

    @work(thread=True, exclusive=True, exit_on_error=False, group="csv")
    def _load(self, path: str, target: str | None, task: str):
        import datasets

        return path, target, datasets.from_csv(path, target=target, task=task)

    @on(Worker.StateChanged)
    def _loaded(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "csv":
            return
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            self.show_error(message)
            self.query_one("#csv-load", Button).disabled = False

    @on(Button.Pressed, "#csv-cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)
