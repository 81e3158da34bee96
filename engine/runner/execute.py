"""What an executor does with a run, wherever it runs: build the model from the
given initial weights and fit it with the run's callbacks and a reporter."""

from __future__ import annotations

from typing import Any

from ..callbacks import Callback


def build_model(config: Any, data: Any, weights=None):
    """The run's model, with ``weights`` loaded when given, and the metadata that
    results, model files and the run store read (preprocessing, dataset)."""
    from .. import build

    options = {"device": config.device} if config.backend == "keras" and config.device else {}
    model = build(data.spec, backend=config.backend, seed=config.seed, **options)
    if weights is not None:
        model.set_weights(weights)
    if data.preprocessing is not None:
        model.metadata["preprocessing"] = data.preprocessing
    model.metadata["dataset"] = config.dataset_label
    if data.dataset is not None:    # the features' columns and the target: predict on new rows
        from ..predict import model_metadata

        model.metadata.update(model_metadata(data.dataset))
    return model


def execute(config: Any, data: Any, reporter: Callback | None, weights=None,
            extra: list[Callback] | None = None):
    """Build and fit; returns (model, history). Runs on the training thread, in a
    child process or on a Dask worker: for the Keras backend this is where
    TensorFlow is imported if it was not yet. ``extra`` callbacks (a library
    caller's own, in the calling thread only) come after the run's own and the
    reporter."""
    model = build_model(config, data, weights)
    callbacks = list(config.callbacks())
    if reporter is not None:    # before the caller's own: an epoch is kept before it is shown
        callbacks.append(reporter)
    callbacks += list(extra or [])
    history = model.fit(data.X, data.y, callbacks=callbacks, **config.fit_kwargs())
    return model, history


def initial_weights(spec: Any, seed: int | None) -> list:
    """The seeded initial weights of ``spec``: NumPy builds Keras' too (one recipe for
    both backends), so every executor starts a run from the same numbers."""
    from .. import build

    return build(spec, backend="numpy", seed=seed).get_weights()
