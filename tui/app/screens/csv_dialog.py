"""Open a CSV file: a path with completion (or pick it in the tree), the target
column chosen from the file's columns (the likely one preselected, with the
reason), the task, and errors shown in place. After loading, what the import did
to the data (dropped rows, filled values, one-hot columns...) is shown before
the learner takes the data."""

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
from textual.suggester import Suggester
from textual.widgets import Button, DirectoryTree, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from engine.text import markup, printable

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
            if printable(name) != name:   # a name with control characters: not offered
                continue
            if name.startswith(prefix) and not name.startswith(".") or (prefix.startswith(".")
                                                                         and name.startswith(prefix)):
                full = os.path.join(folder, name)
                if os.path.isdir(full):
                    return value + name[len(prefix):] + os.sep
                if name.lower().endswith(".csv"):
                    return value + name[len(prefix):]
        return None


class CsvTree(DirectoryTree):
    """Folders and CSV files only; a name's control characters shown as escapes."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".")
                and (p.is_dir() or p.suffix.lower() == ".csv")]

    def process_label(self, label):
        return super().process_label(printable(label) if isinstance(label, str) else label)


class PathInput(Input):
    """The path field: its value is the real path, shown with any control characters
    as escapes (a file picked in the tree can have them in its name)."""

    @property
    def _value(self) -> Text:
        shown = super()._value
        if printable(shown.plain) == shown.plain:
            return shown
        return Text(printable(shown.plain), no_wrap=True, overflow="ignore", end="")


class CsvDialog(ModalScreen[tuple[str, str | None, Any] | None]):
    """Returns (path, target column, Dataset), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="csv-cancel")]

    def __init__(self, path: str = "", root: str | os.PathLike | None = None) -> None:
        super().__init__(id="csv-dialog")
        self._path = path
        self._root = Path(root) if root is not None else Path.cwd()
        self.columns: list[str] = []
        self.loaded: tuple[str, str | None, Any] | None = None   # read, waiting for "Use"

    def compose(self) -> ComposeResult:
        with Vertical(id="csv-box"):
            yield Static("Open a CSV file", classes="dialog-title")
            with Horizontal(classes="field"):
                yield Label("Path", classes="field-label")
                yield PathInput(self._path, id="csv-path",
                                placeholder="path/to/file.csv (→ completes)",
                                suggester=PathSuggester())
            yield CsvTree(self._root, id="csv-tree")
            with Horizontal(classes="field"):
                yield Label("Target column", classes="field-label")
                yield Select([], id="csv-target", prompt="choose a file first", compact=True)
                yield Static("", id="csv-target-why")
            with Horizontal(classes="field"):
                yield Label("Task", classes="field-label")
                yield Select(TASK_CHOICES, id="csv-task", value="auto", allow_blank=False,
                             compact=True)
            yield Static("", id="csv-error", classes="error")
            yield Static("", id="csv-notes")
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

    def _no_columns(self, error: str) -> None:
        self.show_error(error)
        target = self.query_one("#csv-target", Select)
        target.set_options([])
        target.prompt = "choose a file first"
        self.query_one("#csv-target-why", Static).update("")

    def _read_columns(self, text: str) -> None:
        import datasets

        path = os.path.expanduser(text.strip())
        target = self.query_one("#csv-target", Select)
        load = self.query_one("#csv-load", Button)
        self.columns = []
        self._forget_loaded()
        load.disabled = True
        if not path:
            self._no_columns("")
            return
        if os.path.isdir(path):
            self._no_columns(f"{markup(path)} is a folder: choose a .csv file in it")
            return
        if not os.path.exists(path):
            self._no_columns(f"{markup(path)}: no such file")
            return
        try:
            columns = datasets.csv_columns(path)
        except ValueError as exc:
            self._no_columns(markup(exc))
            return
        self.columns = columns
        why = self.query_one("#csv-target-why", Static)
        with self.prevent(Select.Changed):
            target.set_options([(markup(c), c) for c in columns])   # names from the file
            target.prompt = "choose a column"
            if columns:
                name, reason = datasets.likely_target(columns)
                target.value = name
                why.update(f"[dim]{markup(reason)}[/]")
        self.show_error("")
        load.disabled = False

    @on(Select.Changed, "#csv-target")
    def _target_chosen(self, event: Select.Changed) -> None:
        self.query_one("#csv-target-why", Static).update("[dim]your choice[/]"
                                                          if event.value is not Select.NULL else "")
        self._forget_loaded()

    @on(Select.Changed, "#csv-task")
    def _task_chosen(self) -> None:
        self._forget_loaded()

    def _forget_loaded(self) -> None:
        """A change after loading: the next press loads again."""
        if self.loaded is not None:
            self.loaded = None
            self.query_one("#csv-notes", Static).update("")
            self.query_one("#csv-load", Button).label = "Load"

    @on(Button.Pressed, "#csv-load")
    def action_load(self) -> None:
        if self.loaded is not None:          # read, notes shown: the learner takes it
            self.dismiss(self.loaded)
            return
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
            path, target, dataset = event.worker.result
            if not dataset.notes:
                self.dismiss(event.worker.result)
                return
            self.loaded = event.worker.result
            self.show_error("")
            self.query_one("#csv-notes", Static).update(notes_text(dataset))
            load = self.query_one("#csv-load", Button)
            load.label = "Use this data"
            load.disabled = False
            load.focus()
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            self.show_error(markup(message))
            self.query_one("#csv-load", Button).disabled = False

    @on(Button.Pressed, "#csv-cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)


def notes_text(dataset: Any, most: int | None = None) -> str:
    """What CSV import did to ``dataset``, one line each (the first ``most``)."""
    notes = list(getattr(dataset, "notes", []) or [])
    shown = notes if most is None else notes[:most]
    lines = [f"[b]What the import did[/] ({len(dataset.X)} rows, {dataset.X.shape[1]} features):"]
    lines += [f" • {markup(note)}" for note in shown]   # they name the file's columns
    if len(notes) > len(shown):
        lines.append(f" • … {len(notes) - len(shown)} more")
    return "\n".join(lines)
