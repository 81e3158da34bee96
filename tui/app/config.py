"""The app's course presets and learning-rate picks.

A run is described by ``engine.recipe.RunConfig`` (the one description every front
end uses); the output-layer rule is ``engine.recipe.output_layer``. ``PRESETS`` are
the course's exercises as configs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from engine.recipe import RunConfig

#: The learning rates offered as quick picks (the course's experiments span 1e-6 to 1).
LEARNING_RATE_PICKS = (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0)

#: The paces a run can train at, in epochs per second (None: as fast as possible); the
#: training screen's - and + keys step through them.
PACES: tuple[float | None, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, None)
#: The pace a run starts at: ten epochs a second, so that a course run's curves grow
#: before the learner's eyes (Titanic's 20 epochs over 2 s instead of 0.03 s) and a
#: Playground run's boundary moves smoothly; + goes faster, up to as fast as possible.
DEFAULT_PACE = 10.0
#: Set to a number of epochs per second, or "max", to start runs at another pace.
PACE_ENV = "DEEPTERM_PACE"


def default_pace() -> float | None:
    """The pace runs start at: $DEEPTERM_PACE ("max", or epochs per second > 0) when it
    is set to one, else DEFAULT_PACE."""
    text = os.environ.get(PACE_ENV, "").strip().lower()
    if text in ("max", "none", "fast", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_PACE
    return value if math.isfinite(value) and value > 0 else DEFAULT_PACE


def pace_words(pace: float | None) -> str:
    return "full speed" if pace is None else f"{pace:g} epochs/s"


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
    Preset("4", "mnist-cnn", "MNIST CNN",
           "The course's next step: a small convolutional network on the same 2500 digits; "
           "see its filters and feature maps in the results.",
           RunConfig(dataset="mnist",
                     conv=(("conv", 16, 3, 1, "valid", "relu"), ("pool", 2),
                           ("conv", 32, 3, 1, "valid", "relu"), ("pool", 2)),
                     hidden=((64, "relu"),), output_units=10, output_activation="softmax",
                     loss="categorical_crossentropy", metrics=("accuracy",), optimizer="adam",
                     learning_rate=0.001, epochs=10, batch_size=32, validation_split=0.3,
                     standardize=False)),
)

PRESETS_BY_KEY = {p.key: p for p in PRESETS}
PRESETS_BY_NAME = {p.name: p for p in PRESETS}
