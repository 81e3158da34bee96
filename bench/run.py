"""deepterm benchmark: the NumPy backend against the Keras backend (on the CPU),
side by side in one run.

    python bench/run.py            # full run (a few minutes)
    python bench/run.py --quick    # under a minute: fewer repeats, smaller large workload
    python bench/run.py --json out.json
    python bench/run.py --scaling  # ms/epoch at 1x/4x/16x rows and 2x/4x width
    python bench/run.py --cnn      # the MNIST CNN workloads (batch 32 and 128) only
    python bench/run.py --peers    # NumPy backend against JAX, PyTorch, scikit-learn (bench/peers.py)

Each figure is the median over several timed epochs after a warm-up epoch
(Keras' first epoch also traces its graph). GFLOP/s counts the issue's
definition: 2*m*n*k per matrix product, three products per layer per batch
(forward, weight gradient, input gradient). A Conv2D layer counts as the
product it is (im2col): forward 2*out_h*out_w*kh*kw*in*filters per sample, the
same again for each of its two gradients; pooling, activations and the
optimizer count nothing. The matmul rate is this
machine's float32 ``A @ B`` rate (2048x2048 operands) measured in the same run:
once at the start for the header, and right after every timed epoch of the large
workload and of the CNN workloads, whose share is the median over its epochs of
(epoch GFLOP/s / the rate measured next to it). The CNN workloads interleave
NumPy (each round in a fresh process) and Keras round by round, and their
speedup is the median of the rounds' ratios. Peak RSS is
measured in a fresh subprocess that trains on NumPy with TensorFlow never
imported.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import peers  # noqa: E402  (bench/peers.py, beside this file)

from engine import Callback, Conv2D, Flatten, Layer, MaxPooling2D, ModelSpec, build  # noqa: E402

#: the MNIST CNN (Keras' small example network, narrowed): 28x28x1 -> conv 3x3x8 relu
#: (26x26x8) -> max pool 2x2 (13x13x8) -> flatten (1352) -> 64 relu -> 10 softmax
MNIST_CNN = ModelSpec(input_shape=(28, 28, 1),
                      layers=[Conv2D(8, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                              Layer(64, "relu"), Layer(10, "softmax")],
                      loss="categorical_crossentropy", optimizer="adam")


class EpochTimer(Callback):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def course_data(name: str, rows: int | None = None):
    """The course workloads' data: the shipped datasets when the catalog is
    there, else random data of the same shape."""
    shapes = {"wages": (534, 9), "titanic": (891, 10), "mnist": (2500, 784)}
    try:
        import datasets

        ds = datasets.load(name, n=rows) if name == "mnist" and rows else datasets.load(name)
        X = ds.X
        y = ds.y
        if name == "titanic":
            y = np.eye(2, dtype=np.float32)[y.astype(int)]
        elif name == "mnist":
            y = np.eye(10, dtype=np.float32)[y.astype(int)]
        return X, y, "catalog"
    except Exception:
        n, d = shapes[name]
        if rows:
            n = rows
        rng = np.random.default_rng(0)
        X = rng.random((n, d), dtype=np.float32)
        if name == "wages":
            y = X @ rng.normal(size=d).astype(np.float32)
        else:
            k = 2 if name == "titanic" else 10
            y = np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
        return X, y, "synthetic"


def cnn_workloads():
    """The MNIST CNN on every shipped image (5000; 3500 train after the 0.3 split), flat
    rows as the catalog gives them (the engine reshapes them to 28x28x1), batch 32 and 128."""
    Xc, yc, src_c = course_data("mnist", 5000)
    return [(f"mnist cnn c8-p2-64-10 5k b{bs}", src_c, MNIST_CNN, Xc, yc, bs, 0.3)
            for bs in (32, 128)]


def workloads(quick: bool):
    rng = np.random.default_rng(1)
    large_rows = 5000 if quick else 20000
    Xl = rng.random((large_rows, 784), dtype=np.float32)
    yl = np.eye(10, dtype=np.float32)[rng.integers(0, 10, large_rows)]
    Xw, yw, src_w = course_data("wages")
    Xt, yt, src_t = course_data("titanic")
    Xm, ym, src_m = course_data("mnist", 2500)
    return [
        ("wages 9-50-32-1 adam b32", src_w,
         ModelSpec(input_dim=9, layers=[Layer(50, "relu"), Layer(32, "relu"), Layer(1)],
                   loss="mse", optimizer="adam"), Xw, yw, 32, 0.3),
        ("titanic 10-32-2 sgd b32", src_t,
         ModelSpec(input_dim=10, layers=[Layer(32, "relu"), Layer(2, "softmax")],
                   loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"]),
         Xt, yt, 32, 0.3),
        ("mnist 784-50-50-10 adam b32", src_m,
         ModelSpec(input_dim=784, layers=[Layer(50, "relu"), Layer(50, "relu"), Layer(10, "softmax")],
                   loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"]),
         Xm, ym, 32, 0.3),
        (f"large 784-512-512-10 {large_rows // 1000}k b256", "synthetic",
         ModelSpec(input_dim=784, layers=[Layer(512, "relu"), Layer(512, "relu"),
                                          Layer(10, "softmax")],
                   loss="categorical_crossentropy", optimizer="adam"), Xl, yl, 256, 0.0),
    ]


class RateProbe(EpochTimer):
    """Times each epoch and then measures the matmul rate (outside the epoch's timing),
    so that each epoch is compared with the machine as it was at that moment: on a
    shared machine the rate alone varied from 130 to 220 GFLOP/s between runs."""

    def __init__(self):
        super().__init__()
        self.rates: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        # on every BLAS thread, as the header's rate: a small batch trains on one
        # (NumpyModel._blas_threads) and this runs inside that limit
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            self.rates.append(matmul_rate(repeats=3))


def blas_threads() -> int:
    """How many threads BLAS uses when nothing limits it (at import, before any fit)."""
    from threadpoolctl import threadpool_info

    return max([pool["num_threads"] for pool in threadpool_info()
                if pool.get("user_api") == "blas"] or [1])


BLAS_THREADS = blas_threads()


def time_epochs(spec, backend, X, y, batch_size, split, epochs, timer: EpochTimer | None = None
                ) -> float:
    """Median seconds per epoch over ``epochs`` epochs after one warm-up epoch
    (``timer``, e.g. a RateProbe, keeps every epoch's figures)."""
    model = build(spec, backend=backend, seed=0)
    timer = timer or EpochTimer()
    model.fit(X, y, epochs=epochs + 1, batch_size=batch_size, validation_split=split,
              callbacks=[timer])
    return statistics.median(timer.times[1:])


def flops_per_epoch(spec, rows: int) -> float:
    """2 FLOPs per multiply-add, three products (forward and two gradients) per
    weighted layer: a Dense layer's n_in*n_out and a Conv2D layer's
    out_h*out_w*kh*kw*in*filters multiply-adds per row (``ModelSpec.multiply_adds``)."""
    return 2 * 3 * spec.multiply_adds() * rows


def matmul_rate(repeats: int = 5) -> float:
    """This machine's float32 matrix-multiply rate in GFLOP/s (median)."""
    rng = np.random.default_rng(0)
    a = rng.random((2048, 2048), dtype=np.float32)
    b = rng.random((2048, 2048), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * 2048**3 / statistics.median(times) / 1e9


RSS_PROBE = r"""
import json, sys, numpy as np
sys.path.insert(0, {root!r})
from engine import Layer, ModelSpec, build
try:
    import datasets
    ds = datasets.load("mnist", n=5000)   # every shipped image (the default is the course's 2500)
    X, y = ds.X, ds.y.astype(int)
except Exception:
    rng = np.random.default_rng(0)
    X = rng.random((5000, 784), dtype=np.float32); y = rng.integers(0, 10, 5000)
spec = ModelSpec.from_dict(json.loads({spec!r}))
if spec.loss == "categorical_crossentropy":
    y = np.eye(10, dtype=np.float32)[y]
build(spec, seed=0).fit(X, y, epochs=3, batch_size=32, validation_split=0.3)
assert "tensorflow" not in sys.modules
# VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across exec
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(len(X), int(hwm.split()[1]) / 1024)
"""


#: the MNIST network of the peak RSS row (sparse labels: the probe passes digits)
MNIST_DENSE = ModelSpec(input_dim=784, layers=[Layer(50, "relu"), Layer(50, "relu"),
                                               Layer(10, "softmax")],
                        loss="sparse_categorical_crossentropy", optimizer="adam",
                        metrics=["accuracy"])


CNN_ROUND = r"""
import json, sys
sys.path.insert(0, {bench!r})
import run
print(json.dumps(run.cnn_numpy_round({batch_size}, {epochs})))
"""


def cnn_numpy_round(batch_size: int, epochs: int) -> dict[str, list[float]]:
    """In a fresh process (TensorFlow never imported): the MNIST CNN on NumPy, the
    seconds of each of ``epochs`` epochs after a warm-up one and the matmul rate
    measured right after each."""
    (_, _, spec, X, y, bs, split), = [w for w in cnn_workloads() if w[5] == batch_size]
    probe = RateProbe()
    time_epochs(spec, "numpy", X, y, bs, split, epochs, probe)
    assert "tensorflow" not in sys.modules
    return {"times": probe.times[1:], "rates": probe.rates[1:]}


def cnn_rows(quick: bool, use_keras: bool) -> list[dict]:
    """The CNN workloads, NumPy and Keras interleaved: ``rounds`` rounds of (NumPy in
    a fresh process, then Keras in this one), each a fresh model timed over a few
    epochs after its warm-up, so that both see the machine as it was within seconds
    of each other (run one after the other, the ratio moved from 1.0x to 2.7x between
    runs on a busy machine). The speedup is the median of the rounds' ratios."""
    rounds, epochs = (2, 2) if quick else (3, 3)
    bench = str(Path(__file__).resolve().parent)
    rows = []
    for name, source, spec, X, y, bs, split in cnn_workloads():
        np_times, rates, k_times, ratios = [], [], [], []
        for _ in range(rounds):
            out = subprocess.run([sys.executable, "-c", CNN_ROUND.format(
                bench=bench, batch_size=bs, epochs=epochs)], capture_output=True, text=True,
                check=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            np_times += got["times"]
            rates += got["rates"]
            if use_keras:
                timer = EpochTimer()
                time_epochs(spec, "keras", X, y, bs, split, epochs, timer)
                k_times += timer.times[1:]
                ratios.append(statistics.median(timer.times[1:]) / statistics.median(got["times"]))
        train_rows = int(np.floor(len(X) * (1 - split)))
        flops = flops_per_epoch(spec, train_rows)
        np_s = statistics.median(np_times)
        share = statistics.median(flops / t / 1e9 / r for t, r in zip(np_times, rates))
        print(f"  matmul rate next to each NumPy epoch of {name}: "
              f"{', '.join(f'{r:.0f}' for r in rates)} GFLOP/s")
        if ratios:
            print(f"  keras/numpy per round: {', '.join(f'{r:.2f}' for r in ratios)}")
        rows.append({"workload": name, "numpy_ms": round(np_s * 1000, 2),
                     "keras_ms": round(statistics.median(k_times) * 1000, 2) if k_times else None,
                     "speedup": round(statistics.median(ratios), 2) if ratios else None,
                     "gflops": round(flops / np_s / 1e9, 2), "matmul_share": round(share, 3),
                     "peak_rss_mb": None, "data": source})
    return rows


def peak_rss_mnist(spec: ModelSpec = MNIST_DENSE) -> tuple[int, float]:
    """(rows, peak RSS in MB) of a fresh process training ``spec`` on NumPy on the
    5000 shipped images: 3 epochs, batch 32, validation split 0.3."""
    root = str(Path(__file__).resolve().parent.parent)
    probe = RSS_PROBE.format(root=root, spec=json.dumps(spec.to_dict()))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                         text=True, check=True)
    rows, mb = out.stdout.split()
    return int(rows), float(mb)


def keras_available() -> bool:
    try:
        import engine.keras_backend  # noqa: F401
        return True
    except Exception as exc:  # noqa: BLE001
        print(f"(Keras backend unavailable: {exc})", file=sys.stderr)
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; under a minute")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--scaling", action="store_true", help="ms/epoch against rows and width")
    parser.add_argument("--no-keras", action="store_true", help="NumPy only")
    parser.add_argument("--cnn", action="store_true",
                        help="only the MNIST CNN workloads (batch 32 and 128) and their peak RSS")
    parser.add_argument("--peers", action="store_true",
                        help="the NumPy backend against JAX (scan and per step), PyTorch and "
                             "scikit-learn, where installed (pip install -e '.[bench]')")
    parser.add_argument("--rounds", type=int, default=7, help="--peers: interleaved rounds")
    parser.add_argument("--systems", default=",".join(peers.SYSTEMS),
                        help="--peers: comma-separated systems (deepterm is the base)")
    parser.add_argument("--workloads", default="wages,titanic,mnist,large",
                        help="--peers: comma-separated workloads (wages, titanic, mnist, large, tiny)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="--peers: epochs per timed request (default: each workload's own)")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else 7

    if args.peers:
        return run_peers(args)

    if args.scaling:
        return scaling(epochs)

    use_keras = not args.no_keras and importlib.util.find_spec("tensorflow") is not None
    peak_gflops = matmul_rate()
    rows_out = []
    print(f"float32 matmul rate (2048^3, median of 5): {peak_gflops:.1f} GFLOP/s")
    from engine import kernels

    fused = kernels.get()
    print("fused optimizer kernels (large models): "
          + (f"on, numba {__import__('numba').__version__}" if fused else
             "off (Numba missing or DEEPTERM_NO_NUMBA set)"))
    header = f"{'workload':32} {'data':9} {'numpy ms':>9} {'keras ms':>9} {'speedup':>8} " \
             f"{'GFLOP/s':>8} {'matmul%':>8} {'peak RSS':>9}"
    print(header)
    print("-" * len(header))
    # every NumPy timing first, with TensorFlow not yet imported: in one process,
    # NumPy after TensorFlow had run was up to 30% slower on the large workload
    # (NumPy-only users never have it loaded)
    timed = []
    for name, source, spec, X, y, bs, split in ([] if args.cnn else workloads(args.quick)):
        large = name.startswith("large")
        probe = RateProbe() if large else None
        np_s = time_epochs(spec, "numpy", X, y, bs, split, epochs, probe)
        timed.append((name, source, spec, X, y, bs, split, np_s, probe))
    if use_keras:
        use_keras = keras_available()
        print("(NumPy timed first, TensorFlow not loaded; Keras now)", file=sys.stderr)
    for name, source, spec, X, y, bs, split, np_s, probe in timed:
        large = name.startswith("large")
        k_s = None
        if use_keras and not (args.quick and large):
            k_s = time_epochs(spec, "keras", X, y, bs, split, max(2, epochs // 2) if
                              large else epochs)
        train_rows = int(np.floor(len(X) * (1 - split)))
        gflops = flops_per_epoch(spec, train_rows) / np_s / 1e9
        share = None
        if probe:
            # each epoch against the rate measured right after it; the median of those
            # after the warm-up epoch
            times, rates = probe.times[1:], probe.rates[1:]
            share = statistics.median(flops_per_epoch(spec, train_rows) / t / 1e9 / r
                                      for t, r in zip(times, rates))
            print(f"  matmul rate next to each large epoch: "
                  f"{', '.join(f'{r:.0f}' for r in rates)} GFLOP/s")
        row = {"workload": name, "numpy_ms": round(np_s * 1000, 2),
               "keras_ms": None if k_s is None else round(k_s * 1000, 2),
               "speedup": None if k_s is None else round(k_s / np_s, 2),
               "gflops": round(gflops, 2),
               "matmul_share": None if share is None else round(share, 3),
               "peak_rss_mb": None, "data": source}
        rows_out.append(row)
        print_row(row)
    for row in cnn_rows(args.quick, use_keras):
        rows_out.append(row)
        print_row(row)
    for label, spec in ([] if args.cnn else [("mnist", MNIST_DENSE)]) + [("cnn", MNIST_CNN)]:
        n, mb = peak_rss_mnist(spec)
        row = {"workload": f"{label} {n} rows, numpy, peak RSS", "numpy_ms": None,
               "keras_ms": None, "speedup": None, "gflops": None, "matmul_share": None,
               "peak_rss_mb": round(mb, 1), "data": "catalog" if n == 5000 else "synthetic"}
        rows_out.append(row)
        print_row(row)
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{k: r[k] for k in ("workload", "numpy_ms", "keras_ms", "speedup", "gflops",
                                 "matmul_share", "peak_rss_mb")} for r in rows_out], indent=2))
    return 0


def run_peers(args) -> int:
    """``--peers``: bench/peers.py's comparison, its table and (``--json``) its rows."""
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    rounds = 2 if args.quick else args.rounds
    try:
        workloads = peers.workloads_named([w.strip() for w in args.workloads.split(",")])
        if "deepterm" not in systems:
            raise ValueError("--systems needs deepterm: the ratios are to it")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"deepterm's NumPy backend against peers: {rounds} interleaved rounds "
          f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', 'unset')})")
    rows = peers.compare(systems, workloads, rounds=rounds,
                         epochs=args.epochs, log=lambda line: print(line, file=sys.stderr))
    peers.print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def fmt(value, spec):
    """``value`` formatted, or "-" right-aligned to the same width when missing."""
    return format("-", f">{spec.split('.')[0]}") if value is None else format(value, spec)


def print_row(r):
    share = None if r["matmul_share"] is None else 100 * r["matmul_share"]
    speed = None if r["speedup"] is None else f"{r['speedup']:.1f}x"
    print(f"{r['workload']:32} {r['data']:9} {fmt(r['numpy_ms'], '9.1f')} {fmt(r['keras_ms'], '9.1f')} "
          f"{speed or '-':>8} {fmt(r['gflops'], '8.1f')} {fmt(share, '7.0f') + '%' if share else '-':>8} "
          f"{fmt(r['peak_rss_mb'], '6.0f') + ' MB' if r['peak_rss_mb'] else '-':>9}")


def scaling(epochs: int) -> int:
    """ms/epoch of the MNIST-shaped network (NumPy) as rows and width grow."""
    rng = np.random.default_rng(0)
    base_rows, base_width = 1750, 50
    print(f"{'rows':>7} {'width':>6} {'ms/epoch':>9} {'ratio':>6}")
    base = None
    for rows, width in [(base_rows, base_width), (4 * base_rows, base_width),
                        (16 * base_rows, base_width), (base_rows, 2 * base_width),
                        (base_rows, 4 * base_width)]:
        X = rng.random((rows, 784), dtype=np.float32)
        y = rng.integers(0, 10, rows)
        spec = ModelSpec(input_dim=784, layers=[Layer(width, "relu"), Layer(width, "relu"),
                                                 Layer(10, "softmax")],
                         loss="sparse_categorical_crossentropy", optimizer="adam")
        ms = time_epochs(spec, "numpy", X, y, 32, 0.0, epochs) * 1000
        base = base or ms
        print(f"{rows:7d} {width:6d} {ms:9.1f} {ms / base:6.2f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(main())
