"""What the setup screen describes: one training run, as plain data.

``TrainConfig`` holds everything needed to train (dataset, layers, loss,
optimizer, fit settings, backend) and nothing from Textual, so the sweep
screen, the CLI and tests can build and read it. ``PRESETS`` are the course's
exercises.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine import Layer, ModelSpec

CLASSIFICATION_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                         "binary_crossentropy")
REGRESSION_LOSSES = ("mse", "mae")
#: The learning rates offered as quick picks (the course's experiments span 1e-6 to 1).
LEARNING_RATE_PICKS = (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0)


@dataclass(frozen=True)
class TrainConfig:
    """One run as the setup screen describes it.

    ``dataset`` is a catalog name (``dataset_options`` go to ``datasets.load``)
    or ``None`` with ``csv_path`` (and ``csv_target``) for a CSV file.
    ``hidden`` lists the hidden layers as (units, activation); the output
    layer is ``output_units``/``output_activation``. ``patience=None`` means
    no early stopping. ``standardize`` fits a ``datasets.Standardizer`` on the
    training rows only.
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
    epochs: int = 20
    batch_size: int = 32
    validation_split: float = 0.3
    patience: int | None = None
    restore_best_weights: bool = True
    seed: int = 0
    backend: str = "numpy"
    standardize: bool = True

    @property
    def dataset_label(self) -> str:
        if self.dataset is not None:
            return self.dataset
        return self.csv_path or "?"

    @property
    def dataset_shown(self) -> str:
        """The dataset as titles show it: a catalog name, or a CSV file's name without
        its folders."""
        import os

        return self.dataset if self.dataset is not None else os.path.basename(self.csv_path or "?")

    def spec(self, input_dim: int) -> ModelSpec:
        """The ModelSpec for ``input_dim`` features (raises SpecError when invalid)."""
        layers = [Layer(units, activation) for units, activation in self.hidden]
        layers.append(Layer(self.output_units, self.output_activation))
        return ModelSpec(input_dim=input_dim, layers=layers, loss=self.loss,
                         optimizer=self.optimizer, learning_rate=self.learning_rate,
                         metrics=list(self.metrics))

    def fit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.fit`` / ``engine.train``."""
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "validation_split": self.validation_split}

    def describe(self) -> str:
        """One line: dataset, layers, optimizer, learning rate."""
        sizes = "-".join(str(u) for u, _ in self.hidden) or "none"
        return (f"{self.dataset_shown}: hidden {sizes}, {self.optimizer} lr={self.learning_rate:g}, "
                f"{self.loss}, {self.epochs} epochs, batch {self.batch_size}")

    def brief(self) -> str:
        """``describe`` without the loss (the setup screen shows it beside)."""
        sizes = "-".join(str(u) for u, _ in self.hidden) or "none"
        return (f"{self.dataset_shown}: hidden {sizes}, {self.optimizer} lr={self.learning_rate:g},"
                f" {self.epochs} epochs, batch {self.batch_size}")

    def with_changes(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class Preset:
    """A course exercise: a key, a title, what it teaches and its config."""

    key: str
    name: str
    title: str
    blurb: str
    config: TrainConfig


PRESETS: tuple[Preset, ...] = (
    Preset("1", "wages", "Wages regression",
           "Predict hourly wages from 9 facts about a worker (course chapter 3).",
           TrainConfig(dataset="wages", hidden=((50, "relu"), (32, "relu")), output_units=1,
                       output_activation="linear", loss="mse", metrics=("mae",),
                       optimizer="adam", learning_rate=0.01, epochs=30, batch_size=32,
                       validation_split=0.3)),
    Preset("2", "titanic", "Titanic classification",
           "Predict who survived the Titanic (course chapter 3).",
           TrainConfig(dataset="titanic", hidden=((32, "relu"),), output_units=2,
                       output_activation="softmax", loss="categorical_crossentropy",
                       metrics=("accuracy",), optimizer="sgd", learning_rate=0.01, epochs=20,
                       batch_size=32, validation_split=0.3)),
    Preset("3", "mnist", "MNIST digits",
           "Recognise handwritten digits: 2500 images, 30% kept for validation (chapter 4).",
           TrainConfig(dataset="mnist", dataset_options={"n": 2500},
                       hidden=((50, "relu"), (50, "relu")), output_units=10,
                       output_activation="softmax", loss="categorical_crossentropy",
                       metrics=("accuracy",), optimizer="adam", learning_rate=0.001, epochs=10,
                       batch_size=32, validation_split=0.3, standardize=False)),
)

PRESETS_BY_KEY = {p.key: p for p in PRESETS}
PRESETS_BY_NAME = {p.name: p for p in PRESETS}


def output_for(task: str, n_classes: int, loss: str | None = None) -> tuple[int, str, str, tuple[str, ...]]:
    """(units, activation, loss, metrics) of the output layer for a task, with
    ``loss`` overriding the task's usual loss where it fits."""
    if task == "regression":
        loss = loss if loss in REGRESSION_LOSSES else "mse"
        return 1, "linear", loss, ("mae",)
    if loss not in CLASSIFICATION_LOSSES or (loss == "binary_crossentropy" and task != "binary"):
        loss = "categorical_crossentropy"
    if loss == "binary_crossentropy":
        return 1, "sigmoid", loss, ("accuracy",)
    return max(2, n_classes), "softmax", loss, ("accuracy",)


def losses_for(task: str) -> tuple[str, ...]:
    """The losses that make sense for a task."""
    if task == "regression":
        return REGRESSION_LOSSES
    if task == "binary":
        return CLASSIFICATION_LOSSES
    return CLASSIFICATION_LOSSES[:2]
