"""Does the Keras backend train on the GPU, and how fast against NumPy on the CPU?

    python bench/gpu_check.py

Trains the MNIST course preset (784-50-50-10, relu, softmax, adam, 2500 rows,
validation_split 0.3) and a 784-512-512-10 network on 20,000 synthetic rows,
each with the Keras backend on its default device (the GPU when there is one)
and with the NumPy backend on the CPU, and prints ms per epoch side by side.
The first Keras epoch (tracing, XLA compilation) is reported apart. Exits 1
when the Keras backend did not train on a GPU, 2 when TensorFlow is
unavailable. Needs nothing but the installed project; about a minute on a GPU.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import BackendUnavailable, Callback, Layer, ModelSpec, build, devices  # noqa: E402


class EpochClock(Callback):
    """Wall time of each epoch."""

    def on_train_begin(self, logs=None):
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def mnist_rows(n: int = 2500):
    """The course's MNIST sample when the datasets package has it, else
    MNIST-shaped synthetic rows (784 pixels in [0, 1], 10 classes)."""
    try:
        from datasets import load

        ds = load("mnist", n=n)
        return np.asarray(ds.X, np.float32), np.eye(10, dtype=np.float32)[ds.y], "course MNIST"
    except Exception:
        return (*synthetic(n, seed=1), "synthetic MNIST-shaped")


def synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32)
    labels = (X @ rng.normal(size=(784, 10)).astype(np.float32)).argmax(axis=1)
    return X, np.eye(10, dtype=np.float32)[labels]


def timed(spec, backend, X, y, epochs, batch_size, validation_split):
    model = build(spec, backend=backend, seed=0)
    clock = EpochClock()
    history = model.fit(X, y, epochs=epochs, batch_size=batch_size,
                        validation_split=validation_split, callbacks=[clock])
    steady = clock.times[1:] or clock.times
    return model, history, 1000 * clock.times[0], 1000 * float(np.median(steady))


def main() -> int:
    started = time.perf_counter()
    try:
        found = devices()
    except BackendUnavailable as exc:
        print(f"TensorFlow unavailable: {exc}")
        return 2
    print("devices:", "; ".join(d["label"] for d in found))
    Xm, ym, source = mnist_rows()
    Xs, ys = synthetic(20_000)
    workloads = [
        (f"MNIST preset 784-50-50-10, {source}, 2500 rows, val 0.3, batch 32",
         ModelSpec(input_dim=784, layers=[Layer(50, "relu"), Layer(50, "relu"),
                                          Layer(10, "softmax")],
                   loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"]),
         Xm, ym, 5, 32, 0.3),
        ("784-512-512-10, 20,000 synthetic rows, batch 128",
         ModelSpec(input_dim=784, layers=[Layer(512, "relu"), Layer(512, "relu"),
                                          Layer(10, "softmax")],
                   loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"]),
         Xs, ys, 4, 128, 0.0),
    ]
    keras_devices = set()
    for title, spec, X, y, epochs, batch, split in workloads:
        km, kh, kfirst, kms = timed(spec, "keras", X, y, epochs, batch, split)
        _, nh, _, nms = timed(spec, "numpy", X, y, epochs, batch, split)
        keras_devices.add(km.device)
        print(f"\n{title}")
        print(f"  keras on {km.device}: {kms:8.1f} ms/epoch (first epoch {kfirst:.0f} ms), "
              f"final loss {kh.history['loss'][-1]:.4f}")
        print(f"  numpy on CPU: {' ' * max(0, len(km.device) - 3)}{nms:8.1f} ms/epoch, "
              f"final loss {nh.history['loss'][-1]:.4f}")
        print(f"  numpy/keras time ratio: {nms / kms:.2f}x")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if not all(d.startswith("GPU") for d in keras_devices):
        print(f"GPU not used: the Keras backend trained on {', '.join(sorted(keras_devices))}")
        return 1
    print("GPU used")
    return 0


if __name__ == "__main__":
    sys.exit(main())
