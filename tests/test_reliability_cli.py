"""The command line under bad input and a hostile terminal (issue #14): every
fault is one line on stderr with the README's exit status, and text a user
typed never reaches the terminal as control sequences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import ENV_VAR, RunStore

ROOT = Path(__file__).resolve().parents[1]


def deepterm(*args: str, store: Path | None = None, **run) -> subprocess.CompletedProcess:
    """`python -m tui ARGS` in a subprocess, never near the user's own store."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(store.parent if store else ROOT / ".no-store-here")
    env["DEEPTERM_LOG"] = os.devnull
    extra = ["--store", str(store)] if store is not None else []
    return subprocess.run([sys.executable, "-m", "tui", *args, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, **run)


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
                    "--optimizer", optimizer, "--epochs", "5", store=store)
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
