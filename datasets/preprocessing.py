"""Preprocessing that trains well and predicts honestly.

``Standardizer`` rescales each feature to mean 0 and standard deviation 1 using
statistics of the training rows only (never the validation rows), and travels
with the model: put ``to_dict()`` into ``model.metadata["preprocessing"]``
(NumpyModel saves ``metadata`` in its file) and rebuild it with ``from_dict`` to
transform new rows the same way before ``predict``.

    std = Standardizer().fit(X[:training_rows(len(X), 0.3)])
    model.metadata["preprocessing"] = std.to_dict()
    model.fit(std.transform(X), y, validation_split=0.3)
    ...
    Standardizer.from_dict(model.metadata["preprocessing"]).transform(X_new)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core import Dataset, DatasetError

KIND = "standardize"


def training_rows(n: int, validation_split: float) -> int:
    """How many leading rows train under ``validation_split`` (Keras' rule, as the
    engine's fit applies it: the last fraction of the rows validates)."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, int | float) \
            or not 0.0 <= validation_split < 1.0:
        raise DatasetError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    return int(math.floor(n * (1.0 - validation_split)))


class Standardizer:
    """Per-feature ``(x - mean) / scale``; a feature that is constant in the
    training rows gets scale 1 (it is only centred)."""

    def __init__(self, feature_names: Sequence[str] | None = None):
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None

    def fit(self, X_train: Any) -> Standardizer:
        """Learn mean and scale from X_train: (n_train, n_features), training rows only."""
        X = _matrix(X_train, "X_train")
        if len(X) == 0:
            raise DatasetError("Standardizer.fit needs at least one training row")
        X = X.astype(np.float64)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        if self.feature_names is not None and len(self.feature_names) != X.shape[1]:
            raise DatasetError(f"Standardizer has {len(self.feature_names)} feature names but "
                               f"X_train has {X.shape[1]} columns")
        return self

    def transform(self, X: Any) -> np.ndarray:
        """X: (n, n_features) -> standardized float32 (n, n_features)."""
        if not self.fitted:
            raise DatasetError("Standardizer.transform before fit: call fit(X_train) first")
        X = _matrix(X, "X")
        if X.shape[1] != len(self.mean_):
            raise DatasetError(f"X has {X.shape[1]} features, but the Standardizer was fitted "
                               f"on {len(self.mean_)}")
        return ((X.astype(np.float64) - self.mean_) / self.scale_).astype(np.float32)

    def fit_transform(self, X_train: Any) -> np.ndarray:
        return self.fit(X_train).transform(X_train)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        if not self.fitted:
            raise DatasetError("Standardizer.inverse_transform before fit")
        Z = _matrix(Z, "Z")
        return (Z.astype(np.float64) * self.scale_ + self.mean_).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"kind": "standardize", "mean": [...], "scale": [...], ...}."""
        if not self.fitted:
            raise DatasetError("Standardizer.to_dict before fit")
        return {"kind": KIND, "mean": [float(v) for v in self.mean_],
                "scale": [float(v) for v in self.scale_],
                "feature_names": self.feature_names}

    @classmethod
    def from_dict(cls, d: Any) -> Standardizer:
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise DatasetError(f"not a saved Standardizer (expected a dict with kind {KIND!r}), "
                               f"got {d!r:.80}")
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"saved Standardizer is damaged: {exc}") from None
        if mean.ndim != 1 or mean.shape != scale.shape or not np.all(np.isfinite(mean)) \
                or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise DatasetError("saved Standardizer is damaged: mean and scale must be equal-length "
                               "lists of finite numbers, scale > 0")
        s = cls(d.get("feature_names"))
        s.mean_, s.scale_ = mean, scale
        return s


def _matrix(X: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{name} must be a 2-D array of numbers: {exc}") from None
    if arr.ndim != 2:
        raise DatasetError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DatasetError(f"{name} holds NaN or infinity")
    return arr


def suggest_output(ds: Dataset) -> tuple[int, str, str, list[str]]:
    """The output layer and loss for the dataset's task, as the course builds them:
    regression -> (1, "linear", "mse", ["mae"]); binary -> (2, "softmax",
    "categorical_crossentropy", ["accuracy"]) like the course's Titanic model;
    multiclass -> (K, "softmax", "categorical_crossentropy", ["accuracy"])."""
    if ds.task == "regression":
        return 1, "linear", "mse", ["mae"]
    return ds.n_classes, "softmax", "categorical_crossentropy", ["accuracy"]


def prepare(ds: Dataset, loss: str, validation_split: float = 0.0,
            standardize: bool = False) -> tuple[np.ndarray, np.ndarray, Standardizer | None]:
    """``(X, y, standardizer)`` ready for ``model.fit(X, y, validation_split=...)``.

    y comes in the form ``loss`` needs; with ``standardize`` the Standardizer is fitted
    on the training rows only (the leading rows that ``validation_split`` leaves)."""
    y = ds.targets_for(loss)
    if not standardize:
        return ds.X, y, None
    n_train = training_rows(ds.n_samples, validation_split)
    if n_train == 0:
        raise DatasetError(f"validation_split={validation_split} leaves no training rows")
    std = Standardizer(ds.feature_names).fit(ds.X[:n_train])
    return std.transform(ds.X), y, std
