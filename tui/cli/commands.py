"""deepterm's command line (click): train, runs, compare, sweep, datasets.

    deepterm                                         open the app
    deepterm train --dataset titanic --layers 50,32 --epochs 30 --patience 3
    deepterm runs list | runs show RUN | runs export RUN -o run.csv | runs delete RUN --yes
    deepterm compare RUN RUN ... --metric val_loss
    deepterm sweep --experiment learning-rates
    deepterm datasets

Exit status (the same for every command):

    0    done; a training that completed or stopped early (early stopping)
    1    training diverged or failed, or the run store could not be used (locked,
         read-only, damaged, written by a newer deepterm, disk full), or stdout
         is closed (`>&-`: nothing is done)
    2    bad arguments, with a one-line reason (an unknown run id included)
    130  Ctrl+C; a training run is kept in the store as "stopped"
    143  terminated (SIGTERM, e.g. by `timeout`): the same as Ctrl+C
    141  stdout's reader went away (`deepterm train ... | head`): training stops,
         the run is kept as "stopped"

Every error a user can cause (a bad value, a missing file, an unusable store,
a training that fails) is one line on stderr, without a traceback; only a bug
in deepterm shows one. The run store is
``--store PATH``, else ``$DEEPTERM_STORE``, else ``runs.db`` in the user's data
directory; ``$DEEPTERM_STORE_TIMEOUT`` is how many seconds a write waits for
another process (default 10). Only click and the engine's names load when this
module is imported: NumPy, the datasets, rich and plotext load inside the
commands that use them.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import click

from engine import ACTIVATIONS, BACKENDS, LOSSES, OPTIMIZERS
from engine.formatting import format_metric
from engine.recipe import conv_entry
from engine.spec import MAX_REGULARIZATION
from engine.text import printable

ENV_VAR = "DEEPTERM_STORE"            # read by engine.store too (a test checks they agree)
TIMEOUT_ENV_VAR = "DEEPTERM_STORE_TIMEOUT"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE, what a shell reports for `yes | head -1`
EXIT_TERMINATED = 143    # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM, so that training stops and its run is
    kept exactly as on Ctrl+C (engine.train keeps a KeyboardInterrupt as "stopped")."""


def _interruption(exc: BaseException) -> tuple[str, int]:
    """How an interruption is named in messages, and its exit status."""
    if isinstance(exc, Terminated):
        return "SIGTERM", EXIT_TERMINATED
    return "Ctrl+C", EXIT_INTERRUPTED
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# -- errors ----------------------------------------------------------------------------------


def one_line(text: Any) -> str:
    """``text`` on one line, with any control characters left in it escaped
    (engine.text.printable): error messages carry names and paths from files."""
    return printable(" ".join(str(text).split()))


class Failure(click.ClickException):
    """Something went wrong that is not the user's typing: exit 1."""

    exit_code = EXIT_FAILED

    def __init__(self, message: Any) -> None:
        super().__init__(one_line(message))


class BadInput(Failure):
    """A bad argument (value, dataset, run id): exit 2, one line, no usage text."""

    exit_code = EXIT_USAGE


#: Library messages that offer what a command-line user cannot type (None) or name
#: a keyword argument instead of the option: (the message's start, the CLI's words).
CLI_WORDING = (
    ("learning_rate must be a finite number > 0 (or None for the optimizer's default)",
     "--lr must be a finite number > 0"),
    ("batch_size must be an integer >= 1 (or None for 32)", "--batch-size must be a whole number >= 1"),
    ("patience must be an integer >= 0 or None", "--patience must be a whole number >= 0"),
    ("seed must be an integer >= 0 or None", "--seed must be a whole number >= 0"),
    ("layers: this network has", "--layers: this network has"),
    ("layers[", "--layers: layers["),
)


def cli_wording(message: str) -> str:
    """A library error message in the command line's words (see CLI_WORDING)."""
    for library, words in CLI_WORDING:
        if message.startswith(library):
            return words + message[len(library):]
    return message


def translate(exc: BaseException) -> click.ClickException | None:
    """The one-line CLI error for a library exception, or None for a bug."""
    from engine import BackendUnavailable
    from engine.predict import MissingWeights
    from engine.recipe import RecipeError

    if isinstance(exc, (RecipeError, MissingWeights)):  # the run is fine; its data or weights
        return Failure(one_line(exc))                    # are not here
    if isinstance(exc, ValueError):
        from engine.store import RunNotFound, StoreError

        if isinstance(exc, StoreError) and not isinstance(exc, RunNotFound):
            return Failure(exc)
        return BadInput(cli_wording(one_line(exc)))
    if isinstance(exc, BackendUnavailable):
        return Failure(exc)
    if isinstance(exc, MemoryError):
        return Failure(f"out of memory{': ' + str(exc) if str(exc) else ''}; try a smaller "
                       f"dataset (--dataset-option n=...) or network")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return Failure(f"{where}{exc.strerror or exc}")
    return None


class OneLineUsage(click.UsageError):
    """Click's usage error as one line, like every other error: its message and
    where the options are, without the usage block and blank line click adds."""

    def __init__(self, exc: click.UsageError) -> None:
        super().__init__(exc.format_message(), exc.ctx)
        self.exit_code = exc.exit_code

    def show(self, file=None) -> None:
        where = f" ({self.ctx.command_path} --help shows the options)" if self.ctx else ""
        click.echo(f"Error: {one_line(self.format_message())}{where}", file=file, err=file is None)


class DeeptermGroup(click.Group):
    """Maps library errors and Ctrl+C to the exit codes above, for every subcommand;
    click's usage errors become one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise one_line_usage(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:   # a subcommand's options and arguments
            raise one_line_usage(exc) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt as exc:
            how, status = _interruption(exc)
            click.echo(f"deepterm: interrupted ({how})", err=True)
            ctx.exit(status)
        except BrokenPipeError:   # the reader went away (`deepterm runs list | head -1`)
            silence_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc


#: A group named without a command (`deepterm runs`): click shows its help, which stays.
_HELP_ERRORS = (OneLineUsage, *((click.exceptions.NoArgsIsHelpError,)
                                if hasattr(click.exceptions, "NoArgsIsHelpError") else ()))


def one_line_usage(exc: click.UsageError) -> click.UsageError:
    return exc if isinstance(exc, _HELP_ERRORS) else OneLineUsage(exc)


def stdout_closed() -> bool:
    """Whether file descriptor 1 is closed (`deepterm ... >&-`): Python then has no
    sys.stdout at all. A stdout that is not a file (a test's capture) counts as open."""
    if sys.stdout is None:
        return True
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def silence_stdout() -> None:
    """Send the rest of stdout to /dev/null: its reader has gone (Python's advice
    for BrokenPipeError, so that the exit does not fail flushing it again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"deepterm: warning: {one_line(message)}", err=True)


# -- shared options ----------------------------------------------------------------------------


def store_option(func):
    return click.option(
        "--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
        envvar=ENV_VAR, show_envvar=True, metavar="PATH",
        help="the run store (SQLite file); default: runs.db in the user data directory")(func)


def open_store(path: Path | None, must_exist: bool = False):
    """A RunStore at ``path`` (None: the default); with ``must_exist`` a missing
    file is reported instead of created. A bad $DEEPTERM_STORE_TIMEOUT, or a
    store that is not a file (':memory:'), is refused here, before any work."""
    from engine.store import RunNotFound, RunStore, StoreSettingError, check_timeout

    timeout = 10.0
    raw = os.environ.get(TIMEOUT_ENV_VAR)
    if raw:
        try:
            timeout = check_timeout(raw.strip())
        except StoreSettingError:
            raise BadInput(f"${TIMEOUT_ENV_VAR} must be a finite number of seconds >= 0 "
                           f"(e.g. 10), got {raw!r}") from None
    try:
        store = RunStore(_store_path(path), timeout=timeout)
    except StoreSettingError as exc:
        raise BadInput(f"--store / ${ENV_VAR}: {exc}") from None
    if must_exist and not store.path.exists():
        raise RunNotFound(f"no run store at {store.path} yet: train a run first "
                          f"(deepterm train), or name another with --store")
    return store


def _store_path(path: Path | None) -> Path | None:
    """The command's --store, unless only `deepterm --store PATH cmd` named one."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.parent is None:
        return path
    root = ctx.find_root()
    if root.get_parameter_source("store_path") == ParameterSource.COMMANDLINE and \
            ctx.get_parameter_source("store_path") != ParameterSource.COMMANDLINE:
        return root.params["store_path"]
    return path


LAYERS_GRAMMAR = ("hidden layer sizes, whole numbers >= 1 separated by commas (e.g. 50,32), "
                  "or 'none' for no hidden layer; image layers go first: "
                  "conv{filters}x{kernel}[s{stride}][same], pool{size}, then flatten "
                  "(e.g. conv8x3,pool2,flatten,64)")


def _layers(ctx, param, value: str) -> list[Any]:
    """--layers as a list: dense sizes (int) after the image layers (``RunConfig.conv``
    entries, engine.recipe.conv_entry: relu until --activation says); ``flatten``
    between them is optional (it is implied before the first dense size). Whole numbers
    >= 1 or 'none'; a 0 is refused, not read as 'no hidden layer' (the app refuses 0
    units too)."""
    text = value.strip().lower()
    if text == "none":
        return []
    items: list[Any] = []
    flat = False       # flatten given, or a dense size seen: no more image layers
    for part in (p.strip() for p in text.split(",")):
        try:
            image = None if part == "flatten" else conv_entry(part)   # the grammar's one home
        except ValueError as exc:
            raise BadInput(f"--layers: {exc}; got {value!r}") from None
        if image or part == "flatten":
            if flat and part == "flatten":
                raise BadInput(f"--layers: flatten goes once, between the image layers and "
                               f"the dense sizes; got {value!r}")
            if flat:
                raise BadInput(f"--layers: {part} comes after flatten or a dense size; image "
                               f"layers (conv, pool) go first; got {value!r}")
            if part == "flatten":
                if not items:
                    raise BadInput(f"--layers: flatten comes after conv or pool layers; "
                                   f"got {value!r}")
                flat = True
                continue
            items.append(image)
            continue
        if not part.isdigit() or int(part) < 1:
            raise BadInput(f"--layers takes {LAYERS_GRAMMAR}; got {value!r}")
        flat = True
        items.append(int(part))
    return items


def _dataset_options(ctx, param, values: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"give KEY=VALUE, e.g. n=100, got {item!r}")
        options[key.strip()] = parse_value(raw.strip())
    return options


def parse_value(text: str) -> Any:
    """'100' -> 100, '0.1' -> 0.1, anything else stays text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def train_options(func):
    """The options that describe one run, shared by ``train`` and ``sweep``."""
    options = [
        click.option("--dataset", "-d", "dataset", metavar="NAME|PATH",
                     help="a catalog name (deepterm datasets) or a CSV file"),
        click.option("--target", metavar="COL",
                     help="a CSV file's target column: its name, or its 0-based index when no "
                          "column has that name (default: the first column named like a target, "
                          "e.g. label, class, y, price, survived, wage_per_hour; else a "
                          "header-less file's first column; else the last)"),
        click.option("--dataset-option", "dataset_options", multiple=True, metavar="KEY=VALUE",
                     callback=_dataset_options,
                     help="an option of a catalog dataset, e.g. n=100 or noise=0.1 (repeatable)"),
        click.option("--layers", default="50,32", show_default=True, callback=_layers,
                     help="hidden layer sizes, comma-separated ('none': no hidden layer); "
                          "image data (mnist) takes image layers first: conv{filters}x{kernel}"
                          "[s{stride}][same], pool{size}, flatten, e.g. conv8x3,pool2,flatten,64"),
        click.option("--activation", default="relu", show_default=True,
                     help=f"hidden activation ({', '.join(ACTIVATIONS)}), or one per conv and "
                          f"dense layer: relu,tanh"),
        click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adam", show_default=True),
        click.option("--lr", "--learning-rate", "lr", type=float, default=0.01, show_default=True,
                     help="learning rate"),
        click.option("--loss", type=click.Choice(LOSSES), default=None,
                     help="default: the dataset's task decides (mse; categorical_crossentropy)"),
        click.option("--epochs", type=int, default=30, show_default=True),
        click.option("--batch-size", type=int, default=32, show_default=True),
        click.option("--validation-split", type=float, default=0.3, show_default=True,
                     help="the last fraction of the rows validates"),
        click.option("--patience", type=int, default=None,
                     help="stop early after this many epochs without improvement (default: never)"),
        click.option("--backend", type=click.Choice(BACKENDS), default="numpy", show_default=True),
        click.option("--device", default=None, help="Keras only: e.g. GPU:0 or CPU"),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="initial weights and shuffling"),
        click.option("--standardize/--no-standardize", default=None,
                     help="scale each feature with the training rows' mean and spread "
                          "(default: the dataset's own: on, except for images already in "
                          "[0, 1]; the course's experiments feed Titanic unscaled)"),
        click.option("--restore-best-weights/--no-restore-best-weights", "restore",
                     default=True, show_default=True,
                     help="with --patience: keep the best epoch's weights"),
        click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), default=0.0,
                     help="sgd only: momentum, e.g. 0.9 (default 0: plain sgd)"),
        click.option("--nesterov", is_flag=True, help="sgd only: Nesterov momentum"),
        click.option("--l1", type=click.FloatRange(0, MAX_REGULARIZATION), default=0.0,
                     help="L1 penalty rate on every layer's kernel (Keras' kernel_regularizer; "
                          "the loss reported includes it)"),
        click.option("--l2", type=click.FloatRange(0, MAX_REGULARIZATION), default=0.0,
                     help="L2 penalty rate on every layer's kernel, e.g. 0.001"),
        click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0,
                     help="a Dropout layer of this rate after each hidden layer, e.g. 0.2"),
        click.option("--features", metavar="F1,F2,...", default=None,
                     help="two-feature data only: the inputs to train on, from x1, x2, x1^2, "
                          "x2^2, x1x2, sin_x1, sin_x2 (TensorFlow Playground's feature "
                          "crosses; default: x1,x2)"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


# -- building a run from the options -----------------------------------------------------------------


def _load_dataset(name: str | None, target: str | None, options: dict[str, Any]):
    import datasets

    if not name:
        raise BadInput("--dataset is needed: a catalog name (see `deepterm datasets`) or a CSV file")
    # one rule (datasets.is_file_reference): a path separator or an extension names a file
    if datasets.is_file_reference(name):
        if options:
            raise BadInput("--dataset-option applies to catalog datasets, not to a CSV file")
        if not os.path.lexists(name):
            raise BadInput(f"--dataset {name}: no such file")
        return datasets.open_dataset(name, {"target": target} if target is not None else None)
    if target is not None:
        raise BadInput("--target applies to a CSV file; a catalog dataset has its target")
    return datasets.open_dataset(name, options)   # its options are kept with the run


def show_notes(ds) -> None:
    """What CSV import did (Dataset.notes: the target it chose, dropped rows, filled
    values, one-hot and dropped columns), one 'note: ' line each on stdout."""
    for note in getattr(ds, "notes", None) or ():
        click.echo(f"note: {one_line(note)}")


def output_for(ds, loss: str | None) -> tuple[int, str, str, list[str]]:
    """(units, activation, loss, metrics) of the output layer: the dataset's task
    decides (datasets.suggest_output) unless ``loss`` is given."""
    import datasets

    units, activation, suggested, metrics = datasets.suggest_output(ds)
    if loss is None or loss == suggested:
        return units, activation, suggested, metrics
    if loss in ("mse", "mae"):
        return 1, "linear", loss, ["mae" if loss == "mse" else "mse"]
    if ds.task == "regression":
        raise BadInput(f"--loss {loss}: dataset {ds.name!r} is a regression task; use mse or mae")
    if loss == "binary_crossentropy":
        if ds.n_classes != 2:
            raise BadInput(f"--loss binary_crossentropy needs two classes; {ds.name!r} has "
                           f"{ds.n_classes}: use categorical_crossentropy")
        return 1, "sigmoid", loss, ["accuracy"]
    return ds.n_classes, "softmax", loss, ["accuracy"]


def run_config(ds, dataset: str, target: str | None, dataset_options: dict[str, Any],
               layers: list[Any], activation: str, optimizer: str, lr: float, loss: str | None,
               **settings: Any):
    """The RunConfig the options describe (the one description of a run the app and
    sweeps use too): the output layer and loss from the dataset's task unless
    ``--loss`` says otherwise; ``settings`` are the RunConfig's other fields.
    ``layers`` is what ``--layers`` reads: dense sizes after image layers (``RunConfig.conv``
    entries); the activations go to the conv and dense layers in order."""
    import datasets
    from engine.recipe import RunConfig

    units_list = [item for item in layers if isinstance(item, int)]
    images = [item for item in layers if not isinstance(item, int)]
    n_conv = sum(1 for item in images if item[0] == "conv")
    n_active = n_conv + len(units_list)
    acts = [a.strip() for a in activation.split(",")]
    if len(acts) == 1:
        acts *= n_active
    elif len(acts) != n_active:
        what = "conv and dense layers" if n_conv else "hidden layers"
        raise BadInput(f"--activation gives {len(acts)} activations for {n_active} {what}; "
                       f"give one, or one per layer")
    conv_acts, acts = acts[:n_conv], acts[n_conv:]
    conv = []
    for item in images:
        conv.append((*item[:5], conv_acts.pop(0)) if item[0] == "conv" else item)
    if conv and getattr(ds, "image_shape", None) is None:
        raise BadInput(f"--layers: conv and pool layers need image data; {ds.name} has no "
                       f"image shape (mnist has: 28x28)")
    units, out_act, loss, metrics = output_for(ds, loss)
    patience = settings.get("patience")
    if patience is not None and patience < 0:
        raise BadInput(f"--patience must be a whole number >= 0, got {patience}")
    if optimizer != "sgd" and (settings.get("momentum") or settings.get("nesterov")):
        raise BadInput(f"--momentum and --nesterov apply to --optimizer sgd, not {optimizer}")
    if settings.get("features") is not None:
        from engine.features import check_features

        settings["features"] = check_features(settings["features"])
        if ds.X.shape[1] != 2:
            raise BadInput(f"--features: feature crosses need a dataset with two features "
                           f"(x1, x2); {ds.name} has {ds.X.shape[1]}")
    is_file = datasets.is_file_reference(dataset)
    config = RunConfig(dataset=None if is_file else dataset,
                       dataset_options={} if is_file else dict(dataset_options),
                       csv_path=dataset if is_file else None, csv_target=target,
                       hidden=tuple(zip(units_list, acts)), conv=tuple(conv), output_units=units,
                       output_activation=out_act, loss=loss, metrics=tuple(metrics),
                       optimizer=optimizer, learning_rate=lr, **settings)
    config.spec(int(ds.X.shape[1]), getattr(ds, "image_shape", None))   # a bad layer or
    return config                                                        # activation: one line


# -- numbers and tables ----------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return format_metric(value)


def fmt_metrics(logs: dict[str, float]) -> str:
    return "  ".join(f"{k} {fmt(v)}" for k, v in logs.items())


def table(header: list[str], rows: list[list[Any]], right: set[int] = frozenset()) -> str:
    """A plain text table (no colours, no truncation), aligned with spaces; text
    cells (labels, dataset names) with control characters escaped."""
    cells = [header, *[[fmt(c) if not isinstance(c, str) else printable(c) for c in row]
                       for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def best_text(run, at: str = " @") -> str:
    """The best value of the run's monitored metric and its epoch: 'val_loss 0.41 @12'."""
    best = run.best.get(run.monitor)
    if best is None:
        return "-"
    epoch = run.best_epoch
    return f"{run.monitor} {fmt(best)}" + (f"{at}{epoch + 1}" if epoch is not None else "")


def model_text(run) -> str:
    return f"{run.layers_text()} {run.spec.optimizer} lr={run.spec.effective_learning_rate:g}"


# -- progress -------------------------------------------------------------------------------------


def is_terminal() -> bool:
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except ValueError:   # closed
        return False


class Progress:
    """Reports training: a rich progress bar on a terminal, else one line per
    epoch. ``listen(kind, args)`` hears the runner's events (engine.runner.reporter);
    use the object as a context manager around training (the terminal is restored
    however training ends, Ctrl+C included). ``control`` is stopped when stdout's
    reader goes away."""

    def __init__(self, title: str = "", terminal: bool | None = None, prefix: str = "",
                 control: Any = None) -> None:
        from engine.runner import Control

        self.terminal = is_terminal() if terminal is None else terminal
        self.title = printable(title)
        self.prefix = printable(prefix)
        self.broken_pipe = False   # stdout's reader went away: training was asked to stop
        self.control = control if control is not None else Control()
        self._bar = None
        self._task = None

    def listen(self, kind: str, args: tuple) -> None:
        """One event of the runner's reporter."""
        from engine.runner.reporter import epochs_of, metrics_only

        if kind == "started":
            self.begin(args[0])
        elif kind == "batch":
            self.batch(args[1], args[3])
        elif kind == "epochs":
            for epoch, logs in epochs_of(args):
                self.epoch_end(epoch, metrics_only(logs))

    def __enter__(self) -> Progress:
        if self.terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(   # the title is a dataset name: shown as it is, not as markup
                TextColumn("{task.description}", markup=False), BarColumn(bar_width=30),
                TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), transient=False)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)   # stops the live display and shows the cursor again
            self._bar = None

    def begin(self, params: dict[str, Any]) -> None:
        self.epochs = int(params.get("epochs") or 0)
        self.steps = max(1, int(params.get("steps") or 1))
        self.epoch = 0
        if self._bar is not None:
            self._task = self._bar.add_task(self.title, total=self.epochs, epoch=0,
                                            epochs=self.epochs, metrics="")

    def batch(self, batch: int, logs: dict[str, float]) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.epoch + (batch + 1) / self.steps,
                             epoch=self.epoch + 1, metrics=fmt_metrics(logs))

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch = epoch + 1
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.epoch, epoch=self.epoch,
                             metrics=fmt_metrics(logs))
        elif self._bar is None and not self.broken_pipe:
            width = len(str(self.epochs))
            prefix = f"{self.prefix}  " if self.prefix else ""
            try:
                click.echo(f"{prefix}epoch {self.epoch:>{width}}/{self.epochs}  "
                           f"{fmt_metrics(logs)}")
                sys.stdout.flush()
            except BrokenPipeError:   # `deepterm train ... | head`: stop, as a writer would
                self.broken_pipe = True
                silence_stdout()
                self.control.stop()


# -- the commands ---------------------------------------------------------------------------------


@click.group(cls=DeeptermGroup, context_settings=CONTEXT, invoke_without_command=True,
             epilog="Exit status: 0 done, 1 diverged/failed/store unusable, 2 bad arguments, "
                    "130 Ctrl+C, 141 output closed, 143 SIGTERM. `deepterm` alone opens the app.")
@click.version_option(package_name="deepterm", prog_name="deepterm")
@store_option
@click.pass_context
def cli(ctx: click.Context, store_path: Path | None) -> None:
    """deepterm: a deep-learning trainer in the terminal.

    Without a command it opens the app (with --store, saving runs there).
    """
    if ctx.invoked_subcommand is None:
        from ..app import run_app

        run_app(store=store_path)


@cli.command("train")
@train_options
@click.option("--label", help="a name for the run, shown by runs list and compare")
@click.option("--save-weights", is_flag=True, help="keep the trained weights in the store")
@store_option
@click.option("--no-store", is_flag=True, help="do not keep the run")
def train_command(dataset, target, dataset_options, layers, activation, optimizer, lr, loss,
                  epochs, batch_size, validation_split, patience, backend, device, seed,
                  standardize, restore, momentum, nesterov, l1, l2, dropout, features, label,
                  save_weights, store_path, no_store) -> None:
    """Train one network and keep the run in the store.

    A progress bar on a terminal, else one line per epoch; then the final
    metrics and the run id. The output layer and the loss follow the dataset's
    task: regression -> 1 linear unit, mse; classes -> softmax,
    categorical_crossentropy.

    \b
    Examples:
      deepterm train --dataset titanic --optimizer sgd --lr 0.01 --epochs 20 --patience 3
      deepterm train --dataset wages --layers 50,32 --epochs 30
      deepterm train --dataset circle --dataset-option n=200 --layers 8,8 --activation tanh
      deepterm train --dataset spiral --features x1,x2,sin_x1,sin_x2 --l2 0.001 --dropout 0.1
      deepterm train --dataset mnist --layers conv8x3,pool2,flatten,32 --epochs 5
      deepterm train --dataset my.csv --target price --no-store
    """
    from engine import runner
    from engine.recipe import prepare

    if no_store and save_weights:
        raise BadInput("--save-weights needs a store; drop --no-store")
    store = None if no_store else open_store(store_path)   # a bad setting stops us here
    ds = _load_dataset(dataset, target, dataset_options)
    config = run_config(ds, dataset, target, dataset_options, layers, activation, optimizer, lr,
                        loss, epochs=epochs, batch_size=batch_size,
                        validation_split=validation_split, patience=patience,
                        restore_best_weights=restore, seed=seed, backend=backend,
                        standardize=standardize, label=label, device=device,
                        momentum=momentum, nesterov=nesterov, l1=l1, l2=l2, dropout=dropout,
                        features=features)
    data = prepare(config, ds)
    spec = data.spec
    show_notes(ds)
    scaled = "; features standardized" if data.standardized else ""
    click.echo(f"training {printable(ds.name)} ({len(ds.X)} rows): "
               f"{' -> '.join(_layer_words(spec))}; "
               f"{spec.loss}, {optimizer} lr={lr:g}, batch {batch_size}, "
               f"{spec.count_params():,} parameters, {backend} backend{scaled}")
    progress = Progress(title=ds.name)
    try:
        with progress:
            # in this thread: Ctrl+C and SIGTERM stop the fit where they land
            run = runner.run(config, data, listener=progress.listen, control=progress.control,
                             store=store, save_weights=save_weights,
                             executor=runner.ThreadExecutor(epoch_interval_s=0),
                             batch_interval_s=0.1)   # a line per epoch as it ends
    except KeyboardInterrupt as exc:
        how, status = _interruption(exc)
        run = getattr(exc, "run", None)
        if run is None:
            click.echo(f"deepterm: interrupted ({how}) before training began; nothing kept",
                       err=True)
        else:
            where = f"kept as stopped in {store.path}" if _kept(store, run) else "not kept"
            click.echo(f"deepterm: stopped by {how} after {run.epochs_done} of {epochs} epochs; "
                       f"run {run.id} {where}", err=True)
        sys.exit(status)
    except Exception as exc:
        from engine.store import StoreError

        run = getattr(exc, "run", None)
        if run is None:
            raise  # nothing was trained: bad arguments (2) or an unusable store (1)
        if isinstance(exc, StoreError):
            _summary(run, None)
            raise Failure(f"run {run.id} {run.status} but could not be saved: {exc}") from exc
        kept = f"; run {run.id} kept as failed" if store is not None else ""
        raise Failure(f"training failed: {type(exc).__name__}: {exc}{kept}") from exc
    if progress.broken_pipe:
        sys.exit(EXIT_BROKEN_PIPE)   # the run is kept as stopped; nobody is reading
    _summary(run, store)
    if run.status == "diverged":
        raise Failure(f"{diverged_text(run)}; try a smaller --lr (it was {lr:g})")


def diverged_text(run) -> str:
    """Why a run diverged, by the engine's rule (engine.callbacks.Divergence): a
    non-finite value (that epoch was not recorded) or a loss that stayed exploded
    (those epochs were)."""
    from engine.callbacks import DIVERGENCE_EPOCHS, DIVERGENCE_FACTOR

    history = run.history
    stopped = history.stopped_epoch if history.stopped_epoch is not None else run.epochs_done
    if history.epoch and history.epoch[-1] == stopped:
        return (f"training diverged in epoch {stopped + 1}: the loss exploded to "
                f"{fmt(history.history['loss'][-1])} and stayed over {DIVERGENCE_FACTOR:g} times "
                f"its starting loss for {DIVERGENCE_EPOCHS} epochs")
    return f"training diverged in epoch {stopped + 1}: the loss became infinite or NaN"


def _kept(store, run) -> bool:
    """Whether ``run`` is in ``store`` (Ctrl+C may come before its first write)."""
    if store is None:
        return False
    try:
        store.resolve(run.id)
    except Exception:  # noqa: BLE001 - a store that cannot answer did not keep it either
        return False
    return True


def _layer_words(spec) -> list[str]:
    from engine.spec import Conv2D, Dropout, Flatten, MaxPooling2D

    def words(layer) -> str:
        if isinstance(layer, Dropout):
            return f"dropout {layer.rate:g}"
        if isinstance(layer, Flatten):
            return "flatten"
        if isinstance(layer, MaxPooling2D):
            (ph, pw), step = layer.pool_size, layer.step
            return f"pool{ph}" if ph == pw and step == layer.pool_size else \
                f"pool {ph}x{pw} strides {step[0]}x{step[1]}"
        if isinstance(layer, Conv2D):
            (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
            kernel = f"{kh}" if kh == kw else f"{kh}x{kw}"
            stride = "" if (sh, sw) == (1, 1) else f"s{sh}" if sh == sw else f" strides {sh}x{sw}"
            same = "same" if layer.padding == "same" else ""
            return f"conv{layer.filters}x{kernel}{stride}{same} {layer.activation}"
        reg = layer.kernel_regularizer
        penalty = "" if reg is None else " " + " ".join(
            f"{k.upper()}={v:g}" for k, v in reg.to_dict().items() if v)
        return f"{layer.units} {layer.activation}{penalty}"

    first = "x".join(map(str, spec.input_shape)) if spec.is_image else str(spec.input_dim)
    return [first, *[words(layer) for layer in spec.layers]]


def _summary(run, store) -> None:
    done = run.epochs_done
    planned = run.fit.get("epochs")
    monitor, patience = run.fit.get("monitor"), run.fit.get("patience")
    why = f"at the first epoch without {monitor} improvement" if not patience else \
        f"no {monitor} improvement for {plural(patience, 'epoch')}"
    how = {"completed": f"completed {done} epochs",
           "early_stopped": f"stopped early after {done} of {planned} epochs ({why})",
           "diverged": f"diverged after {done} of {planned} epochs",
           "stopped": f"stopped after {done} of {planned} epochs"}.get(run.status, run.status)
    click.echo(f"run {run.id} {how} in {run.duration_s or 0:.1f} s")
    if run.final:
        click.echo(f"final  {fmt_metrics(run.final)}")
    if run.best_epoch is not None:
        click.echo(f"best   {run.monitor} {fmt(run.best[run.monitor])} at epoch {run.best_epoch + 1}")
    if store is not None:
        click.echo(f"saved in {store.path}  (deepterm runs show {run.id})")


# -- runs -------------------------------------------------------------------------------------------


@cli.group("runs", cls=click.Group, context_settings=CONTEXT)
def runs_group() -> None:
    """List, show, export and delete the stored runs."""


@runs_group.command("list")
@store_option
@click.option("--dataset", help="only runs on this dataset")
@click.option("--status", callback=lambda ctx, p, v: _check_status(v),
              help="only runs with this status: completed, early_stopped, stopped, diverged, "
                   "failed, running or interrupted")
@click.option("--group", help="only the runs of one sweep")
@click.option("--limit", type=click.IntRange(min=1), help="at most this many (newest first)")
def runs_list(store_path, dataset, status, group, limit) -> None:
    """The stored runs, newest first. A run whose record cannot be read is
    listed as damaged, with its problem on stderr; the others list as usual."""
    from engine.store import DamagedRun

    store = open_store(store_path)
    runs = store.list(dataset=dataset, status=status, group=group, limit=limit)
    if not runs.entries:
        filtered = any(v is not None for v in (dataset, status, group))
        click.echo(f"no runs in {store.path}" + (" that match" if filtered else ""))
        return
    rows = [[r.id, r.created_at[:16].replace("T", " "), r.dataset_name, "?", "", "", "damaged",
             "", ""] if isinstance(r, DamagedRun) else
            [r.id, r.created_at[:16].replace("T", " "), r.dataset_name, model_text(r),
             r.fit.get("batch_size"), f"{r.epochs_done}/{r.fit.get('epochs', '?')}", r.status,
             best_text(r), r.label or r.group or ""] for r in runs.entries]
    click.echo(table(["ID", "CREATED (UTC)", "DATASET", "MODEL", "BATCH", "EPOCHS", "STATUS",
                      "BEST", "LABEL"], rows, right={4, 5}))
    warn_damaged(runs.damaged)


def warn_damaged(damaged) -> None:
    """One stderr line per run whose record cannot be read."""
    for run in damaged:
        click.echo(f"deepterm: run {run.id} is damaged: {one_line(run.problem)} "
                   f"(`deepterm runs delete {run.id}` removes it)", err=True)


def _check_status(value: str | None) -> str | None:
    from engine.runs import STATUSES

    if value is not None and value not in STATUSES:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(STATUSES)}")
    return value


@runs_group.command("rerun")
@click.argument("run_id")
@click.option("--no-store", is_flag=True, help="do not keep the new run")
@store_option
def runs_rerun(run_id, no_store, store_path) -> None:
    """Train a stored run again, from its recipe: the same data, settings, seed and
    initial weights, wherever it was started (the app, train, a sweep). On the NumPy
    backend the history is the same, number for number; the new run is kept beside
    the old one and the two histories are compared.

    \b
    Example:
      deepterm runs rerun 3fa1
    """
    from engine import runner
    from engine.recipe import check_repeatable, config_of, prepare
    from engine.runner import initial_weights
    from engine.runs import weights_digest

    store = open_store(store_path, must_exist=True)
    old = store.get(run_id)
    config = config_of(old)
    check_repeatable(old, config)
    data = prepare(config)
    check_repeatable(old, config, data)
    start = initial_weights(data.spec, config.seed)
    recorded = (old.fit or {}).get("initial_weights")
    if recorded and weights_digest(start) != recorded:
        raise Failure(f"run {old.id} started from weights that were not its seeded ones (a "
                      "lesson's, say): they are not stored, so it cannot be trained again as it was")
    click.echo(f"training run {old.id} again: {printable(config.describe())}; "
               f"{config.backend} backend, seed {config.seed}")
    progress = Progress(title=config.dataset_shown)
    with progress:
        new = runner.run(config, data, listener=progress.listen, control=progress.control,
                         store=None if no_store else store, weights=start,
                         executor=runner.ThreadExecutor(epoch_interval_s=0), batch_interval_s=0.1)
    _summary(new, None if no_store else store)
    same = new.history.history == old.history.history and new.status == old.status
    if same:
        click.echo(f"the same history as run {old.id}, number for number ({new.epochs_done} epochs)")
        return
    diffs = [abs(a - b) for key in old.history.history
             for a, b in zip(old.history.history[key], new.history.history.get(key, []))]
    largest = max(diffs, default=float("nan"))
    click.echo(f"differs from run {old.id}: {old.epochs_done} -> {new.epochs_done} epochs, "
               f"{old.status} -> {new.status}, largest difference in a metric {fmt(largest)}"
               + (" (Keras on this machine need not repeat a run exactly)"
                  if config.backend == "keras" else ""))


@runs_group.command("show")
@click.argument("run_id")
@store_option
def runs_show(run_id, store_path) -> None:
    """One run's settings and its per-epoch history."""
    run = open_store(store_path, must_exist=True).get(run_id)
    ds = run.dataset
    data = ds.get("name", "?")
    facts = [f"{ds['rows']} rows" if "rows" in ds else None, ds.get("task"),
             f"target {ds['target_name']}" if ds.get("target_name") else None]
    if ds.get("options"):
        facts.append(", ".join(f"{k}={v}" for k, v in ds["options"].items()))
    if ds.get("path"):
        facts.append(f"{ds['path']} sha256 {str(ds.get('sha256', ''))[:12]}")
    fit = run.fit
    fit_words = [f"epochs {fit.get('epochs')}", f"batch {fit.get('batch_size')}",
                 f"validation split {fit.get('validation_split')}",
                 "shuffled" if fit.get("shuffle", True) else "not shuffled"]
    if fit.get("patience") is not None:
        fit_words.append(f"patience {fit['patience']} on {fit.get('monitor')}")
    features = (fit.get("recipe") or {}).get("features")
    if features:
        from engine.features import labels

        facts.append("inputs " + " ".join(labels(features)))
    lines = [
        ("run", f"{run.id}  {run.status}" + (f"  ({run.error})" if run.error else "")),
        ("created", run.created_at),
        ("label", run.label),
        ("group", run.group),
        ("dataset", f"{data} ({', '.join(f for f in facts if f)})"),
        ("layers", " -> ".join(_layer_words(run.spec))),
        ("loss", f"{run.spec.loss}; metrics {', '.join(run.spec.metrics) or 'none'}"),
        ("optimizer", f"{run.spec.optimizer} lr={run.spec.effective_learning_rate:g}"),
        ("fit", ", ".join(fit_words)),
        ("backend", f"{run.backend} on {run.device or '?'}, seed {run.seed}"),
        ("parameters", f"{run.n_params:,}"),
        ("duration", f"{run.duration_s:.2f} s" if run.duration_s is not None else "-"),
        ("best", best_text(run, at=" at epoch ")),
    ]
    click.echo("\n".join(f"{k:<11}{printable(v)}" for k, v in lines if v))
    if run.history.epoch:
        keys = list(run.history.history)
        rows = [[e + 1, *[run.history.history[k][i] if i < len(run.history.history[k]) else None
                          for k in keys]] for i, e in enumerate(run.history.epoch)]
        click.echo()
        click.echo(table(["epoch", *keys], rows, right=set(range(len(keys) + 1))))
    else:
        click.echo("\nno epochs recorded")


@runs_group.command("export")
@click.argument("targets", nargs=-1, required=True, metavar="ID | DIR [ID...]")
@click.option("--format", "fmt_name", type=click.Choice(["csv", "json", "tensorboard"]),
              default=None, help="csv (Keras CSVLogger layout), json, or tensorboard (event files "
                                 "in DIR); default: from -o's suffix, else csv")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file (default: stdout)")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="FILE.keras|FILE.onnx",
              help="write the run's trained model to a Keras .keras or an ONNX .onnx file")
@store_option
def runs_export(targets, fmt_name, output, model_path, store_path) -> None:
    """Export one run's history (CSV) or everything about it (JSON), its trained
    model (--model), or runs as TensorBoard event files (--format tensorboard DIR
    [ID...]; every run in the store when no id is given).

    \b
    Examples:
      deepterm runs export 3fa1 -o run.csv
      deepterm runs export 3fa1 --model titanic.onnx
      deepterm runs export --format tensorboard logs      # then: tensorboard --logdir logs
    """
    from .models import export_run_model, export_tensorboard

    if fmt_name == "tensorboard":
        if output is not None or model_path is not None:
            raise BadInput("--format tensorboard writes into the folder DIR named first; it "
                           "takes no -o or --model")
        export_tensorboard(open_store(store_path, must_exist=True), Path(targets[0]), targets[1:])
        return
    if len(targets) != 1:
        raise BadInput(f"runs export takes one run id (got {len(targets)}); several runs go to "
                       f"TensorBoard: --format tensorboard DIR ID...")
    store = open_store(store_path, must_exist=True)
    if model_path is not None:
        export_run_model(store, targets[0], model_path)
        if output is None and fmt_name is None:
            return
    run = store.get(targets[0])
    if fmt_name is None:
        fmt_name = "json" if output is not None and output.suffix.lower() == ".json" else "csv"
    text = export_text(run, fmt_name)
    if output is None:
        click.echo(text, nl=False)
        return
    write_file(output, text, "the export")
    click.echo(f"wrote {output}")   # stdout: stderr carries errors only


def write_file(output: Path, text: str, what: str) -> None:
    """Write ``text`` to ``output`` through a temporary file beside it, so that a
    failed write leaves whatever was there; one Failure line when it cannot."""
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_text(text, newline="")
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise Failure(f"{output}: cannot write {what} ({exc.strerror or exc})") from None


def export_text(run, fmt_name: str) -> str:
    """A stored run as `runs export` writes it: the store's layouts (CSV as Keras'
    CSVLogger writes it, JSON with every field), but with epochs counted from 1 as
    everywhere else on the command line (progress lines, runs show, compare). The
    library's RunStore.export keeps Keras' count from 0. JSON is strict: NaN and
    infinities are the strings "NaN", "Infinity", "-Infinity" (engine.store.to_json)."""
    import dataclasses

    from engine.history import History
    from engine.store import run_to_csv, to_json

    data = run.history.to_dict()
    data["epoch"] = [e + 1 for e in data["epoch"]]
    for key in ("stopped_epoch", "best_epoch"):
        if data[key] is not None:
            data[key] += 1
    shifted = dataclasses.replace(run, history=History.from_dict(data))  # best_epoch follows
    if fmt_name == "csv":
        return run_to_csv(shifted)

    return to_json(shifted.to_dict())


@runs_group.command("delete")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="do not ask")
@store_option
def runs_delete(run_ids, yes, store_path) -> None:
    """Delete runs (their epochs and weights too). A run that is still training
    is refused (stop it first); so is the whole command then."""
    from engine.store import RunDamaged

    store = open_store(store_path, must_exist=True)
    ids = store.deletable(run_ids)   # every id checked before anything goes
    if not yes:
        names = []
        for run_id in ids:
            try:
                run = store.summary(run_id)
                names.append(f"{run.id} ({printable(run.dataset_name)}, {run.status})")
            except RunDamaged:
                names.append(f"{run_id} (damaged)")
        click.confirm(f"delete {', '.join(names)}?", abort=True, err=True)
    for run_id in store.delete_all(ids):
        click.echo(f"deleted {run_id}")


# -- compare --------------------------------------------------------------------------------------


MARKERS = ("•", "x", "+", "o", "*", "#", "%", "@", "=", "~")   # without colour
#: (plotext colour, click colour) per curve on a colour terminal, on its own background
COLORS = (("blue+", "bright_blue"), ("red+", "bright_red"), ("green+", "bright_green"),
          ("magenta+", "bright_magenta"), ("cyan+", "bright_cyan"), ("yellow+", "bright_yellow"),
          ("blue", "blue"), ("red", "red"), ("green", "green"), ("magenta", "magenta"))


def use_color() -> bool:
    return is_terminal() and not os.environ.get("NO_COLOR")


def key_for(i: int, color: bool) -> str:
    """What marks curve ``i`` in the legend and the table: its marker, or a
    block in its colour."""
    if not color:
        return MARKERS[i % len(MARKERS)]
    return click.style("■", fg=COLORS[i % len(COLORS)][1])


def default_metric(runs) -> str:
    return "val_loss" if all("val_loss" in r.history.history for r in runs) else "loss"


def chart(runs, metric: str, labels: list[str], width: int | None = None,
          height: int | None = None, color: bool = False) -> str:
    """The runs' curves of ``metric`` overlaid in one plotext chart, with a legend."""
    import shutil

    import plotext as plt

    size = shutil.get_terminal_size((100, 30))
    plt.clear_figure()
    plt.plotsize(width or min(size.columns, 120), height or max(12, min(size.lines - 8, 24)))
    plt.theme("clear")   # the terminal's own background; only the curves are coloured
    longest = max(len(r.curve(metric)[0]) for r in runs)
    for i, (run, label) in enumerate(zip(runs, labels)):
        xs, ys = run.curve(metric)
        ys = [y if math.isfinite(y) else float("nan") for y in ys]
        if color:
            plt.plot(xs, ys, label=label, marker="hd", color=COLORS[i % len(COLORS)][0])
        else:
            plt.plot(xs, ys, label=label, marker=MARKERS[i % len(MARKERS)])
    step = max(1, math.ceil(longest / 8))
    plt.xticks(list(range(1, longest + 1, step)))
    plt.title(f"{metric} per epoch")
    plt.xlabel("epoch")
    text = plt.build()
    plt.clear_figure()
    return text if color else plt.uncolorize(text)


@cli.command("compare")
@click.argument("run_ids", nargs=-1)
@click.option("--metric", "-m", default=None,
              help="the curve: loss, val_loss, accuracy, val_accuracy, mae, ... "
                   "(default: val_loss when every run has it, else loss)")
@click.option("--group", help="compare the runs of one sweep (its group name)")
@click.option("--width", type=click.IntRange(min=30), default=None, help="chart width (default: terminal)")
@click.option("--height", type=click.IntRange(min=8), default=None, help="chart height")
@store_option
def compare_command(run_ids, metric, group, width, height, store_path) -> None:
    """Overlay several runs' curves in one chart, with a legend and a table.

    RUN_IDS are ids (or unique prefixes) from `deepterm runs list`.
    """
    store = open_store(store_path, must_exist=True)
    runs = [store.get(r) for r in run_ids]
    if group:
        listed = store.list(group=group)
        warn_damaged(listed.damaged)
        runs += [r for r in reversed(listed) if r.id not in {x.id for x in runs}]
        if not runs:
            raise BadInput(f"no runs in group {group!r}; `deepterm runs list` shows the groups")
    if not runs:
        raise BadInput("name the runs to compare (ids from `deepterm runs list`) or give --group")
    metric = metric or default_metric(runs)
    for run in runs:
        if not run.history.history.get(metric):
            have = ", ".join(run.history.history) or "no epochs"
            raise BadInput(f"run {run.id} has no {metric!r} curve; it has: {have}")
    labels = [printable(f"{r.id[:6]} {r.label or model_text(r)}") for r in runs]
    from engine.runs import maximised

    color = use_color()
    click.echo(chart(runs, metric, labels, width, height, color=color))
    rows = []
    for run in runs:
        values = [v for v in run.history.history[metric] if math.isfinite(v)]
        best = (max(values) if maximised(metric) else min(values)) if values else None
        rows.append([run.id, run.label or "", model_text(run), run.status, run.epochs_done,
                     run.n_params, best])
    lines = table(["ID", "LABEL", "MODEL", "STATUS", "EPOCHS", "PARAMS", f"BEST {metric}"],
                  rows, right={4, 5, 6}).splitlines()
    click.echo("  " + lines[0])   # the key column is added after aligning: colour codes
    for i, line in enumerate(lines[1:]):   # have no width
        click.echo(f"{key_for(i, color)} {line}")


# -- sweep ----------------------------------------------------------------------------------------


SWEEP_FIXED = {"dataset": "--dataset", "target": "--target", "dataset_options": "--dataset-option",
               "layers": "--layers", "activation": "--activation", "optimizer": "--optimizer",
               "lr": "--lr", "loss": "--loss", "standardize": "--standardize",
               "setting": "--setting", "values": "--values", "momentum": "--momentum",
               "nesterov": "--nesterov", "l1": "--l1", "l2": "--l2", "dropout": "--dropout",
               "features": "--features"}


def _given(ctx: click.Context, name: str) -> bool:
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                               ParameterSource.ENVIRONMENT)


@cli.command("sweep")
@click.option("--experiment", "-e", metavar="NAME",
              help="one of the course's experiments: learning-rates, width or depth "
                   "(they fix the dataset, the model and the values)")
@click.option("--setting", "-s", metavar="SETTING",
              help="the setting to vary: learning_rate, units, depth, optimizer, batch_size, "
                   "l1, l2 (the regularization rate), dropout, or for image layers filters "
                   "and kernel_size (of the first conv layer)")
@click.option("--values", "-v", "values", metavar="V1,V2,...",
              help="its values, e.g. 0.000001,0.01,1 or, for l2, 0,0.001,0.01 (2 to 12 of them)")
@train_options
@click.option("--workers", type=click.IntRange(min=1, max=64), default=None,
              help="runs that train at once, each in its own process (default: one per core; "
                   "one with --backend keras)")
@click.option("--cluster", metavar="tcp://HOST:PORT", envvar="DEEPTERM_CLUSTER",
              help="train each run as a task on this Dask scheduler (also $DEEPTERM_CLUSTER; "
                   "needs the 'cluster' extra)")
@click.option("--chart/--no-chart", "draw_chart", default=True, show_default=True,
              help="overlay the runs' validation-loss curves at the end")
@store_option
@click.option("--no-store", is_flag=True, help="do not keep the runs")
@click.pass_context
def sweep_command(ctx, experiment, setting, values, dataset, target, dataset_options, layers,
                  activation, optimizer, lr, loss, epochs, batch_size, validation_split,
                  patience, backend, device, seed, standardize, restore, momentum, nesterov,
                  l1, l2, dropout, features, workers, cluster, draw_chart, store_path,
                  no_store) -> None:
    """Train one network over several values of one setting, every run from the
    same initial weights where the shapes allow, several at once (one per core);
    then a table of parameter counts and best validation losses.

    \b
    Examples:
      deepterm sweep --experiment learning-rates
      deepterm sweep --experiment depth --epochs 5
      deepterm sweep --dataset wages --setting units --values 10,100 --epochs 20
      deepterm sweep --dataset titanic --setting optimizer --values sgd,adam --layers 32
      deepterm sweep --dataset spiral --layers 8,8 --setting l2 --values 0,0.001,0.01
      deepterm sweep --dataset mnist --layers conv8x3,pool2,flatten,32 --setting filters --values 4,8
      deepterm sweep --experiment learning-rates --cluster tcp://10.0.0.5:8786

    A diverged run is a result, not an error: the sweep exits 0 when every run
    ended (completed, stopped early or diverged).
    """
    from engine import runner, sweeps

    if device:
        raise BadInput("--device is not supported by sweep; use train")
    if experiment:
        extra = [flag for name, flag in SWEEP_FIXED.items() if _given(ctx, name)]
        if extra:
            raise BadInput(f"--experiment fixes the dataset, the model and the values: drop "
                           f"{', '.join(extra)}")
        exp = sweeps.get_experiment(experiment)
        given = {"epochs": epochs, "batch_size": batch_size,
                 "validation_split": validation_split, "patience": patience}
        base = sweeps.experiment_config(
            exp, backend=backend, seed=seed,
            **{k: v for k, v in given.items() if _given(ctx, k)})
        ds = base.load_dataset()
        setting, values = exp.setting, exp.values
        group = f"{exp.name}-{_new_id()}"
        click.echo(f"{exp.title}: {exp.blurb}")
    else:
        if not setting or not values:
            raise BadInput("give --experiment NAME, or --setting and --values (with --dataset)")
        ds = _load_dataset(dataset, target, dataset_options)
        base = run_config(ds, dataset, target, dataset_options, layers, activation, optimizer,
                          lr, loss, epochs=epochs, batch_size=batch_size,
                          validation_split=validation_split, patience=patience,
                          restore_best_weights=restore, seed=seed, backend=backend,
                          standardize=standardize, momentum=momentum, nesterov=nesterov,
                          l1=l1, l2=l2, dropout=dropout, features=features)
        show_notes(ds)
        group = f"sweep-{_new_id()}"
    configs = sweeps.configs_for(base.with_changes(group=group), setting, values,
                                 int(ds.X.shape[1]), group=group)   # checks the values
    store = None if no_store else open_store(store_path)
    click.echo(f"sweep {group}: {printable(ds.name)}, {len(configs)} runs over "
               f"{configs[0].label.split('=')[0]} "
               f"({', '.join(c.label.split('=', 1)[1] for c in configs)}); "
               f"{base.epochs} epochs each")
    control = runner.Control()
    done: list = []
    progress: dict[int, Progress] = {}
    lock = threading.Lock()
    several = cluster is not None or (workers or runner.default_workers()) > 1

    def hear(index: int, kind: str, args: tuple) -> None:
        with lock:
            if kind == "started":
                label = configs[index].label
                # several runs at once: plain lines, each starting with its run's label
                progress[index] = Progress(title=label, prefix=label, control=control,
                                           terminal=False if several else None)
                progress[index].__enter__()
            if index in progress:
                progress[index].listen(kind, args)
            if progress.get(index) is not None and progress[index].broken_pipe:
                control.stop()

    def ended(index: int, outcome) -> None:
        with lock:
            bar = progress.pop(index, None)
            if bar is not None:
                bar.__exit__(None, None, None)
            if isinstance(outcome, BaseException):
                return
            done.append(outcome)
            label = configs[index].label
            click.echo(f"{label}: run {outcome.id} {outcome.status} after "
                       f"{outcome.epochs_done} epochs, {best_text(outcome, at=' at epoch ')}")

    try:
        results = runner.sweep(configs, dataset=ds, workers=workers, cluster=cluster,
                               listener=hear, control=control, store=store, on_run=ended)
    except KeyboardInterrupt as exc:
        _close(progress, exc)
        run = getattr(exc, "run", None)
        count = len(done) + sum(1 for r in [run] if r is not None and r not in done
                                and _kept(store, r))
        kept = f"; {plural(count, 'run')} kept in group {group}" if store is not None else ""
        how, status = _interruption(exc)
        click.echo(f"deepterm: sweep stopped by {how} during "
                   f"{run.label if run is not None else 'a run'}{kept}", err=True)
        sys.exit(status)
    except BaseException as exc:
        _close(progress, exc)
        raise
    runs = [r for r in results if r is not None]
    failed = [configs[i].label for i, r in enumerate(results) if r is not None
              and r.status == "failed"]
    if any(p.broken_pipe for p in progress.values()) or control.stop_requested:
        sys.exit(EXIT_BROKEN_PIPE)
    click.echo()
    _sweep_table(runs)
    if draw_chart and runs:
        metric = default_metric(runs)
        drawable = [r for r in runs if r.history.history.get(metric)]
        if drawable:
            click.echo()
            click.echo(chart(drawable, metric, [printable(r.label or r.id) for r in drawable],
                             color=use_color()))
    if store is not None:
        click.echo(f"\nkept in {store.path}; compare again with: deepterm compare --group {group}")
    if failed:
        raise Failure(f"sweep {group}: {', '.join(failed)} failed (the other runs are kept)")


def _new_id() -> str:
    from engine.runs import new_run_id

    return new_run_id()


def _close(progress: dict, exc: BaseException) -> None:
    """Restore the terminal under every progress display still open."""
    for bar in list(progress.values()):
        bar.__exit__(type(exc), exc, exc.__traceback__)
    progress.clear()


def _sweep_table(runs) -> None:
    from engine.sweeps import COLUMNS, comparison_rows, format_cell

    rows = comparison_rows(runs)
    header = [heading.upper() for _, heading in COLUMNS] + ["ID"]
    body = [[format_cell(key, row[key]) for key, _ in COLUMNS] + [row["id"]] for row in rows]
    click.echo(table(header, body, right={1, 2, 3, 4, 5}))


# -- datasets -------------------------------------------------------------------------------------


@cli.command("datasets")
def datasets_command() -> None:
    """The dataset catalog: names to give to --dataset."""
    import datasets

    rows = [[d.name, d.task, d.rows, d.features, d.kind,
             ", ".join(f"{k}={v}" for k, v in d.options.items()), d.description]
            for d in datasets.list_datasets()]
    click.echo(table(["NAME", "TASK", "ROWS", "FEATURES", "KIND", "OPTIONS", "DESCRIPTION"], rows,
                     right={2, 3}))
    click.echo("\nA CSV file works too: deepterm train --dataset my.csv --target COLUMN")


# -- entry point ----------------------------------------------------------------------------------


def run_cli(args: list[str]) -> int:
    """Run the command line on ``args``; returns the exit status.

    SIGTERM stops a command as Ctrl+C does. Only the first SIGINT or SIGTERM
    interrupts: later ones are ignored, so that a second signal a moment after
    the first cannot cut the final save of the run, nor the message saying how
    it was kept; after an interruption they stay ignored until the process exits."""
    if stdout_closed():   # every command reports there: refuse before doing anything
        click.echo("Error: stdout is closed (>&-), so deepterm has nowhere to write; nothing was "
                   "done (send it to a file or to /dev/null instead)", err=True)
        return EXIT_FAILED
    warnings.showwarning = _show_warning   # a warning is one line too
    from ..terminal import native_output_to_log

    interrupted: list[int] = []

    def interrupt(signum, frame):
        if interrupted:
            return   # the first is being handled: the run is being saved
        interrupted.append(signum)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, interrupt)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, interrupt)
    try:
        # TensorFlow's native lines to the log file, on a terminal and through a pipe
        with native_output_to_log(terminal_only=False):
            cli.main(args=args, prog_name="deepterm", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if interrupted else handler)
    return EXIT_OK
