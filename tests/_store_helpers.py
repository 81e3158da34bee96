"""Small data and specs shared by the run-store, CLI and Runs-screen tests."""

from __future__ import annotations

import numpy as np

from engine import Layer, ModelSpec


class TinyDataset:
    """A stand-in with the catalog Dataset's attributes: 40 rows of XOR-like points."""

    def __init__(self, n: int = 40, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.X = rng.normal(size=(n, 2)).astype(np.float32)
        self.y = (self.X[:, 0] * self.X[:, 1] > 0).astype(np.int64)
        self.task = "binary"
        self.name = "tiny"
        self.feature_names = ["x1", "x2"]
        self.target_name = "label"
        self.class_names = ["0", "1"]
        self.n_classes = 2

    def targets_for(self, loss: str):
        return self.y.astype(np.float32)


def tiny_spec(units=(6,), lr=0.05, optimizer="adam") -> ModelSpec:
    layers = [Layer(u, "relu") for u in units] + [Layer(1, "sigmoid")]
    return ModelSpec(input_dim=2, layers=layers, loss="binary_crossentropy",
                     optimizer=optimizer, learning_rate=lr, metrics=["accuracy"])
