"""The Dataset and DatasetInfo types, and DatasetError.

A Dataset is what every part of deepterm trains on: ``X`` of shape
``(n_samples, n_features)`` float32, ``y`` of shape ``(n_samples,)`` (float32
for regression, int64 class indices ``0..K-1`` for classification), and the
text that says what the numbers are and where they came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TASKS = ("regression", "binary", "multiclass")

_CLASS_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
_FLOAT_LOSSES = ("mse", "mae", "binary_crossentropy")
_LOSS_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


class DatasetError(ValueError):
    """A dataset cannot be loaded or imported; the message names the file
    (or dataset) and the problem."""


def _choices(values: Sequence[Any]) -> str:
    items = [repr(v) for v in values]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


@dataclass(frozen=True)
class DatasetInfo:
    """One catalog entry, cheap to list (nothing is loaded).

    ``rows`` and ``features`` are those of ``load(name)`` with its default options.
    """

    name: str
    description: str
    task: str
    rows: int
    features: int
    kind: str = "course"                       # "course" | "synthetic"
    options: dict[str, Any] = field(default_factory=dict)   # load()'s options and defaults
    source: str = ""
    licence: str = ""


class Dataset:
    """Features, target and the words that describe them.

    Attributes:
        X: (n_samples, n_features) float32.
        y: (n_samples,) float32 for regression; int64 class indices 0..K-1 otherwise.
        task: "regression" | "binary" | "multiclass".
        feature_names: n_features names; target_name: the target column's name.
        class_names: K names (class index i is ``class_names[i]``); empty for regression.
        image_shape: (28, 28) for images (mnist), else None.
        X_predict: rows without targets offered for prediction (or None).
        notes: what import did to the data (dropped columns, filled values...).
        encoding: how a CSV file's columns became the features
            (``datasets.encoding.FeatureEncoding``), so new rows can be read the same
            way; None for the catalog's datasets, whose features are their columns.
    """

    def __init__(self, *, name: str, X: Any, y: Any, task: str,
                 feature_names: Sequence[str], target_name: str,
                 class_names: Sequence[str] = (), description: str = "", source: str = "",
                 licence: str = "", image_shape: tuple[int, int] | None = None,
                 X_predict: Any = None, notes: Sequence[str] = (),
                 frame_factory: Callable[[], Any] | None = None, encoding: Any = None):
        if task not in TASKS:
            raise DatasetError(f"dataset {name!r}: task must be {_choices(TASKS)}, got {task!r}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise DatasetError(f"dataset {name!r}: X must be 2-D, got shape {X.shape}")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise DatasetError(f"dataset {name!r}: y must have shape ({len(X)},), got {y.shape}")
        if len(feature_names) != X.shape[1]:
            raise DatasetError(f"dataset {name!r}: {len(feature_names)} feature names for "
                               f"{X.shape[1]} features")
        if task == "regression":
            y = y.astype(np.float32)
            class_names = ()
        else:
            y = y.astype(np.int64)
            k = len(class_names)
            if k < 2 or (task == "binary" and k != 2):
                raise DatasetError(f"dataset {name!r}: task {task!r} with {k} class names")
            if len(y) and (y.min() < 0 or y.max() >= k):
                raise DatasetError(f"dataset {name!r}: class indices must be in 0..{k - 1}")
        self.name = name
        self.X = X
        self.y = y
        self.task = task
        self.feature_names = [str(f) for f in feature_names]
        self.target_name = str(target_name)
        self.class_names = [str(c) for c in class_names]
        self.description = description
        self.source = source
        self.licence = licence
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.X_predict = None if X_predict is None else np.asarray(X_predict, dtype=np.float32)
        self.notes = list(notes)
        self._frame_factory = frame_factory
        self._frame = None
        self.encoding = encoding

    # ----------------------------------------------------------------- shape
    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        """K for classification, 0 for regression."""
        return len(self.class_names)

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        extra = f", classes={self.n_classes}" if self.n_classes else ""
        return (f"Dataset({self.name!r}, task={self.task!r}, X={self.X.shape}, "
                f"target={self.target_name!r}{extra})")

    # --------------------------------------------------------------- views
    @property
    def frame(self):
        """A pandas DataFrame of the features and the target (last column), for
        previews. Classification targets show their class names."""
        if self._frame is None:
            if self._frame_factory is not None:
                self._frame = self._frame_factory()
            else:
                self._frame = self._default_frame()
        return self._frame

    def _default_frame(self):
        import pandas as pd

        cols: dict[str, Any] = {}
        for j, fname in enumerate(self.feature_names):
            col = self.X[:, j]
            if np.all(np.isfinite(col)) and np.all(col == np.round(col)):
                cols[fname] = col.astype(np.int64)
            else:
                cols[fname] = col.astype(np.float64)
        cols[self.target_name] = self.target_values()
        return pd.DataFrame(cols)

    def target_values(self) -> np.ndarray:
        """The target as people read it: class names, or the regression values."""
        if self.task == "regression":
            return self.y.astype(np.float64)
        return np.asarray(self.class_names, dtype=object)[self.y]

    @property
    def standardize_by_default(self) -> bool:
        """Whether features should be standardized unless the learner says otherwise:
        not for images, whose pixels are already scaled to [0, 1] (the course trains
        MNIST as it is); yes for everything else, whose columns come on different
        scales (a CSV of 0-255 pixels included: it has no ``image_shape``)."""
        return self.image_shape is None

    def class_balance(self) -> dict[str, int]:
        """Class name -> number of rows, in class-index order ({} for regression)."""
        if self.task == "regression":
            return {}
        counts = np.bincount(self.y, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def targets_for(self, loss: str) -> np.ndarray:
        """y in the form the engine's loss needs.

        categorical_crossentropy: one-hot float32 (n, K); sparse_categorical_crossentropy:
        int64 labels (n,); mse / mae / binary_crossentropy: float32 (n,).
        """
        loss = _LOSS_ALIASES.get(loss, loss)
        if loss in _CLASS_LOSSES:
            if self.task == "regression":
                raise DatasetError(
                    f"dataset {self.name!r} is a regression task: loss {loss!r} needs classes; "
                    f"use 'mse' or 'mae'")
            if loss == "sparse_categorical_crossentropy":
                return self.y.copy()
            return np.eye(self.n_classes, dtype=np.float32)[self.y]
        if loss in _FLOAT_LOSSES:
            if loss == "binary_crossentropy" and self.task == "multiclass":
                raise DatasetError(
                    f"dataset {self.name!r} has {self.n_classes} classes: loss "
                    f"'binary_crossentropy' needs two; use 'categorical_crossentropy'")
            return self.y.astype(np.float32)
        raise DatasetError(f"loss must be {_choices(_FLOAT_LOSSES + _CLASS_LOSSES)}, got {loss!r}")

    def images(self) -> np.ndarray:
        """X reshaped to (n, *image_shape) for image datasets."""
        if self.image_shape is None:
            raise DatasetError(f"dataset {self.name!r} holds no images")
        return self.X.reshape((self.n_samples, *self.image_shape))
