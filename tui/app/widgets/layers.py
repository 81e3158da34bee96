"""The architecture editor's rows: one hidden layer each (units, activation,
move up, move down, remove)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input, Label, Select

from engine import ACTIVATIONS

HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "softmax")


class LayerRow(Horizontal):
    """One hidden layer. Posts ``LayerRow.Action`` for up/down/remove."""

    class Action(Message):
        def __init__(self, row: LayerRow, action: str) -> None:
            super().__init__()
            self.row = row
            self.action = action

    def __init__(self, units: int = 32, activation: str = "relu") -> None:
        super().__init__(classes="layer-row")
        self._units = units
        self._activation = activation if activation in ACTIVATIONS else "relu"
        self._index: int | str = ""
        self.removed = False   # set when the row is on its way out

    def compose(self) -> ComposeResult:
        yield Label(str(self._index), classes="layer-index")
        yield Input(str(self._units), classes="units", compact=True, type="text",
                    tooltip="units in this layer (an integer from 1 to 4096)")
        yield Select([(a, a) for a in ACTIVATIONS], value=self._activation, allow_blank=False,
                     compact=True, classes="activation")
        yield Button("↑", classes="up", compact=True, tooltip="move this layer up")
        yield Button("↓", classes="down", compact=True, tooltip="move this layer down")
        yield Button("✕", classes="remove", compact=True, variant="error",
                     tooltip="remove this layer")

    def set_index(self, i: int) -> None:
        self._index = i
        for label in self.query(".layer-index").results(Label):
            label.update(f"{i}")

    @property
    def units_text(self) -> str:
        found = self.query(".units")
        return found.first(Input).value if found else str(self._units)

    @property
    def activation(self) -> str:
        """The chosen activation; the one the row was made with until its Select has
        mounted (before that its value is Select.NULL: a Start pressed right after a
        preset read it as an activation named 'Select.NULL')."""
        found = self.query(".activation")
        value = found.first(Select).value if found else None
        return value if isinstance(value, str) else self._activation

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        for action in ("up", "down", "remove"):
            if event.button.has_class(action):
                self.post_message(self.Action(self, action))
