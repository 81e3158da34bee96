"""Without TensorFlow (missing, or failing to import) the NumPy backend keeps
working and the Keras backend says what to do. Runs in a subprocess that
hides tensorflow and keras with a meta-path finder, so no TensorFlow loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = r'''
import json, sys
import numpy as np

class Hide:
    def __init__(self, error): self.error = error
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise self.error(f"hidden for this test: {name}")
        return None

sys.meta_path.insert(0, Hide(ImportError if sys.argv[1] == "missing" else RuntimeError))
import engine
from engine import BackendUnavailable, Layer, ModelSpec, build
import engine.keras_backend  # importable without TensorFlow

spec = ModelSpec(input_dim=2, layers=[Layer(4, "relu"), Layer(1)], loss="mse",
                 optimizer="sgd", learning_rate=0.05)
rng = np.random.default_rng(0)
X = rng.normal(size=(20, 2)); y = X[:, 0] - X[:, 1]
h = build(spec, backend="numpy", seed=0).fit(X, y, epochs=5, batch_size=20, shuffle=False)
out = {"numpy_loss": h.history["loss"], "errors": []}
for call in (lambda: build(spec, backend="keras", seed=0), engine.devices):
    try:
        call()
        out["errors"].append(None)
    except BackendUnavailable as exc:
        out["errors"].append(str(exc))
out["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps(out))
'''


@pytest.mark.parametrize("how,says", [("missing", "not installed"),
                                      ("broken", "failed to import")])
def test_numpy_trains_and_keras_explains_when_tensorflow_cannot_import(how, says):
    run = subprocess.run([sys.executable, "-c", PROBE, how], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    losses = out["numpy_loss"]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert out["loaded"] == []
    for message in out["errors"]:
        assert message is not None
        assert says in message
        assert "pip install" in message and "backend='numpy'" in message
