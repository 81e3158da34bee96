"""A confusion matrix as a Rich table: rows are true classes, columns predictions."""

from __future__ import annotations

import numpy as np
from rich.table import Table
from rich.text import Text

from engine.text import printable


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: entry [i, j] is rows of class i predicted j."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return out


def confusion_table(matrix: np.ndarray, class_names: list[str]) -> Table:
    """The matrix with row totals and per-class recall; the diagonal in green,
    mistakes shaded by how many there are."""
    table = Table(title="rows: true class · columns: predicted", title_style="dim",
                  show_edge=False, pad_edge=False, expand=False)
    table.add_column("true \\ pred", style="bold", no_wrap=True)
    names = [printable(name) for name in class_names]   # from the data: not markup, no escapes
    for name in names:
        table.add_column(Text(name[:10]), justify="right", no_wrap=True)
    table.add_column("recall", justify="right", style="dim")
    worst = max(1, int(max((matrix[i, j] for i in range(len(matrix)) for j in range(len(matrix))
                              if i != j), default=1)))
    for i, name in enumerate(names):
        cells = []
        for j in range(len(class_names)):
            count = int(matrix[i, j])
            if i == j:
                style = "bold green" if count else "dim"
            elif count:
                style = "bold red" if count * 2 >= worst else "red"
            else:
                style = "dim"
            cells.append(Text(str(count), style=style))
        total = int(matrix[i].sum())
        recall = f"{matrix[i, i] / total:.0%}" if total else "-"
        table.add_row(Text(name[:14]), *cells, recall)
    return table
