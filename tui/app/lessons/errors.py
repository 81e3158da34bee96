"""Lesson d: errors, a small change of one weight, making a prediction
exact, and the mean squared error of two sets of weights."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from .base import LessonScreen
from .catalog import ERRORS
from .compute import LessonNet, diagram, fmt


class ErrorsScreen(LessonScreen):
    LESSON = ERRORS
    #: grouped in the footer ("[ ] Part", "n p Row"), so that they fit at 80 columns
    BINDINGS = [
        Binding("left_square_bracket", "part(-1)", "Previous part", key_display="[",
                id="lessons.prev_part", group=Binding.Group("Part")),
        Binding("right_square_bracket", "part(1)", "Next part", key_display="]",
                id="lessons.next_part", group=Binding.Group("Part")),
        Binding("n", "row(1)", "Next row", id="lessons.next_row", group=Binding.Group("Row")),
        Binding("p", "row(-1)", "Previous row", id="lessons.prev_row",
                group=Binding.Group("Row")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reset_extra()

    def reset_extra(self) -> None:
        """Back to the first row and the part's own rows (their inputs are editable)."""
        self.row = 0
        self.rows = np.array(self.part.rows or [self.part.net.x], dtype=float)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "row":
            return bool(self.part.rows)
        return True

    def compose_below(self) -> ComposeResult:
        yield DataTable(id="rows", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("input", "target", "pred_0", "error_0", "pred_1", "error_1"):
            table.add_column(name, key=name)
        super().on_mount()

    def action_part(self, step: int) -> None:
        index = self.part_index + step
        if not 0 <= index < len(self.LESSON.parts):
            return
        self.part_index = index
        self.lnet = LessonNet(self.part.net, self.LESSON.learning_rate)
        self.reset_extra()
        self.query_one("#lesson-title", Static).update(self._title())
        self.query_one("#lesson-text", Static).update(self.part.text)
        view = self.query_one("#network")
        view.cursor = None
        self.recompute()
        self.refresh_bindings()

    def action_row(self, step: int) -> None:
        if self.part.rows:
            self.row = (self.row + step) % len(self.part.rows)
            self.recompute()

    def apply_edit(self, key: tuple, value: float) -> None:
        super().apply_edit(key, value)
        if self.part.rows and key[0] == "node":
            self.rows[self.row] = self.lnet.x

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.part.rows and event.cursor_row != self.row and 0 <= event.cursor_row < len(
                self.part.rows):
            self.action_row(event.cursor_row - self.row)

    def recompute(self) -> None:
        part, lnet = self.part, self.lnet
        table = self.query_one(DataTable)
        table.display = bool(part.rows)
        if part.rows:
            self._mean_squared_error()
            return
        back = lnet.backward(part.target)
        self.query_one("#network").show(diagram(lnet, back.forward))
        pred, error = back.forward.prediction[0], back.error[0]
        lines = [f"prediction = {fmt(pred)}", f"target     = {fmt(part.target)}",
                 f"[b]error      = {fmt(pred)} - {fmt(part.target)} = {fmt(error)}[/b]",
                 f"squared error = {fmt(back.loss)}"]
        if part.baseline is not None:
            base = lnet.backward(part.target, kernels=LessonNet.kernels_of(part.baseline))
            lines += ["", f"[u]{part.baseline_name}[/u]",
                      f"prediction {fmt(base.forward.prediction[0])}, error {fmt(base.error[0])}",
                      "[u]the drawing[/u]",
                      f"prediction {fmt(pred)}, error {fmt(error)}"]
            if self.part_index == 2:
                lines.append("")
                lines.append("[b green]✓ exact: the error is 0[/]" if abs(error) < 1e-9 else
                             "Not exact yet: change one weight.")
            else:
                lines.append(f"the error moved by {fmt(error - base.error[0])}")
        lines += ["", "[dim]] next part · \\[ previous part[/]"]
        self.set_numbers("\n".join(lines))

    def _mean_squared_error(self) -> None:
        part, lnet = self.part, self.lnet
        X, y = self.rows, np.array(part.targets, dtype=float)
        lnet.x = X[self.row].copy()
        self.query_one("#network").show(diagram(lnet, lnet.forward()))
        base = lnet.backward(y, x=X, kernels=LessonNet.kernels_of(part.baseline))
        mine = lnet.backward(y, x=X)
        table = self.query_one(DataTable)
        columns = [str(c.key.value) for c in table.ordered_columns]
        for r in range(len(X)):
            cells = [", ".join(fmt(v) for v in X[r]), fmt(y[r]),
                     fmt(base.forward.prediction[r, 0]), fmt(base.error[r, 0]),
                     fmt(mine.forward.prediction[r, 0]), fmt(mine.error[r, 0])]
            if table.row_count < len(X):
                table.add_row(*cells, key=str(r))
            else:
                for column, cell in zip(columns, cells):
                    table.update_cell(str(r), column, cell)
        if table.cursor_row != self.row:
            table.move_cursor(row=self.row, animate=False)
        better = "weights_1" if mine.loss < base.loss else (
            "weights_0" if base.loss < mine.loss else "neither")
        self.set_numbers("\n".join([
            f"Row {self.row} is drawn (n/p).",
            "_0: weights_0 · _1: weights_1", "",
            f"MSE weights_0 = {fmt(base.loss)}",
            f"MSE weights_1 = {fmt(mine.loss)}",
            f"[b]lower: {better}[/b]", "",
            "[dim]] next part · \\[ previous part[/]"]))
