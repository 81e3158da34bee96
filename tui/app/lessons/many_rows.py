"""Lesson b: the same network on many rows, shown as a table."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from .base import LessonScreen
from .catalog import MANY_ROWS
from .compute import diagram, fmt


class ManyRowsScreen(LessonScreen):
    LESSON = MANY_ROWS
    BINDINGS = [
        Binding("n", "row(1)", "Next row", id="lessons.next_row", group=Binding.Group("Row")),
        Binding("p", "row(-1)", "Previous row", id="lessons.prev_row",
                group=Binding.Group("Row")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reset_extra()

    def reset_extra(self) -> None:
        self.rows = np.array(self.part.rows, dtype=float)
        self.row = 0

    def compose_below(self) -> ComposeResult:
        table = DataTable(id="rows", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        names = [*self.lnet.net.inputs, *self.lnet.net.layers[0]]
        table.add_column("row", key="row")
        for name in names:
            table.add_column(name, key=name)
        # headed by the output node's name, as on the drawing (and 4 columns narrower)
        table.add_column(self.lnet.net.layers[-1][0], key="prediction")
        super().on_mount()

    def action_row(self, step: int) -> None:
        self.select_row((self.row + step) % len(self.rows))

    def select_row(self, row: int) -> None:
        self.row = row
        self.lnet.x = self.rows[row].copy()
        self.recompute()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != self.row and 0 <= event.cursor_row < len(self.rows):
            self.select_row(event.cursor_row)

    def apply_edit(self, key: tuple, value: float) -> None:
        super().apply_edit(key, value)
        self.rows[self.row] = self.lnet.x

    def recompute(self) -> None:
        self.lnet.x = self.rows[self.row].copy()
        trace = self.lnet.forward()
        self.query_one("#network").show(diagram(self.lnet, trace))
        every = self.lnet.forward(self.rows)      # all rows at once, (n, ...) arrays
        table = self.query_one(DataTable)
        hidden, out = every.layers[0].values, every.prediction
        columns = [str(c.key.value) for c in table.ordered_columns]
        for r in range(len(self.rows)):
            cells = [str(r), *(fmt(v) for v in self.rows[r]), *(fmt(v) for v in hidden[r]),
                     f"[b]{fmt(out[r, 0])}[/b]"]
            if table.row_count < len(self.rows):
                table.add_row(*cells, key=str(r))
            else:
                for column, cell in zip(columns, cells):
                    table.update_cell(str(r), column, cell)
        if table.cursor_row != self.row:
            table.move_cursor(row=self.row, animate=False)
        self.set_numbers(
            f"Showing row {self.row} (n/p or pick it in the table).\n\n"
            f"ReLU on node_0, node_1 and the output: a negative sum becomes 0.\n\n"
            f"[b]prediction for row {self.row} = {fmt(out[self.row, 0])}[/b]")
