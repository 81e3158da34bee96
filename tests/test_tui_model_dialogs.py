"""The results screen's "Predict on a CSV…" (p) and "Export model" (e) dialogs (issue 20,
points 1 and 2 in the app), driven with keys at 80x24, asserting what the learner sees;
and the app's runs keeping their weights so that `deepterm predict` can use them."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from _lessons_helpers import screen_lines
from _tui_helpers import ready, run_async, wait_until
from textual.widgets import DataTable, Input

from engine import runner
from engine.formatting import format_metric
from engine.predict import predict_csv
from engine.recipe import RunConfig, prepare
from tui.app import DeeptermApp
from tui.app.screens.model_dialogs import ExportDialog, PredictDialog
from tui.app.screens.results import ResultsScreen

SMALL = (80, 24)


def titanic_csv_run(course_data):
    """A run on the course's titanic_all_numeric.csv, trained as the app trains it."""
    config = RunConfig(dataset=None, csv_path=str(course_data / "titanic_all_numeric.csv"),
                       csv_target="survived", epochs=3)
    config = config.for_dataset(config.load_dataset())
    data = prepare(config)
    run = runner.run(config, data, executor="thread")
    return config, data, run


async def open_results(pilot, config, data, run) -> ResultsScreen:
    await ready(pilot)
    screen = ResultsScreen(config, data, run.model, run.history)
    await pilot.app.push_screen(screen)
    await pilot.pause()
    return screen


async def type_into(pilot, selector: str, text: str) -> None:
    """``text`` in the field as a paste then its last key (a path typed key by key
    costs seconds of completion lookups and proves nothing more)."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()                 # focusing selects the text: the value goes in after
    field.value = text[:-1]
    await pilot.press("end", *text[-1:])


def text_of(app) -> str:
    return "\n".join(screen_lines(app))


def shown(app, selector: str) -> str:
    """The text a widget of the top screen shows (before wrapping), "" when hidden."""
    widget = app.screen.query_one(selector)
    if not widget.display or widget.styles.display == "none":
        return ""
    visual = widget.visual
    return getattr(visual, "plain", str(visual))


@run_async
async def test_predict_on_a_csv_shows_and_saves_the_predictions_at_80x24(course_data, tmp_path):
    config, data, run = titanic_csv_run(course_data)
    pred_file = course_data / "titanic_pred.csv"
    expected = predict_csv(run.model, pred_file)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SMALL) as pilot:
        await open_results(pilot, config, data, run)
        footer = screen_lines(app)[-1]
        assert "p Predict on a CSV…" in footer and "e Export model" in footer, footer

        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PredictDialog), what="the dialog")
        dialog = app.screen
        await type_into(pilot, "#predict-path", str(pred_file))
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.table is not None, what="the predictions")
        await pilot.pause(0.2)
        seen = text_of(app)
        assert "91 rows of titanic_pred.csv predicted" in seen, seen
        assert "the file's columns are named 0..9: matched to the training columns by" in seen
        grid = dialog.query_one("#predict-table", DataTable)
        assert grid.row_count == 91
        assert [str(c.label) for c in grid.columns.values()] == ["row", "p_0", "p_1", "predicted"]
        first = [str(c) for c in grid.get_row_at(0)]
        p0, p1, name = expected.rows()[0]          # the file's 9 digits, shown as the app shows numbers
        assert first == ["1", format_metric(float(p0)), format_metric(float(p1)), name]
        assert first[1] == f"{float(p0):.4f}" and first[1] != p0
        assert float(first[2]) == pytest.approx(float(expected.outputs[0, 1]), abs=5e-5)
        box = dialog.query_one("#predict-box")
        assert box.region.bottom <= SMALL[1] and box.region.right <= SMALL[0]
        for button in ("#predict-run", "#predict-save-button", "#predict-close-button"):
            assert dialog.query_one(button).region.bottom < box.region.bottom  # visible

        out = tmp_path / "saved.csv"
        await type_into(pilot, "#predict-save", str(out))
        await pilot.press("enter")
        await wait_until(pilot, out.exists, what="the saved file",
                         details=lambda: (dialog.query_one("#predict-save", Input).value,
                                          app.focused))
        assert out.read_text() == expected.to_csv()
        rows = list(csv.reader(io.StringIO(out.read_text())))
        assert len(rows) == 92 and rows[0] == ["p_0", "p_1", "predicted"]

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)


@run_async
async def test_a_file_that_does_not_fit_is_one_line_in_the_dialog(course_data, tmp_path):
    config, data, run = titanic_csv_run(course_data)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SMALL) as pilot:
        await open_results(pilot, config, data, run)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PredictDialog), what="the dialog")
        for path, words in ((tmp_path / "gone.csv", "gone.csv: no such file"),
                            (course_data / "hourly_wages.csv", "missing columns 'pclass'")):
            await type_into(pilot, "#predict-path", str(path))
            await pilot.press("enter")
            await wait_until(pilot, lambda w=words: w in shown(app, "#predict-error"), what=words)
            assert "\n" not in shown(app, "#predict-error")        # one line, wrapped or not
        assert app.screen.table is None
        assert not app.screen.query_one("#predict-table").display


@run_async
async def test_export_model_writes_an_onnx_file_onnxruntime_runs(course_data, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    config, data, run = titanic_csv_run(course_data)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SMALL) as pilot:
        await open_results(pilot, config, data, run)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog), what="the dialog")
        assert app.screen.query_one("#export-path", Input).value == "titanic_all_numeric.onnx"
        await type_into(pilot, "#export-path", str(tmp_path / "m.txt"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "a .keras or an .onnx file" in shown(app, "#export-error"),
                         what="the error")
        out = tmp_path / "titanic.onnx"
        await type_into(pilot, "#export-path", str(out))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Wrote" in text_of(app), what="the export")
        seen = " ".join(text_of(app).split())
        assert "ONNX model, input 10 standardized features → output 2" in seen, seen
        box = app.screen.query_one("#export-box")
        assert box.region.bottom <= SMALL[1]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    X = data.X[:50]
    got = session.run(None, {"input": X})[0]
    assert float(np.abs(got - run.model.predict(X)).max()) <= 1e-5


@run_async
async def test_the_apps_runs_keep_their_weights_for_predict_and_export(tmp_path):
    from engine.predict import model_of_run
    from engine.store import RunStore
    from tui.app.screens.training import TrainingScreen

    path = tmp_path / "runs.db"
    app = DeeptermApp(store=path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2")                       # the Titanic preset
        setup = app.screen
        setup.query_one("#epochs", Input).value = "2"
        await pilot.pause(0.2)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        screen = app.screen
        await wait_until(pilot, lambda: screen.state == "finished", 60, "the run")
        await app.workers.wait_for_complete()
        model = screen.model
    stored = RunStore(path).get(RunStore(path).list()[0].id, weights=True)
    assert stored.weights is not None
    for got, want in zip(stored.weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    rebuilt = model_of_run(stored)
    assert rebuilt.metadata["preprocessing"] == model.metadata["preprocessing"]
    assert rebuilt.metadata["target"]["classes"] == ["died", "survived"]
