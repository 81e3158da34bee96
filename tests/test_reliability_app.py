"""Text from users and files reaches the app's screen as text (issue #14, item 22):
a run label, a dataset or CSV file name, a column name or a class name holding
terminal escape sequences or Textual markup shows them as typed (control
characters as visible escapes, ``[b]`` as two brackets and a letter), never
as a window title, a colour or bold text, and never crashes the screen."""

from __future__ import annotations

import numpy as np
import pytest
from _tui_helpers import SIZE, ready, run_async, wait_until
from test_tui_runs import RunsApp, _open_runs
from textual.widgets import DataTable, Input, Select, Static

from engine import History, Layer, ModelSpec
from engine.runs import Run
from engine.store import RunStore
from engine.text import printable
from tui.app import DeeptermApp

#: A run label and a dataset name as anyone could store them: markup, then an
#: OSC sequence that retitles the terminal window.
EVIL = "[b]ev[/b]\x1b]0;P\x07"
SHOWN = "[b]ev[/b]\\x1b]0;P\\x07"


def screen_text(app) -> str:
    """The terminal's lines as the learner sees them (the top screen, composited)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, text


def evil_store(path) -> RunStore:
    store = RunStore(path)
    history = History({"epochs": 3})
    for e in range(3):
        history.append(e, {"loss": 0.7 - 0.1 * e, "val_loss": 0.75 - 0.1 * e})
    spec = ModelSpec(input_dim=4, layers=[Layer(8, "relu"), Layer(1)], loss="mse")
    store.save(Run(spec=spec, dataset={"name": EVIL, "rows": 50}, fit={"epochs": 3},
                   id="e1e2e3e4e5", created_at="2026-11-01T10:00:00+00:00", status="completed",
                   history=history, device="CPU", duration_s=1.0, label=EVIL))
    return store


@run_async
async def test_the_runs_screen_shows_a_stored_label_and_dataset_name_as_text(tmp_path):
    evil_store(tmp_path / "runs.db")
    app = RunsApp(tmp_path / "runs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_runs(pilot)
        table = screen.query_one("#runs-table", DataTable)
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row.count(SHOWN) == 2                     # label and dataset, escapes shown
        assert_inert(screen_text(app))
        await pilot.press("space")                       # compare: chart legend, settings
        await pilot.pause()
        chart = screen.query_one("#runs-chart")
        assert chart.series[0][0] == f"e1e2e3 {SHOWN}"
        settings = screen.query_one("#runs-settings", DataTable)
        values = {str(settings.get_row_at(i)[0]): str(settings.get_row_at(i)[1])
                  for i in range(settings.row_count)}
        assert values["dataset"] == SHOWN
        assert_inert(screen_text(app))
        screen.query_one("#runs-filter-input", Input).value = "[/]"   # a MarkupError before
        await pilot.pause()
        assert str(screen.query_one("#runs-message", Static).render()) == \
            "No run matches “[/]” (1 stored)."


#: A CSV file whose name, a column's name and a class name carry markup and escapes.
FILE_NAME = "[i]ev\x1b]0;P\x07"
COLUMN = "[b]cat\x1b[31m"
CLASS = "[u]no\x1b]0;X\x07"


def evil_csv(folder) -> str:
    rng = np.random.default_rng(0)
    lines = [f"f1,f2,{COLUMN},label"]
    for i in range(200):
        lines.append(f"{rng.normal():.3f},{rng.normal():.3f},{'a' if i % 2 else 'b'},"
                     f"{'yes' if i % 20 else CLASS}")
    path = folder / f"{FILE_NAME}.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@run_async
async def test_a_csv_with_hostile_names_shows_them_as_text_from_dialog_to_results(
        tmp_path, monkeypatch):
    """The CSV dialog (column choices, import notes), the setup screen (dataset list,
    dataset info, class balance, preview columns), the training screen's title and
    the results (predictions, confusion matrix): every name shown as typed."""
    monkeypatch.setenv("DEEPTERM_NO_CHILD", "1")
    monkeypatch.chdir(tmp_path)                      # the dialog's tree shows the file too
    path = evil_csv(tmp_path)
    app = DeeptermApp(store=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        from tui.app.screens.csv_dialog import CsvDialog

        app.screen.action_open_csv()
        await wait_until(pilot, lambda: isinstance(app.screen, CsvDialog), what="the dialog")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#csv-path", Input).value = path
        await wait_until(pilot, lambda: dialog.columns, what="the columns")
        target = dialog.query_one("#csv-target", Select)
        assert target.value == "label"
        target.value = COLUMN                        # its name shown in the select
        await pilot.pause()
        text = screen_text(app)
        assert_inert(text)
        assert printable(COLUMN) in text
        target.value = "label"
        await pilot.pause()
        dialog.action_load()
        await wait_until(pilot, lambda: dialog.loaded is not None, what="the import")
        notes = str(dialog.query_one("#csv-notes", Static).render())
        assert "one-hot encoded '[b]cat\\x1b[31m'" in notes
        assert_inert(screen_text(app))
        dialog.action_load()                         # "Use this data"
        await wait_until(pilot, lambda: not isinstance(app.screen, CsvDialog), what="setup")
        setup = app.screen
        await wait_until(pilot, lambda: (setup.dataset_key or "").startswith("csv:"),
                         what="the CSV dataset chosen")
        await pilot.pause()
        info = str(setup.query_one("#dataset-info", Static).render())
        assert printable(FILE_NAME) in info and f"{printable(CLASS)} 10 (5%)" in info
        preview = setup.query_one("#preview", DataTable)
        assert any(printable(COLUMN) in str(c.label) for c in preview.columns.values())
        text = screen_text(app)
        assert_inert(text)
        assert printable(FILE_NAME)[:11] in text     # the dataset list's entry
        summary = str(setup.query_one("#summary", Static).render())
        assert summary.startswith(f"Ready: {printable(FILE_NAME)}.csv: hidden ")
        from tui.app.screens.sweep import SweepScreen

        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep")
        await pilot.pause()
        title = str(app.screen.query_one("#sweep-title", Static).render())
        assert title.startswith(f"Base: {printable(FILE_NAME)}.csv: hidden ")
        assert_inert(screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is setup, what="back to the setup")
        epochs = setup.query_one("#epochs", Input)
        epochs.value = "2"
        await pilot.pause()
        await pilot.press("ctrl+s")
        from tui.app.screens.training import TrainingScreen

        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        training = app.screen
        await wait_until(pilot, lambda: training.state in ("finished", "failed"), 60, "the run")
        assert training.state == "finished"
        title = str(training.query_one("#run-title", Static).render())
        assert title.startswith(f"{printable(FILE_NAME)}.csv: hidden ")
        assert_inert(screen_text(app))
        await pilot.press("r")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ResultsScreen", what="results")
        results = app.screen
        results.query_one("#results-tabs").active = "tab-predictions"
        await pilot.pause()
        table = results.query_one("#predictions", DataTable)
        cells = {str(c) for i in range(table.row_count) for c in table.get_row_at(i)}
        assert printable(CLASS) in cells
        assert_inert(screen_text(app))
        results.query_one("#results-tabs").active = "tab-confusion"
        await pilot.pause()
        text = screen_text(app)
        assert_inert(text)
        assert printable(CLASS)[:10] in text


@pytest.mark.parametrize("name", [EVIL, "[@click=a]q", "[/]", "x\\"])
def test_the_confusion_matrix_names_classes_as_text(name):
    from rich.console import Console

    from tui.app.widgets.confusion import confusion_table

    console = Console(width=120, record=True, color_system=None)
    console.print(confusion_table(np.array([[3, 1], [0, 4]]), ["yes", name]))
    text = console.export_text()
    assert_inert(text)
    assert printable(name)[:10] in text
