"""Shared pieces of the Keras backend tests: tiny seeded data, specs and a
callback that records every event it sees."""

from __future__ import annotations

import numpy as np

from engine import Callback, Layer, ModelSpec

#: the output activation each loss is tested with
OUTPUT = {"mse": "linear", "mae": "linear", "binary_crossentropy": "sigmoid",
          "categorical_crossentropy": "softmax", "sparse_categorical_crossentropy": "softmax"}


def data(loss: str, n: int = 24, d: int = 4, seed: int = 0):
    """X: (n, d) and y in the form ``loss`` takes (3 classes for the categorical losses)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    score = X @ rng.normal(size=d)
    if loss in ("mse", "mae"):
        return X, score + 0.1 * rng.normal(size=n)
    if loss == "binary_crossentropy":
        return X, (score > 0).astype(float)
    labels = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    if loss == "sparse_categorical_crossentropy":
        return X, labels
    return X, np.eye(3)[labels]


def spec_for(loss: str, optimizer: str = "adam", learning_rate: float | None = 0.05,
             metrics=(), hidden=(5, "tanh"), d: int = 4, **extra) -> ModelSpec:
    units = 1 if loss in ("mse", "mae", "binary_crossentropy") else 3
    layers = [Layer(*hidden)] if hidden else []
    return ModelSpec(input_dim=d, layers=[*layers, Layer(units, OUTPUT[loss])], loss=loss,
                     optimizer=optimizer, learning_rate=learning_rate, metrics=list(metrics),
                     **extra)


def max_diff(a, b) -> float:
    return max(float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max())
               for x, y in zip(a, b, strict=True))


class Recorder(Callback):
    """Records (event, index, logs) for every hook, and the weights at each epoch end
    (every batch on the NumPy backend's compiled path too: engine.callbacks.Callback)."""

    batch_interval_s = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple] = []
        self.weights: list[list[np.ndarray]] = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", None, dict(logs or {})))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch, dict(logs or {})))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, dict(logs or {})))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs or {})))
        self.weights.append(self.model.get_weights())

    def on_train_end(self, logs=None):
        self.events.append(("train_end", None, dict(logs or {})))

    def shape(self) -> list[tuple]:
        """The events without the numbers: (event, index, log keys in order)."""
        return [(name, i, list(logs)) for name, i, logs in self.events]


class StopAt(Callback):
    """Requests a stop at (epoch, batch) from inside on_batch_end."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.stop_training = True
