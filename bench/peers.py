"""deepterm's NumPy backend against peers (``python bench/run.py --peers``).

The same workloads (data, network, optimizer, batch size, loss; no metrics, no
validation) on every system, side by side:

- ``deepterm``: the NumPy backend's ``fit``, whatever it does (fused or compiled
  paths included; ``DEEPTERM_COMPILE=1`` is set for it unless the environment says
  otherwise: each request is a few epochs, and the compiled path is what a long run,
  ``engine.compiled.MIN_BATCHES`` batches or more, trains on);
- ``jax-scan``: JAX with the whole epoch one ``jax.lax.scan`` over the batches (the
  shuffle permutation is an argument), jitted once and reused across epochs;
  optax ``adam(lr, b1=0.9, b2=0.999, eps=1e-7)`` / ``sgd(lr)`` (Keras' settings);
- ``jax-step``: JAX with one jitted step per batch, the loop in Python;
- ``torch``: a plain per-step PyTorch loop;
- ``sklearn``: MLPRegressor / MLPClassifier, one ``partial_fit`` per epoch (no L2,
  no momentum, constant learning rate; a two-class classifier has one logistic
  output unit, sklearn's own form).

Threads: PyTorch (``torch.set_num_threads``) and scikit-learn (NumPy's BLAS, through
threadpoolctl) get the threads deepterm's NumPy backend gives the workload's products:
one below ``NumpyModel.SMALL_BATCH_WORK`` multiply-adds per batch (the course
workloads), else every BLAS thread (the large one). On a busy shared machine two
threads made PyTorch's small-batch epochs 5-10x slower than one. XLA (JAX) keeps its
own thread pool.

Each system lives in ONE long-lived process (``python bench/peers.py serve SYSTEM``)
that imports its framework once, warms every workload up (the
compile included) and then answers requests on a pipe: "train workload W for N
epochs, report ms per epoch" (the model goes on training across requests). The
parent runs interleaved rounds: in round r each system runs each workload once, the
order of the systems rotated by r, each request after ``SETTLE_S`` of quiet; a
system's ratio to deepterm is computed per round and the reported ratio is the
median of those. ms per epoch is the median over the rounds. Each system's loss
after 20 epochs from the same initial weights (sklearn: its own initialization) is
measured once, on the training rows, by one NumPy function from each system's
predictions. A system that is not installed is reported as skipped.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

SYSTEMS = ("deepterm", "jax-scan", "jax-step", "torch", "sklearn")

#: epochs of the loss column
LOSS_EPOCHS = 20
#: seconds the machine is left idle before each timed request: a system's idle BLAS
#: and OpenMP threads spin for a while after its work (OpenBLAS's, for scikit-learn,
#: up to about 0.1 s), on the cores the next system's request needs; back to back,
#: the large workload of whichever system came next took up to twice its time
SETTLE_S = 0.25


@dataclass(frozen=True)
class Workload:
    """One problem every system trains: a catalog dataset prepared by deepterm's recipe
    (``engine.recipe.prepare``: validation cut, standardized as the dataset's default),
    trained on its training rows only."""

    name: str
    dataset: str
    options: dict
    hidden: tuple
    output: tuple          # (units, activation)
    loss: str              # mse | categorical_crossentropy
    optimizer: str         # adam | sgd
    learning_rate: float
    batch_size: int
    validation_split: float
    epochs: int            # epochs per timed request

    def config(self):
        from engine.recipe import RunConfig

        return RunConfig(dataset=self.dataset, dataset_options=dict(self.options),
                         hidden=tuple(tuple(h) for h in self.hidden),
                         output_units=self.output[0], output_activation=self.output[1],
                         loss=self.loss, metrics=(), optimizer=self.optimizer,
                         learning_rate=self.learning_rate, batch_size=self.batch_size,
                         validation_split=self.validation_split, standardize=None)


WORKLOADS = (
    Workload("wages 9-50-32-1 adam b32", "wages", {}, ((50, "relu"), (32, "relu")),
             (1, "linear"), "mse", "adam", 0.01, 32, 0.3, 20),
    Workload("titanic 10-32-2 sgd b32", "titanic", {}, ((32, "relu"),), (2, "softmax"),
             "categorical_crossentropy", "sgd", 0.01, 32, 0.3, 20),
    Workload("mnist-1750 784-50-50-10 adam b32", "mnist", {"n": 2500},
             ((50, "relu"), (50, "relu")), (10, "softmax"), "categorical_crossentropy", "adam",
             0.001, 32, 0.3, 5),
    Workload("large 784-512-512-10 5k b256", "mnist", {"n": 5000},
             ((512, "relu"), (512, "relu")), (10, "softmax"), "categorical_crossentropy", "adam",
             0.001, 256, 0.0, 2),
)

#: for tests: wages on a small network
TINY = Workload("tiny wages 9-8-1 adam b32", "wages", {}, ((8, "relu"),), (1, "linear"), "mse",
                "adam", 0.01, 32, 0.3, 1)


def workloads_named(keys: list[str]) -> list[Workload]:
    """The workloads whose names begin with one of ``keys`` (wages, titanic, mnist,
    large, tiny); ValueError naming the accepted keys for one that matches none."""
    chosen = []
    for key in keys:
        found = [w for w in (*WORKLOADS, TINY) if w.name.startswith(key)]
        if not found:
            raise ValueError(f"no workload {key!r}: wages, titanic, mnist, large or tiny")
        chosen += [w for w in found if w not in chosen]
    return chosen


# -- shared by every system ------------------------------------------------------------

def initial_weights(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    """Glorot-uniform kernels (n_in, n_out) and zero biases, Keras' layout and defaults:
    the one starting point of deepterm, JAX and PyTorch."""
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights += [rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32),
                    np.zeros(n_out, np.float32)]
    return weights


def loss_of(loss: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The workload's loss of predictions ``pred`` (n, k) against ``y`` (n, k), Keras'
    way (probabilities clipped to [1e-7, 1 - 1e-7])."""
    pred = np.asarray(pred, np.float64).reshape(y.shape)
    if loss == "mse":
        return float(np.mean((pred - y) ** 2))
    p = np.clip(pred, 1e-7, 1 - 1e-7)
    return float(np.mean(-np.sum(y * np.log(p), axis=1)))


# -- the systems (each in its own process) ----------------------------------------------

class Trainer:
    """One workload on one system: ``run(n)`` trains n epochs (finished when it
    returns), ``predict(X)`` gives outputs (n, k) (probabilities for softmax)."""

    def __init__(self, w: dict, X: np.ndarray, y: np.ndarray, seed: int = 0):
        self.w, self.X, self.y = w, X, y
        self.threads = w.get("threads", 1)
        self.sizes = [X.shape[1]] + [h[0] for h in w["hidden"]] + [w["output"][0]]
        self.acts = [h[1] for h in w["hidden"]] + [w["output"][1]]
        self.rng = np.random.default_rng(seed)


class DeeptermTrainer(Trainer):
    def __init__(self, w, X, y, seed=0):
        super().__init__(w, X, y, seed)
        from engine import build

        spec = Workload(**{k: w[k] for k in Workload.__dataclass_fields__}).config().spec(
            X.shape[1])
        self.model = build(spec, backend="numpy", seed=seed)
        self.model.set_weights(initial_weights(self.sizes, seed))

    def run(self, epochs):
        self.model.fit(self.X, self.y, epochs=epochs, batch_size=self.w["batch_size"],
                       validation_split=0.0, shuffle=True)

    def predict(self, X):
        return self.model.predict(X)


def _jax_parts(trainer: Trainer):
    """(params, optimizer, loss_fn, forward) for a JAX trainer."""
    import jax
    import jax.numpy as jnp
    import optax

    ws = initial_weights(trainer.sizes)
    params = [(jnp.asarray(k), jnp.asarray(b)) for k, b in zip(ws[::2], ws[1::2])]
    w = trainer.w
    opt = (optax.adam(w["learning_rate"], b1=0.9, b2=0.999, eps=1e-7) if w["optimizer"] == "adam"
           else optax.sgd(w["learning_rate"]))
    acts = trainer.acts

    def logits(params, x):
        for (k, b), act in zip(params, acts):
            x = x @ k + b
            if act == "relu":
                x = jax.nn.relu(x)
        return x

    if w["loss"] == "mse":
        def loss_fn(params, x, y):
            return jnp.mean((logits(params, x) - y) ** 2)

        forward = logits
    else:
        def loss_fn(params, x, y):
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits(params, x)), axis=1))

        def forward(params, x):
            return jax.nn.softmax(logits(params, x))

    return params, opt, loss_fn, jax.jit(forward)


class JaxScanTrainer(Trainer):
    """The whole epoch is one compiled function: a ``lax.scan`` over the full batches,
    then one step on the last, partial batch (shapes are fixed per workload)."""

    def __init__(self, w, X, y, seed=0):
        super().__init__(w, X, y, seed)
        import jax
        import jax.numpy as jnp
        import optax

        self.params, opt, loss_fn, self.forward = _jax_parts(self)
        self.opt_state = opt.init(self.params)
        n, bs = len(X), w["batch_size"]
        full, rest = divmod(n, bs)

        def step(carry, idx, X, Y):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, X[idx], Y[idx])
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        def epoch(params, opt_state, X, Y, perm):
            carry, _ = jax.lax.scan(lambda c, idx: step(c, idx, X, Y), (params, opt_state),
                                    perm[:full * bs].reshape(full, bs))
            if rest:
                carry, _ = step(carry, perm[full * bs:], X, Y)
            return carry

        self.epoch = jax.jit(epoch, donate_argnums=(0, 1))
        self.Xd, self.yd = jnp.asarray(X), jnp.asarray(y)

    def run(self, epochs):
        for _ in range(epochs):
            perm = self.rng.permutation(len(self.X)).astype(np.int32)
            self.params, self.opt_state = self.epoch(self.params, self.opt_state, self.Xd,
                                                     self.yd, perm)
        self.params[-1][0].block_until_ready()

    def predict(self, X):
        return np.asarray(self.forward(self.params, X))


class JaxStepTrainer(Trainer):
    """One jitted step per batch, batches sliced on the host."""

    def __init__(self, w, X, y, seed=0):
        super().__init__(w, X, y, seed)
        import jax
        import optax

        self.params, opt, loss_fn, self.forward = _jax_parts(self)
        self.opt_state = opt.init(self.params)

        def step(params, opt_state, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        self.step = jax.jit(step, donate_argnums=(0, 1))

    def run(self, epochs):
        bs = self.w["batch_size"]
        for _ in range(epochs):
            perm = self.rng.permutation(len(self.X))
            for i in range(0, len(perm), bs):
                idx = perm[i:i + bs]
                self.params, self.opt_state = self.step(self.params, self.opt_state,
                                                        self.X[idx], self.y[idx])
        self.params[-1][0].block_until_ready()

    def predict(self, X):
        return np.asarray(self.forward(self.params, X))


class TorchTrainer(Trainer):
    def __init__(self, w, X, y, seed=0):
        super().__init__(w, X, y, seed)
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        layers = []
        ws = initial_weights(self.sizes, seed)
        for (k, b), act in zip(zip(ws[::2], ws[1::2]), self.acts):
            lin = torch.nn.Linear(*k.shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(k.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if act == "relu":
                layers.append(torch.nn.ReLU())
        self.net = torch.nn.Sequential(*layers)
        params = self.net.parameters()
        self.opt = (torch.optim.Adam(params, lr=w["learning_rate"], betas=(0.9, 0.999), eps=1e-7)
                    if w["optimizer"] == "adam" else torch.optim.SGD(params, lr=w["learning_rate"]))
        self.Xt = torch.from_numpy(X)
        if w["loss"] == "mse":
            self.yt, self.loss_fn = torch.from_numpy(y), torch.nn.MSELoss()
        else:   # softmax + categorical crossentropy = cross entropy on the logits
            self.yt = torch.from_numpy(y.argmax(axis=1))
            self.loss_fn = torch.nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(seed)

    def run(self, epochs):
        torch, bs, n = self.torch, self.w["batch_size"], len(self.X)
        torch.set_num_threads(self.threads)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=self.gen)
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                self.opt.zero_grad()
                self.loss_fn(self.net(self.Xt[idx]), self.yt[idx]).backward()
                self.opt.step()

    def predict(self, X):
        torch = self.torch
        with torch.no_grad():
            out = self.net(torch.from_numpy(X))
            if self.w["loss"] != "mse":
                out = torch.softmax(out, dim=1)
        return out.numpy()


class SklearnTrainer(Trainer):
    def __init__(self, w, X, y, seed=0):
        super().__init__(w, X, y, seed)
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        common = dict(hidden_layer_sizes=tuple(h[0] for h in w["hidden"]),
                      activation=self.acts[0], solver=w["optimizer"], alpha=0.0,
                      batch_size=w["batch_size"], learning_rate_init=w["learning_rate"],
                      learning_rate="constant", shuffle=True, random_state=seed,
                      early_stopping=False)
        if w["optimizer"] == "adam":
            common.update(beta_1=0.9, beta_2=0.999, epsilon=1e-7)
        else:
            common.update(momentum=0.0, nesterovs_momentum=False)
        if w["loss"] == "mse":
            self.model, self.target = MLPRegressor(**common), y.ravel()
            self.classes = None
        else:
            self.model, self.target = MLPClassifier(**common), y.argmax(axis=1)
            self.classes = np.arange(y.shape[1])

    def run(self, epochs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.threads, user_api="blas"):
            for _ in range(epochs):
                if self.classes is None:
                    self.model.partial_fit(self.X, self.target)
                else:
                    self.model.partial_fit(self.X, self.target, classes=self.classes)

    def predict(self, X):
        if self.classes is None:
            return self.model.predict(X)
        return self.model.predict_proba(X)


TRAINERS = {"deepterm": DeeptermTrainer, "jax-scan": JaxScanTrainer, "jax-step": JaxStepTrainer,
            "torch": TorchTrainer, "sklearn": SklearnTrainer}


def system_info(system: str) -> str:
    """The system's version (imports its framework); raises ImportError when missing."""
    if system == "deepterm":
        os.environ.setdefault("DEEPTERM_COMPILE", "1")     # a long run's path (see above)
        import engine  # noqa: F401
        from engine import kernels

        return "numpy " + np.__version__ + (", numba kernels" if kernels.get() else "")
    if system.startswith("jax"):
        import jax
        import optax

        return f"jax {jax.__version__}, optax {optax.__version__}"
    if system == "torch":
        import torch

        return f"torch {torch.__version__}"
    if system == "sklearn":
        import sklearn

        return f"scikit-learn {sklearn.__version__}"
    raise ImportError(f"unknown system {system!r}")


def serve(system: str) -> int:
    """The child: import the framework, read the workloads file's path (the first line
    on stdin), warm every workload up, answer requests (one JSON object a line on stdin;
    one answer a line on the protocol pipe, stdout)."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)     # whatever a framework prints goes to stderr, not into the protocol
    try:
        info = system_info(system)
    except Exception as exc:  # noqa: BLE001 - any failure to load is "skipped"
        proto.write(json.dumps({"skipped": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 0
    works = json.loads(Path(json.loads(sys.stdin.readline())["workloads"]).read_text())
    data = {name: np.load(w["data"]) for name, w in works.items()}
    trainers = {}
    for name, w in works.items():
        spec = {k: v for k, v in w.items() if k != "data"}
        trainers[name] = TRAINERS[system](spec, data[name]["X"], data[name]["y"])
        trainers[name].run(1)          # warm-up: compile, caches, first-touch
    proto.write(json.dumps({"ready": info}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        name = req.get("workload")
        if req["op"] == "time":
            t = time.perf_counter()
            trainers[name].run(req["epochs"])
            ms = (time.perf_counter() - t) * 1000 / req["epochs"]
            proto.write(json.dumps({"ms_per_epoch": ms}) + "\n")
        elif req["op"] == "loss":
            w = {k: v for k, v in works[name].items() if k != "data"}
            X, y = data[name]["X"], data[name]["y"]
            fresh = TRAINERS[system](w, X, y)
            fresh.run(req["epochs"])
            proto.write(json.dumps({"loss": loss_of(w["loss"], y, fresh.predict(X))}) + "\n")
        else:
            break
    return 0


# -- the parent ----------------------------------------------------------------------------

class Peer:
    """A system's long-lived process, or why it is skipped."""

    def __init__(self, system: str, log_dir: str):
        self.system = system
        self.log = open(Path(log_dir) / f"{system}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve",
                                      system],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1)
        self.skipped: str | None = None
        self.info = ""

    def wait_ready(self, workloads_file: str) -> None:
        """Send the workloads and wait for the warm-ups (or learn why it is skipped)."""
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"workloads": workloads_file}) + "\n")
            got = self._answer()
        except (RuntimeError, OSError) as exc:   # it exited (a broken pipe included)
            got = {"skipped": str(exc)}
        if "skipped" in got:
            self.skipped = got["skipped"]
            self.close()
        else:
            self.info = got["ready"]

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.seek(0)
            tail = self.log.read().strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"exited {self.proc.returncode}: {tail[0][:200]}")
        return json.loads(line)

    def send(self, **req) -> None:
        self.proc.stdin.write(json.dumps(req) + "\n")

    def ask(self, **req) -> dict:
        self.send(**req)
        return self._answer()

    def ask_or_skip(self, **req) -> dict | None:
        """The answer; None, with the system marked skipped, when its process failed."""
        try:
            return self.ask(**req)
        except (RuntimeError, OSError) as exc:
            self.skipped = f"failed during the run: {exc}"
            return None

    def send_quit(self) -> None:
        if self.proc.poll() is None and not self.proc.stdin.closed:
            try:
                self.send(op="quit")
                self.proc.stdin.close()
            except OSError:
                pass

    def close(self) -> None:
        self.send_quit()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def blas_threads() -> int:
    """How many threads NumPy's BLAS uses when nothing limits it."""
    from threadpoolctl import threadpool_info

    return max([pool["num_threads"] for pool in threadpool_info()
                if pool.get("user_api") == "blas"] or [1])


def threads_for(spec, batch_size: int) -> int:
    """The BLAS threads deepterm's NumPy backend trains ``spec`` on (its own rule,
    ``NumpyModel._blas_threads``): one for small batches, else all of them."""
    from engine.numpy_backend import NumpyModel

    small = batch_size * spec.multiply_adds() < NumpyModel.SMALL_BATCH_WORK
    return 1 if small else blas_threads()


def prepare_workloads(workloads, folder: str) -> str:
    """Prepare each workload once with deepterm's recipe and save its training rows
    (float32 X (n, d), y (n, k)) for every system; returns the workloads file (each
    workload with its data file and the threads deepterm trains it on)."""
    from engine.recipe import prepare

    works = {}
    for i, w in enumerate(workloads):
        data = prepare(w.config())
        X = np.ascontiguousarray(data.X[:data.split_at], np.float32)
        y = np.asarray(data.y[:data.split_at], np.float32)
        y = np.ascontiguousarray(y.reshape(len(y), -1))
        path = str(Path(folder) / f"w{i}.npz")
        np.savez(path, X=X, y=y)
        works[w.name] = {**asdict(w), "data": path,
                         "threads": threads_for(data.spec, w.batch_size)}
    path = Path(folder) / "workloads.json"
    path.write_text(json.dumps(works))
    return str(path)


def compare(systems=SYSTEMS, workloads=WORKLOADS, rounds: int = 5, epochs: int | None = None,
            loss_epochs: int = LOSS_EPOCHS, log=print) -> list[dict]:
    """Run the comparison; rows (workload, system, ms_per_epoch, ratio_to_deepterm,
    loss_after_N, skipped, info; and, when it ran, round_ms and round_ratios: each
    round's figures), deepterm's rows first. ``epochs`` overrides each
    workload's epochs per timed request."""
    if "deepterm" not in systems:
        raise ValueError("the peers comparison needs the 'deepterm' system (the ratios' base)")
    with tempfile.TemporaryDirectory(prefix="deepterm-peers-") as folder:
        # started together, each imports its framework while the data is prepared
        peers = [Peer(s, folder) for s in systems]
        try:
            works_file = prepare_workloads(workloads, folder)
            for peer in peers:
                peer.wait_ready(works_file)
                log(f"  {peer.system}: " + (f"skipped ({peer.skipped})" if peer.skipped
                                            else peer.info))
            live = [p for p in peers if not p.skipped]
            times = {(w.name, p.system): [] for w in workloads for p in live}
            for r in range(rounds):
                order = live[r % len(live):] + live[:r % len(live)]
                for w in workloads:
                    for peer in order:
                        time.sleep(SETTLE_S)   # the last system's idle threads stop spinning
                        got = peer.ask_or_skip(op="time", workload=w.name,
                                               epochs=epochs or w.epochs)
                        if got:
                            times[w.name, peer.system].append(got["ms_per_epoch"])
                live = [p for p in live if not p.skipped]
                log(f"  round {r + 1}/{rounds} done")
            # one at a time: at once, their threads fought over the cores for minutes
            losses = {}
            for w in workloads:
                for peer in live:
                    got = peer.ask_or_skip(op="loss", workload=w.name, epochs=loss_epochs)
                    if got:
                        losses[w.name, peer.system] = got["loss"]
        finally:
            for peer in peers:
                peer.send_quit()
            for peer in peers:
                peer.close()
    rows = []
    deepterm = next(p for p in peers if p.system == "deepterm")
    for w in workloads:
        base = None if deepterm.skipped else times[w.name, "deepterm"]
        for peer in peers:
            row = {"workload": w.name, "system": peer.system, "ms_per_epoch": None,
                   "ratio_to_deepterm": None, f"loss_after_{loss_epochs}": None,
                   "skipped": peer.skipped, "info": peer.info}
            if not peer.skipped:
                mine = times[w.name, peer.system]
                row["ms_per_epoch"] = round(statistics.median(mine), 3)
                row["round_ms"] = [round(m, 3) for m in mine]
                if base:
                    ratios = [m / b for m, b in zip(mine, base)]
                    row["ratio_to_deepterm"] = round(statistics.median(ratios), 3)
                    row["round_ratios"] = [round(r, 3) for r in ratios]
                row[f"loss_after_{loss_epochs}"] = round(losses[w.name, peer.system], 5)
            rows.append(row)
    return rows


def print_table(rows: list[dict], loss_epochs: int = LOSS_EPOCHS) -> None:
    key = f"loss_after_{loss_epochs}"
    header = (f"{'workload':34} {'system':9} {'ms/epoch':>9} {'x deepterm':>10} "
              f"{'loss@' + str(loss_epochs):>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        if r["skipped"]:
            print(f"{r['workload']:34} {r['system']:9} skipped: {r['skipped'][:60]}")
            continue
        ratio = "-" if r["ratio_to_deepterm"] is None else f"{r['ratio_to_deepterm']:.2f}x"
        print(f"{r['workload']:34} {r['system']:9} {r['ms_per_epoch']:9.2f} "
              f"{ratio:>10} {r[key]:9.4f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        raise SystemExit(serve(sys.argv[2]))
    raise SystemExit("run it as: python bench/run.py --peers")
