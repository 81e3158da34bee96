"""The app's course presets and learning-rate picks.

A run is described by ``engine.recipe.RunConfig`` (the one description every front
end uses); the output-layer rule is ``engine.recipe.output_layer``. ``PRESETS`` are
the course's exercises as configs.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.recipe import RunConfig

#: The learning rates offered as quick picks (the course's experiments span 1e-6 to 1).
LEARNING_RATE_PICKS = (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0)


@dataclass(frozen=True)
class Preset:
    """A course exercise: a key, a title, what it teaches and its config."""

    key: str
    name: str
    title: str
    blurb: str
    config: RunConfig


PRESETS: tuple[Preset, ...] = (
    Preset("1", "wages", "Wages regression",
           "Predict hourly wages from 9 facts about a worker (course chapter 3).",
           RunConfig(dataset="wages", hidden=((50, "relu"), (32, "relu")), output_units=1,
                       output_activation="linear", loss="mse", metrics=("mae",),
                       optimizer="adam", learning_rate=0.01, epochs=30, batch_size=32,
                       validation_split=0.3)),
    Preset("2", "titanic", "Titanic classification",
           "Predict who survived the Titanic (course chapter 3).",
           RunConfig(dataset="titanic", hidden=((32, "relu"),), output_units=2,
                     output_activation="softmax", loss="categorical_crossentropy",
                     metrics=("accuracy",), optimizer="sgd", learning_rate=0.01, epochs=20,
                     batch_size=32, validation_split=0.3)),
    Preset("3", "mnist", "MNIST digits",
           "Recognise handwritten digits: 2500 images, 30% kept for validation (chapter 4).",
           RunConfig(dataset="mnist",
                     hidden=((50, "relu"), (50, "relu")), output_units=10,
                       output_activation="softmax", loss="categorical_crossentropy",
                       metrics=("accuracy",), optimizer="adam", learning_rate=0.001, epochs=10,
                       batch_size=32, validation_split=0.3, standardize=False)),
)

PRESETS_BY_KEY = {p.key: p for p in PRESETS}
PRESETS_BY_NAME = {p.name: p for p in PRESETS}
