"""Model files (issue #14, items 7-9): a damaged file is one error naming it and what
is wrong, found before anything is allocated; complex numbers are refused; a save
that fails leaves no temporary file and the file already there unchanged."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import threading
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import FitError, Layer, ModelSpec, build, load
from engine.errors import ModelFileError


def small_spec(**kw) -> ModelSpec:
    return ModelSpec(input_dim=3, layers=[Layer(8, "relu"), Layer(1)], loss="mse",
                     optimizer="adam", learning_rate=0.01, **kw)


def trained(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, 3))
    model = build(small_spec(), seed=seed)
    model.fit(X, X @ [1.0, -2.0, 0.5], epochs=2, batch_size=5)
    model.metadata = {"note": "kept"}
    return model


@pytest.fixture
def entries(tmp_path) -> dict[str, np.ndarray]:
    """The arrays of a saved, trained NumPy model file."""
    trained().save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as f:
        return {k: f[k] for k in f.files}


def write_npz(path: Path, entries: dict, **changes) -> Path:
    np.savez(path, **{**entries, **changes})
    return path


def with_meta(entries: dict, change) -> dict:
    meta = json.loads(str(entries["meta"]))
    meta = change(meta)
    return {**entries, "meta": np.array(json.dumps(meta))}


def one_error(path: Path, match: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as err:
        load(path)
    message = str(err.value)
    assert isinstance(err.value, ValueError) and "\n" not in message
    assert message.startswith(f"{path}: ") and match in message, message
    return err.value


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(set(os.listdir(folder)) - keep)


# ------------------------------------------------- 7. damaged NumPy model files
def drop(key):
    def change(meta):
        del meta[key]
        return meta
    return change


def put(key, value):
    def change(meta):
        meta[key] = value
        return meta
    return change


@pytest.mark.parametrize("change,match", [
    (lambda meta: [1, 2], "its meta is a JSON array, not an object"),
    (lambda meta: "text", "its meta is a JSON string, not an object"),
    (put("version", "1"), "its format version '1' is not a whole number"),
    (put("version", 1.5), "its format version 1.5 is not a whole number"),
    (put("seed", -3), "its seed -3 is not a whole number >= 0"),
    (put("optimizer_iterations", "many"), "its optimizer_iterations 'many' is not a whole number"),
    (drop("optimizer_iterations"), "its optimizer_iterations None is not a whole number"),
    (drop("rng_state"), "its shuffle state (rng_state) is missing"),
    (put("rng_state", [1, 2]), "its shuffle state (rng_state) is not a PCG64 state"),
    (put("rng_state", {"bit_generator": "PCG64", "state": {"state": "x"}}),
     "its shuffle state (rng_state) is not a PCG64 state"),
    (put("history", [0.5, 0.4]), "its training history cannot be read"),
    (put("history", {"history": {"loss": ["x"]}}), "its training history cannot be read"),
    (put("metadata", ["a"]), "its metadata is a JSON array, not an object"),
])
def test_a_damaged_meta_is_one_error_naming_the_file(tmp_path, entries, change, match):
    path = write_npz(tmp_path / "m.npz", with_meta(entries, change))
    one_error(path, f"damaged deepterm NumPy model file: {match}")


@pytest.mark.parametrize("spec,match", [
    ("[1, 2]", "its spec is not a valid model spec (a model spec must be a dict, got list)"),
    ('{"input_dim": 3}', "its spec is not a valid model spec (spec is missing the field 'layers')"),
    ("{not json", "its 'spec' entry is not JSON"),
])
def test_a_damaged_spec_is_one_error_naming_the_file(tmp_path, entries, spec, match):
    path = write_npz(tmp_path / "m.npz", entries, spec=np.array(spec))
    one_error(path, match)


def test_a_spec_that_claims_huge_layers_is_refused_before_allocating(tmp_path, entries):
    spec = json.loads(str(entries["spec"]))
    spec["input_dim"], spec["layers"][0]["units"] = 20000, 20000
    path = write_npz(tmp_path / "m.npz", entries, spec=np.array(json.dumps(spec)))
    assert path.stat().st_size < 10_000
    tracemalloc.start()
    try:
        one_error(path, "its spec's layer 1 kernel is (20000, 20000) but weight_0 holds (3, 8)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


@pytest.mark.parametrize("key,value,match", [
    ("weight_1", np.zeros(5), "its spec's layer 1 bias is (8,) but weight_1 holds (5,)"),
    ("weight_0", np.array([["a"] * 8] * 3), "weight_0 holds <U1 values, not numbers"),
    ("opt_m_2", np.zeros((2, 2)), "its spec's layer 2 kernel is (8, 1) but opt_m_2 holds (2, 2)"),
    ("opt_m_9", np.zeros(1), "its entry 'opt_m_9' belongs to no weight of its spec"),
    ("weight_4", np.zeros(1), "it holds 5 weight arrays but its spec has 4"),
])
def test_stored_arrays_are_checked_against_the_spec(tmp_path, entries, key, value, match):
    path = write_npz(tmp_path / "m.npz", entries, **{key: value})
    one_error(path, match)


def test_a_pickled_entry_is_never_loaded(tmp_path, entries):
    path = tmp_path / "m.npz"
    np.savez(path, **entries, extra=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match=f"{path}: damaged .*'extra' holds Python objects"):
        load(path)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 2**70) | st.floats() |
                    st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) |
                    st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
META_KEYS = ["format", "version", "seed", "optimizer_iterations", "rng_state", "history",
             "metadata"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(META_KEYS), value=JSON)
def test_any_json_in_any_meta_field_loads_or_is_one_model_file_error(tmp_path, entries, key,
                                                                      value):
    path = write_npz(tmp_path / "gen.npz", with_meta(entries, put(key, value)))
    try:
        model = load(path)
    except ModelFileError as exc:
        assert str(exc).startswith(f"{path}: ")
    else:
        assert isinstance(model.metadata, dict)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), compressed=st.booleans())
def test_any_damaged_bytes_load_or_are_one_model_file_error(tmp_path, entries, data, compressed):
    path = tmp_path / "gen.npz"
    (np.savez_compressed if compressed else np.savez)(path, **entries)
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    path.write_bytes(bytes(raw[:cut]))
    try:
        load(path)
    except ModelFileError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)


def test_a_file_that_is_not_regular_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder"):
        load(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.npz")
        with pytest.raises(ModelFileError, match="pipe.npz: not a regular file"):
            load(tmp_path / "pipe.npz")


def test_a_good_file_still_loads_exactly(tmp_path, entries):
    model = load(write_npz(tmp_path / "m.npz", entries))
    assert model.metadata == {"note": "kept"} and len(model.history.history["loss"]) == 2
    original = trained()
    X = np.random.default_rng(1).normal(size=(4, 3))
    np.testing.assert_array_equal(model.predict(X), original.predict(X))


# ------------------------------------------------- 8. complex numbers
def test_complex_weights_in_a_file_are_refused(tmp_path, entries):
    path = write_npz(tmp_path / "m.npz", entries, weight_0=entries["weight_0"] + 1j)
    one_error(path, "damaged deepterm NumPy model file: weight_0 holds complex numbers")


def test_set_weights_refuses_complex_numbers():
    model = build(small_spec(), seed=0)
    weights = model.get_weights()
    before = [w.copy() for w in weights]
    weights[0] = weights[0] + 0.5j
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"weights\[0\] holds complex numbers"):
            model.set_weights(weights)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("what", ["X", "y"])
def test_complex_data_is_refused_by_fit_predict_and_evaluate(what):
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    if what == "X":
        X = X + 1j
    else:
        y = y * (1 + 1j)
    model = build(small_spec(), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # a ComplexWarning would be an error here
        with pytest.raises(FitError, match=f"^{what} must hold real numbers, got complex"):
            model.fit(X, y, epochs=1)
        with pytest.raises(FitError, match=f"^{what} must hold real numbers"):
            model.evaluate(X, y)
        if what == "X":
            with pytest.raises(FitError, match="^X must hold real numbers"):
                model.predict(X)


# ------------------------------------------------- 9. saving that fails
def test_saving_into_a_missing_folder_is_one_error(tmp_path):
    target = tmp_path / "no" / "such" / "m.npz"
    with pytest.raises(ModelFileError, match=f"^{target}: cannot save the model: the folder "
                                             f"{target.parent} does not exist$"):
        trained().save(target)
    assert os.listdir(tmp_path) == []


def test_saving_onto_a_folder_is_one_error_and_leaves_it_alone(tmp_path):
    folder = tmp_path / "m.npz"
    folder.mkdir()
    (folder / "inside").write_text("mine")
    with pytest.raises(ModelFileError, match=f"^{folder}: cannot save the model there: it is "
                                             f"a folder$"):
        trained().save(folder)
    assert os.listdir(tmp_path) == ["m.npz"] and os.listdir(folder) == ["inside"]


def test_a_full_disk_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    from engine import numpy_backend

    path = tmp_path / "m.npz"
    trained(seed=1).save(path)
    old = path.read_bytes()
    real_savez = np.savez

    def savez_until_full(fh, **arrays):
        real_savez(fh, **dict(list(arrays.items())[:2]))        # some bytes, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(numpy_backend.np, "savez", savez_until_full)
    with pytest.raises(ModelFileError) as err:
        trained(seed=2).save(path)
    assert str(err.value) == (f"{path}: cannot save the model: the disk is full (No space left "
                              f"on device); nothing was changed there")
    assert path.read_bytes() == old and leftovers(tmp_path, {"m.npz"}) == []


def test_a_file_size_limit_fails_the_save_cleanly(tmp_path):
    """A real write failure from the operating system (RLIMIT_FSIZE: EFBIG), no root needed."""
    resource = pytest.importorskip("resource")
    import signal

    if not hasattr(signal, "SIGXFSZ"):
        pytest.skip("no SIGXFSZ here")

    path = tmp_path / "m.npz"
    path.write_bytes(b"the file that was here")
    big = build(ModelSpec(input_dim=64, layers=[Layer(64), Layer(1)], loss="mse"), seed=0)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(ModelFileError, match=f"^{path}: cannot save the model: the file "
                                                 f"would be too large"):
            big.save(path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert path.read_bytes() == b"the file that was here"
    assert leftovers(tmp_path, {"m.npz"}) == []


def test_two_saves_to_one_path_do_not_share_a_temporary_file(tmp_path, monkeypatch):
    from engine import numpy_backend

    path = tmp_path / "m.npz"
    first, second = trained(seed=1), trained(seed=2)
    halfway, go = threading.Event(), threading.Event()
    real_savez = np.savez
    calls = []

    def savez(file, **arrays):           # np.savez, pausing the first save half written
        name = file if isinstance(file, str) else file.name
        calls.append(name)
        if len(calls) > 1:                # the second save runs straight through
            return real_savez(file, **arrays)
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        data = buffer.getvalue()
        with open(name, "wb") if isinstance(file, str) else contextlib.nullcontext(file) as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            halfway.set()                # the first save waits half written ...
            go.wait(10)
            fh.write(data[len(data) // 2:])

    monkeypatch.setattr(numpy_backend.np, "savez", savez)
    errors: list[BaseException] = []
    saver = threading.Thread(target=lambda: _save_into(first, path, errors))
    saver.start()
    assert halfway.wait(10)
    second.save(path)                    # ... while another save to the same path ends
    go.set()
    saver.join(10)
    assert errors == [] and len(set(calls)) == 2
    loaded = load(path)                  # the last save to finish wins, whole
    for a, b in zip(loaded.get_weights(), first.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert leftovers(tmp_path, {"m.npz"}) == []


def _save_into(model, path, errors) -> None:
    try:
        model.save(path)
    except BaseException as exc:        # noqa: BLE001 - handed to the test thread
        errors.append(exc)


# ------------------------------------------------- Keras model files
def keras_file(tmp_path: Path, meta_change=None, name: str = "m.keras") -> Path:
    """A .keras file as KerasModel.save writes it (Keras' entries, then deepterm.json),
    made without TensorFlow: h5py writes the weights as Keras lays them out."""
    h5py = pytest.importorskip("h5py")
    model = trained()
    weights = tmp_path / "model.weights.h5"
    with h5py.File(weights, "w") as h5:
        for k, (kernel, bias) in enumerate(zip(model.kernels, model.biases, strict=True)):
            group = h5.create_group(f"layers/dense{'_' + str(k) if k else ''}/vars")
            group["0"], group["1"] = kernel, bias
    meta = {"format": "deepterm-keras-model", "version": 1, "backend": "keras",
            "spec": model.spec.to_dict(), "seed": 0, "rng_state": model.rng.bit_generator.state,
            "history": None, "metadata": {}, "device": "CPU"}
    if meta_change is not None:
        meta = meta_change(meta)
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.write(weights, "model.weights.h5")
        zf.writestr("deepterm.json", json.dumps(meta))
    weights.unlink()
    return path


def huge_spec(meta):
    meta["spec"]["input_dim"] = meta["spec"]["layers"][0]["units"] = 20000
    return meta


@pytest.mark.parametrize("change,match", [
    (lambda meta: [meta], "its meta is a JSON array, not an object"),
    (put("version", "1"), "its format version '1' is not a whole number"),
    (drop("spec"), "it has no spec"),
    (put("spec", {"input_dim": 3}),
     "its spec is not a valid model spec (spec is missing the field 'layers')"),
    (drop("rng_state"), "its shuffle state (rng_state) is missing"),
    (put("metadata", "x"), "its metadata is a JSON string, not an object"),
    (huge_spec, "its spec's layer 1 kernel is (20000, 20000) but "
                "model.weights.h5:layers/dense/vars/0 holds (3, 8)"),
])
def test_a_damaged_keras_file_is_one_error_before_tensorflow_loads(tmp_path, change, match):
    path = keras_file(tmp_path, change)
    tracemalloc.start()
    try:
        one_error(path, f"damaged deepterm Keras model file: {match}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_complex_weights_in_a_keras_file_are_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = keras_file(tmp_path)
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    (tmp_path / "w.h5").write_bytes(parts["model.weights.h5"])
    with h5py.File(tmp_path / "w.h5", "a") as h5:
        kernel = h5["layers/dense_1/vars/0"][...]
        del h5["layers/dense_1/vars/0"]
        h5["layers/dense_1/vars/0"] = kernel + 1j
    parts["model.weights.h5"] = (tmp_path / "w.h5").read_bytes()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    one_error(path, "model.weights.h5:layers/dense_1/vars/0 holds complex numbers")


def test_a_file_keras_saved_loads_and_damaged_copies_of_it_fail_cleanly(tmp_path):
    """With TensorFlow: a file KerasModel.save wrote loads, and copies of it with a
    damaged deepterm.json are one error each."""
    pytest.importorskip("tensorflow")
    from engine.keras_backend import KerasModel

    model = build(small_spec(), backend="keras", seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    assert isinstance(engine.load(path), KerasModel)
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(parts["deepterm.json"])
    for name, damaged, match in [
        ("list.keras", [meta], "its meta is a JSON array"),
        ("version.keras", {**meta, "version": "1"}, "its format version '1'"),
        ("nospec.keras", {k: v for k, v in meta.items() if k != "spec"}, "it has no spec"),
        ("huge.keras", huge_spec(json.loads(parts["deepterm.json"])),
         "its spec's layer 1 kernel is (20000, 20000) but model.weights.h5:layers/dense/vars/0 "
         "holds (3, 8)"),
    ]:
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for entry, data in parts.items():
                zf.writestr(entry, json.dumps(damaged) if entry == "deepterm.json" else data)
        one_error(tmp_path / name, match)


def test_a_failed_keras_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    model = build(small_spec(), backend="keras", seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    old = path.read_bytes()
    with pytest.raises(ModelFileError, match="the folder .* does not exist"):
        model.save(tmp_path / "missing" / "m.keras")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(model.keras_model, "save", full)
    with pytest.raises(ModelFileError, match=f"^{path}: cannot save the model: the disk is full"):
        model.save(path)
    assert path.read_bytes() == old and leftovers(tmp_path, {"m.keras"}) == []
    monkeypatch.undo()
    model.save(path)                                 # two saves in a row: still one file
    model.save(path)
    assert leftovers(tmp_path, {"m.keras"}) == []
