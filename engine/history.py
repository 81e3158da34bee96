"""The record of one ``fit`` call."""

from __future__ import annotations

import math
from typing import Any


class History:
    """Per-epoch metrics under Keras' key names, plus how training ended.

    ``history["loss"]`` etc. are lists with one float per completed epoch;
    ``epoch`` lists the epoch indices; ``stop_reason`` is one of completed,
    early_stopped, stopped, diverged; ``stopped_epoch`` is the epoch in which
    training stopped early (None when it completed).
    """

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = dict(params or {})
        self.stop_reason: str = "completed"
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        self.device: str | None = None
        self.duration_s: float = 0.0

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __len__(self) -> int:
        return len(self.epoch)

    def best(self, monitor: str = "val_loss") -> tuple[int, float] | None:
        """(epoch, value) of the best value of ``monitor`` (max for accuracy)."""
        values = self.history.get(monitor)
        if not values:
            return None
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            return None
        pick = max if monitor.endswith(("acc", "accuracy", "auc")) else min
        value, i = pick(finite)
        return self.epoch[i], value

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
            "params": dict(self.params),
            "stop_reason": self.stop_reason,
            "stopped_epoch": self.stopped_epoch,
            "best_epoch": self.best_epoch,
            "device": self.device,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        h = cls(data.get("params"))
        h.history = {k: [float(x) for x in v] for k, v in data.get("history", {}).items()}
        h.epoch = [int(e) for e in data.get("epoch", [])]
        h.stop_reason = data.get("stop_reason", "completed")
        h.stopped_epoch = data.get("stopped_epoch")
        h.best_epoch = data.get("best_epoch")
        h.device = data.get("device")
        h.duration_s = float(data.get("duration_s", 0.0))
        return h

    def __repr__(self) -> str:
        return (f"History(epochs={len(self)}, stop_reason={self.stop_reason!r}, "
                f"keys={list(self.history)})")
