"""Devices: listing, explicit choice, clear errors for a device that does not
exist and for a device out of memory, and the choice of MirroredStrategy."""

from __future__ import annotations

import types

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from _keras_helpers import data, spec_for  # noqa: E402

import engine  # noqa: E402
from engine import build  # noqa: E402
from engine.keras_backend import DeviceError, DeviceOutOfMemory, Placement  # noqa: E402


def test_devices_lists_the_cpu_first_then_each_gpu():
    found = engine.devices()
    assert found[0]["id"] == "CPU" and found[0]["type"] == "CPU"
    assert found[0]["memory_bytes"] is None or found[0]["memory_bytes"] > 2**20
    assert found[0]["label"].startswith("CPU (")
    gpus = [d for d in found if d["type"] == "GPU"]
    assert [d["id"] for d in gpus] == [f"GPU:{i}" for i in range(len(gpus))]
    assert len(gpus) == len(tf.config.list_physical_devices("GPU"))


def test_an_explicit_cpu_trains_and_reports_its_device():
    spec = spec_for("mse")
    X, y = data("mse", n=12)
    model = build(spec, backend="keras", seed=0, device="cpu")
    history = model.fit(X, y, epochs=2, batch_size=6)
    assert model.device == history.device == "CPU"
    assert "Device: CPU" in model.summary()


@pytest.mark.parametrize("device", ["GPU:7", "TPU", "gpu:x", 3, ["GPU:0", "CPU"], []])
def test_a_device_that_does_not_exist_is_a_clear_error(device):
    if not isinstance(device, list) and tf.config.list_physical_devices("GPU") \
            and device == "GPU:7" and len(tf.config.list_physical_devices("GPU")) > 7:
        pytest.skip("this machine has a GPU:7")
    with pytest.raises(DeviceError, match="device") as info:
        build(spec_for("mse"), backend="keras", device=device)
    assert isinstance(info.value, ValueError)


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a GPU is present")
def test_asking_for_a_gpu_without_one_says_what_to_do():
    with pytest.raises(DeviceError, match=r"TensorFlow sees no GPU.*device='CPU'"):
        build(spec_for("mse"), backend="keras", device="GPU:0")
    with pytest.raises(DeviceError, match="no GPU"):
        build(spec_for("mse"), backend="keras", device="GPU")


def test_out_of_memory_becomes_a_clear_error(monkeypatch):
    model = build(spec_for("mse"), backend="keras", seed=0)
    X, y = data("mse", n=12)

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(model.keras_model, "fit", exhausted)
    with pytest.raises(DeviceOutOfMemory, match=r"ran out of memory training with "
                                                r"batch_size=4.*smaller batch_size"):
        model.fit(X, y, epochs=1, batch_size=4)


class _FakeTF:
    """Just enough of tf.config / tf.distribute to pick devices as on a 2-GPU machine."""

    def __init__(self, n_gpus):
        gpus = [types.SimpleNamespace(name=f"/physical_device:GPU:{i}") for i in range(n_gpus)]
        self.config = types.SimpleNamespace(
            list_physical_devices=lambda kind: gpus if kind == "GPU" else [],
            experimental=types.SimpleNamespace(
                get_device_details=lambda gpu: {"device_name": "NVIDIA H200"}))
        self.distribute = types.SimpleNamespace(
            MirroredStrategy=lambda devices: types.SimpleNamespace(devices=devices))


def test_several_gpus_train_mirrored_and_one_can_be_chosen():
    fake = _FakeTF(2)
    auto = Placement(fake, None)
    assert auto.strategy.devices == ["/gpu:0", "/gpu:1"]
    assert auto.label == "GPU:0+GPU:1 (MirroredStrategy, NVIDIA H200)"
    one = Placement(fake, "/device:GPU:1")
    assert one.strategy is None and one.label == "GPU:1 (NVIDIA H200)" and one.on_gpu
    assert Placement(fake, "CPU").label == "CPU"
    assert Placement(_FakeTF(1), None).label == "GPU:0 (NVIDIA H200)"
    assert Placement(_FakeTF(0), None).label == "CPU"
    with pytest.raises(DeviceError, match=r"has 2 GPU\(s\); use one of 'CPU', 'GPU:0' or 'GPU:1'"):
        Placement(fake, "GPU:2")


def test_predict_in_chunks_equals_predict_at_once():
    model = build(spec_for("categorical_crossentropy"), backend="keras", seed=0)
    X = np.random.default_rng(1).normal(size=(50, 4))
    whole = model.predict(X)
    np.testing.assert_allclose(model.predict(X, batch_size=7), whole, atol=1e-6)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, atol=1e-5)
