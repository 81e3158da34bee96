"""Browse image predictions: the digit, its predicted label and the top
probabilities; left/right (or h/l) move, m jumps to the next mistake."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from .digit import HalfBlockImage

TOP_K = 3


class DigitBrowser(Widget, can_focus=True):
    """Images (n, h, w) in [0, 1], their true labels, and predicted probabilities (n, K)."""

    BINDINGS = [
        Binding("right,l", "move(1)", "Next", id="digit-next"),
        Binding("left,h", "move(-1)", "Previous", id="digit-previous"),
        Binding("pagedown", "move(10)", "+10", show=False),
        Binding("pageup", "move(-10)", "-10", show=False),
        Binding("m", "next_mistake", "Next mistake", id="digit-mistake"),
    ]

    index = reactive(0)

    def __init__(self, images: np.ndarray, y_true: np.ndarray, probs: np.ndarray,
                 class_names: list[str], rows: np.ndarray, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.images = images
        self.y_true = np.asarray(y_true, dtype=np.int64)
        self.probs = probs
        self.pred = probs.argmax(axis=1)
        self.class_names = class_names
        self.rows = rows

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, step: int) -> None:
        self.index = int(np.clip(self.index + step, 0, len(self.images) - 1))

    def action_next_mistake(self) -> None:
        wrong = np.flatnonzero(self.pred != self.y_true)
        if not len(wrong):
            self.notify("No mistakes among these images.")
            return
        later = wrong[wrong > self.index]
        self.index = int(later[0] if len(later) else wrong[0])

    def render(self):
        i = self.index
        pred, true = int(self.pred[i]), int(self.y_true[i])
        ok = pred == true
        info = Text()
        info.append(f"Image {i + 1} of {len(self.images)}", style="bold")
        info.append(f"  (row {int(self.rows[i])})\n\n", style="dim")
        info.append("Predicted ")
        info.append(f"{self.class_names[pred]}", style="bold reverse " + ("green" if ok else "red"))
        info.append(f"   actual {self.class_names[true]}  ")
        info.append("✓ right\n\n" if ok else "✕ wrong\n\n", style="green" if ok else "bold red")
        top = np.argsort(-self.probs[i], kind="stable")[:TOP_K]
        for k in top:
            p = float(self.probs[i, k])
            bar = "█" * int(round(p * 20))
            info.append(f"{self.class_names[k]:>3} {p:6.1%} ", style="bold" if k == pred else "")
            info.append(f"{bar}\n", style="green" if k == true else "cyan")
        n_wrong = int((self.pred != self.y_true).sum())
        info.append(f"\n{len(self.images) - n_wrong} of {len(self.images)} right "
                    f"({1 - n_wrong / len(self.images):.1%})\n", style="dim")
        if self.has_focus:
            info.append("←/→ browse · m next mistake", style="dim italic")
        else:
            info.append("press tab for ←/→ browse · m next mistake", style="dim italic")
        grid = Table.grid(padding=(0, 3))
        grid.add_column()
        grid.add_column()
        grid.add_row(HalfBlockImage(self.images[i]), info)
        return Group(grid)
