"""engine and datasets stay headless and never pull TensorFlow in on import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: numba too: importing the engine never loads it; training a dense model does (the
#: compiled training loop, engine.compiled) unless DEEPTERM_NO_COMPILE=1, and so do the
#: fused optimizer kernels of large models
FORBIDDEN = ("tensorflow", "keras", "textual", "textual_plotext", "plotext", "numba")


def _loaded_after(code: str, env: dict | None = None,
                  forbidden: tuple[str, ...] = FORBIDDEN) -> list[str]:
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_engine_and_datasets_loads_no_ui_and_no_tensorflow():
    assert _loaded_after("import engine, datasets") == []
    assert _loaded_after("import engine.feature_maps, engine.plane") == []


def test_building_and_training_a_numpy_model_loads_no_tensorflow():
    code = (
        "import numpy as np\n"
        "from engine import ModelSpec, Layer, build\n"
        "m = build(ModelSpec(input_dim=2, layers=[Layer(3, 'relu'), Layer(1)]), seed=0)\n"
        "m.fit(np.ones((8, 2)), np.ones(8), epochs=2)\n"
    )
    assert _loaded_after(code, forbidden=FORBIDDEN[:-1]) == []
    assert _loaded_after(code, env={"DEEPTERM_NO_COMPILE": "1"}) == []


def test_the_runner_and_the_recipe_run_without_the_ui():
    """The run recipe, the runner and its child process import the engine, never
    Textual (each run's child would otherwise spend a fifth of a second importing it):
    a run trained through the runner, in this process and in a child, loads neither a
    UI nor TensorFlow."""
    assert _loaded_after("import engine.recipe, engine.runner, engine.runner.child, "
                         "engine.runner.reporter, engine.sweeps") == []
    code = (
        "from engine.recipe import RunConfig\n"
        "from engine import runner\n"
        "c = RunConfig(dataset='xor', dataset_options={'n': 40}, hidden=((4, 'relu'),), epochs=2)\n"
        "for how in ('thread', 'child'):\n"
        "    assert runner.run(c, executor=how).status == 'completed'\n"
    )
    assert _loaded_after(code, forbidden=FORBIDDEN[:-1]) == []


def test_the_command_line_is_a_front_end_without_textual():
    """tui.cli (click) and tui.app (Textual) are separate front ends: the command line
    imports no Textual, also while it trains a run and a sweep."""
    assert _loaded_after("import tui.cli, tui.cli.commands, tui.terminal, tui.__main__") == []
    code = (
        "import contextlib, io\n"
        "from tui.cli import run_cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert run_cli(['train', '--dataset', 'xor', '--dataset-option', 'n=40', '--layers', '4',\n"
        "                    '--epochs', '2', '--no-store']) == 0\n"
        "    assert run_cli(['sweep', '--dataset', 'xor', '--dataset-option', 'n=40', '--layers', '4',\n"
        "                    '--setting', 'units', '--values', '2,4', '--epochs', '2', '--no-store',\n"
        "                    '--no-chart']) == 0\n"
    )
    assert _loaded_after(code, forbidden=FORBIDDEN[:-1]) == []
