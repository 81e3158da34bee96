"""The architecture editor's image-layer rows (image data only): one Conv2D or
MaxPooling2D layer each, written as the ``--layers`` grammar writes it (conv16x3,
conv16x3same, conv16x3s2, pool2), with the conv layer's activation, the shape
the layer outputs and a remove button. A Flatten follows the last of them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input, Label, Select

from engine.recipe import conv_word

from .layers import HIDDEN_ACTIVATIONS

WORD_HELP = ("conv16x3: 16 filters of 3x3 · conv16x3same: keep the size · "
             "conv16x3s2: stride 2 · pool2: 2x2 max pooling")


class ImageLayerRow(Horizontal):
    """One image layer. Posts ``ImageLayerRow.Removed`` for its ✕ button."""

    class Removed(Message):
        def __init__(self, row: ImageLayerRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, entry: tuple) -> None:
        super().__init__(classes="image-row")
        self._word = conv_word(entry)
        self._activation = entry[5] if entry[0] == "conv" else "relu"
        self._index = ""
        self.removed = False   # set when the row is on its way out

    def compose(self) -> ComposeResult:
        yield Label(self._index, classes="layer-index")
        yield Input(self._word, classes="image-word", compact=True, tooltip=WORD_HELP)
        yield Select([(a, a) for a in HIDDEN_ACTIVATIONS], value=self._activation,
                     allow_blank=False, compact=True, classes="image-activation",
                     tooltip="the conv layer's activation")
        yield Label("", classes="image-shape")
        yield Button("✕", classes="remove", compact=True, variant="error",
                     tooltip="remove this layer")

    def on_mount(self) -> None:
        self._show_activation()

    def set_index(self, i: int) -> None:
        self._index = str(i)
        for label in self.query(".layer-index").results(Label):
            label.update(self._index)

    @property
    def word(self) -> str:
        found = self.query(".image-word")
        return found.first(Input).value if found else self._word

    @property
    def activation(self) -> str:
        """The chosen activation (the one the row was made with until its Select mounts)."""
        found = self.query(".image-activation")
        value = found.first(Select).value if found else None
        return value if isinstance(value, str) else self._activation

    def show(self, shape: tuple[int, ...] | None, invalid: bool) -> None:
        """The shape this layer outputs (None: unknown, an earlier layer is wrong)."""
        text = "" if shape is None else "×".join(str(v) for v in shape)
        for label in self.query(".image-shape").results(Label):
            label.update(text)
        self.query(".image-word").set_class(invalid, "-invalid")
        self._show_activation()

    def _show_activation(self) -> None:
        pool = self.word.strip().lower().startswith("pool")
        for select in self.query(".image-activation").results(Select):
            select.visible = not pool      # hidden, not removed: the columns stay aligned

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.has_class("remove"):
            self.post_message(self.Removed(self))
