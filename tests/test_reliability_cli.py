"""The command line under bad input and a hostile terminal (issue #14): every
fault is one line on stderr with the README's exit status, and text a user
typed never reaches the terminal as control sequences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.store import ENV_VAR, RunStore

ROOT = Path(__file__).resolve().parents[1]


def deepterm(*args: str, store: Path | None = None, **run) -> subprocess.CompletedProcess:
    """`python -m tui ARGS` in a subprocess, never near the user's own store."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(store.parent if store else ROOT / ".no-store-here")
    env["DEEPTERM_LOG"] = os.devnull
    extra = ["--store", str(store)] if store is not None else []
    if "stdout" not in run:
        run["capture_output"] = True
    return subprocess.run([sys.executable, "-m", "tui", *args, *extra], cwd=ROOT, env=env,
                          text=True, timeout=120, **run)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# -- item 19: sizes and seeds the engine refuses -------------------------------------------------


def test_a_network_too_large_for_memory_is_one_line_naming_layers():
    """--layers 99999999999999999999 ended in numpy's bare 'Maximum allowed dimension
    exceeded'."""
    proc = deepterm("train", "--dataset", "titanic", "--layers", "99999999999999999999",
                    "--no-store")
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith("Error: --layers: this network has 1.3e+21 weights; training it takes "
                           "at least 2.26e+04 EiB (weights, gradients and the adam optimizer's "
                           "state in float32), more than the ")
    assert line.endswith(" of memory available; use fewer or smaller layers")


def test_a_seed_beyond_int64_is_one_line_naming_seed():
    proc = deepterm("train", "--dataset", "titanic", "--seed", str(2**63), "--no-store")
    assert proc.returncode == 2
    assert one_line_error(proc) == ("Error: --seed must be a whole number >= 0, at most 2**63 - 1, "
                                    "got 9223372036854775808")


# -- item 18: divergence -----------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer,final", [("sgd", "2.49e+05"), ("adam", "7.21e+04"),
                                             ("rmsprop", "4.85e+05")])
def test_a_loss_that_explodes_and_stays_exploded_exits_1_as_diverged(tmp_path, optimizer, final):
    """This run ended at a loss of 2.5e5 reported as completed, exit 0."""
    store = tmp_path / "runs.db"
    proc = deepterm("train", "--dataset", "titanic", "--layers", "32", "--lr", "1e6",
                    "--optimizer", optimizer, "--epochs", "5", "--no-standardize", store=store)
    assert proc.returncode == 1
    assert one_line_error(proc) == (f"Error: training diverged in epoch 3: the loss exploded to "
                                    f"{final} and stayed over 1000 times its starting loss for 3 "
                                    f"epochs; try a smaller --lr (it was 1e+06)")
    assert "diverged after 3 of 5 epochs" in proc.stdout
    (run,) = RunStore(store).list()
    assert run.status == "diverged" and run.epochs_done == 3


def test_a_non_finite_loss_still_says_so():
    proc = deepterm("train", "--dataset", "wages", "--lr", "1e6", "--optimizer", "sgd",
                    "--epochs", "5", "--no-store")
    assert proc.returncode == 1
    assert one_line_error(proc) == ("Error: training diverged in epoch 1: the loss became infinite "
                                    "or NaN; try a smaller --lr (it was 1e+06)")


# -- item 20: a closed stdout, click's usage errors ----------------------------------------------


def deepterm_without_stdout(*args: str, store: Path) -> subprocess.CompletedProcess:
    """`python -m tui ARGS >&-`: file descriptor 1 closed before Python starts."""
    return deepterm(*args, store=store, stdout=None, stderr=subprocess.PIPE,
                    preexec_fn=lambda: os.close(1))


CLOSED = ("Error: stdout is closed (>&-), so deepterm has nowhere to write; nothing was done "
          "(send it to a file or to /dev/null instead)")


@pytest.mark.parametrize("args", [
    ["runs", "list"], ["runs", "show", "RUN"], ["compare", "RUN", "RUN"], ["datasets"],
    ["train", "--dataset", "circle", "--epochs", "2"], ["--help"],
])
def test_a_closed_stdout_is_one_line_and_exit_1_with_nothing_done(tmp_path, args):
    """`deepterm train ... >&-` ended in a traceback (AttributeError: 'NoneType' object
    has no attribute 'isatty'); the others printed nothing and exited 0."""
    import engine

    store = tmp_path / "runs.db"
    run = engine.train(_circle_spec(), _circle(), store=RunStore(store), epochs=1)
    args = [run.id if a == "RUN" else a for a in args]
    proc = deepterm_without_stdout(*args, store=store)
    assert proc.returncode == 1
    assert one_line_error(proc) == CLOSED
    assert [r.id for r in RunStore(store).list()] == [run.id]   # nothing trained


def _circle():
    import datasets

    return datasets.load("circle", n=60)


def _circle_spec():
    from tui.cli import run_config

    return run_config(_circle(), "circle", None, {}, [4], "relu", "adam", 0.01, None).spec(2)


@pytest.mark.parametrize("args,line", [
    (["train", "--epochs", "x"],
     "Error: Invalid value for '--epochs': 'x' is not a valid integer. "
     "(deepterm train --help shows the options)"),
    (["train", "--optimizer", "nadam"],
     "Error: Invalid value for '--optimizer': 'nadam' is not one of 'sgd', 'adam', 'rmsprop', "
     "'adagrad'. (deepterm train --help shows the options)"),
    (["--bogus"], "Error: No such option '--bogus'. (deepterm --help shows the options)"),
    (["bogus"], "Error: No such command 'bogus'. (deepterm --help shows the options)"),
    (["runs", "bogus"], "Error: No such command 'bogus'. (deepterm runs --help shows the options)"),
    (["runs", "show"], "Error: Missing argument 'RUN_ID'. (deepterm runs show --help shows the options)"),
    (["runs", "list", "--status", "nope"],
     "Error: Invalid value for '--status': 'nope' is not one of running, completed, early_stopped, "
     "stopped, diverged, failed, interrupted (deepterm runs list --help shows the options)"),
    (["train", "--dataset-option", "n"],
     "Error: Invalid value for '--dataset-option': give KEY=VALUE, e.g. n=100, got 'n' "
     "(deepterm train --help shows the options)"),
])
def test_click_usage_errors_are_one_line_and_exit_2(tmp_path, args, line):
    """They were four lines: usage, a hint, a blank line, the error."""
    proc = deepterm(*args, store=tmp_path / "runs.db")
    assert proc.returncode == 2
    assert one_line_error(proc) == line


def test_is_terminal_answers_false_without_a_stdout(monkeypatch):
    from tui import cli

    monkeypatch.setattr(sys, "stdout", None)
    assert cli.is_terminal() is False and cli.stdout_closed() is True


# -- item 22: user text reaches the terminal as text ----------------------------------------------

#: A file name, a column name and a class name carrying terminal control sequences.
FILE_NAME = "ev\x1b]0;PWNED\x07il"
COLUMN = "c\x1b[31mat"
CLASS = "no\x1b]0;X\x07"


def _hostile_csv(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = [f"f1,f2,{COLUMN},label"]
    for i in range(200):
        lines.append(f"{rng.normal():.3f},{rng.normal():.3f},{'a' if i % 2 else 'b'},"
                     f"{'yes' if i % 20 else CLASS}")
    path = folder / f"{FILE_NAME}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_inert(*texts: str) -> None:
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, text


def test_names_from_files_and_labels_are_printed_with_their_escapes_shown(tmp_path):
    """They reached the terminal raw: a window retitled to PWNED, red text."""
    store = tmp_path / "runs.db"
    label = "[b]lab\x1b[2Jel"
    proc = deepterm("train", "--dataset", str(_hostile_csv(tmp_path)), "--epochs", "1",
                    "--label", label, "--no-standardize", store=store)
    assert proc.returncode == 0, proc.stderr
    assert_inert(proc.stdout, proc.stderr)
    assert "training ev\\x1b]0;PWNED\\x07il (200 rows)" in proc.stdout
    assert "note: one-hot encoded 'c\\x1b[31mat' into 2 columns" in proc.stdout
    (run,) = RunStore(store).list()
    assert run.label == label and run.dataset_name == FILE_NAME   # kept as they are
    listed = deepterm("runs", "list", store=store)
    shown = deepterm("runs", "show", run.id, store=store)
    compared = deepterm("compare", run.id, store=store)
    asked = deepterm("runs", "delete", run.id, store=store, input="n\n")
    assert_inert(listed.stdout, shown.stdout, compared.stdout, asked.stderr)
    row = listed.stdout.splitlines()[1]
    assert "ev\\x1b]0;PWNED\\x07il" in row and row.endswith("[b]lab\\x1b[2Jel")
    assert "label      [b]lab\\x1b[2Jel" in shown.stdout
    assert "dataset    ev\\x1b]0;PWNED\\x07il (200 rows, binary, target label" in shown.stdout
    assert compared.stdout.count("[b]lab\\x1b[2Jel") == 2      # legend and table
    assert f"delete {run.id} (ev\\x1b]0;PWNED\\x07il, completed)?" in asked.stderr


def test_an_error_naming_a_file_shows_its_escapes():
    proc = deepterm("train", "--dataset", f"/no/such/{FILE_NAME}.csv", "--no-store")
    assert proc.returncode == 2
    assert one_line_error(proc) == "Error: --dataset /no/such/ev\\x1b]0;PWNED\\x07il.csv: no such file"


def test_a_group_without_its_command_still_shows_its_help():
    """`deepterm runs` asks for help, as click answers it: the help text, exit 2."""
    proc = deepterm("runs")
    assert proc.returncode == 2
    assert proc.stderr.startswith("Usage: deepterm runs [OPTIONS] COMMAND [ARGS]...\n")
    assert "  list    The stored runs, newest first.\n" in proc.stderr
