"""A 28x28 grey image drawn with half-block characters: two pixel rows per line."""

from __future__ import annotations

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style


def _grey(value: float) -> str:
    level = int(round(255 * float(min(1.0, max(0.0, value)))))
    return f"rgb({level},{level},{level})"


class HalfBlockImage:
    """A Rich renderable of ``pixels`` (h, w) in [0, 1] (values outside are
    clipped): each line shows two rows, the upper one as the foreground of "▀"
    and the lower one as its background. Dark background, white ink."""

    def __init__(self, pixels: np.ndarray) -> None:
        pixels = np.asarray(pixels, dtype=np.float64)
        if pixels.ndim != 2:
            raise ValueError(f"pixels must be 2-D (height, width), got shape {pixels.shape}")
        if pixels.shape[0] % 2:
            pixels = np.vstack([pixels, np.zeros((1, pixels.shape[1]))])
        self.pixels = pixels

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in terminal cells."""
        return self.pixels.shape[1], self.pixels.shape[0] // 2

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        styles: dict[tuple[str, str], Style] = {}
        for top, bottom in zip(self.pixels[0::2], self.pixels[1::2]):
            for a, b in zip(top, bottom):
                key = (_grey(a), _grey(b))
                style = styles.get(key)
                if style is None:
                    style = styles[key] = Style(color=key[0], bgcolor=key[1])
                yield Segment("▀", style)
            yield Segment.line()

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement(self.size[0], self.size[0])
