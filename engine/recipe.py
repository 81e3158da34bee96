"""One description of a run, and one way to prepare it, for every front end.

    config = RunConfig(dataset="titanic", hidden=((32, "relu"),), optimizer="sgd",
                       learning_rate=0.01, epochs=20)
    data = prepare(config)               # load, validation cut, standardize on training rows
    run = engine.runner.run(config, data)

The app's setup screen, its sweep screen, the lessons' hand-off, ``deepterm train``
and ``deepterm sweep`` all describe a run as a ``RunConfig`` and turn it into
arrays with ``prepare``. Each rule lives here once:

- the validation cut: the last ``validation_split`` of the rows, before shuffling
  (``engine.data.split_index``, the rule ``fit`` applies);
- standardizing: fitted on the training rows only, and only when asked (the
  default is the dataset's own: off for images already in [0, 1], on otherwise);
- the inputs: a two-feature dataset's feature crosses (``features``: x1², x1·x2,
  sin x1...), computed after loading and before the validation cut;
- the output layer for a task (``output_layer``);
- the metric that picks the best epoch and drives early stopping (``monitor``).

Nothing here imports a UI toolkit or TensorFlow, nor NumPy until data is prepared
(the app's setup screen describes runs before NumPy has loaded); the ``datasets``
package is imported when a dataset is loaded.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .callbacks import Callback, EarlyStopping
from .errors import FitError
from .features import check_features
from .spec import Conv2D, Dropout, Flatten, Layer, MaxPooling2D, ModelSpec, Regularizer
from .split import split_index

CLASSIFICATION_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                         "binary_crossentropy")
REGRESSION_LOSSES = ("mse", "mae")


def output_layer(task: str, n_classes: int, loss: str | None = None
                 ) -> tuple[int, str, str, tuple[str, ...]]:
    """(units, activation, loss, metrics) of the output layer for a task, as the
    course builds it: regression -> 1 linear unit, mse, metric mae; classes -> one
    softmax unit per class (two for binary, like the course's Titanic model),
    categorical crossentropy, metric accuracy. ``loss`` overrides where it fits the
    task (binary_crossentropy -> 1 sigmoid unit); one that does not is replaced."""
    if task == "regression":
        loss = loss if loss in REGRESSION_LOSSES else "mse"
        return 1, "linear", loss, ("mae",)
    if loss not in CLASSIFICATION_LOSSES or (loss == "binary_crossentropy" and task != "binary"):
        loss = "categorical_crossentropy"
    if loss == "binary_crossentropy":
        return 1, "sigmoid", loss, ("accuracy",)
    return max(2, int(n_classes)), "softmax", loss, ("accuracy",)


def losses_for(task: str) -> tuple[str, ...]:
    """The losses that make sense for a task."""
    if task == "regression":
        return REGRESSION_LOSSES
    if task == "binary":
        return CLASSIFICATION_LOSSES
    return CLASSIFICATION_LOSSES[:2]


@dataclass(frozen=True)
class RunConfig:
    """One run: what to train on, the network, how to train it, where.

    ``dataset`` is a catalog name (``dataset_options`` go to ``datasets.load``,
    e.g. ``{"n": 2500}``), or ``None`` with ``csv_path`` (and ``csv_target``) for
    a CSV file. ``hidden`` lists the hidden layers as (units, activation); the
    output layer is ``output_units``/``output_activation`` (``for_dataset`` picks
    them from the dataset's task). ``patience=None`` means no early stopping.
    ``standardize=None`` means the dataset's own default
    (``Dataset.standardize_by_default``). ``label`` and ``group`` name the run
    and the sweep it belongs to in the run store; ``device`` is Keras' (GPU:0).

    ``conv`` lists the image layers that come before ``hidden`` (empty: a dense
    network), each ``("conv", filters, kernel_size, strides, padding, activation)`` for
    a square ``Conv2D`` or ``("pool", pool_size)`` for a square ``MaxPooling2D``; a
    ``Flatten`` follows them. They need image data (a dataset with ``image_shape``,
    e.g. mnist: 28x28 images, one channel); see ``conv_layer`` and ``pool_layer``.

    ``l1`` and ``l2`` put Keras' kernel regularizer ``L1L2(l1, l2)`` on every layer's
    kernel (as Playground regularizes every weight); ``dropout`` puts a
    ``Dropout(dropout)`` layer after each hidden layer. ``features`` names the inputs
    a two-feature dataset trains on (``engine.features``: x1, x2, x1^2, x2^2, x1x2,
    sin_x1, sin_x2; None: x1 and x2 as they are). A synthetic set's noise, rows and
    seed are its load options (``dataset_options``: noise, n, seed).
    """

    dataset: str | None = "titanic"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    csv_path: str | None = None
    csv_target: str | None = None
    hidden: tuple[tuple[int, str], ...] = ((32, "relu"),)
    output_units: int = 2
    output_activation: str = "softmax"
    loss: str = "categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    epochs: int = 20
    batch_size: int = 32
    validation_split: float = 0.3
    patience: int | None = None
    restore_best_weights: bool = True
    seed: int | None = 0
    backend: str = "numpy"
    standardize: bool | None = True
    shuffle: bool = True
    label: str | None = None
    group: str | None = None
    device: str | None = None
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    features: tuple[str, ...] | None = None
    conv: tuple[tuple[Any, ...], ...] = ()

    # -- naming -------------------------------------------------------------------

    @property
    def dataset_label(self) -> str:
        """The dataset as it is referred to: a catalog name or a CSV path."""
        if self.dataset is not None:
            return self.dataset
        return self.csv_path or "?"

    @property
    def dataset_shown(self) -> str:
        """The dataset as titles show it: a catalog name, or a CSV file's name without
        its folders."""
        return self.dataset if self.dataset is not None else os.path.basename(self.csv_path or "?")

    def describe(self) -> str:
        """One line: dataset, layers, optimizer, learning rate, loss, epochs, batch (and
        the regularizers, dropout and feature crosses when there are any)."""
        return (f"{self.dataset_shown}: hidden {self._sizes()}, {self.optimizer} "
                f"lr={self.learning_rate:g}, "
                f"{self.loss}, {self.epochs} epochs, batch {self.batch_size}{self._extras()}")

    def brief(self) -> str:
        """``describe`` without the loss."""
        return (f"{self.dataset_shown}: hidden {self._sizes()}, {self.optimizer} "
                f"lr={self.learning_rate:g},"
                f" {self.epochs} epochs, batch {self.batch_size}{self._extras()}")

    def _sizes(self) -> str:
        """The hidden layers as the --layers grammar writes them, joined by '-':
        ``conv8x3-pool2-flatten-64``, ``50-32``, ``none``."""
        words = [conv_word(entry) for entry in self.conv]
        if self.conv:
            words.append("flatten")
        words += [str(u) for u, _ in self.hidden]
        return "-".join(words) or "none"

    def _extras(self) -> str:
        from .features import labels

        parts = [f"{name.upper()} {value:g}" for name, value in (("l1", self.l1), ("l2", self.l2))
                 if value]
        if self.dropout:
            parts.append(f"dropout {self.dropout:g}")
        if self.features is not None:
            parts.append("inputs " + " ".join(labels(self.features)))
        return "".join(f", {part}" for part in parts)

    # -- the rules ---------------------------------------------------------------------

    @property
    def monitor(self) -> str:
        """The metric that picks the best epoch and that early stopping watches:
        val_loss when rows are held out for validation, else loss."""
        return "val_loss" if self.validation_split > 0 else "loss"

    def input_dim(self, n_features: int) -> int:
        """The model's input size for data of ``n_features`` features: the number of
        feature crosses when there are any (they are made from two features), else
        ``n_features`` (prepared data has as many columns as the model has inputs, so
        either count gives the same answer)."""
        return len(self.features) if self.features is not None else n_features

    def spec(self, input_dim: int, image_shape: tuple[int, ...] | None = None) -> ModelSpec:
        """The ModelSpec for data of ``input_dim`` features (see ``input_dim``; raises
        SpecError when invalid): the image layers (``conv``) then Flatten, when there
        are any; the hidden layers, each followed by Dropout when ``dropout`` is set;
        then the output layer; every Dense kernel regularized by ``l1``/``l2``.

        Image layers take the data's ``image_shape`` (``(28, 28)`` for mnist: one
        channel is added; ``(h, w, c)`` as it is): given, or else that of the dataset
        this config names (loaded to learn it). Data without an image shape is a
        FitError."""
        reg = Regularizer(self.l1, self.l2) or None
        layers: list[Any] = []
        extra_shape: dict[str, Any] = {}
        if self.conv:
            shape = self._image_shape(input_dim, image_shape)
            layers += [image_layer(entry) for entry in self.conv]
            layers.append(Flatten())
            extra_shape = {"input_shape": shape}
        for units, activation in self.hidden:
            layers.append(Layer(units, activation, kernel_regularizer=reg))
            if self.dropout:
                layers.append(Dropout(self.dropout))
        layers.append(Layer(self.output_units, self.output_activation, kernel_regularizer=reg))
        extra = {"momentum": self.momentum, "nesterov": self.nesterov} \
            if self.optimizer == "sgd" and (self.momentum or self.nesterov) else {}
        if not extra_shape:
            extra_shape = {"input_dim": self.input_dim(input_dim)}
        return ModelSpec(layers=layers, loss=self.loss,
                         optimizer=self.optimizer, learning_rate=self.learning_rate,
                         metrics=list(self.metrics), **extra_shape, **extra)

    def _image_shape(self, input_dim: int, image_shape: tuple[int, ...] | None
                     ) -> tuple[int, int, int]:
        """(height, width, channels) of the images the conv layers take; FitError for
        data that holds no images."""
        if self.features is not None:
            raise FitError("conv layers take images; feature crosses (features) are for "
                           "two-feature data: drop one or the other")
        if image_shape is None and self.dataset is not None:
            image_shape = getattr(self.load_dataset(), "image_shape", None)
        if not image_shape:
            raise FitError(f"conv layers (conv, pool) need image data; dataset "
                           f"{self.dataset_shown!r} has no image shape (mnist has: 28x28)")
        shape = tuple(int(v) for v in image_shape)
        if len(shape) == 2:
            shape = (*shape, 1)
        if len(shape) != 3 or shape[0] * shape[1] * shape[2] != int(input_dim):
            raise FitError(f"conv layers need images of {input_dim} values; dataset "
                           f"{self.dataset_shown!r} has image shape {shape}")
        return shape  # type: ignore[return-value]

    def fit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.fit``."""
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "validation_split": self.validation_split, "shuffle": self.shuffle}

    def callbacks(self) -> list[Callback]:
        """The run's own callbacks: early stopping on ``monitor`` when ``patience`` is set."""
        if self.patience is None:
            return []
        return [EarlyStopping(monitor=self.monitor, patience=self.patience,
                              restore_best_weights=self.restore_best_weights)]

    def with_changes(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    def with_spec(self, spec: ModelSpec) -> RunConfig:
        """This config with ``spec``'s layers, loss, optimizer, learning rate, metrics,
        regularizers and dropout (a sweep's variant, a course experiment's network).
        A RunConfig describes dense layers with biases and the default initializers,
        one regularizer on every kernel (or none), and one Dropout after each hidden
        layer (or none); an image spec, square Conv2D (biases, default initializers) and
        MaxPooling2D (strides = pool_size) layers, then one Flatten, then those dense
        layers; another spec is a FitError."""
        conv = _conv_entries(spec)
        if conv:
            spec = spec.replace(input_dim=spec.input_dim,
                                layers=spec.layers[len(conv) + 1:])
        dense = spec.dense_layers
        *hidden, out = dense
        for layer in dense:
            if not layer.use_bias or layer.kernel_initializer != "glorot_uniform" \
                    or layer.bias_initializer != "zeros":
                raise FitError("a RunConfig describes dense layers with biases and the default "
                               f"initializers; layer {layer!r} is not one")
        regs = {layer.kernel_regularizer for layer in dense}
        if len(regs) != 1:
            raise FitError("a RunConfig puts one regularizer on every layer's kernel; this spec "
                           "regularizes its layers differently")
        reg = regs.pop() or Regularizer()
        rates = spec.dropout_before()
        dropout = rates[1] if len(rates) > 1 else 0.0
        if rates[0] or any(r != dropout for r in rates[1:]) or \
                sum(isinstance(layer, Dropout) for layer in spec.layers) != (len(hidden)
                                                                             if dropout else 0):
            raise FitError("a RunConfig puts one Dropout after each hidden layer (or none); "
                           "this spec places its Dropout layers otherwise")
        return replace(self, hidden=tuple((layer.units, layer.activation) for layer in hidden),
                       output_units=out.units, output_activation=out.activation, loss=spec.loss,
                       metrics=tuple(spec.metrics), optimizer=spec.optimizer,
                       learning_rate=spec.effective_learning_rate, momentum=spec.momentum,
                       nesterov=spec.nesterov, l1=reg.l1, l2=reg.l2, dropout=dropout,
                       conv=conv)

    def for_dataset(self, dataset: Any, loss: str | None = None) -> RunConfig:
        """This config with the output layer, loss and metrics the dataset's task
        needs (``loss`` overriding where it fits)."""
        units, activation, loss, metrics = output_layer(
            dataset.task, getattr(dataset, "n_classes", 0) or 0, loss or self.loss)
        return replace(self, output_units=units, output_activation=activation, loss=loss,
                       metrics=metrics)

    # -- data ---------------------------------------------------------------------------

    def load_options(self) -> dict[str, Any]:
        """The options the dataset is loaded with: the catalog's, or the CSV's target."""
        if self.dataset is None and self.csv_target is not None:
            return {"target": self.csv_target}
        return dict(self.dataset_options)

    def load_dataset(self) -> Any:
        """The dataset this config names, loaded (a ``datasets.Dataset``)."""
        import datasets  # the one name-or-path rule: datasets.open_dataset's

        if self.dataset is None and not self.csv_path:
            raise FitError("the run names no dataset: give a catalog name or a CSV path")
        return datasets.open_dataset(self.dataset if self.dataset is not None else self.csv_path,
                                     self.load_options() or None)

    # -- records --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; ``from_dict`` rebuilds the config."""
        data = asdict(self)
        data["hidden"] = [list(layer) for layer in self.hidden]
        data["metrics"] = list(self.metrics)
        data["features"] = None if self.features is None else list(self.features)
        data["conv"] = [list(entry) for entry in self.conv]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(data).items() if k in known}
        if "hidden" in values:
            values["hidden"] = tuple((int(u), str(a)) for u, a in values["hidden"])
        if "metrics" in values:
            values["metrics"] = tuple(values["metrics"])
        if "dataset_options" in values:
            values["dataset_options"] = dict(values["dataset_options"] or {})
        if values.get("features") is not None:
            values["features"] = check_features(values["features"])
        if "conv" in values:
            values["conv"] = tuple(check_conv_entry(entry) for entry in values["conv"] or ())
        return cls(**values)


# -- image layers in a recipe ------------------------------------------------------------------


def conv_layer(filters: int, kernel_size: int, activation: str = "relu", strides: int = 1,
               padding: str = "valid") -> tuple[Any, ...]:
    """A recipe's square Conv2D entry: ``("conv", filters, kernel_size, strides, padding,
    activation)``."""
    return check_conv_entry(("conv", filters, kernel_size, strides, padding, activation))


def pool_layer(pool_size: int = 2) -> tuple[Any, ...]:
    """A recipe's square MaxPooling2D entry: ``("pool", pool_size)``."""
    return check_conv_entry(("pool", pool_size))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_conv_entry(entry: Any) -> tuple[Any, ...]:
    """One entry of ``RunConfig.conv`` as a tuple (a JSON list is read); FitError naming
    the entry and the accepted forms otherwise."""
    items = tuple(entry) if isinstance(entry, (list, tuple)) else ()
    if len(items) == 6 and items[0] == "conv" and all(_whole(v) for v in items[1:4]) \
            and items[4] in ("valid", "same") and isinstance(items[5], str):
        image_layer(items)            # the activation is checked by Conv2D
        return items
    if len(items) == 2 and items[0] == "pool" and _whole(items[1]):
        return items
    raise FitError(f"conv entries are ('conv', filters, kernel_size, strides, padding, "
                   f"activation) or ('pool', pool_size), whole numbers >= 1 and padding "
                   f"'valid' or 'same'; got {entry!r}")


def image_layer(entry: tuple[Any, ...]) -> Conv2D | MaxPooling2D:
    """The spec layer of one ``RunConfig.conv`` entry."""
    if entry[0] == "pool":
        return MaxPooling2D(entry[1])
    _, filters, kernel, strides, padding, activation = entry
    return Conv2D(filters, kernel, strides=strides, padding=padding, activation=activation)


def conv_word(entry: tuple[Any, ...]) -> str:
    """An entry as the --layers grammar writes it: conv8x3, conv8x3s2same, pool2."""
    if entry[0] == "pool":
        return f"pool{entry[1]}"
    _, filters, kernel, strides, padding, _ = entry
    return (f"conv{filters}x{kernel}" + (f"s{strides}" if strides != 1 else "")
            + ("same" if padding == "same" else ""))


#: One image layer as the --layers grammar and the app's editor write it.
_CONV_WORD = re.compile(r"conv(\d+)x(\d+)(?:s(\d+))?(same)?")
_POOL_WORD = re.compile(r"pool(\d+)")
#: How the words are written, for messages.
CONV_WORDS = "conv{filters}x{kernel}[s{stride}][same] or pool{size} (e.g. conv16x3, pool2)"


def conv_entry(word: str, activation: str = "relu") -> tuple[Any, ...] | None:
    """The ``RunConfig.conv`` entry a word of the layer grammar names: ``conv16x3``
    (16 filters of 3x3), ``conv16x3s2`` (stride 2), ``conv16x3same`` ('same'
    padding), ``pool2`` (2x2 max pooling); the conv layer gets ``activation``.
    None when the word is not an image layer; FitError for a size below 1."""
    text = word.strip().lower()
    conv, pool = _CONV_WORD.fullmatch(text), _POOL_WORD.fullmatch(text)
    if not conv and not pool:
        return None
    numbers = [int(g) for g in (conv.groups()[:3] if conv else pool.groups()) if g]
    if any(n < 1 for n in numbers):
        raise FitError(f"{text}: filters, kernel, stride and pool sizes are whole numbers "
                       f">= 1")
    if pool:
        return pool_layer(numbers[0])
    return conv_layer(numbers[0], numbers[1], activation,
                      strides=numbers[2] if conv.group(3) else 1,
                      padding="same" if conv.group(4) else "valid")


def _conv_entries(spec: ModelSpec) -> tuple[tuple[Any, ...], ...]:
    """The ``conv`` entries of an image spec's layers before its Flatten (() for a dense
    spec); FitError for an image spec a RunConfig cannot describe."""
    if not spec.is_image:
        return ()
    entries = []
    rest = list(spec.layers)
    while rest and isinstance(rest[0], (Conv2D, MaxPooling2D)):
        layer = rest.pop(0)
        if isinstance(layer, MaxPooling2D):
            (ph, pw), (sh, sw) = layer.pool_size, layer.step
            if ph != pw or (sh, sw) != (ph, pw):
                raise FitError(f"a RunConfig describes square MaxPooling2D layers whose strides "
                               f"are their pool_size; {layer!r} is not one")
            entries.append(("pool", ph))
            continue
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        if kh != kw or sh != sw or not layer.use_bias \
                or layer.kernel_initializer != "glorot_uniform" \
                or layer.bias_initializer != "zeros":
            raise FitError(f"a RunConfig describes square Conv2D layers with biases and the "
                           f"default initializers; {layer!r} is not one")
        entries.append(("conv", layer.filters, kh, sh, layer.padding, layer.activation))
    if not rest or not isinstance(rest[0], Flatten) or not entries or any(
            isinstance(layer, (Conv2D, MaxPooling2D, Flatten)) for layer in rest[1:]):
        raise FitError("a RunConfig describes image networks as Conv2D/MaxPooling2D layers, "
                       "one Flatten, then Dense layers; this spec places them otherwise")
    return tuple(entries)


class RecipeError(FitError):
    """A stored run cannot be trained again as it was (its data is gone or changed,
    or it started from weights that were not the seeded ones)."""


def config_of(run: Any) -> RunConfig:
    """The RunConfig that trains ``run`` (a stored Run) again: its recorded recipe, or
    for a run stored before recipes were recorded, one rebuilt from its dataset,
    spec, fit settings, seed and backend. Raises RecipeError when the run cannot be
    repeated as it was."""
    fit = dict(run.fit or {})
    if fit.get("recipe"):
        return RunConfig.from_dict(fit["recipe"])
    info = dict(run.dataset or {})
    options = dict(info.get("options") or {})
    standardize = bool(options.pop("standardize", False))
    path = info.get("path")
    if path:
        config = RunConfig(dataset=None, csv_path=path, csv_target=info.get("target_name"))
    elif info.get("name") and info.get("name") not in ("arrays", "dataset"):
        config = RunConfig(dataset=info["name"], dataset_options=options)
    else:
        raise RecipeError(f"run {run.id} trained on arrays given in a script: its data is not "
                          "recorded, so it cannot be trained again here")
    patience = fit.get("patience")
    config = replace(config, standardize=standardize, seed=run.seed, backend=run.backend,
                     epochs=int(fit.get("epochs") or 1), batch_size=int(fit.get("batch_size") or 32),
                     validation_split=float(fit.get("validation_split") or 0.0),
                     shuffle=bool(fit.get("shuffle", True)), patience=patience,
                     restore_best_weights=bool(fit.get("restore_best_weights")),
                     label=run.label, group=run.group)
    return config.with_spec(run.spec)


def check_repeatable(run: Any, config: RunConfig, data: Any = None) -> None:
    """RecipeError when ``run``'s data file changed since, or (with ``data``, the
    config prepared) the data now has other rows than it trained on."""
    import os

    info = dict(run.dataset or {})
    if data is not None and info.get("rows") is not None and int(info["rows"]) != len(data.X):
        raise RecipeError(f"run {run.id} trained on {info['rows']} rows of "
                          f"{config.dataset_shown}; loaded as recorded it has {len(data.X)}: "
                          "its load options were not recorded")
    if config.csv_path and info.get("sha256"):
        from .runs import file_sha256

        if not os.path.isfile(config.csv_path):
            raise RecipeError(f"run {run.id} trained on {config.csv_path}, which is gone")
        if file_sha256(config.csv_path) != info["sha256"]:
            raise RecipeError(f"run {run.id} trained on {config.csv_path}, which has changed "
                              "since (its sha256 differs)")


@dataclass
class PreparedData:
    """A config's arrays, ready for ``fit``: X (standardized when asked, with the
    training rows' statistics), y in the form the loss needs, and where the
    validation rows begin."""

    spec: ModelSpec
    X: Any          # (n_samples, n_features) float32
    y: Any          # in the form the loss needs
    split_at: int
    dataset: Any
    preprocessing: dict[str, Any] | None = None
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] | None = None    # the feature crosses X holds, if any

    def inputs_for(self, raw: Any) -> Any:
        """The model's inputs for rows of the dataset's own features (points of the input
        plane, ``(n, 2)``, for two-feature data): their feature crosses, standardized as
        the training rows were. ``(n, spec.input_dim)`` float32."""
        import numpy as np

        X = np.asarray(raw, dtype=np.float32)
        if self.features is not None:
            from .features import cross

            X = cross(X, self.features)
        if self.preprocessing is not None:
            from datasets import Standardizer

            X = Standardizer.from_dict(self.preprocessing).transform(X)
        return X

    @property
    def X_val(self) -> Any:
        return self.X[self.split_at:]

    @property
    def val_rows(self) -> Any:
        """Row indices (in the dataset) of the validation rows."""
        import numpy as np

        return np.arange(self.split_at, len(self.X))

    @property
    def standardized(self) -> bool:
        return self.preprocessing is not None


def standardize_for(config: RunConfig, dataset: Any) -> bool:
    """Whether ``config`` standardizes ``dataset``: as it says, or the dataset's
    own default when it says nothing."""
    if config.standardize is not None:
        return bool(config.standardize)
    return bool(getattr(dataset, "standardize_by_default", True))


def prepare(config: RunConfig, dataset: Any = None) -> PreparedData:
    """Load (unless ``dataset`` is given), cut the validation rows off and
    standardize on the training rows only; raises ValueError (FitError) with what
    is wrong."""
    import numpy as np

    if dataset is None:
        dataset = config.load_dataset()
    X = np.asarray(dataset.X, dtype=np.float32)
    names = getattr(dataset, "feature_names", None)
    features = check_features(config.features)
    if features is not None:
        from .features import cross, labels

        X = cross(X, features)          # before the cut: every row gets the same inputs
        names = labels(features)
    spec = config.spec(X.shape[1], image_shape_of(dataset))
    y = dataset.targets_for(config.loss) if hasattr(dataset, "targets_for") else dataset.y
    split_at = split_index(len(X), config.validation_split)
    if config.validation_split > 0 and (split_at == 0 or split_at == len(X)):
        raise FitError(f"validation split {config.validation_split:g} leaves no rows for "
                       f"training or for validation out of {len(X)}")
    preprocessing = None
    if standardize_for(config, dataset):
        from datasets import Standardizer

        scaler = Standardizer(names).fit(X[:split_at])
        X = scaler.transform(X)
        preprocessing = scaler.to_dict()
    return PreparedData(spec=spec, X=X, y=y, split_at=split_at, dataset=dataset,
                        preprocessing=preprocessing, fit_kwargs=config.fit_kwargs(),
                        features=features)


def image_shape_of(dataset: Any) -> tuple[int, ...] | None:
    """A dataset's image shape ((28, 28) for mnist), or None for data without images."""
    shape = getattr(dataset, "image_shape", None)
    return tuple(shape) if shape else None


def validation_rows(n: int, validation_split: float) -> int:
    """How many of ``n`` rows validate under ``validation_split``."""
    return n - split_index(n, validation_split) if validation_split > 0 else 0


__all__ = ["CLASSIFICATION_LOSSES", "REGRESSION_LOSSES", "PreparedData", "RecipeError",
           "RunConfig", "check_conv_entry", "check_repeatable", "config_of", "conv_layer",
           "conv_word", "image_layer", "pool_layer",
           "losses_for", "output_layer", "prepare", "split_index", "standardize_for",
           "validation_rows"]
