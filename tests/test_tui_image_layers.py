"""The architecture editor's image layers, walked with the keys: the "MNIST CNN"
preset (key 4) fills them, each row shows the shape it outputs and the layer table
its parameters as the learner edits; a word that is not a layer, or a window larger
than what reaches it, is said in place naming the layer and Start is refused; data
without images hides them; the preset trains, shows its filters and trains again."""

from __future__ import annotations

from _tui_helpers import ready, run_async, wait_until
from test_tui_filters import _rendered
from test_tui_playground import _text, _type_into
from textual.widgets import Button, Input, Static

from tui.app import DeeptermApp
from tui.app.config import PRESETS_BY_KEY
from tui.app.screens.training import TrainingScreen
from tui.app.widgets.image_layers import ImageLayerRow


def _shapes(setup) -> list[str]:
    return [_text(row.query_one(".image-shape")) for row in setup._image_rows()]


async def _type_word(pilot, index: int, text: str) -> None:
    """Put ``text`` in image layer ``index``'s word (0: the first row), as a paste
    does: one change (typing it key by key is tested for every field elsewhere)."""
    field = pilot.app.screen._image_rows()[index].query_one(".image-word", Input)
    field.focus()
    field.value = text
    await pilot.pause()
    await pilot.pause()


async def _press_c(pilot, rows: int) -> None:
    """Press c and wait until the new row is there and numbered."""
    setup = pilot.app.screen
    await pilot.press("c")
    await wait_until(pilot, lambda: len(setup._image_rows()) == rows and _text(
        setup._image_rows()[-1].query_one(".layer-index")) == str(rows), what="the new row")
    await pilot.pause()


def _words(setup) -> list[str]:
    return [row.word for row in setup._image_rows()]


@run_async
async def test_the_cnn_preset_fills_the_image_layers_with_their_shapes_and_parameters():
    app = DeeptermApp(store=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        setup = app.screen
        assert not setup.query_one("#image-section").display      # Titanic: no images
        await pilot.press("c")                                    # ... and c does nothing
        await pilot.pause()
        assert setup._image_rows() == [] and setup.config.conv == ()
        await pilot.press("4")
        await wait_until(pilot, lambda: len(setup._image_rows()) == 4 and setup.config is not None
                         and setup.config.conv, what="the preset's layers")
        await pilot.pause()
        assert setup.query_one("#image-section").display
        assert _words(setup) == ["conv16x3", "pool2", "conv32x3", "pool2"]
        assert _shapes(setup) == ["26×26×16", "13×13×16", "11×11×32", "5×5×32"]
        assert setup.config == PRESETS_BY_KEY["4"].config
        table = [" ".join(line.split())
                 for line in _text(setup.query_one("#params", Static)).splitlines()]
        assert table == ["layer output params", "input (28,28,1)", "conv16x3 relu (26,26,16) 160",
                         "pool2 (13,13,16) 0", "conv32x3 relu (11,11,32) 4,640",
                         "pool2 (5,5,32) 0", "flatten (800,) 0", "dense 1 relu (64,) 51,264",
                         "output softmax (10,) 650", "total 56,714"]
        # c adds a conv layer after a pool (twice the filters), then a pool after it
        await _press_c(pilot, 5)
        await _press_c(pilot, 6)
        assert _words(setup)[4:] == ["conv64x3", "pool2"]
        assert _shapes(setup)[4:] == ["3×3×64", "1×1×64"]
        assert setup.config.conv[4:] == (("conv", 64, 3, 1, "valid", "relu"), ("pool", 2))
        # one more pool does not fit the 1x1 left: said in place, naming the layer
        await _press_c(pilot, 7)
        await _press_c(pilot, 8)
        assert _words(setup)[6:] == ["conv128x3", "pool2"]
        error = _text(setup.query_one("#image-error", Static))
        assert "image layer 7 (conv128x3): its kernel 3x3 is larger than the 1x1 that " \
               "reaches it" in error, error
        assert setup.config is None and setup.query_one("#start", Button).disabled
        assert setup._image_rows()[6].query_one(".image-word").has_class("-invalid")
        assert _shapes(setup)[6:] == ["", ""]       # nothing is known after a wrong layer
        # 'same' padding keeps the size: the layer fits again
        await _type_word(pilot, 6, "conv128x3same")
        assert _shapes(setup)[6:] == ["1×1×128", ""] and "image layer 8 (pool2): its pool " \
            "2x2 is larger than the 1x1" in _text(setup.query_one("#image-error", Static))
        for left, row in ((7, setup._image_rows()[7]), (6, setup._image_rows()[6])):
            row.query_one(".remove").focus()          # as Tab does: it scrolls into view
            await pilot.pause()
            await pilot.press("enter")
            await wait_until(pilot, lambda n=left: len(setup._image_rows()) == n, what="removal")
        await wait_until(pilot, lambda: setup.config is not None, what="a valid setup")
        assert len(setup.config.conv) == 6
        # a word that is not a layer
        await _type_word(pilot, 1, "pool")
        assert "image layer 2: 'pool' is not an image layer; write conv{filters}x{kernel}" \
            in _text(setup.query_one("#image-error", Static))
        assert setup.config is None
        await _type_word(pilot, 1, "pool3")
        assert _shapes(setup) == ["26×26×16", "8×8×16", "6×6×32", "3×3×32", "1×1×64", ""]
        assert "image layer 6 (pool2): its pool 2x2 is larger than the 1x1" in _text(
            setup.query_one("#image-error", Static))   # a change above reaches every layer
        await _type_word(pilot, 1, "pool2")
        assert setup.config.conv[1] == ("pool", 2) and not _text(
            setup.query_one("#image-error", Static))
        # a dense dataset hides them and trains without them; mnist brings them back
        setup.query_one("#datasets").focus()
        await pilot.press("up")                    # mnist -> titanic
        await wait_until(pilot, lambda: setup.dataset_key == "titanic", what="titanic")
        await pilot.pause()
        assert not setup.query_one("#image-section").display and setup.config.conv == ()
        await pilot.press("down")
        await wait_until(pilot, lambda: setup.dataset_key == "mnist", what="mnist")
        await pilot.pause()
        assert setup.query_one("#image-section").display and len(setup.config.conv) == 6
        assert not setup.query_one("#image-none").display
        await pilot.press("escape", "3")            # the dense MNIST preset: none
        await wait_until(pilot, lambda: setup._image_rows() == [], what="no image rows")
        await pilot.pause()
        assert setup._image_rows() == [] and setup.config.conv == ()
        assert _text(setup.query_one("#image-none", Static)) == (
            "none: the 28×28 images go flat (784 values) into the hidden layers")


@run_async
async def test_the_cnn_preset_trains_shows_its_filters_and_trains_again():
    from textual.widgets import TabbedContent

    app = DeeptermApp(store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        setup = app.screen
        await pilot.press("4")
        await pilot.pause(0.3)
        await _type_into(pilot, "#epochs", "1")
        await pilot.press("escape", "ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen), what="training")
        first = app.screen
        await wait_until(pilot, lambda: first.state == "finished", 90, "the run")
        assert first.model.spec.is_image and first.config.conv == setup.config.conv
        assert first.history.history["val_accuracy"][-1] > 0.75     # 1750 digits, 1 epoch
        await pilot.press("r")
        await pilot.pause(0.5)
        results = app.screen
        results.query_one("#results-tabs", TabbedContent).active = "tab-filters"
        await pilot.pause(0.5)
        assert "Filters of conv2d_0: 16 of 3x3" in _rendered(results.query_one("#filters"))
        await pilot.press("escape")
        await pilot.pause(0.2)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen)
                         and app.screen is not first, what="the second run")
        again = app.screen
        await wait_until(pilot, lambda: again.state == "finished", 90, "the second run")
        assert again.history.history["loss"] == first.history.history["loss"]
        assert isinstance(setup._image_rows()[0], ImageLayerRow)
