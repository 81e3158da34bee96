"""The setup screen: pick a dataset, shape the network, choose how to train.

Every field validates as it changes and says what is wrong beside itself;
Start stays disabled while anything is wrong. The course's exercises are
presets on keys 1 to 4 (4: the course's next step, a convolutional network).

For image data (mnist) the model pane takes image layers before the dense ones,
each written as the CLI writes it (conv16x3, conv16x3same, conv16x3s2, pool2), with
the shape each layer outputs beside it, the parameters per layer in the table below,
and a message naming the layer whose window no longer fits its input.

For two-feature data the dataset pane shows TensorFlow Playground's controls: a
synthetic set's noise, rows and seed, the feature crosses to train on, and a scatter
of the points (training and validation marked) that follows every change. The model
pane takes an L1/L2 penalty and a dropout rate; the training pane sgd's momentum and
Nesterov.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Header,
    Input,
    Label,
    OptionList,
    Select,
    Static,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from engine import ACTIVATIONS, OPTIMIZERS, SpecError
from engine.recipe import (
    CLASSIFICATION_LOSSES,
    CONV_WORDS,
    RunConfig,
    conv_entry,
    image_layer,
    image_shape_of,
    losses_for,
)
from engine.recipe import output_layer as output_for
from engine.spec import MAX_LEARNING_RATE, MAX_REGULARIZATION
from engine.text import markup, printable

from ..config import LEARNING_RATE_PICKS, PRESETS, PRESETS_BY_KEY
from ..widgets.data_controls import FeatureCrosses, ScatterPreview, SyntheticControls
from ..widgets.footer import AppFooter
from ..widgets.image_layers import ImageLayerRow
from ..widgets.layers import LayerRow

#: Below this many columns the three panes narrow; below TINY_WIDTH the model and
#: training settings share one scrolling column beside the datasets.
NARROW_WIDTH = 110
TINY_WIDTH = 96
#: Actions on plain letter and digit keys, which a focused text field types instead.
SINGLE_KEY_ACTIONS = ("preset", "open_csv", "add_layer", "add_image_layer", "sweep")
#: Short task names for the dataset list.
TASK_SHORT = {"regression": "regr", "binary": "bin", "multiclass": "multi"}
MAX_UNITS = 4096
MAX_LAYERS = 12
MAX_IMAGE_LAYERS = 8
MAX_FILTERS = 512
PREVIEW_ROWS = 8
PREVIEW_COLUMNS = 12


# -- parsing (pure functions, tested on their own) --------------------------------------------


def parse_learning_rate(text: str) -> float:
    """A positive, finite number such as ``0.01`` or ``1e-3``; ValueError says what is wrong."""
    text = text.strip()
    if not text:
        raise ValueError("type a learning rate, e.g. 0.01")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number (try 0.01 or 1e-3)") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a number > 0")
    if value > MAX_LEARNING_RATE:
        raise ValueError(f"must be at most {MAX_LEARNING_RATE:g}")
    return value


def parse_int(text: str, name: str, lo: int, hi: int) -> int:
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be from {lo} to {hi}")
    return value


def parse_split(text: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError("a fraction from 0 to 0.9, e.g. 0.3") from None
    if not math.isfinite(value) or not 0 <= value <= 0.9:
        raise ValueError("must be from 0 to 0.9")
    return value


def parse_rate(text: str, name: str, below_one: bool = False) -> float:
    """A rate such as an L2 penalty (0 to MAX_REGULARIZATION) or a dropout (0 to below 1)."""
    text = text.strip()
    hint = "from 0 to below 1, e.g. 0.2" if below_one else "from 0 to 10, e.g. 0.001"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} is a number {hint}") from None
    if not math.isfinite(value) or value < 0 or (value >= 1 if below_one
                                                else value > MAX_REGULARIZATION):
        raise ValueError(f"{name} must be a number {hint}")
    return value


def _lr_label(value: float) -> str:
    return f"{value:g}"


class SetupScreen(Screen):
    """Dataset, architecture and training settings for one run."""

    AUTO_FOCUS = "#datasets"   # ↑/↓ choose a dataset at once (not the pane around it)
    BINDINGS = [
        Binding("ctrl+s", "start", "Start", priority=True, id="start"),
        # the footer shows the four presets as one entry, "1-4 Presets"
        Binding("1", "preset('1')", "Presets", key_display="1-4",
                tooltip="preset: wages regression (course chapter 3)", id="preset-wages"),
        Binding("2", "preset('2')", "Titanic", show=False,
                tooltip="preset: Titanic classification (course chapter 3)", id="preset-titanic"),
        Binding("3", "preset('3')", "MNIST", show=False,
                tooltip="preset: MNIST digits (course chapter 4)", id="preset-mnist"),
        Binding("4", "preset('4')", "MNIST CNN", show=False,
                tooltip="preset: MNIST with a convolutional network (the next step)",
                id="preset-mnist-cnn"),
        Binding("o", "open_csv", "Open CSV", id="open-csv"),
        Binding("a", "add_layer", "Add layer", show=False, id="add-layer"),
        Binding("c", "add_image_layer", "Add image layer", show=False, id="add-image-layer"),
        Binding("w", "sweep", "Sweep", id="sweep"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Single-key shortcuts are greyed out in the footer while a text field has
        the focus (the field takes the keys; esc leaves it)."""
        if action in SINGLE_KEY_ACTIONS and isinstance(self.focused, Input):
            return None
        if action == "add_image_layer" and not self.image_data:
            return None
        return True

    def __init__(self, config: RunConfig | None = None) -> None:
        super().__init__(id="setup")
        self._initial = config or PRESETS_BY_KEY["2"].config
        self.catalog: list[Any] = []
        self.datasets: dict[str, Any] = {}      # option id -> loaded Dataset
        self.dataset_key: str | None = None
        self.dataset: Any = None
        self.dataset_error: str | None = None
        self.csv_sources: dict[str, tuple[str, str | None]] = {}
        self.initial_weights: list | None = None
        self.weights_note: str | None = None
        self.errors: dict[str, str] = {}
        self.config: RunConfig | None = None
        self.catalog_ready = False
        self.dataset_options: dict = {}
        self._synthetic: dict[tuple, Any] = {}   # (name, options) -> generated Dataset
        self._queued = False    # Start pressed while TensorFlow loads: starts when it is ready

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="setup-body"):
            with VerticalScroll(id="data-pane", classes="pane"):
                yield Static("Dataset", classes="pane-title")
                yield OptionList(id="datasets")
                yield Button("Open CSV… (o)", id="open-csv", compact=True)
                yield Static("", id="dataset-info")
                with Horizontal(id="data-plane"):
                    yield ScatterPreview(id="points")
                    yield SyntheticControls(id="synthetic")
                yield Static("Inputs (feature crosses)", classes="pane-title", id="inputs-title")
                yield FeatureCrosses(id="crosses")
                yield DataTable(id="preview", zebra_stripes=True, cursor_type="none",
                                show_cursor=False)
            with Horizontal(id="settings"):
                with VerticalScroll(id="model-pane", classes="pane"):
                    yield Static("Course presets", classes="pane-title")
                    with Vertical(id="presets"):
                        for preset in PRESETS:
                            yield Button(f"{preset.key} {preset.title}",
                                         id=f"preset-{preset.name}", compact=True,
                                         tooltip=preset.blurb)
                    with Vertical(id="image-section"):
                        yield Static("Image layers, then flatten", classes="pane-title")
                        yield Vertical(id="image-layers")
                        yield Static("", id="image-none")
                        yield Static("", id="image-error", classes="error")
                        yield Button("+ Image layer (c)", id="add-image-layer", compact=True,
                                     tooltip="conv16x3: 16 filters of 3x3; pool2: 2x2 max "
                                             "pooling")
                    yield Static("Hidden layers (units · activation)", classes="pane-title")
                    yield Vertical(id="layers")
                    yield Static("", id="layers-error", classes="error")
                    yield Button("+ Add layer (a)", id="add-layer", compact=True)
                    with Horizontal(classes="field"):
                        yield Label("Regularize", classes="field-label")
                        yield Select([("none", "none"), ("L1", "l1"), ("L2", "l2")],
                                     id="reg-kind", allow_blank=False, compact=True,
                                     value="none", tooltip="a penalty on every layer's weights "
                                     "(Keras' kernel_regularizer), added to the loss")
                        yield Input("0.001", id="reg-rate", compact=True,
                                    tooltip="the regularization rate, 0 to 10")
                    yield Static("", id="reg-rate-error", classes="error")
                    with Horizontal(classes="field"):
                        yield Label("Dropout", classes="field-label")
                        yield Input("0", id="dropout", compact=True,
                                    tooltip="a Dropout layer of this rate after each hidden "
                                            "layer (0: none)")
                    yield Static("", id="dropout-error", classes="error")
                    yield Static("Output layer", classes="pane-title")
                    yield Static("", id="output-info")
                    with Horizontal(classes="field"):
                        yield Label("Loss", classes="field-label")
                        yield Select([(n, n) for n in ("mse", "mae", *CLASSIFICATION_LOSSES)],
                                     id="loss", allow_blank=False, compact=True, value="mse")
                    with Horizontal(classes="field"):
                        yield Label("Activation", classes="field-label")
                        yield Select([(a, a) for a in ACTIVATIONS], id="out-activation",
                                     allow_blank=False, compact=True, value="softmax")
                    yield Static("", id="params")
                with VerticalScroll(id="train-pane", classes="pane"):
                    yield Static("Training", classes="pane-title")
                    with Horizontal(classes="field"):
                        yield Label("Optimizer", classes="field-label")
                        yield Select([(o, o) for o in OPTIMIZERS], id="optimizer",
                                     allow_blank=False, compact=True, value="sgd")
                    with Horizontal(classes="field"):
                        yield Label("Momentum", classes="field-label")
                        yield Input("0", id="momentum", compact=True,
                                    tooltip="sgd only: 0 to below 1, e.g. 0.9 (0: plain sgd)")
                        yield Checkbox("Nesterov", id="nesterov", compact=True,
                                       tooltip="sgd only: Nesterov momentum")
                    yield Static("", id="momentum-error", classes="error")
                    with Horizontal(classes="field"):
                        yield Label("Learning rate", classes="field-label")
                        yield Input("0.01", id="lr", compact=True,
                                    tooltip="any number > 0, e.g. 0.01 or 1e-3")
                        yield Select([(_lr_label(v), v) for v in LEARNING_RATE_PICKS],
                                     id="lr-pick", prompt="pick", compact=True)
                    yield Static("", id="lr-error", classes="error")
                    for field_id, label, value in (("epochs", "Epochs", "20"),
                                                   ("batch", "Batch size", "32"),
                                                   ("split", "Val. split", "0.3"),
                                                   ("seed", "Seed", "0")):
                        with Horizontal(classes="field"):
                            yield Label(label, classes="field-label")
                            yield Input(value, id=field_id, compact=True)
                        yield Static("", id=f"{field_id}-error", classes="error")
                    with Horizontal(classes="field"):
                        yield Checkbox("Early stop", id="early", compact=True,
                                       tooltip="stop when the validation loss has not improved "
                                               "for this many epochs (the patience)")
                        yield Label("patience", id="patience-label")
                        yield Input("3", id="patience", compact=True)
                    yield Static("", id="patience-error", classes="error")
                    yield Checkbox("Restore best weights", id="restore", value=True, compact=True,
                                   tooltip="after early stopping, keep the best epoch's weights")
                    yield Checkbox("Standardize features", id="standardize", value=True,
                                   compact=True,
                                   tooltip="scale each feature to mean 0, sd 1 (fitted on the "
                                           "training rows only)")
                    with Horizontal(classes="field"):
                        yield Label("Backend", classes="field-label")
                        yield Select([("NumPy", "numpy"), ("Keras", "keras")], id="backend",
                                     allow_blank=False, compact=True, value="numpy")
                    yield Static("NumPy on the CPU", id="device")
        with Horizontal(id="setup-bar"):
            yield Static("", id="summary")
            yield Button("Start ▶ ctrl+s", id="start", variant="success", compact=True)
            yield Button("Sweep… w", id="sweep", compact=True)
        yield AppFooter()

    def on_mount(self) -> None:
        self.title = "deepterm"
        self.sub_title = "set up a run"
        self.watch(self.app, "keras_status", self._show_keras_status, init=False)
        self._update_layout()
        # the first frame comes before the catalog: NumPy data and pandas load in a thread
        self.apply_config(self._initial.with_changes(dataset=None))
        self.query_one("#dataset-info", Static).update("[i]Loading the dataset catalog…[/]")
        self.call_after_refresh(self._load_catalog)

    @work(thread=True, exclusive=True, exit_on_error=False, group="catalog")
    def _load_catalog(self):
        import datasets

        infos = list(datasets.list_datasets())
        first = self._initial
        ds = None
        if first.dataset is not None:
            ds = datasets.load(first.dataset, **(first.dataset_options or {}))
            ds.frame  # noqa: B018 - builds the preview's DataFrame (imports pandas) here
        return infos, ds

    @on(Worker.StateChanged)
    def _catalog_loaded(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "catalog" or event.state not in (WorkerState.SUCCESS,
                                                                  WorkerState.ERROR):
            return
        self.catalog_ready = True
        if event.state == WorkerState.ERROR:
            self.notify(f"The dataset catalog could not be read: {markup(event.worker.error)}",
                        severity="error")
            infos, ds = [], None
        else:
            infos, ds = event.worker.result
        self.load_catalog(infos)
        if self.dataset_key is not None:   # a lesson's open_trainer came first
            key = self.dataset_key
            self.dataset_key = None
            self.select_dataset(key, self.dataset_options, loss=self._output()[2],
                                standardize=self.query_one("#standardize", Checkbox).value)
            return
        first = self._initial
        if first.dataset is not None:
            if ds is not None:
                self.datasets[first.dataset] = ds
            self.select_dataset(first.dataset, first.dataset_options or None, loss=first.loss,
                                standardize=first.standardize)
            with self.prevent(Select.Changed):
                self.query_one("#out-activation", Select).value = first.output_activation
            self._show_output()
            self.validate()

    def on_resize(self) -> None:
        self._update_layout()

    def _update_layout(self) -> None:
        width = self.size.width
        self.set_class(TINY_WIDTH <= width < NARROW_WIDTH, "-narrow")
        self.set_class(width < TINY_WIDTH, "-tiny")

    # -- catalog and datasets -------------------------------------------------------------

    def load_catalog(self, infos) -> None:
        options = self.query_one("#datasets", OptionList)
        self.catalog = list(infos)
        for info in self.catalog:
            if _has_option(options, info.name):
                continue
            options.add_option(Option(self._option_prompt(info.name, info.task, info.rows,
                                                          info.features), id=info.name))

    @staticmethod
    def _option_prompt(name: str, task: str, rows: int, features: int) -> str:
        # a CSV file's name: its control characters shown as escapes, its [ not markup
        return markup(f"{printable(name):<12}{TASK_SHORT.get(task, task):<6}{rows}×{features}")

    def add_dataset(self, key: str, dataset: Any, label: str | None = None) -> None:
        """Offer a loaded Dataset (a CSV file, or one handed over by a lesson)."""
        options = self.query_one("#datasets", OptionList)
        self.datasets[key] = dataset
        if not _has_option(options, key):
            options.add_option(Option(self._option_prompt(
                label or dataset.name, dataset.task, len(dataset.X), dataset.X.shape[1]), id=key))
        options.highlighted = options.get_option_index(key)

    def _load(self, key: str, options: dict | None = None) -> Any:
        import datasets
        from datasets.synthetic import GENERATORS

        if key in GENERATORS:     # generated with the options the controls give
            found = self._synthetic.get((key, repr(sorted((options or {}).items()))))
            if found is None:
                found = datasets.load(key, **(options or {}))
                if len(self._synthetic) > 16:
                    self._synthetic.clear()
                self._synthetic[(key, repr(sorted((options or {}).items())))] = found
            return found
        if key in self.datasets:
            return self.datasets[key]
        ds = datasets.load(key, **(options or {}))
        self.datasets[key] = ds
        return ds

    @on(OptionList.OptionHighlighted, "#datasets")
    def _dataset_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        key = event.option.id
        if key is not None and key != self.dataset_key:
            self.select_dataset(key)

    def select_dataset(self, key: str, options: dict | None = None, loss: str | None = None,
                       standardize: bool | None = None, regenerate: bool = False) -> None:
        """Make ``key`` the dataset; the output layer follows its task, and "Standardize
        features" the dataset's own default unless ``standardize`` says otherwise (a
        preset's or a lesson's config). ``regenerate``: the same synthetic set with the
        options typed in its controls (the output activation chosen is kept, and the
        controls are left as the learner is typing them)."""
        activation = self.query_one("#out-activation", Select).value
        self.dataset_key = key
        self.dataset_options = dict(options or {})
        option_list = self.query_one("#datasets", OptionList)
        if _has_option(option_list, key):
            index = option_list.get_option_index(key)
            if option_list.highlighted != index:
                option_list.highlighted = index
        try:
            self.dataset = self._load(key, options)
            self.dataset_error = None
        except Exception as exc:  # noqa: BLE001 - shown in place
            self.dataset = None
            self.dataset_error = str(exc)
        if self.dataset is not None:
            if standardize is None:
                standardize = self.dataset.standardize_by_default
            with self.prevent(Checkbox.Changed):
                self.query_one("#standardize", Checkbox).value = standardize
        self._show_dataset(show_options=not regenerate)
        self._set_output(loss)
        if regenerate and activation is not Select.NULL:
            with self.prevent(Select.Changed):
                self.query_one("#out-activation", Select).value = activation
            self._show_output()
        self.validate()

    def _show_playground(self, show_options: bool = True) -> None:
        """Two-feature data: the crosses and the scatter (a synthetic set: its controls
        too, showing its options unless they are being typed); the table preview
        otherwise."""
        from datasets.synthetic import GENERATORS

        ds = self.dataset
        plane = ds is not None and ds.X.shape[1] == 2
        synthetic = plane and self.dataset_key in GENERATORS
        self.query_one("#synthetic", SyntheticControls).display = synthetic
        for widget_id in ("#inputs-title", "#crosses", "#data-plane"):
            self.query_one(widget_id).display = plane
        self.query_one("#preview", DataTable).display = not plane
        if synthetic and show_options:
            self.query_one("#synthetic", SyntheticControls).show(self.dataset_options)
        if plane:
            self._show_scatter()

    def _show_scatter(self) -> None:
        """The points, split as the validation split field says (all training when it
        cannot be read)."""
        ds = self.dataset
        if ds is None or ds.X.shape[1] != 2:
            return
        from engine.split import split_index

        try:
            split = parse_split(self._value("split"))
        except ValueError:
            split = 0.0
        at = split_index(len(ds.X), split) if split > 0 else len(ds.X)
        self.query_one("#points", ScatterPreview).show_data(ds, at)

    @on(SyntheticControls.Changed)
    def _synthetic_changed(self, event: SyntheticControls.Changed) -> None:
        """New noise, rows or seed: the set is generated again, the output layer, loss
        and standardizing kept as they are."""
        if self.dataset_key is None:
            return
        self.select_dataset(self.dataset_key, event.options, loss=self._output()[2],
                            standardize=self.query_one("#standardize", Checkbox).value,
                            regenerate=True)

    @on(FeatureCrosses.Changed)
    def _crosses_changed(self) -> None:
        self.validate()

    def _show_dataset(self, show_options: bool = True) -> None:
        info = self.query_one("#dataset-info", Static)
        table = self.query_one("#preview", DataTable)
        table.clear(columns=True)
        ds = self.dataset
        self._show_playground(show_options)
        if ds is None:
            info.update(f"[b red]Cannot load {markup(self.dataset_key)}:[/] "
                        f"{markup(self.dataset_error)}")
            return
        rows = f"rows [b]{len(ds.X)}[/]"
        if self.dataset_key == "mnist":
            from datasets.catalog import MNIST_ROWS

            if MNIST_ROWS > len(ds.X):
                rows += f" of {MNIST_ROWS} shipped (n={len(ds.X)})"
        lines = [f"[b]{markup(ds.name)}[/]: {markup(getattr(ds, 'description', ''))}",
                 f"{rows} · features [b]{ds.X.shape[1]}[/] · task [b]{ds.task}[/]"
                 f" · target [b]{markup(ds.target_name)}[/]"]
        balance = ds.class_balance() if ds.task != "regression" else {}
        if balance:
            total = sum(balance.values()) or 1
            parts = [f"{markup(name)} {count} ({count / total:.0%})"
                     for name, count in balance.items()]
            lines.append("classes: " + ", ".join(parts[:10]) + (" …" if len(parts) > 10 else ""))
        else:
            y = ds.y.astype(float)
            lines.append(f"target range {y.min():.4g} … {y.max():.4g}, mean {y.mean():.4g}")
        if ds.notes and self.dataset_key and self.dataset_key.startswith("csv:"):
            from .csv_dialog import notes_text

            lines.append(notes_text(ds, most=4))
        info.update("\n".join(lines))
        try:
            frame = ds.frame
        except Exception:  # noqa: BLE001 - a preview is a nicety
            return
        columns = list(frame.columns)
        if len(columns) > PREVIEW_COLUMNS:
            columns = columns[:PREVIEW_COLUMNS - 1] + [columns[-1]]
        # the file's own names and values: Text, which a DataTable does not read as markup
        table.add_columns(*[Text(printable(c)) for c in columns])
        for _, row in frame[columns].head(PREVIEW_ROWS).iterrows():
            table.add_row(*[Text(printable(_cell(v))) for v in row])

    # -- output layer -----------------------------------------------------------------------

    def _set_output(self, loss: str | None = None) -> None:
        ds = self.dataset
        task = ds.task if ds is not None else "regression"
        n_classes = getattr(ds, "n_classes", 0) if ds is not None else 0
        units, activation, loss, _ = output_for(task, n_classes, loss)
        loss_select = self.query_one("#loss", Select)
        with self.prevent(Select.Changed):
            loss_select.set_options([(name, name) for name in losses_for(task)])
            loss_select.value = loss
            self.query_one("#out-activation", Select).value = activation
        self._show_output()

    @on(Select.Changed, "#loss")
    def _loss_changed(self, event: Select.Changed) -> None:
        ds = self.dataset
        if ds is None or event.value is Select.NULL:
            return
        _, activation, _, _ = output_for(ds.task, ds.n_classes, str(event.value))
        with self.prevent(Select.Changed):
            self.query_one("#out-activation", Select).value = activation
        self._show_output()
        self.validate()

    def _output(self) -> tuple[int, str, str, tuple[str, ...]]:
        ds = self.dataset
        task = ds.task if ds is not None else "regression"
        n_classes = ds.n_classes if ds is not None else 0
        loss = self.query_one("#loss", Select).value
        units, activation, loss, metrics = output_for(task, n_classes,
                                                      None if loss is Select.NULL else str(loss))
        chosen = self.query_one("#out-activation", Select).value
        if chosen is not Select.NULL:
            activation = str(chosen)
        return units, activation, loss, metrics

    def _show_output(self) -> None:
        units, activation, loss, metrics = self._output()
        self.query_one("#output-info", Static).update(
            f"Dense([b]{units}[/], {activation}) · metric {', '.join(metrics)}")

    # -- layers -----------------------------------------------------------------------------

    def _rows(self) -> list[LayerRow]:
        return [row for row in self.query_one("#layers", Vertical).query(LayerRow)
                if not row.removed]

    def set_layers(self, hidden) -> None:
        box = self.query_one("#layers", Vertical)
        for row in self._rows():
            row.removed = True
        box.remove_children()
        rows = [LayerRow(units, act) for units, act in hidden]
        for i, row in enumerate(rows, start=1):
            row.set_index(i)
        box.mount_all(rows)
        self.call_after_refresh(self._renumber)

    def _renumber(self) -> None:
        for i, row in enumerate(self._rows(), start=1):
            row.set_index(i)
        for i, row in enumerate(self._image_rows(), start=1):
            row.set_index(i)
        self.validate()

    # -- image layers (image data only) --------------------------------------------------------

    @property
    def image_data(self) -> bool:
        """Whether the chosen dataset holds images (its rows can go through conv layers)."""
        return self.dataset is not None and image_shape_of(self.dataset) is not None

    def _image_rows(self) -> list[ImageLayerRow]:
        return [row for row in self.query_one("#image-layers", Vertical).query(ImageLayerRow)
                if not row.removed]

    def set_image_layers(self, entries) -> None:
        box = self.query_one("#image-layers", Vertical)
        for row in self._image_rows():
            row.removed = True
        box.remove_children()
        rows = [ImageLayerRow(tuple(entry)) for entry in entries]
        for i, row in enumerate(rows, start=1):
            row.set_index(i)
        box.mount_all(rows)
        self.call_after_refresh(self._renumber)

    def action_add_image_layer(self) -> None:
        """A new image layer: pool2 after a conv layer, else a conv layer with twice the
        filters of the last one (16 for the first)."""
        if not self.image_data:
            return
        rows = self._image_rows()
        if len(rows) >= MAX_IMAGE_LAYERS:
            self.notify(f"At most {MAX_IMAGE_LAYERS} image layers.", severity="warning")
            return
        entries = [self._entry_of(row) for row in rows]
        convs = [e for e in entries if e and e[0] == "conv"]
        if entries and entries[-1] and entries[-1][0] == "conv":
            entry = ("pool", 2)
        else:
            filters = min(MAX_FILTERS, 2 * convs[-1][1]) if convs else 16
            entry = ("conv", filters, 3, 1, "valid", "relu")
        self.query_one("#image-layers", Vertical).mount(ImageLayerRow(entry))
        self.call_after_refresh(self._renumber)

    @on(Button.Pressed, "#add-image-layer")
    def _add_image_layer_button(self) -> None:
        self.action_add_image_layer()

    @on(ImageLayerRow.Removed)
    def _image_layer_removed(self, event: ImageLayerRow.Removed) -> None:
        event.row.removed = True
        event.row.remove()
        self.call_after_refresh(self._renumber)

    @on(Select.Changed, ".image-activation")
    def _image_activation_changed(self) -> None:
        self.validate()

    @staticmethod
    def _entry_of(row: ImageLayerRow) -> tuple | None:
        try:
            return conv_entry(row.word, row.activation)
        except ValueError:
            return None

    def _read_image_layers(self, errors: dict[str, str]) -> tuple[tuple, ...]:
        """The image layers the rows describe, each row showing the shape it outputs; a
        word that is not a layer, or a window larger than what reaches it, is put in
        ``errors["image"]`` naming the layer (its row marked)."""
        rows = self._image_rows()
        if not self.image_data:
            return ()
        shape = tuple(int(v) for v in image_shape_of(self.dataset))
        if len(shape) == 2:
            shape = (*shape, 1)
        none = self.query_one("#image-none", Static)
        none.display = not rows
        none.update(f"none: the {shape[0]}×{shape[1]} images go flat ({math.prod(shape)} "
                    f"values) into the hidden layers")
        entries = []
        for i, row in enumerate(rows, start=1):
            word = row.word.strip()
            try:
                entry = conv_entry(word, row.activation)
            except ValueError as exc:
                entry, problem = None, f"image layer {i}: {exc}"
            else:
                problem = None if entry else (
                    f"image layer {i}: {word or 'an empty field'!r} is not an image layer; "
                    f"write {CONV_WORDS}")
            if entry is not None and entry[0] == "conv" and entry[1] > MAX_FILTERS:
                entry, problem = None, (f"image layer {i}: at most {MAX_FILTERS} filters, "
                                        f"got {entry[1]}")
            if entry is not None and shape is not None:
                out = image_layer(entry).output_shape(shape)
                if out[0] < 1 or out[1] < 1:
                    window = entry[2] if entry[0] == "conv" else entry[1]
                    what = "its kernel" if entry[0] == "conv" else "its pool"
                    problem = (f"image layer {i} ({word}): {what} {window}x{window} is larger "
                               f"than the {shape[0]}x{shape[1]} that reaches it; remove a "
                               f"layer or use a smaller window (conv: 'same' keeps the size)")
                    entry = None
                else:
                    shape = out
            if problem is not None:
                errors.setdefault("image", problem)
                shape = None
            row.show(shape if entry is not None else None, invalid=problem is not None)
            if entry is not None:
                entries.append(entry)
        return tuple(entries)

    def action_add_layer(self) -> None:
        rows = self._rows()
        if len(rows) >= MAX_LAYERS:
            self.notify(f"At most {MAX_LAYERS} hidden layers.", severity="warning")
            return
        units = rows[-1].units_text if rows else "32"
        activation = rows[-1].activation if rows else "relu"
        try:
            units_int = int(units)
        except ValueError:
            units_int = 32
        self.query_one("#layers", Vertical).mount(LayerRow(units_int, activation))
        self.call_after_refresh(self._renumber)

    @on(LayerRow.Action)
    def _layer_action(self, event: LayerRow.Action) -> None:
        rows = self._rows()
        i = rows.index(event.row)
        box = self.query_one("#layers", Vertical)
        if event.action == "remove":
            event.row.removed = True
            event.row.remove()
        elif event.action == "up" and i > 0:
            box.move_child(event.row, before=rows[i - 1])
        elif event.action == "down" and i < len(rows) - 1:
            box.move_child(event.row, after=rows[i + 1])
        self.call_after_refresh(self._renumber)

    # -- fields -------------------------------------------------------------------------------

    def apply_config(self, config: RunConfig) -> None:
        """Show ``config`` in every field (a preset, a lesson's model, a sweep's base)."""
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            self.query_one("#optimizer", Select).value = config.optimizer
            self.query_one("#lr", Input).value = _lr_label(config.learning_rate)
            self.query_one("#epochs", Input).value = str(config.epochs)
            self.query_one("#batch", Input).value = str(config.batch_size)
            self.query_one("#split", Input).value = f"{config.validation_split:g}"
            self.query_one("#seed", Input).value = str(config.seed)
            self.query_one("#early", Checkbox).value = config.patience is not None
            self.query_one("#patience", Input).value = str(config.patience or 3)
            self.query_one("#restore", Checkbox).value = config.restore_best_weights
            self.query_one("#standardize", Checkbox).value = config.standardize
            self.query_one("#backend", Select).value = config.backend
            self.query_one("#momentum", Input).value = f"{config.momentum:g}"
            self.query_one("#nesterov", Checkbox).value = config.nesterov
            kind = "l1" if config.l1 else "l2" if config.l2 else "none"
            self.query_one("#reg-kind", Select).value = kind
            self.query_one("#reg-rate", Input).value = f"{(config.l1 or config.l2 or 0.001):g}"
            self.query_one("#dropout", Input).value = f"{config.dropout:g}"
        self.query_one("#crosses", FeatureCrosses).show(config.features)
        self.set_layers(config.hidden)
        self.set_image_layers(config.conv)
        if config.dataset is not None:
            self.dataset_key = None
            self.select_dataset(config.dataset, config.dataset_options or None, loss=config.loss,
                                standardize=config.standardize)
        with self.prevent(Select.Changed):
            self.query_one("#out-activation", Select).value = config.output_activation
        self._show_output()
        self.validate()

    def action_preset(self, key: str) -> None:
        """Fill the form with a course exercise; the backend the learner chose stays."""
        preset = PRESETS_BY_KEY[key]
        self.initial_weights = None
        backend = str(self.query_one("#backend", Select).value)
        self.apply_config(preset.config.with_changes(backend=backend))
        where = " (on Keras)" if backend == "keras" else ""
        self.notify(f"Preset {preset.title}{where}: {preset.blurb}", timeout=3)

    @on(Button.Pressed, "#presets Button")
    def _preset_button(self, event: Button.Pressed) -> None:
        name = (event.button.id or "").removeprefix("preset-")
        for preset in PRESETS:
            if preset.name == name:
                self.action_preset(preset.key)

    @on(Select.Changed, "#lr-pick")
    def _lr_picked(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL:
            self.query_one("#lr", Input).value = _lr_label(float(event.value))
            with self.prevent(Select.Changed):
                event.select.clear()

    @on(Select.Changed, "#optimizer")
    @on(Select.Changed, "#out-activation")
    @on(Select.Changed, "#reg-kind")
    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event) -> None:
        if isinstance(event, Select.Changed) and event.select.id == "out-activation":
            self._show_output()
        if isinstance(event, Input.Changed) and event.input.id == "split":
            self._show_scatter()        # the validation points are marked as such
        self.validate()

    @on(Select.Changed, "#backend")
    def _backend_changed(self, event: Select.Changed) -> None:
        if event.value == "keras":
            self.app.ensure_keras()
        self._show_keras_status(self.app.keras_status)
        self.validate()

    def _show_keras_status(self, status: str) -> None:
        device = self.query_one("#device", Static)
        backend = self.query_one("#backend", Select).value
        if backend != "keras":
            device.update("NumPy on the CPU")
            self._queued = False
        else:
            device.update(status or "Keras")
        device.set_class(self.app.keras_state == "loading", "-loading")
        self.validate()
        if self._queued and self.app.keras_state != "loading":
            if self.app.keras_state == "ready" and self.app.screen is self:
                self.action_start()
            else:
                self._queued = False
                self.validate()

    # -- validation -------------------------------------------------------------------------------

    def _value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def read_config(self) -> tuple[RunConfig | None, dict[str, str]]:
        """The config the fields describe, or None and {field: what is wrong}."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}

        def check(field_id: str, fn) -> None:
            try:
                values[field_id] = fn()
            except ValueError as exc:
                errors[field_id] = str(exc)

        check("lr", lambda: parse_learning_rate(self._value("lr")))
        check("epochs", lambda: parse_int(self._value("epochs"), "epochs", 1, 10_000))
        check("batch", lambda: parse_int(self._value("batch"), "batch size", 1, 100_000))
        check("split", lambda: parse_split(self._value("split")))
        check("seed", lambda: parse_int(self._value("seed"), "seed", 0, 2**31 - 1))
        early = self.query_one("#early", Checkbox).value
        if early:
            check("patience", lambda: parse_int(self._value("patience"), "patience", 0, 1000))
        optimizer = str(self.query_one("#optimizer", Select).value)
        if optimizer == "sgd":
            check("momentum", lambda: parse_rate(self._value("momentum"), "momentum",
                                                 below_one=True))
        kind = str(self.query_one("#reg-kind", Select).value)
        if kind in ("l1", "l2"):
            check("reg-rate", lambda: parse_rate(self._value("reg-rate"), "the rate"))
        check("dropout", lambda: parse_rate(self._value("dropout"), "dropout", below_one=True))
        features = None
        if self.dataset is not None and self.dataset.X.shape[1] == 2:
            check("features", lambda: self.query_one("#crosses", FeatureCrosses).read())
            features = values.get("features")
        hidden = []
        for i, row in enumerate(self._rows(), start=1):
            try:
                units = parse_int(row.units_text, f"layer {i} units", 1, MAX_UNITS)
                row.query(".units").remove_class("-invalid")
            except ValueError as exc:
                errors.setdefault("layers", str(exc))
                row.query(".units").add_class("-invalid")
                continue
            hidden.append((units, row.activation))
        conv = self._read_image_layers(errors)
        if self.dataset is None:
            errors["dataset"] = ("loading the dataset catalog…" if not self.catalog_ready
                                 and self.dataset_key is None else
                                 f"cannot load the dataset: {self.dataset_error or 'none chosen'}")
        backend = str(self.query_one("#backend", Select).value)
        if backend == "keras" and self.app.keras_state not in ("ready", "loading"):
            errors["backend"] = "Keras is not available here"
        if errors:
            return None, errors
        units, activation, loss, metrics = self._output()
        n = len(self.dataset.X)
        split = values["split"]
        if split > 0:
            train_rows = math.floor(n * (1 - split))
            if train_rows == 0 or train_rows == n:
                errors["split"] = f"leaves no training or validation rows out of {n}"
        config = RunConfig(
            dataset=self.dataset_key if not self.dataset_key.startswith(("csv:", "custom:")) else None,
            dataset_options=dict(getattr(self, "dataset_options", {}) or {}),
            csv_path=self.csv_sources.get(self.dataset_key, (None, None))[0],
            csv_target=self.csv_sources.get(self.dataset_key, (None, None))[1],
            hidden=tuple(hidden), output_units=units, output_activation=activation, loss=loss,
            metrics=metrics, optimizer=optimizer,
            learning_rate=values["lr"], epochs=values["epochs"], batch_size=values["batch"],
            validation_split=split, patience=values.get("patience") if early else None,
            restore_best_weights=self.query_one("#restore", Checkbox).value,
            seed=values["seed"], backend=backend,
            standardize=self.query_one("#standardize", Checkbox).value,
            momentum=values.get("momentum", 0.0) if optimizer == "sgd" else 0.0,
            nesterov=optimizer == "sgd" and self.query_one("#nesterov", Checkbox).value,
            l1=values.get("reg-rate", 0.0) if kind == "l1" else 0.0,
            l2=values.get("reg-rate", 0.0) if kind == "l2" else 0.0,
            dropout=values["dropout"], features=features, conv=conv)
        try:
            config.spec(self.dataset.X.shape[1], image_shape_of(self.dataset))
        except SpecError as exc:
            errors["output"] = str(exc)
        if errors:
            return None, errors
        return config, {}

    def validate(self) -> bool:
        """Check every field, show each problem in place; True when Start may run."""
        if not self.is_mounted:
            return False
        config, errors = self.read_config()
        self.config, self.errors = config, errors
        for field_id in ("lr", "epochs", "batch", "split", "seed", "patience", "momentum",
                         "reg-rate", "dropout"):
            message = errors.get(field_id, "")
            error = self.query_one(f"#{field_id}-error", Static)
            error.update(message)
            error.set_class(bool(message), "-shown")
            self.query_one(f"#{field_id}", Input).set_class(bool(message), "-invalid")
        for key in ("layers", "image"):
            error = self.query_one(f"#{key}-error", Static)
            error.update(markup(errors.get(key, "")))
            error.set_class(key in errors, "-shown")
        self.query_one("#image-section").display = self.image_data
        early = self.query_one("#early", Checkbox).value
        self.query_one("#restore", Checkbox).disabled = not early
        self.query_one("#patience", Input).disabled = not early
        sgd = self.query_one("#optimizer", Select).value == "sgd"
        self.query_one("#momentum", Input).disabled = not sgd
        self.query_one("#nesterov", Checkbox).disabled = not sgd
        self.query_one("#reg-rate", Input).disabled = \
            self.query_one("#reg-kind", Select).value not in ("l1", "l2")
        params = self.query_one("#params", Static)
        if config is not None and self.dataset is not None:
            spec = config.spec(self.dataset.X.shape[1], image_shape_of(self.dataset))
            table = layer_table(spec)
            if self.initial_weights is not None:
                table += f"\n[i]{self._weights_note(spec)}[/]"
            params.update(table)
        else:
            params.update("Parameters: –")
        summary = self.query_one("#summary", Static)
        if errors:
            first = next(iter(errors.items()))
            summary.update(f"[b red]Cannot start:[/] {first[0]}: {markup(first[1])}")
            self._queued = False
        elif self._queued:
            summary.update("[b yellow]⏳ Starts when TensorFlow has loaded:[/] "
                           f"{markup(config.brief())}")
        elif config.backend == "keras" and self.app.keras_state == "loading":
            summary.update(f"[green]Ready[/] (starts once TensorFlow has loaded): "
                           f"{markup(config.brief())}")
        else:
            summary.update(f"[green]Ready:[/] {markup(config.brief())}")
        self.query_one("#start", Button).disabled = bool(errors)
        return not errors

    def _weights_note(self, spec) -> str:
        shapes = [tuple(w.shape) for w in self.initial_weights or []]
        if _weight_shapes(spec) == shapes:
            return f"Starts from the given weights ({self.weights_note or 'lesson'})."
        return "The given weights no longer fit this architecture: training starts fresh."

    # -- actions ----------------------------------------------------------------------------------

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if not self.validate():
            first = next(iter(self.errors.items()), ("setup", "invalid"))
            self.notify(f"Cannot start: {first[0]}: {markup(first[1])}", severity="error")
            return
        config = self.config
        if config.backend == "keras" and self.app.keras_state == "loading":
            if not self._queued:
                self._queued = True
                self.notify("Training starts as soon as TensorFlow has loaded.",
                            title="Queued", timeout=4)
                self.validate()
            return
        self._queued = False
        from engine.recipe import prepare

        from .training import TrainingScreen

        try:
            data = prepare(config, self.dataset)
        except ValueError as exc:
            self.notify(f"Cannot start: {markup(exc)}", severity="error")
            return
        weights = self.initial_weights
        if weights is not None and _weight_shapes(data.spec) != [tuple(w.shape) for w in weights]:
            weights = None
        self.app.push_screen(TrainingScreen(config, data, weights=weights))

    @on(Button.Pressed, "#add-layer")
    def _add_layer_button(self) -> None:
        self.action_add_layer()

    @on(Button.Pressed, "#open-csv")
    def action_open_csv(self) -> None:
        from .csv_dialog import CsvDialog

        def loaded(result) -> None:
            if result is None:
                return
            path, target, dataset = result
            key = f"csv:{path}"
            self.csv_sources[key] = (path, target)
            self.datasets[key] = dataset
            self.add_dataset(key, dataset, label=_short(path))
            self.dataset_key = None
            self.select_dataset(key)

        self.app.push_screen(CsvDialog(), loaded)

    @on(Button.Pressed, "#sweep")
    def action_sweep(self) -> None:
        config, errors = self.read_config()
        if config is None:
            first = next(iter(errors.items()))
            self.notify(f"Fix the setup before a sweep: {first[0]}: {markup(first[1])}",
                        severity="error")
            return
        try:
            from .sweep import SweepScreen
        except ImportError:
            self.notify("Sweeps are not available in this build yet.", severity="warning")
            return
        self.app.push_screen(SweepScreen(config))

    def set_initial_weights(self, weights, note: str | None = None) -> None:
        self.initial_weights = None if weights is None else [w.copy() for w in weights]
        self.weights_note = note
        self.validate()


def layer_table(spec) -> str:
    """The network layer by layer, as Keras' ``model.summary()`` lists it: each
    layer's output shape and parameter count, then the total (text with markup,
    one row per layer, aligned)."""
    from engine.recipe import conv_word
    from engine.spec import Conv2D, Dropout, Flatten, MaxPooling2D

    def shape_text(shape) -> str:
        return "(" + ",".join(str(v) for v in shape) + ("," if len(shape) == 1 else "") + ")"

    rows = [("input", shape_text(spec.input_shape or (spec.input_dim,)), "")]
    kernels = iter(spec.kernel_shapes())
    out = spec.layers[-1]
    i = 0
    for layer, shape in zip(spec.layers, spec.layer_output_shapes()):
        if isinstance(layer, Dropout):
            rows.append((f"dropout {layer.rate:g}", shape_text(shape), "0"))
            continue
        if isinstance(layer, MaxPooling2D):
            rows.append((f"pool{layer.pool_size[0]}", shape_text(shape), "0"))
            continue
        if isinstance(layer, Flatten):
            rows.append(("flatten", shape_text(shape), "0"))
            continue
        kernel = next(kernels)
        count = math.prod(kernel) + (kernel[-1] if layer.use_bias else 0)
        if isinstance(layer, Conv2D):
            word = conv_word(("conv", layer.filters, layer.kernel_size[0], layer.strides[0],
                              layer.padding, layer.activation))
            rows.append((f"{word} {layer.activation}", shape_text(shape), f"{count:,}"))
            continue
        i += 1
        name = f"output {layer.activation}" if layer is out else f"dense {i} {layer.activation}"
        rows.append((name, shape_text(shape), f"{count:,}"))
    reg = spec.dense_layers[0].kernel_regularizer
    penalty = "" if reg is None else "\n" + " ".join(
        f"{k.upper()} {v:g}" for k, v in reg.to_dict().items() if v) + (
        " on every dense kernel" if spec.is_image else " on every kernel")
    total = f"{spec.count_params():,}"
    name_w = max(len("layer"), *(len(r[0]) for r in rows))
    out_w = max(len("output"), *(len(r[1]) for r in rows))
    count_w = max(len("params"), len(total), *(len(r[2]) for r in rows))
    lines = [f"[b]{'layer':<{name_w}} {'output':>{out_w}} {'params':>{count_w}}[/]"]
    lines += [f"{a:<{name_w}} {b:>{out_w}} {c:>{count_w}}" for a, b, c in rows]
    lines.append(f"[b]{'total':<{name_w}} {'':>{out_w}} {total:>{count_w}}[/]")
    return "\n".join(lines) + penalty


def _weight_shapes(spec) -> list[tuple[int, ...]]:
    from engine.spec import weight_shapes

    return list(weight_shapes(spec))


def _has_option(options: OptionList, key: str) -> bool:
    try:
        options.get_option(key)
    except Exception:  # noqa: BLE001 - OptionDoesNotExist
        return False
    return True


def _short(path: str, width: int = 11) -> str:
    import os

    name = os.path.basename(path)
    return name if len(name) <= width else name[:width - 1] + "…"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
