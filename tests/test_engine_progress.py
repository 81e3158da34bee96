"""model.fit(verbose=...) with Keras' meaning on both backends (issue 20, point 6): 0
silent, 1 a bar per epoch (tqdm.auto: a widget in a notebook, a text bar on a terminal,
plain lines in a pipe), 2 one line per epoch, "auto" as 1."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from engine import Layer, ModelSpec, build
from engine.errors import FitError

SPEC = ModelSpec(input_dim=3, layers=[Layer(4, "relu"), Layer(2, "softmax")],
                 loss="categorical_crossentropy", metrics=["accuracy"], optimizer="adam")
LINE = re.compile(r"(\d+)/(\d+) - \d+s - \d+ms/step - (.*)")


def data(n: int = 50):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, np.eye(2)[(X[:, 0] > 0).astype(int)]


def fit(verbose, backend: str = "numpy", epochs: int = 3):
    X, y = data()
    model = build(SPEC, backend=backend, seed=0)
    return model.fit(X, y, epochs=epochs, batch_size=16, validation_split=0.2, verbose=verbose)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines_of(text: str, history) -> None:
    """Two lines per epoch, Keras' verbose=2 lines, with the history's numbers."""
    lines = text.splitlines()
    assert len(lines) == 2 * len(history.epoch)
    for epoch, (title, line) in enumerate(zip(lines[::2], lines[1::2], strict=True)):
        assert title == f"Epoch {epoch + 1}/3"
        found = LINE.fullmatch(line)
        assert found, line
        assert found.group(1) == found.group(2) == "3"          # 40 rows, batches of 16
        want = " - ".join(f"{k}: {v[epoch]:.4f}" for k, v in history.history.items())
        assert found.group(3) == want


def test_verbose_2_prints_one_line_per_epoch_with_the_metrics(capsys):
    history = fit(2)
    out = capsys.readouterr()
    assert out.err == ""
    lines_of(out.out, history)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]


def test_verbose_1_and_auto_in_a_pipe_print_plain_lines_as_keras_does(capsys):
    for verbose in (1, "auto"):
        history = fit(verbose)
        out = capsys.readouterr().out
        assert "\r" not in out
        lines_of(out, history)


def test_verbose_0_is_silent(capsys):
    fit(0)
    assert capsys.readouterr() == ("", "")


def test_verbose_1_on_a_terminal_draws_a_bar_per_epoch(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    history = fit(1)
    out = terminal.getvalue()
    assert "\r" in out                                   # a bar redrawn in place
    final = [part for part in out.split("\r") if "3/3" in part]
    for epoch in range(3):
        drawn = [part for part in final if part.startswith(f"Epoch {epoch + 1}/3")]
        assert drawn, out
        assert re.search("3/3 [█#]{20} ", drawn[-1])     # the bar full
        assert f"val_loss: {history.history['val_loss'][epoch]:.4f}" in drawn[-1]
    assert out.count("\n") == 3                          # each bar left on its own line


def test_in_a_notebook_the_bar_is_tqdm_autos(monkeypatch):
    """In Jupyter the bar comes from tqdm.auto, which draws it as a notebook widget: here
    a notebook is pretended and tqdm.auto's class recorded."""
    import tqdm.auto

    made = []

    class Recorded(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **{**kwargs, "file": io.StringIO()})

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    monkeypatch.setattr("engine.progress.in_notebook", lambda: True)
    fit(1)
    assert [(m["desc"], m["total"], m["unit"]) for m in made] == [
        (f"Epoch {e}/3", 3, "step") for e in (1, 2, 3)]


@pytest.mark.parametrize("bad", [3, -1, "yes", True, 1.5, None])
def test_other_verbose_values_are_refused(bad):
    with pytest.raises(FitError, match="verbose must be 0 .silent., 1 .a progress bar., 2"):
        fit(bad)


def test_the_keras_backend_prints_the_same_lines(capsys):
    pytest.importorskip("tensorflow")
    history = fit(2, backend="keras")
    out = capsys.readouterr()
    assert "━" not in out.out and out.err == ""           # Keras' own bar stays off
    lines_of(out.out, history)
    fit(0, backend="keras")
    assert capsys.readouterr().out == ""
