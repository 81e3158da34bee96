"""deepterm's Textual application: set up a run, watch it learn, read the results.

Start-up stays light: screens other than setup, the charts (plotext) and
TensorFlow are imported when first needed. TensorFlow loads in a thread
worker the first time the Keras backend is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from engine.text import markup

from .screens.setup import SetupScreen


def describe_devices(devices: list[dict[str, Any]]) -> str:
    """What Keras would train on, in words: the first GPU, else the CPU."""
    gpus = [d for d in devices if str(d.get("kind", "")).upper() == "GPU"]
    if gpus:
        gpu = gpus[0]
        memory = gpu.get("memory")
        extra = f", {memory}" if memory else ""
        more = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
        return f"Keras on GPU: {gpu.get('name', 'GPU')}{extra}{more}"
    return "Keras on the CPU (no GPU found)"


#: Datasets with fewer rows than this open in the trainer without a validation split.
SMALL_DATASET_ROWS = 20


def _rows(dataset: Any) -> int | None:
    """Rows of a Dataset, or of a catalog dataset by name from the catalog's own
    listing (None for a name it does not know: the setup screen then says why)."""
    if not isinstance(dataset, str):
        return len(dataset.X)
    import datasets

    return next((info.rows for info in datasets.list_datasets() if info.name == dataset), None)


#: Seconds after start-up when the NumPy backend's training process is started.
PRESTART_AFTER_S = 1.0


class DeeptermApp(App):
    """The trainer. ``store`` is where finished runs are saved: a path, a
    RunStore, ``None`` for the default ($DEEPTERM_STORE or the user data
    directory) or ``False`` to keep nothing."""

    TITLE = "deepterm"
    SUB_TITLE = "a deep-learning trainer"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere work too
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", id="help"),
        Binding("f2", "lessons", "Lessons", id="lessons"),
        Binding("f3", "runs", "Runs", id="runs"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, show=False),  # in f1's list
        # one rule for text fields on every screen: they take the letter keys, esc leaves
        # them (a second esc then does what esc does on that screen)
        Binding("escape", "leave_field", "Leave field", id="leave-field", priority=True,
                tooltip="leave a text field: the screen's letter keys work again"),
    ]

    keras_status = reactive("")

    def __init__(self, store: Any = None) -> None:
        super().__init__()
        self.keras_state = "unloaded"    # unloaded | loading | ready | failed
        self.keras_devices: list[dict[str, Any]] = []
        self.store = store
        self._run_store = None

    def on_mount(self) -> None:
        self.push_screen(SetupScreen())
        # the NumPy backend's training process imports while the learner sets up a run,
        # once the first frame and the dataset catalog have had the CPU
        self.set_timer(PRESTART_AFTER_S, self._prestart_trainer)

    @work(thread=True, exit_on_error=False, group="trainer")
    def _prestart_trainer(self) -> None:
        from engine.runner import child

        child.prestart()

    @property
    def setup_screen(self) -> SetupScreen:
        for screen in self.screen_stack:
            if isinstance(screen, SetupScreen):
                return screen
        raise LookupError("no setup screen")

    # -- Keras, loaded once, in the background ------------------------------------------

    def ensure_keras(self) -> None:
        """Start loading TensorFlow (once); ``keras_status`` says how it goes."""
        if self.keras_state in ("loading", "ready"):
            return
        self.keras_state = "loading"
        self.keras_status = "⏳ Loading TensorFlow… (the first time takes a few seconds)"
        self._load_keras()

    @work(thread=True, exclusive=True, exit_on_error=False, group="keras")
    def _load_keras(self) -> list[dict[str, Any]]:
        import engine

        return list(engine.devices())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "keras":
            if event.state == WorkerState.SUCCESS:
                self.keras_devices = event.worker.result or []
                self.keras_state = "ready"
                self.keras_status = describe_devices(self.keras_devices)
            elif event.state == WorkerState.ERROR:
                self.keras_state = "failed"
                self.keras_status = f"Keras is not available: {event.worker.error}"
                self.notify(f"Keras cannot be used here: {markup(event.worker.error)}",
                            severity="error")
        elif event.worker.group == "store" and event.state == WorkerState.ERROR:
            self.notify(f"The run was not saved to the run store: {markup(event.worker.error)}",
                        severity="warning")

    # -- keys ---------------------------------------------------------------------------------

    def _field_with_focus(self):
        """The text field that has the focus on a full screen (not in a dialog or the
        command palette, where esc closes the dialog), or None."""
        from textual.screen import ModalScreen
        from textual.widgets import Input

        screen = self.screen
        focused = screen.focused
        if isinstance(focused, Input) and not isinstance(screen, ModalScreen):
            return focused
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":
            return self._field_with_focus() is not None
        return True

    def action_leave_field(self) -> None:
        if self._field_with_focus() is not None:
            self.screen.set_focus(None)

    # -- screens from other parts of deepterm ------------------------------------------------

    def _push_optional(self, module: str, name: str, what: str, *args: Any) -> None:
        import importlib

        try:
            screen_class = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            self.notify(f"{what} are not available in this build yet.", severity="warning")
            return
        if isinstance(self.screen, screen_class):
            return    # already there (f3 on the Runs screen)
        self.push_screen(screen_class(*args))

    def action_lessons(self) -> None:
        self._push_optional("tui.app.lessons", "LessonsScreen", "Lessons")

    def action_runs(self) -> None:
        self._push_optional("tui.app.screens.runs", "RunsScreen", "Saved runs")

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_preset(self, key: str) -> None:
        self._back_to_setup()
        self.setup_screen.action_preset(key)

    def action_start(self) -> None:
        self._back_to_setup()
        self.setup_screen.action_start()

    def action_open_csv(self) -> None:
        self._back_to_setup()
        self.setup_screen.action_open_csv()

    def action_sweep(self) -> None:
        self._back_to_setup()
        self.setup_screen.action_sweep()

    def _back_to_setup(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, SetupScreen):
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from .config import PRESETS

        for preset in PRESETS:
            yield SystemCommand(f"Preset: {preset.title}", preset.blurb,
                                lambda key=preset.key: self.action_preset(key))
        yield SystemCommand("Start training", "Train the current setup (ctrl+s)", self.action_start)
        yield SystemCommand("Open CSV…", "Train on your own CSV file", self.action_open_csv)
        yield SystemCommand("Sweep", "Train the setup over several values of one setting",
                            self.action_sweep)
        yield SystemCommand("Runs", "Saved runs: compare their curves (f3)", self.action_runs)
        yield SystemCommand("Lessons", "Forward propagation, gradients, backpropagation (f2)",
                            self.action_lessons)
        yield SystemCommand("Help: keys", "Every key on every screen (f1)", self.action_help)

    # -- the lessons' "Try it yourself" -------------------------------------------------------

    def open_trainer(self, spec: Any, dataset: Any, weights: Any = None) -> SetupScreen:
        """Show the setup screen filled in with ``spec`` on ``dataset``, ready to start.

        ``spec`` is an ``engine.ModelSpec`` (or its dict); its hidden layers,
        output layer, loss, optimizer and learning rate fill the form.
        ``dataset`` is a catalog name (``"wages"``) or a ``datasets.Dataset``
        (one that is not in the catalog is added to the dataset list).
        ``weights`` (a list of arrays in ``get_weights`` layout) are the
        starting weights of the next run for as long as the architecture
        still fits them; otherwise training starts from fresh weights.
        Returns the setup screen.
        """
        from engine import ModelSpec

        from .config import RunConfig

        if isinstance(spec, dict):
            spec = ModelSpec.from_dict(spec)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, SetupScreen):
            self.pop_screen()
        if not isinstance(self.screen, SetupScreen):
            self.push_screen(SetupScreen())
        setup = self.setup_screen
        name = dataset if isinstance(dataset, str) else None
        if name is None:
            key = f"custom:{getattr(dataset, 'name', 'data')}"
            setup.add_dataset(key, dataset, label=getattr(dataset, "name", "data"))
        *hidden, out = spec.dense_layers
        rows = _rows(dataset)
        config = RunConfig(
            dataset=name, dataset_options={},
            hidden=tuple((layer.units, layer.activation) for layer in hidden),
            output_units=out.units, output_activation=out.activation, loss=spec.loss,
            metrics=tuple(spec.metrics), optimizer=spec.optimizer,
            learning_rate=spec.effective_learning_rate,
            standardize=name not in ("mnist", "customers"),
            # a handful of rows (the lessons' 4 customers) all train: holding out 30% of
            # them would leave 2 rows to learn from and 2 noisy ones to validate on
            validation_split=0.0 if rows is not None and rows < SMALL_DATASET_ROWS else 0.3)
        setup.apply_config(config)
        if name is None:
            setup.dataset_key = None
            setup.select_dataset(key, loss=spec.loss, standardize=config.standardize)
        setup.set_initial_weights(weights, note="from the lesson")
        return setup

    # -- the run store -------------------------------------------------------------------------

    def run_store(self):
        """The RunStore this app keeps runs in, opened once (None when it keeps none:
        ``store=False``, or a store that cannot be opened, said once)."""
        if self.store is False:
            return None
        if self._run_store is None:
            from engine.store import RunStore, StoreError

            try:
                self._run_store = self.store if isinstance(self.store, RunStore) else RunStore(
                    self.store if isinstance(self.store, (str, os.PathLike)) else None)
            except (StoreError, OSError, ValueError) as exc:
                self.call_later(self.notify, f"Runs are not kept: {exc}", severity="warning",
                                timeout=8)
                self.store = False
                return None
        return self._run_store


def run_app(**options: Any) -> None:
    """Run the app in this terminal (``options`` go to DeeptermApp), with native
    libraries' log lines sent to a log file instead of across the screen."""
    from ..terminal import native_output_to_log

    with native_output_to_log():
        DeeptermApp(**options).run()
