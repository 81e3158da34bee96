"""Predictions on new rows: a CSV file's rows, read and prepared as the model's
training data was, then ``model.predict``.

    from engine.predict import predict_csv, model_of_run
    table = predict_csv(model, "titanic_pred.csv")   # a model trained here (run.model)
    table.outputs            # (n_rows, units): model.predict on the prepared rows
    table.to_csv()           # p_<class>... and predicted, one row per input row
    model = model_of_run(store.get(run_id, weights=True))   # a stored run, with its weights

What a model needs to know for this travels in its ``metadata`` (kept in its file) and
in a stored run's record:

- ``metadata["features"]``: the columns its features came from and how they were
  encoded (``datasets.FeatureEncoding``: the CSV import's one-hot encoding and the
  means it filled in; for a catalog dataset, its feature names);
- ``metadata["target"]``: the target's name, the task and the class names;
- ``metadata["preprocessing"]``: the Standardizer fitted on the training rows, when
  the features were standardized.

The file's columns are matched to the training columns by name, or by position when
they carry no names of their own (``datasets.encoding`` states the rule). Every
problem is one ValueError: ``PredictError`` (the file does not fit the model,
``datasets.DatasetError`` included) or ``MissingWeights`` (a stored run kept no weights).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import FitError


class PredictError(FitError):
    """Rows cannot be predicted with this model: the file does not fit it, or the model
    does not record what it was trained on."""


class MissingWeights(FitError):
    """A stored run kept no weights, so it cannot predict or be exported."""


def model_metadata(dataset: Any) -> dict[str, Any]:
    """The metadata a model trained on ``dataset`` carries so that new rows can be
    prepared for it: ``features`` (the columns' encoding) and ``target``."""
    from datasets import FeatureEncoding

    encoding = FeatureEncoding.of(dataset)
    return {"features": encoding.to_dict(), "target": target_info(dataset)}


def target_info(dataset: Any) -> dict[str, Any]:
    """{"name", "task", "classes"} of a dataset (a Dataset or a run's dataset record)."""
    get = dataset.get if isinstance(dataset, dict) else (lambda k, d=None: getattr(dataset, k, d))
    classes = get("class_names") or []
    return {"name": get("target_name"), "task": get("task"), "classes": [str(c) for c in classes]}


# -- a stored run's model -------------------------------------------------------------------


def model_of_run(run: Any, backend: str = "numpy") -> Any:
    """The trained model of a stored run read with its weights
    (``store.get(id, weights=True)``), with the metadata that prepares new rows for it.

    The NumPy backend by default, whatever the run trained on: it predicts the same
    numbers (to float32 rounding) without loading TensorFlow. A run that kept no
    weights raises MissingWeights."""
    from . import build

    if run.weights is None:
        raise MissingWeights(
            f"run {run.id} kept no weights, so it cannot predict or be exported: train it with "
            f"`deepterm train ... --save-weights` (runs trained in the app keep theirs)")
    model = build(run.spec, backend=backend)
    model.set_weights(run.weights)
    model.metadata.update(run_metadata(run))
    return model


def run_metadata(run: Any) -> dict[str, Any]:
    """A stored run's ``features``, ``target`` and ``preprocessing``, from its record.

    Runs recorded before these were kept: the encoding is the run's feature names, and a
    standardized run's Standardizer is fitted again from its recipe (its data loaded and
    cut as it trained; a CSV file that changed since is refused)."""
    from datasets import FeatureEncoding

    info = dict(run.dataset or {})
    fit = dict(run.fit or {})
    meta: dict[str, Any] = {"target": target_info(info)}
    if info.get("encoding"):
        meta["features"] = info["encoding"]
    elif info.get("features"):
        meta["features"] = FeatureEncoding.identity(info["features"],
                                                    info.get("target_name")).to_dict()
    if fit.get("preprocessing"):
        meta["preprocessing"] = fit["preprocessing"]
    elif fit.get("standardize") or (info.get("options") or {}).get("standardize"):
        meta.update(_rebuilt(run))
    return meta


def _rebuilt(run: Any) -> dict[str, Any]:
    """The preprocessing (and the encoding) of a run recorded without them, from its
    recipe: prepared again as it trained."""
    from .recipe import check_repeatable, config_of, prepare

    config = config_of(run)
    check_repeatable(run, config)
    data = prepare(config)
    check_repeatable(run, config, data)
    meta = model_metadata(data.dataset)
    if data.preprocessing is not None:
        meta["preprocessing"] = data.preprocessing
    return meta


# -- new rows ------------------------------------------------------------------------------


def rows_for(model: Any, path: str | os.PathLike) -> tuple[Any, list[str]]:
    """``(X, notes)``: the CSV file's rows as ``model`` takes them (encoded as its
    training data was, then standardized with its training statistics)."""
    import numpy as np

    from datasets import DatasetError, FeatureEncoding, Standardizer

    meta = getattr(model, "metadata", None) or {}
    recorded = meta.get("features")
    if not recorded:
        raise PredictError(f"this model does not record the columns it was trained on, so "
                           f"{os.fspath(path)} cannot be matched to them")
    try:
        encoding = FeatureEncoding.from_dict(recorded)
        X, notes = encoding.read_csv(path)
    except DatasetError as exc:
        raise PredictError(str(exc)) from None
    n_in = model.spec.input_dim
    if X.shape[1] != n_in:
        raise PredictError(f"{os.fspath(path)}: its columns make {X.shape[1]} features, but the "
                           f"model takes {n_in}")
    if len(X) == 0:
        raise PredictError(f"{os.fspath(path)}: no rows to predict")
    if meta.get("preprocessing"):
        try:
            X = Standardizer.from_dict(meta["preprocessing"]).transform(X)
        except DatasetError as exc:
            raise PredictError(f"the model's recorded standardization does not fit: {exc}") \
                from None
    return np.asarray(X, dtype=np.float32), notes


@dataclass
class PredictionTable:
    """One row per input row: the model's outputs and what they say."""

    outputs: Any                 # (n_rows, units) model.predict's outputs
    task: str                    # regression, binary or multiclass
    classes: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def probabilities(self) -> Any:
        """(n_rows, K) class probabilities (classification); a single sigmoid unit
        gives [1 - p, p]."""
        import numpy as np

        out = np.asarray(self.outputs, dtype=np.float64)
        if out.shape[1] == 1:
            return np.column_stack([1 - out[:, 0], out[:, 0]])
        return out

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def header(self) -> list[str]:
        if not self.is_classification:
            return ["predicted"]
        return [f"p_{c}" for c in self.class_names] + ["predicted"]

    @property
    def class_names(self) -> list[str]:
        k = self.probabilities.shape[1]
        return list(self.classes) if len(self.classes) == k else [str(i) for i in range(k)]

    def rows(self) -> list[list[str]]:
        """The table's cells as text: numbers with 9 significant digits (a float32
        reads back exactly), the predicted class by name."""
        if not self.is_classification:
            return [[f"{float(v):.9g}"] for v in self.outputs[:, 0]]
        probs = self.probabilities
        names = self.class_names
        return [[f"{float(p):.9g}" for p in row] + [names[int(row.argmax())]] for row in probs]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows())
        return buffer.getvalue()


def predict_csv(model: Any, path: str | os.PathLike) -> PredictionTable:
    """``model``'s predictions on a CSV file's rows (see ``rows_for``)."""
    import numpy as np

    X, notes = rows_for(model, path)
    outputs = np.asarray(model.predict(X))
    if outputs.ndim == 1:
        outputs = outputs[:, None]
    target = (getattr(model, "metadata", None) or {}).get("target") or {}
    task = target.get("task") or ("regression" if model.spec.loss in ("mse", "mae") else "multiclass")
    return PredictionTable(outputs, task, list(target.get("classes") or []), notes)


__all__ = ["MissingWeights", "PredictError", "PredictionTable", "model_metadata", "model_of_run",
           "predict_csv", "rows_for", "run_metadata"]
