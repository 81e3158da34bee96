"""Snapshot tests of the trainer's screens at 120x40, and of the setup, training and
sweep screens also at 100x30 and 80x24 (every screen fits and stays usable there).

Every picture is deterministic: fixed histories, or seeded short runs on the
shipped datasets trained before the picture is taken. Update with
``pytest tests/test_tui_snapshots.py --snapshot-update`` only after looking at
the report.
"""

from __future__ import annotations

import pytest
from _tui_helpers import SIZE, fixed_history, ready

import datasets
from engine import runner
from engine.recipe import prepare
from engine.runner.reporter import EPOCH_TIME_KEY
from tui.app import DeeptermApp
from tui.app.config import PRESETS_BY_KEY
from tui.app.messages import BatchProgress, EpochEnded, TrainingFinished, TrainingStarted
from tui.app.screens.results import ResultsScreen
from tui.app.screens.training import TrainingScreen

#: The terminal sizes a learner's screen must work at.
SIZES = {"80x24": (80, 24), "100x30": (100, 30), "120x40": (120, 40)}


async def _settle(pilot) -> None:
    from textual.widgets import DirectoryTree

    # every worker but DirectoryTree's loader, which waits for work forever
    workers = [w for w in pilot.app.workers if not isinstance(w.node, DirectoryTree)]
    if workers:  # an empty list would mean "all of them"
        await pilot.app.workers.wait_for_complete(workers)
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


def _preset(key: str):
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press(key)
        await _settle(pilot)
    return run_before


@pytest.mark.parametrize("key", ["1", "2", "3", "4"], ids=["wages", "titanic", "mnist", "mnist-cnn"])
def test_setup_screen_for_each_course_preset(snap_compare, key):
    """The setup screen after pressing the preset's key. Wages: dataset wages
    (534x9, regression) highlighted with its first rows, hidden layers 50 relu
    and 32 relu, output Dense(1, linear) with loss mse, adam, 2,165
    parameters. Titanic: 32 relu, Dense(2, softmax), categorical
    crossentropy, sgd 0.01, 418 parameters, class balance died/survived.
    MNIST: 2500 images, 50 relu and 50 relu, Dense(10, softmax), adam,
    validation split 0.3, Standardize unticked, under "Image layers, then flatten" "none:
    the 28×28 images go flat (784 values) into the hidden layers". MNIST CNN: as MNIST, and under "Image
    layers, then flatten" conv16x3 relu 26×26×16, pool2 13×13×16, conv32x3 relu 11×11×32,
    pool2 5×5×32 (pool rows without an activation), then hidden 64 relu; the layer table
    (scroll) lists them with flatten (800,). "Ready" above Start in green. Under the
    hidden layers Regularize none (its rate greyed) and Dropout 0; under the optimizer
    Momentum and Nesterov (greyed but for Titanic's sgd)."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE, run_before=_preset(key))


@pytest.mark.parametrize("size", ["80x24", "100x30"])
def test_setup_screen_fits_smaller_terminals(snap_compare, size):
    """The Titanic preset at 100x30 and 80x24. 100x30: the three panes side by side,
    narrower (datasets with short task names, presets and the hidden layer 32 relu
    with its ↑ ↓ ✕ buttons, the layer table to "total 418", every training field to
    Backend), the bar below with "Ready: ..." and Start; the footer ends with f3 Runs.
    80x24: the datasets beside one column of the model settings (the training
    settings below them, reached by scrolling), the same bar and footer."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZES[size],
                        run_before=_preset("2"))


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_setup_screen_playground_controls_for_xor(snap_compare, size):
    """xor chosen from the list, noise 0.3 typed and x₁x₂ ticked. The dataset pane:
    xor's description, then a scatter of its 500 points (orange: different signs, blue:
    same sign; ● training, ○ validation, the last 30% of the rows) beside Noise 0.3, Rows
    500, Seed 0, then "Inputs (feature crosses)" with x₁, x₂ and x₁x₂ ticked. The model
    pane: Regularize none (its rate greyed), Dropout 0, the layer table from input (3,).
    The training pane: Momentum 0 and Nesterov under the optimizer (sgd). At 80x24 the
    dataset pane scrolls to the crosses beside one column of the settings."""
    async def run_before(pilot) -> None:
        from textual.widgets import Input

        await ready(pilot)
        setup = pilot.app.screen
        setup.select_dataset("xor")
        await pilot.pause()
        setup.query_one("#noise", Input).value = "0.3"
        await pilot.pause()
        setup.query_one("#feature-x1x2").value = True
        await pilot.pause()
        setup.query_one("#crosses").scroll_visible(animate=False)
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZES[size], run_before=run_before)


def test_csv_dialog_shows_an_error_in_place(snap_compare, tmp_path, monkeypatch):
    """The Open CSV dialog over the setup screen: the path bad.csv typed in
    (marked invalid), the tree of the folder holding it, and under the fields
    the reason in red: the file has a header but no rows. Load is disabled."""
    (tmp_path / "bad.csv").write_text("age,fare,survived\n")
    monkeypatch.chdir(tmp_path)

    async def run_before(pilot) -> None:

        await ready(pilot)
        from tui.app.screens.csv_dialog import CsvDialog

        await pilot.app.push_screen(CsvDialog(root="."))
        await pilot.pause()
        await pilot.press(*"bad.csv")
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE, run_before=run_before)


def _titanic():
    config = PRESETS_BY_KEY["2"].config
    return config, prepare(config, datasets.load("titanic"))


@pytest.mark.parametrize("size", list(SIZES))
def test_training_screen_mid_run(snap_compare, size):
    """Titanic mid-run from a fixed history: 6 of 20 epochs on both charts
    (loss and val_loss falling, accuracy and val_accuracy rising, the accuracy
    axis under 1), "Epoch 7/20 · 10 epochs/s" (the app's default pace) with the bar
    at 30%, "Batch 11/20" at 55%, 1,234
    samples/s, elapsed 0:03, ETA 0:07, six rows in the epoch table with time
    50ms and 2.5ms per step, "● Training (numpy on CPU)". 120x40: the charts
    stacked left of the progress and table; 100x30 and 80x24: the charts side by
    side above the progress (left) and the table (right; at 80 columns the
    per-step column is cut). The footer: p Pause, s Stop, e/E Step, -/+ Pace, esc
    Back, f1, f2, f3 (Results and Again come when the run has ended)."""
    from tui.app.config import DEFAULT_PACE

    config, data = _titanic()
    history = fixed_history(6)

    async def run_before(pilot) -> None:

        await ready(pilot)
        screen = TrainingScreen(config, data, autostart=False, pace=DEFAULT_PACE)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        screen.on_training_started(TrainingStarted(dict(history.params), "CPU"))
        for e in history.epoch:
            logs = {k: v[e] for k, v in history.history.items()}
            logs[EPOCH_TIME_KEY] = 0.05
            screen.on_epoch_ended(EpochEnded(e, logs, 0.5 * (e + 1), 1234.0))
        screen.on_batch_progress(BatchProgress(6, 10, 20, {"loss": 0.4567}, 1234.0, 3.0))
        screen._redraw(force=True)
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZES[size], run_before=run_before)


def test_training_screen_finished_with_early_stopping(snap_compare):
    """Titanic with early stopping (patience 3), stopped early after 14 of 20
    epochs from a fixed history whose val_loss turns up after epoch 11: both
    charts carry a green vertical line at the best epoch 11, the status
    reads "■ Finished: stopped early", both bars full, ETA 0:00, the best
    val_loss line under the speed, Pause and Stop greyed out, Results
    enabled."""
    config, data = _titanic()
    config = config.with_changes(patience=3)
    history = fixed_history(14, stop_reason="early_stopped")

    async def run_before(pilot) -> None:

        await ready(pilot)
        screen = TrainingScreen(config, data, autostart=False)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        screen.on_training_started(TrainingStarted(dict(history.params), "CPU"))
        for e in history.epoch:
            logs = {k: v[e] for k, v in history.history.items()}
            logs[EPOCH_TIME_KEY] = 0.05
            screen.on_epoch_ended(EpochEnded(e, logs, 0.5 * (e + 1), 1234.0))
        screen.on_training_finished(TrainingFinished(history, None, 8.5, 1234.0))
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE, run_before=run_before)


def _xor_run():
    """A seeded 30-epoch xor run (4-4 tanh, adam): its config, data, history and model."""
    from engine.recipe import RunConfig

    ds = datasets.load("xor")
    config = RunConfig(dataset="xor", hidden=((4, "tanh"), (4, "tanh")), optimizer="adam",
                       learning_rate=0.03, epochs=30, batch_size=10).for_dataset(ds)
    data = prepare(config, ds)
    run = runner.run(config, data, executor="thread")
    run.history.duration_s = 1.5
    return config, data, run.history, run.model


@pytest.mark.parametrize("size", list(SIZES))
def test_training_screen_playground_view_of_xor(snap_compare, size):
    """The training screen of a seeded 30-epoch xor run (4-4 tanh), finished, in
    Playground's view: the network (inputs x₁ and x₂, two layers of four neurons, the
    output) with each node's picture over the plane, edges orange or blue, the output
    marked ▶; beside it the plane: orange upper-left and lower-right quadrants (different
    signs), blue upper-right and lower-left (same sign), darker along the axes where the
    model is unsure, with light ● training and ○ validation points; its title "output ·
    epoch 30 · loss ... · val ...", its legend below. Under them "■ Finished", "Epoch
    30/30 · full speed", the stats and the epoch table. Footer: Pause and Stop greyed,
    View, Results, Again, Back, f1 f2 f3."""
    config, data, history, model = _xor_run()

    async def run_before(pilot) -> None:
        from tui.app.messages import WeightsReported

        await ready(pilot)
        screen = TrainingScreen(config, data, autostart=False, pace=None)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        screen.on_training_started(TrainingStarted(dict(history.params), "CPU"))
        for e in history.epoch:
            logs = {k: v[e] for k, v in history.history.items()}
            logs[EPOCH_TIME_KEY] = 0.004
            screen.on_epoch_ended(EpochEnded(e, logs, 0.05 * (e + 1), 8765.0))
        screen.on_weights_reported(WeightsReported(30, None, model.get_weights()))
        screen.on_training_finished(TrainingFinished(history, model, 1.5, 8765.0))
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZES[size], run_before=run_before)


def test_results_xor_boundary(snap_compare):
    """The results of the same seeded xor run open on the Boundary tab: the network and
    the plane as the training screen drew them last, titled "output · after 30 epochs ·
    loss ... · val ...", the network focused (its hint row says how to select a node)."""
    config, data, history, model = _xor_run()

    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.app.push_screen(ResultsScreen(config, data, model, history))
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE, run_before=run_before)


def _results(key: str, epochs: int, tab: str | None = None, keys=()):
    async def run_before(pilot) -> None:
        await ready(pilot)
        config = PRESETS_BY_KEY[key].config.with_changes(epochs=epochs)
        data = prepare(config, datasets.load(config.dataset, **config.dataset_options))
        trained = runner.run(config, data, executor="thread")
        model, history = trained.model, trained.history
        history.duration_s = 4.2
        await pilot.app.push_screen(ResultsScreen(config, data, model, history))
        await pilot.pause()
        if tab is not None:
            pilot.app.screen.query_one("#results-tabs").active = tab
            await pilot.pause()
        if keys:
            pilot.app.screen.query_one("#digits").focus()
            await pilot.press(*keys)
        await _settle(pilot)
    return run_before


def test_results_titanic_survival_probabilities(snap_compare):
    """Results of a seeded 5-epoch Titanic run, Predictions tab: the 393
    validation rows (916 onwards) with actual and predicted class, the
    probability of survival and a tick or cross."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE,
                        run_before=_results("2", 5, "tab-predictions"))


def test_results_titanic_summary(snap_compare):
    """The Summary tab of the same run: ended "completed", 5 of 5 epochs,
    time 0:04 (4.20 s) on numpy / CPU, 418 parameters, and a table of each
    metric's final and best value with its best epoch."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE,
                        run_before=_results("2", 5))


def test_results_mnist_digit(snap_compare):
    """A seeded 3-epoch MNIST run, Digits tab after pressing right twice:
    image 3 of 750 drawn in half blocks (a white digit on black) with the
    predicted label in a coloured box, the actual label, the top three
    probabilities as bars, and the share right overall."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE,
                        run_before=_results("3", 3, keys=("right", "right")))


def test_results_mnist_confusion_matrix(snap_compare):
    """The confusion matrix of the same MNIST run: 10x10 counts (true class
    rows, predicted columns), the diagonal in green, mistakes in red, recall
    per class and the validation accuracy under it."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE,
                        run_before=_results("3", 3, "tab-confusion"))


def test_results_wages_predicted_against_actual(snap_compare):
    """A seeded 10-epoch wages run: the Predicted vs actual tab with MAE,
    RMSE and R² on the validation rows and a scatter of predicted against
    actual wages with the green line of perfect predictions."""
    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE,
                        run_before=_results("1", 10, "tab-scatter"))


def test_help_screen(snap_compare):
    """The help screen over the setup screen: sections Everywhere, Setup,
    Training and Results, each listing its keys and what they do."""
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f1")
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", ["80x24", "100x30"])
def test_sweep_screen_fits_smaller_terminals(snap_compare, size):
    """The course's learning-rate experiment (unscaled Titanic, 100-100 relu, sgd at
    1e-6, 0.01 and 1, 10 epochs) after it finished: the chart's y axis ticked 1..4
    inside the frame, lr=1e-06 a falling line near 4.8-4.1, lr=0.01 dropping from
    1.8 to 0.6, lr=1 starting one row above the others with its spike's value
    (↑2.88e+17) and settling near 0.67; the table's columns run to "status" with
    labels lr=1e-06, lr=0.01, lr=1; the footer keeps f1, f2 and f3."""
    from textual.widgets import Select

    from tui.app.screens.sweep import SweepScreen

    async def run_before(pilot) -> None:
        from _tui_helpers import wait_until

        app = pilot.app
        await ready(pilot)
        screen = SweepScreen(PRESETS_BY_KEY["2"].config)
        await app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#sweep-source", Select).value = "learning-rates"
        # two workers, whatever this machine's cores (the field's default is one per core)
        screen.query_one("#sweep-workers").value = "2"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.state == "finished", what="the sweep")
        await app.workers.wait_for_complete()
        screen._redraw(force=True)
        await _settle(pilot)

    assert snap_compare(DeeptermApp(store=False), terminal_size=SIZES[size], run_before=run_before)
