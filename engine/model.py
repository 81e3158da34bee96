"""The one contract both backends keep: ``build()`` returns a ``Model``.

A Model trains and answers for one ``ModelSpec``: ``fit`` (Keras' arguments and
callbacks, a ``History`` back), ``predict``, ``evaluate``, ``get_weights`` /
``set_weights`` (Keras' layout), ``gradients``, ``save``; it can be asked to stop
after the current batch from any thread (``request_stop``), says where it trains
(``device``), how many parameters it has (``count_params``), and carries
``metadata`` that its file keeps (preprocessing, the dataset). The runner, the app,
the command line and the results screens see only this.
"""

from __future__ import annotations

import abc
import os
from typing import Any

from .callbacks import StopSignal
from .history import History
from .spec import ModelSpec


class Model(abc.ABC):
    """What every backend's model is (``NumpyModel``, ``KerasModel``)."""

    #: "numpy" or "keras"
    backend: str = ""

    def _init_model(self, spec: ModelSpec, seed: int | None) -> None:
        """The state every model has: its spec, seed, stop signal, history, metadata."""
        import numpy as np

        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._stop = StopSignal()
        self.history: History | None = None
        #: kept in the model's file: preprocessing, the dataset it trained on...
        self.metadata: dict[str, Any] = {}
        #: where it trains: "CPU", or the GPU's name
        self.device: str = "CPU"

    # -- what every backend implements -------------------------------------------------

    @abc.abstractmethod
    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32, validation_split=0.0,
            validation_data=None, shuffle: bool = True, callbacks=None, verbose=0) -> History:
        """Train; ``X: (n_samples, input_dim)``, ``y`` as the loss needs it."""

    @abc.abstractmethod
    def predict(self, X, batch_size: int | None = None):
        """``(n_samples, output_units)`` outputs for ``X: (n_samples, input_dim)``."""

    @abc.abstractmethod
    def evaluate(self, X, y) -> dict[str, float]:
        """The loss and metrics on ``(X, y)``, averaged over the rows."""

    @abc.abstractmethod
    def get_weights(self) -> list:
        """Keras' layout: per layer the kernel ``(n_in, n_out)``, then the bias ``(n_out,)``."""

    @abc.abstractmethod
    def set_weights(self, weights) -> None:
        """Load weights in ``get_weights``' layout."""

    @abc.abstractmethod
    def gradients(self, X, y) -> list:
        """d loss / d weight in ``get_weights``' layout, the loss averaged over the rows."""

    @abc.abstractmethod
    def save(self, path: str | os.PathLike) -> None:
        """Write the spec, weights, optimizer state and metadata to one file."""

    # -- shared by every backend -----------------------------------------------------------

    def count_params(self) -> int:
        return self.spec.count_params()

    @property
    def stop_training(self) -> bool:
        return self._stop.is_set()

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        if value:
            self._stop.request("stopped")
        else:
            self._stop.clear()

    def request_stop(self, reason: str = "stopped") -> None:
        """Stop after the current batch; safe to call from any thread."""
        self._stop.request(reason)
