"""Messages that the training thread and the backend loader post to the UI.

Small dataclass messages in the style of toolong. ``EpochEnded`` is never
replaced: every epoch must reach the chart. ``BatchProgress`` may be replaced
by a newer one still waiting in the queue, so a slow UI never falls behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class TrainingStarted(Message):
    """fit() began: ``params`` are the callback params (epochs, steps, samples...)."""

    params: dict[str, Any]
    device: str | None = None


@dataclass
class BatchProgress(Message):
    """Where training is inside an epoch (coalesced: at most a few per second)."""

    epoch: int
    batch: int
    steps: int
    logs: dict[str, float]
    samples_per_s: float
    elapsed_s: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BatchProgress)


@dataclass
class EpochEnded(Message):
    """A finished epoch with its logs (loss, val_loss, accuracy...), and ``earlier``:
    the epochs that finished since the previous message, oldest first, as
    ``(epoch, logs)`` (fast epochs are reported a few times a second, not each one)."""

    epoch: int
    logs: dict[str, float]
    elapsed_s: float
    samples_per_s: float
    earlier: list[tuple[int, dict[str, float]]] = field(default_factory=list)


@dataclass
class WeightsReported(Message):
    """The model's weights while it trains (Keras' layout), after ``epochs_done`` epochs
    and ``batch`` batches of the next (None: at an epoch's end). A newer one replaces
    one still waiting: only the latest is drawn."""

    epochs_done: int
    batch: int | None
    weights: list

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WeightsReported)


@dataclass
class TrainingPaused(Message):
    """The training thread stopped at a batch boundary (paused=True) or went on."""

    paused: bool


@dataclass
class TrainingFinished(Message):
    """fit() returned: the History and the trained model."""

    history: Any
    model: Any
    elapsed_s: float
    samples_per_s: float


@dataclass
class BackendReady(Message):
    """TensorFlow loaded: ``devices`` as engine.devices() lists them."""

    devices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BackendFailed(Message):
    """TensorFlow could not be loaded; ``reason`` says why."""

    reason: str


#: What the training callback's events become on the UI side (``UICallback.send``).
EVENTS = {"started": TrainingStarted, "batch": BatchProgress, "epochs": EpochEnded,
          "weights": WeightsReported, "paused": TrainingPaused}


def message_for(kind: str, *args: Any) -> Message:
    """The message for one event of the training callback, e.g. ("paused", True)."""
    return EVENTS[kind](*args)
