"""Sweeps: one spec trained over several values of one setting, every run
starting from the same initial weights wherever the shapes allow, so the
curves differ only by the setting.

    runs = run_sweep(spec, dataset, "learning_rate", [1e-6, 0.01, 1],
                     epochs=10, validation_split=0.3)
    for row in comparison_rows(runs): print(row["label"], row["n_params"], row["best_val_loss"])

    runs = run_experiment("learning-rates")     # the course's experiments, ready-made

Settings: ``learning_rate`` (a number > 0, at most 10), ``units`` (every hidden layer
gets that width), ``depth`` (that many hidden layers, each a copy of the
first, with its Dropout), ``optimizer`` (sgd, adam, rmsprop, adagrad), ``batch_size``,
``l1`` and ``l2`` (the rate of that kernel regularizer on every layer, from 0 to 10: the
regularization rate) and ``dropout`` (the rate of a Dropout after each hidden layer,
from 0 to below 1); for an image network, ``filters`` and ``kernel_size`` (the number
of filters, and the square kernel's side, of its first Conv2D layer).
Nothing here imports a UI toolkit or TensorFlow.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import choices
from .formatting import format_metric
from .runs import Run, new_run_id
from .spec import (
    MAX_LEARNING_RATE,
    MAX_REGULARIZATION,
    OPTIMIZERS,
    Conv2D,
    Dropout,
    Layer,
    ModelSpec,
    Regularizer,
    weight_shapes,
)

SETTINGS = ("learning_rate", "units", "depth", "optimizer", "batch_size", "l1", "l2", "dropout",
            "filters", "kernel_size")
#: The most values one sweep takes (each is a full training run).
MAX_VALUES = 12
#: Limits of the integer settings.
MAX_UNITS = 4096
MAX_DEPTH = 16
MAX_BATCH_SIZE = 1 << 16
MAX_FILTERS = 1024
MAX_KERNEL_SIZE = 64
#: Settings of run_experiment that override an experiment's fit settings.
FIT_KEYS = ("epochs", "batch_size", "validation_split", "patience", "shuffle")


class SweepError(ValueError):
    """A sweep's setting or values cannot be used; the message names the
    setting, the value and what is accepted."""


@dataclass(frozen=True)
class Variant:
    """One run of a sweep: its ``label`` (``"learning_rate=0.01"``), the
    ``value`` of the swept setting, the ``spec`` to build and ``fit``
    overrides for ``model.fit`` (``{"batch_size": 64}``)."""

    label: str
    value: Any
    spec: ModelSpec
    fit: dict = field(default_factory=dict)


# -- values ------------------------------------------------------------------------------


def check_setting(setting: Any) -> str:
    if not isinstance(setting, str) or setting.strip().lower().replace("-", "_") not in SETTINGS:
        raise SweepError(f"setting must be one of {choices(SETTINGS)}, got {setting!r}")
    return setting.strip().lower().replace("-", "_")


def _number(setting: str, value: Any) -> float:
    if isinstance(value, bool):
        raise SweepError(f"{setting} values must be numbers, got {value!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise SweepError(f"{setting} values must be numbers, got {value!r}") from None
    return number


def _integer(setting: str, value: Any, lo: int, hi: int) -> int:
    number = _number(setting, value)
    if not math.isfinite(number) or number != int(number) or not lo <= number <= hi:
        raise SweepError(f"{setting} values must be whole numbers from {lo} to {hi}, "
                         f"got {value!r}")
    return int(number)


def coerce_value(setting: str, value: Any) -> Any:
    """``value`` as the setting takes it (text such as ``"0.01"`` is read);
    raises SweepError naming the setting, the value and what is accepted."""
    setting = check_setting(setting)
    if setting == "learning_rate":
        number = _number(setting, value)
        if not math.isfinite(number) or number <= 0:
            raise SweepError(f"learning_rate values must be finite numbers > 0, got {value!r}")
        if number > MAX_LEARNING_RATE:
            raise SweepError(f"learning_rate values must be at most {MAX_LEARNING_RATE:g}, "
                             f"got {value!r}")
        return number
    if setting in ("l1", "l2"):
        number = _number(setting, value)
        if not math.isfinite(number) or not 0 <= number <= MAX_REGULARIZATION:
            raise SweepError(f"{setting} values must be numbers from 0 to "
                             f"{MAX_REGULARIZATION:g}, got {value!r}")
        return number
    if setting == "dropout":
        number = _number(setting, value)
        if not math.isfinite(number) or not 0 <= number < 1:
            raise SweepError(f"dropout values must be numbers from 0 to below 1, got {value!r}")
        return number
    if setting == "units":
        return _integer(setting, value, 1, MAX_UNITS)
    if setting == "depth":
        return _integer(setting, value, 1, MAX_DEPTH)
    if setting == "batch_size":
        return _integer(setting, value, 1, MAX_BATCH_SIZE)
    if setting == "filters":
        return _integer(setting, value, 1, MAX_FILTERS)
    if setting == "kernel_size":
        return _integer(setting, value, 1, MAX_KERNEL_SIZE)
    name = value.strip().lower() if isinstance(value, str) else value
    if name not in OPTIMIZERS:
        raise SweepError(f"optimizer values must be {choices(OPTIMIZERS)}, got {value!r}")
    return name


def parse_values(setting: str, text: str | Iterable[Any]) -> tuple:
    """The values of a sweep from text (``"1e-6, 0.01, 1"``, commas or spaces)
    or a list; checked: at least two, at most MAX_VALUES, no repeats."""
    setting = check_setting(setting)
    if isinstance(text, str):
        items = [t for t in text.replace(",", " ").split() if t]
    elif isinstance(text, Iterable):
        items = list(text)
    else:
        raise SweepError(f"{setting} values must be a list or text such as '1, 2', got {text!r}")
    if len(items) < 2:
        raise SweepError(f"a sweep over {setting} needs at least 2 values, got {len(items)}")
    if len(items) > MAX_VALUES:
        raise SweepError(f"a sweep over {setting} takes at most {MAX_VALUES} values, "
                         f"got {len(items)}")
    values = tuple(coerce_value(setting, v) for v in items)
    seen: set = set()
    for v in values:
        if v in seen:
            raise SweepError(f"{setting} value {format_value(v)} is given twice")
        seen.add(v)
    return values


def format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def label_for(setting: str, value: Any) -> str:
    return f"{setting}={format_value(value)}"


def _blocks(spec: ModelSpec, setting: str) -> list[list[Any]]:
    """The hidden layers as blocks: each Dense layer with the Dropout layers after it
    (the Dropout layers before the first Dense layer, on the inputs, stay put)."""
    blocks: list[list[Any]] = []
    for layer in spec.layers[:-1]:
        if not isinstance(layer, Layer) and not blocks:   # the head: see _head
            continue
        if isinstance(layer, Layer):
            blocks.append([layer])
        else:
            blocks[-1].append(layer)
    if not blocks:
        raise SweepError(f"a sweep over {setting} needs a spec with at least one hidden layer")
    return blocks


def _head(spec: ModelSpec) -> list[Any]:
    """The layers before the first Dense layer: Dropout on the inputs, an image
    network's Conv2D, MaxPooling2D and Flatten layers."""
    head = []
    for layer in spec.layers:
        if isinstance(layer, Layer):
            break
        head.append(layer)
    return head


def _regularized(spec: ModelSpec, **rates: float) -> ModelSpec:
    """``spec`` with the given l1/l2 rate on every kernel (the other rate kept, layer by
    layer)."""
    layers = []
    for layer in spec.layers:
        if isinstance(layer, Layer):
            old = layer.kernel_regularizer or Regularizer()
            layer = Layer(layer.units, layer.activation, layer.use_bias, layer.kernel_initializer,
                          layer.bias_initializer, Regularizer(**{"l1": old.l1, "l2": old.l2,
                                                                 **rates}))
        layers.append(layer)
    return spec.replace(layers=layers)


def _with_dropout(spec: ModelSpec, rate: float) -> ModelSpec:
    """``spec`` with one Dropout(rate) after each hidden layer (none for 0) instead of its
    own Dropout layers."""
    *hidden, out = spec.dense_layers
    layers: list[Any] = [layer for layer in _head(spec) if not isinstance(layer, Dropout)]
    for layer in hidden:
        layers.append(layer)
        if rate:
            layers.append(Dropout(rate))
    return spec.replace(layers=[*layers, out])


def _first_conv(spec: ModelSpec, setting: str, **changes: Any) -> ModelSpec:
    """``spec`` with ``changes`` (filters, kernel_size) made to its first Conv2D layer."""
    from dataclasses import replace

    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Conv2D):
            try:
                return spec.replace(layers=[*spec.layers[:i], replace(layer, **changes),
                                            *spec.layers[i + 1:]])
            except ValueError as exc:   # a kernel larger than its input
                value = next(iter(changes.values()))
                raise SweepError(f"{setting} value {value}: {exc}") from None
    raise SweepError(f"a sweep over {setting} needs an image network with a Conv2D layer "
                     f"(e.g. --layers conv8x3,pool2,flatten,32 on mnist)")


def variants(spec: ModelSpec, setting: str, values: Iterable[Any] | str) -> list[Variant]:
    """One Variant per value. ``units``: every hidden layer gets that width;
    ``depth``: that many hidden layers, each a copy of the first hidden layer;
    ``learning_rate`` and ``optimizer`` change the spec; ``batch_size`` goes
    to ``fit``; ``filters`` and ``kernel_size`` change the first Conv2D layer (the kernel
    stays square). Raises SweepError for a bad setting or value (SpecError for a kernel
    larger than its input)."""
    from . import _as_spec

    spec = _as_spec(spec)
    setting = check_setting(setting)
    values = parse_values(setting, values)
    out = []
    for value in values:
        fit: dict[str, Any] = {}
        if setting == "learning_rate":
            new = spec.replace(learning_rate=value)
        elif setting == "units":
            hidden = [Layer(value, lyr.activation, lyr.use_bias, lyr.kernel_initializer,
                            lyr.bias_initializer, lyr.kernel_regularizer)
                      if isinstance(lyr, Layer) else lyr
                      for block in _blocks(spec, setting) for lyr in block]
            new = spec.replace(layers=[*_head(spec), *hidden, spec.layers[-1]])
        elif setting == "depth":
            first = _blocks(spec, setting)[0]
            new = spec.replace(layers=[*_head(spec), *(first * value), spec.layers[-1]])
        elif setting in ("l1", "l2"):
            new = _regularized(spec, **{setting: value})
        elif setting == "dropout":
            new = _with_dropout(spec, value)
        elif setting == "filters":
            new = _first_conv(spec, setting, filters=value)
        elif setting == "kernel_size":
            new = _first_conv(spec, setting, kernel_size=value)
        elif setting == "optimizer":
            sgd = value == "sgd"
            new = spec.replace(optimizer=value, momentum=spec.momentum if sgd else 0.0,
                               nesterov=spec.nesterov if sgd else False)
        else:
            new = spec
            fit["batch_size"] = value
        out.append(Variant(label_for(setting, value), value, new, fit))
    return out


# -- data --------------------------------------------------------------------------------


class DatasetView:
    """A dataset seen through a few changes: every attribute is the wrapped
    dataset's except ``X`` (when given) and ``options`` (what was done to it:
    the loader's options, ``standardize``...), which the run records."""

    def __init__(self, dataset: Any, X: Any = None, options: dict | None = None) -> None:
        self.dataset = dataset
        self.X = dataset.X if X is None else X
        self.options = {**(getattr(dataset, "options", None) or {}), **(options or {})}

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


class StandardizedDataset(DatasetView):
    """A dataset whose X is standardized with the mean and scale of its
    training rows (those ``validation_split`` leaves), as the app does;
    ``options`` records ``standardize: True``."""

    def __init__(self, dataset: Any, validation_split: float = 0.0,
                 options: dict | None = None) -> None:
        from datasets import Standardizer, training_rows  # engine never imports datasets on import

        n_train = training_rows(len(dataset.X), validation_split)
        if n_train == 0:
            raise SweepError(f"validation_split={validation_split:g} leaves no training rows")
        self.standardizer = Standardizer(getattr(dataset, "feature_names", None)).fit(
            dataset.X[:n_train])
        super().__init__(dataset, self.standardizer.transform(dataset.X),
                         {**(options or {}), "standardize": True})


def load_dataset(dataset: Any, options: dict | None = None) -> Any:
    """A catalog name or CSV path loaded once (with ``options``; the rule that tells
    them apart is ``datasets.open_dataset``'s); anything else as given."""
    if isinstance(dataset, (str, os.PathLike)):
        import datasets as catalog

        return catalog.open_dataset(dataset, options)
    return dataset


# -- running -----------------------------------------------------------------------------


def configs_for(base: Any, setting: str, values: Iterable[Any] | str, n_features: int,
                group: str | None = None) -> list[Any]:
    """One ``RunConfig`` per value of ``setting``: ``base`` (a RunConfig) with the
    variant's network or fit setting, its label (``learning_rate=0.01``) and the
    sweep's ``group``. ``n_features`` is the data's feature count (the base spec's
    input size)."""
    out = []
    for variant in variants(base.spec(n_features), setting, values):
        out.append(base.with_spec(variant.spec).with_changes(label=variant.label, group=group,
                                                              **variant.fit))
    return out


def _base_config(spec: ModelSpec, dataset: Any, backend: str, seed: int | None,
                 fit: dict[str, Any]) -> Any:
    """The RunConfig a library sweep over ``spec`` on a loaded ``dataset`` stands for
    (the data used as given: it is not standardized again)."""
    from .recipe import RunConfig

    unknown = sorted(set(fit) - {*FIT_KEYS, "monitor", "restore_best_weights", "shuffle",
                                 "verbose"})
    if unknown:
        raise SweepError(f"unknown fit setting(s) {unknown}; accepted: {choices(FIT_KEYS)}")
    name = getattr(dataset, "name", None) or "dataset"
    config = RunConfig(dataset=str(name), backend=backend, seed=seed,
                       standardize=False, patience=fit.get("patience"),
                       restore_best_weights=bool(fit.get("restore_best_weights", False)),
                       **{k: fit[k] for k in ("epochs", "batch_size", "validation_split", "shuffle")
                          if k in fit})
    return config.with_spec(spec)


def run_sweep(spec: ModelSpec | dict, dataset: Any, setting: str, values: Iterable[Any] | str,
              *, backend: str = "numpy", seed: int | None = 0, store=None,
              callbacks_for: Callable[[Variant], list] | None = None,
              on_run: Callable[[Variant, Run], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              group: str | None = None, workers: int | None = 1, **fit_kwargs: Any) -> list[Run]:
    """Train ``spec`` once per value of ``setting`` on ``dataset`` and return the Runs
    in the order of ``values`` (those that ran), through the runner
    (``engine.runner.sweep``): one at a time in this thread by default, or in
    ``workers`` child processes at once.

    Every run whose weights have the same shapes starts from the same initial
    weights (built once with ``seed``); runs of other shapes are built with the same
    seed. The runs share one ``group`` id (generated when not given) and carry their
    variant's label. ``callbacks_for(variant)`` gives extra engine callbacks per run
    (live curves; such runs train in this thread); ``on_run(variant, run)`` is called
    as each run ends; ``should_stop()`` is asked before each run (True ends the sweep
    early). ``fit_kwargs`` are the fit settings (epochs, batch_size,
    validation_split, patience, restore_best_weights...); a variant's own win. A run
    that fails is kept as failed and its error raised after the others have run.
    """
    from . import _as_spec, runner

    spec = _as_spec(spec)
    todo = variants(spec, setting, values)
    dataset = load_dataset(dataset)
    group = group or f"sweep-{new_run_id()}"
    base = _base_config(spec, dataset, backend, seed, fit_kwargs)
    configs = [base.with_spec(v.spec).with_changes(label=v.label, group=group, **v.fit)
               for v in todo]
    failures: list[BaseException] = []

    def ended(index: int, outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            failures.append(outcome)     # raised when the others have run (the run: exc.run)
        elif on_run is not None:
            on_run(todo[index], outcome)

    runs = runner.sweep(configs, dataset=dataset, store=store, workers=workers,
                        executor="thread" if workers == 1 else "auto",
                        callbacks_for=(lambda i: list(callbacks_for(todo[i])))
                        if callbacks_for is not None else None,
                        should_stop=should_stop, on_run=ended)
    if failures:
        raise failures[0]
    return [r for r in runs if r is not None]


# -- the course's experiments -------------------------------------------------------------


def _titanic_spec(units: Sequence[int], optimizer: str, learning_rate: float | None) -> ModelSpec:
    layers = [Layer(u, "relu") for u in units] + [Layer(2, "softmax")]
    return ModelSpec(input_dim=10, layers=layers, loss="categorical_crossentropy",
                     optimizer=optimizer, learning_rate=learning_rate, metrics=["accuracy"])


@dataclass(frozen=True)
class Experiment:
    """A ready-made comparison from the course: ``spec`` trained on
    ``dataset`` (a catalog name, loaded with ``dataset_options``) over
    ``values`` of ``setting``, with ``fit`` settings (epochs,
    validation_split, patience...). The features go in unscaled, as in the
    course (the learning-rate lesson depends on it); ``standardize=True``
    scales them with the training rows' mean and spread first."""

    name: str
    title: str
    dataset: str
    dataset_options: dict
    spec: ModelSpec
    setting: str
    values: tuple
    fit: dict
    blurb: str = ""
    standardize: bool = False

    def variants(self) -> list[Variant]:
        return variants(self.spec, self.setting, self.values)


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment(
        "learning-rates", "Learning rates: too low, good, too high", "titanic", {},
        _titanic_spec((100, 100), "sgd", 0.01), "learning_rate", (0.000001, 0.01, 1.0),
        {"epochs": 10, "batch_size": 32, "validation_split": 0.3},
        "Titanic, 100-100 relu, SGD at 1e-6, 0.01 and 1: the first barely moves, the last "
        "overshoots (course chapter 4)."),
    Experiment(
        "width", "Wider networks: 10 against 100 units per layer", "titanic", {},
        _titanic_spec((10, 10), "adam", 0.001), "units", (10, 100),
        {"epochs": 15, "batch_size": 32, "validation_split": 0.2, "patience": 2},
        "Titanic, two hidden relu layers of 10 or of 100 units, adam, early stopping with "
        "patience 2 (course chapter 4)."),
    Experiment(
        "depth", "Deeper networks: one, two and three hidden layers", "titanic", {},
        _titanic_spec((50,), "adam", 0.001), "depth", (1, 2, 3),
        {"epochs": 20, "batch_size": 32, "validation_split": 0.4, "patience": 2},
        "Titanic, one to three hidden relu layers of 50 units, adam, early stopping with "
        "patience 2 (course chapter 4)."),
)}


def experiment_config(experiment: Experiment, **changes: Any) -> Any:
    """The RunConfig of a course experiment's base run (its dataset, unscaled unless
    it says otherwise, its network and fit settings; early stopping without
    restoring weights, as the course's ``EarlyStopping(patience=2)``); ``changes``
    (backend, seed...) on top."""
    from .recipe import RunConfig

    fit = dict(experiment.fit)
    config = RunConfig(dataset=experiment.dataset, dataset_options=dict(experiment.dataset_options),
                       standardize=experiment.standardize, restore_best_weights=False,
                       **{k: fit[k] for k in ("epochs", "batch_size", "validation_split",
                                              "patience", "shuffle") if k in fit})
    return config.with_spec(experiment.spec).with_changes(**changes)


def get_experiment(name: str) -> Experiment:
    key = str(name).strip().lower()
    if key not in EXPERIMENTS:
        raise SweepError(f"experiment must be one of {choices(tuple(EXPERIMENTS))}, got {name!r}")
    return EXPERIMENTS[key]


def run_experiment(name: str | Experiment, *, dataset: Any = None, **options: Any) -> list[Run]:
    """Run one of EXPERIMENTS by name; ``options`` go to ``run_sweep`` (backend,
    seed, store, callbacks_for...) and may override the experiment's fit
    settings (``epochs=3``). ``dataset`` replaces the loaded data (tests)."""
    experiment = name if isinstance(name, Experiment) else get_experiment(name)
    fit = {**experiment.fit, **{k: options.pop(k) for k in FIT_KEYS if k in options}}
    if dataset is None:
        dataset = load_dataset(experiment.dataset, experiment.dataset_options)
        if experiment.standardize:
            dataset = StandardizedDataset(dataset, fit.get("validation_split", 0.0))
    options.setdefault("group", f"{experiment.name}-{new_run_id()}")
    return run_sweep(experiment.spec, dataset, experiment.setting, experiment.values,
                     **options, **fit)


# -- comparing -----------------------------------------------------------------------------

#: The columns of ``comparison_rows``: (key, heading).
COLUMNS = (("label", "run"), ("n_params", "params"), ("best_val_loss", "best val_loss"),
           ("best_epoch", "best epoch"), ("final_loss", "final loss"),
           ("epochs", "epochs"), ("stop_reason", "stopped"))


def _value_from_label(label: str | None) -> Any:
    if not label or "=" not in label:
        return None
    text = label.split("=", 1)[1]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def comparison_row(run: Run) -> dict[str, Any]:
    """One run as a table row: label, value, n_params, best_val_loss (or
    None without validation), best_loss, best_epoch (counted from 1, by
    val_loss when there is one), final_loss, final_val_loss, epochs run,
    stop_reason, id."""
    best = run.best
    final = run.final
    best_epoch = run.best_epoch
    return {
        "id": run.id, "label": run.label or run.describe(), "value": _value_from_label(run.label),
        "n_params": run.n_params, "best_val_loss": best.get("val_loss"),
        "best_loss": best.get("loss"),
        "best_epoch": None if best_epoch is None else best_epoch + 1,
        "final_loss": final.get("loss"), "final_val_loss": final.get("val_loss"),
        "epochs": run.epochs_done, "stop_reason": run.stop_reason or run.status,
    }


def comparison_rows(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """A row per run (see ``comparison_row``), in the order given."""
    return [comparison_row(run) for run in runs]


def format_cell(key: str, value: Any) -> str:
    """A table cell as text: losses as ``format_metric`` writes them, counts with
    thousands commas."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return format_metric(value)
    if key == "n_params" and isinstance(value, int):
        return f"{value:,}"
    return str(value)


__all__ = ["COLUMNS", "EXPERIMENTS", "MAX_VALUES", "SETTINGS", "DatasetView", "Experiment",
           "StandardizedDataset", "SweepError", "Variant", "coerce_value", "comparison_row",
           "comparison_rows", "format_cell", "format_value",
           "get_experiment", "label_for", "load_dataset", "parse_values", "run_experiment",
           "run_sweep", "variants", "weight_shapes"]
