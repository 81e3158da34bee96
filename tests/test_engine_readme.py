"""The README's library example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_opens_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "pip install -e . && deepterm"
    assert blocks[1].strip() == 'pip install -e ".[dev]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci.splitlines()


def test_readme_python_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[0] in ("completed", "early_stopped")
    assert float(lines[1].split()[-1]) < 0.5  # it learned the linear target
    assert (tmp_path / "wages-like.npz").exists()


def test_readme_states_the_divergence_rule_the_engine_applies():
    from engine.callbacks import DIVERGENCE_EPOCHS, DIVERGENCE_FACTOR, DIVERGENCE_FLOOR

    text = " ".join((ROOT / "README.md").read_text().split())
    words = {3: "three"}[DIVERGENCE_EPOCHS]
    assert (f"**{words} epochs in a row end with a training loss above {DIVERGENCE_FACTOR:g} times "
            f"the starting loss, and above {DIVERGENCE_FLOOR:g}**") in text
    assert "A spike that comes back under that line sooner is not divergence" in text
