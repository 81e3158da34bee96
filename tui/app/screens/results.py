"""The results of one run: how it ended, its metrics, and its predictions on
the validation rows (probabilities, digits, a confusion matrix, or predicted
against actual for regression)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane, Tabs

from engine.formatting import format_metric
from engine.recipe import PreparedData, RunConfig
from engine.text import printable

from ..widgets.confusion import confusion_matrix, confusion_table
from ..widgets.footer import AppFooter
from ..widgets.playground import boundary_tab
from .words import STOP_WORDS, format_duration

MAX_TABLE_ROWS = 500


@dataclass
class Predictions:
    """Model outputs on the rows it did not train on (or on all rows without validation)."""

    rows: np.ndarray          # dataset row indices
    y_true: np.ndarray        # class index or value
    outputs: np.ndarray       # (n, units) model outputs
    task: str
    class_names: list[str]
    label: str                # "validation rows" or "training rows"

    @property
    def probs(self) -> np.ndarray:
        """(n, K) class probabilities (classification)."""
        if self.outputs.shape[1] == 1:
            p = self.outputs[:, 0].astype(np.float64)
            return np.stack([1 - p, p], axis=1)
        return self.outputs.astype(np.float64)

    @property
    def y_pred(self) -> np.ndarray:
        if self.task == "regression":
            return self.outputs[:, 0].astype(np.float64)
        return self.probs.argmax(axis=1)


def predictions_for(data: PreparedData, model: Any) -> Predictions:
    ds = data.dataset
    if data.split_at < len(data.X):
        rows, label = data.val_rows, "validation rows"
    else:
        rows, label = np.arange(len(data.X)), "training rows (no validation split)"
    outputs = np.asarray(model.predict(data.X[rows]))
    if outputs.ndim == 1:
        outputs = outputs[:, None]
    return Predictions(rows=rows, y_true=np.asarray(ds.y)[rows], outputs=outputs, task=ds.task,
                       class_names=list(getattr(ds, "class_names", []) or []), label=label)


class ResultsScreen(Screen):
    """Summary, predictions and (per task) a confusion matrix, digits or predicted vs actual."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="results-back"),
        Binding("tab", "app.focus_next", "Next field", show=False),
        Binding("p", "predict_csv", "Predict on a CSV…", id="results-predict"),
        Binding("e", "export_model", "Export model", id="results-export"),
    ]

    def __init__(self, config: RunConfig, data: PreparedData, model: Any, history: Any) -> None:
        super().__init__()
        self.config = config
        self.data = data
        self.model = model
        self.history = history
        self.predictions = predictions_for(data, model)

    def compose(self) -> ComposeResult:
        yield Header()
        p = self.predictions
        ds = self.data.dataset
        with TabbedContent(id="results-tabs"):
            with TabPane("Summary", id="tab-summary"):
                yield VerticalScroll(Static(self._summary(), id="summary-text"))
            if getattr(ds, "image_shape", None) and p.task != "regression":
                from ..widgets.digit_browser import DigitBrowser

                with TabPane("Digits", id="tab-digits"):
                    images = np.asarray(ds.X)[p.rows].reshape((len(p.rows), *ds.image_shape))
                    yield DigitBrowser(images, p.y_true, p.probs,
                                       [printable(n) for n in p.class_names], p.rows, id="digits")
            if getattr(getattr(self.model, "spec", None), "is_image", False):
                with TabPane("Filters", id="tab-filters"):
                    yield VerticalScroll(self._filters_view(), id="filters-scroll")
            with TabPane("Predictions", id="tab-predictions"):
                shown = f", first {MAX_TABLE_ROWS} shown" if len(p.rows) > MAX_TABLE_ROWS else ""
                yield Static(f"Predictions on the {p.label} ({len(p.rows)}{shown})",
                             classes="caption")
                yield DataTable(id="predictions", zebra_stripes=True, cursor_type="row")
            yield from boundary_tab(self.data, self.model, self.history)
            if p.task != "regression":
                with TabPane("Confusion matrix", id="tab-confusion"):
                    yield VerticalScroll(Static(self._confusion(), id="confusion"))
            else:
                with TabPane("Predicted vs actual", id="tab-scatter"):
                    from textual_plotext import PlotextPlot

                    yield Static(self._regression_stats(), classes="caption")
                    yield PlotextPlot(id="scatter")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "results"
        self._fill_predictions()
        if self.predictions.task == "regression":
            self._draw_scatter()
        if self.query("#digits"):
            self.query_one("#results-tabs", TabbedContent).active = "tab-digits"
            self.call_after_refresh(self._focus_digits)
        elif self.query("#boundary"):     # two-feature data: the decision boundary first
            self.query_one("#results-tabs", TabbedContent).active = "tab-boundary"
            self.call_after_refresh(lambda: self.query_one("#pg-network").focus())
        else:   # ←/→ switch tabs from the start
            self.call_after_refresh(lambda: self.query_one("#results-tabs").query_one(Tabs).focus())

    def _focus_digits(self) -> None:
        """The digit browser takes the keys it names (←/→, m) while its tab shows:
        with the tabs focused, ←/→ would switch tabs instead."""
        for browser in self.query("#digits"):
            browser.focus()

    def _filters_view(self):
        """The Filters tab's view: the first Conv2D layer's filters and the feature maps
        of the images the Digits tab browses (the model's inputs for them)."""
        from ..widgets.filters import FiltersView

        p = self.predictions
        ds = self.data.dataset
        shape = getattr(ds, "image_shape", None)
        images = None
        if shape and len(shape) == 2:
            images = np.asarray(ds.X)[p.rows].reshape((len(p.rows), *shape))
        names = [printable(n) for n in p.class_names]

        def said(k: int) -> str:
            return names[k] if 0 <= k < len(names) else str(k)

        if p.task == "regression":
            labels = [f"(row {int(r)})" for r in p.rows]
        else:
            labels = [f"(row {int(r)}) · actual {said(int(t))} · predicted {said(int(q))}"
                      for r, t, q in zip(p.rows, p.y_true, p.y_pred)]
        return FiltersView(self.model, np.asarray(self.data.X)[p.rows], images, labels,
                           id="filters")

    def _focus_filters(self) -> None:
        """The filters view takes ←/→ while its tab shows, starting at the image the
        Digits tab shows."""
        from ..widgets.digit_browser import DigitBrowser

        for view in self.query("#filters"):
            for browser in self.query("#digits").results(DigitBrowser):
                view.index = browser.index
            view.focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-digits":
            from ..widgets.filters import FiltersView

            for view in self.query("#filters").results(FiltersView):   # back where it was
                for browser in self.query("#digits"):
                    browser.index = view.index
            self.call_after_refresh(self._focus_digits)
        elif event.pane.id == "tab-filters":
            self.call_after_refresh(self._focus_filters)
        elif event.pane.id == "tab-boundary":     # the arrows select a neuron there
            self.call_after_refresh(lambda: self.query_one("#pg-network").focus())

    # -- summary ------------------------------------------------------------------------

    def _summary(self) -> Table:
        h = self.history
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        reason = h.stop_reason
        grid.add_row("Run", Text(printable(self.config.describe())))   # not read as markup
        grid.add_row("Ended", f"[{'red' if reason == 'diverged' else 'green'}]{reason}[/]: "
                              f"{STOP_WORDS.get(reason, reason)}")
        grid.add_row("Epochs run", f"{len(h)} of {h.params.get('epochs', self.config.epochs)}")
        grid.add_row("Time", f"{format_duration(h.duration_s)} ({h.duration_s:.2f} s) on "
                             f"{self.config.backend} / {h.device or 'CPU'}")
        grid.add_row("Parameters", f"{self.data.spec.count_params():,}")
        if self.config.patience is not None:
            restored = " (weights restored)" if self.config.restore_best_weights else ""
            if h.best_epoch is not None:
                grid.add_row("Best epoch", f"{h.best_epoch + 1}{restored}")
        metrics = Table(show_edge=False, pad_edge=False)
        metrics.add_column("metric", style="bold")
        metrics.add_column("final", justify="right")
        metrics.add_column("best", justify="right")
        metrics.add_column("best epoch", justify="right")
        for key, values in h.history.items():
            best = h.best(key)
            metrics.add_row(key, _fmt(values[-1]) if values else "–",
                            _fmt(best[1]) if best else "–", str(best[0] + 1) if best else "–")
        outer = Table.grid()
        outer.add_row(grid)
        outer.add_row("")
        outer.add_row(metrics)
        return outer

    # -- predictions ----------------------------------------------------------------------

    def _fill_predictions(self) -> None:
        p = self.predictions
        table = self.query_one("#predictions", DataTable)
        n = min(len(p.rows), MAX_TABLE_ROWS)
        if p.task == "regression":
            table.add_columns("row", "actual", "predicted", "error")
            pred = p.y_pred
            for i in range(n):
                table.add_row(str(int(p.rows[i])), f"{p.y_true[i]:.4g}", f"{pred[i]:.4g}",
                              f"{pred[i] - p.y_true[i]:+.4g}")
            return
        probs, pred = p.probs, p.y_pred
        # class names come from the data: Text, which a DataTable does not read as markup
        names = [Text(printable(n)) for n in p.class_names or range(probs.shape[1])]
        if probs.shape[1] == 2:
            table.add_columns("row", "actual", "predicted", Text(f"P({names[1]})"), "")
        else:
            table.add_columns("row", "actual", "predicted", "probability", "next best", "")
        for i in range(n):
            ok = "✓" if pred[i] == p.y_true[i] else "✕"
            if probs.shape[1] == 2:
                table.add_row(str(int(p.rows[i])), names[int(p.y_true[i])], names[int(pred[i])],
                              f"{probs[i, 1]:.3f}", ok)
            else:
                order = np.argsort(-probs[i], kind="stable")
                table.add_row(str(int(p.rows[i])), names[int(p.y_true[i])], names[int(pred[i])],
                              f"{probs[i, order[0]]:.3f}",
                              Text(f"{names[order[1]]} {probs[i, order[1]]:.3f}"), ok)

    def _confusion(self) -> Any:
        p = self.predictions
        names = p.class_names or [str(k) for k in range(p.probs.shape[1])]
        matrix = confusion_matrix(p.y_true, p.y_pred, len(names))
        accuracy = float(np.trace(matrix)) / max(1, matrix.sum())
        grid = Table.grid()
        grid.add_row(confusion_table(matrix, names))
        grid.add_row("")
        grid.add_row(f"accuracy on the {p.label}: [b]{accuracy:.1%}[/] "
                     f"({int(np.trace(matrix))} of {int(matrix.sum())})")
        return grid

    def _regression_stats(self) -> str:
        p = self.predictions
        err = p.y_pred - p.y_true.astype(np.float64)
        ss_res = float((err ** 2).sum())
        ss_tot = float(((p.y_true - p.y_true.mean()) ** 2).sum())
        r2 = 1 - ss_res / ss_tot if ss_tot > 0 else math.nan
        return (f"On the {p.label}: MAE [b]{np.abs(err).mean():.4g}[/] · RMSE "
                f"[b]{math.sqrt((err ** 2).mean()):.4g}[/] · R² [b]{r2:.3f}[/]")

    def _draw_scatter(self) -> None:
        from textual_plotext import PlotextPlot

        p = self.predictions
        plot = self.query_one("#scatter", PlotextPlot)
        plt = plot.plt
        actual = [float(v) for v in p.y_true]
        pred = [float(v) for v in p.y_pred]
        plt.scatter(actual, pred, marker="dot", color="cyan", label="rows")
        lo, hi = min(actual + pred), max(actual + pred)
        plt.plot([lo, hi], [lo, hi], color="green", label="perfect", marker="braille")
        plt.xlabel("actual")
        plt.ylabel("predicted")
        plt.title("predicted against actual")

    def action_back(self) -> None:
        self.app.pop_screen()

    # -- the model elsewhere (model_dialogs.py) ---------------------------------------------

    def action_predict_csv(self) -> None:
        from .model_dialogs import PredictDialog

        self.app.push_screen(PredictDialog(self.model))

    def action_export_model(self) -> None:
        from .model_dialogs import ExportDialog

        name = os.path.splitext(self.config.dataset_shown)[0] or "model"
        self.app.push_screen(ExportDialog(self.model, f"{name}.onnx"))


def _fmt(value: float) -> str:
    return format_metric(value)
