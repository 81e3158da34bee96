"""Conv2D and MaxPooling2D for the NumPy backend, on channels-last images.

A convolution is one matrix product: ``im2col`` copies every window of the input
into a row (``sliding_window_view``, no Python loop over positions), so that
``z = cols @ kernel.reshape(kh * kw * in, filters)``; its gradients are two more
products, and ``col2im`` adds each window's input gradient back where it came
from (a loop over the ``kh * kw`` kernel offsets only). Max pooling keeps the
position of each window's maximum and routes the gradient there alone.

Shapes: images ``(n, height, width, channels)``; a Conv2D kernel ``(kh, kw, in,
filters)``, as in Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .spec import Conv2D, MaxPooling2D


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis: (before, after), the odd one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


@dataclass
class Windows:
    """What a convolution's backward pass needs from its forward pass."""

    cols: np.ndarray                  # (n * oh * ow, kh * kw * in)
    padded: tuple[int, int, int, int]  # the padded input's shape
    pads: tuple[tuple[int, int], tuple[int, int]]
    out: tuple[int, int]              # (oh, ow)


def im2col(x: np.ndarray, layer: Conv2D) -> Windows:
    """Every ``kernel_size`` window of ``x: (n, h, w, c)`` (zero-padded for "same"),
    ``strides`` apart, as one row of ``kh * kw * c`` values in the kernel's order."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    oh, ow, _ = layer.output_shape(x.shape[1:])
    pads = ((0, 0), (0, 0))
    if layer.padding == "same":
        pads = (same_padding(x.shape[1], kh, sh), same_padding(x.shape[2], kw, sw))
        if any(pads[0] + pads[1]):
            x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :oh, :ow]
    cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * x.shape[3])
    return Windows(cols, x.shape, pads, (oh, ow))


def col2im(dcols: np.ndarray, windows: Windows, layer: Conv2D) -> np.ndarray:
    """d loss / d input ``(n, h, w, c)`` from d loss / d cols: each window's
    gradient added back onto the positions it was copied from."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    n, hp, wp, c = windows.padded
    oh, ow = windows.out
    d = dcols.reshape(n, oh, ow, kh, kw, c)
    dx = np.zeros(windows.padded, dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] += d[:, :, :, i, j, :]
    (top, bottom), (left, right) = windows.pads
    return dx[:, top:hp - bottom, left:wp - right, :]


def conv_forward(x: np.ndarray, kernel: np.ndarray, layer: Conv2D) -> tuple[np.ndarray, Windows]:
    """The weighted sums ``(n, oh, ow, filters)`` (no bias) and the windows."""
    windows = im2col(x, layer)
    z = windows.cols @ kernel.reshape(-1, layer.filters)
    return z.reshape(x.shape[0], *windows.out, layer.filters), windows


def conv_backward(dz: np.ndarray, kernel: np.ndarray, windows: Windows, layer: Conv2D,
                  need_input_grad: bool = True):
    """(d kernel, d bias, d input or None) from ``dz: (n, oh, ow, filters)``."""
    dz2 = dz.reshape(-1, layer.filters)
    dkernel = (windows.cols.T @ dz2).reshape(kernel.shape)
    dbias = dz2.sum(axis=0)
    dx = col2im(dz2 @ kernel.reshape(-1, layer.filters).T, windows, layer) \
        if need_input_grad else None
    return dkernel, dbias, dx


@dataclass
class Pooled:
    """Where each window's maximum was (its index in the window, row-major)."""

    argmax: np.ndarray     # (n, oh, ow, c): the index in the window, row-major
    shape: tuple[int, int, int, int]


def pool_forward(x: np.ndarray, layer: MaxPooling2D) -> tuple[np.ndarray, Pooled]:
    """The maximum of each window per channel: ``(n, oh, ow, c)``. One elementwise
    pass per window offset (``ph * pw`` of them), keeping the first maximum."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.step
    oh, ow, _ = layer.output_shape(x.shape[1:])
    out = arg = None
    for k in range(ph * pw):
        i, j = divmod(k, pw)
        values = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
        if out is None:
            out = values.copy()
            arg = np.zeros(values.shape, dtype=np.uint8 if ph * pw <= 256 else np.intp)
            continue
        larger = values > out
        np.copyto(out, values, where=larger)
        arg[larger] = k
    return out, Pooled(arg, x.shape)


def pool_backward(grad: np.ndarray, pooled: Pooled, layer: MaxPooling2D) -> np.ndarray:
    """d loss / d input: each window's gradient goes to its maximum (the first, on a
    tie), summed where windows overlap."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.step
    _, oh, ow, _ = grad.shape
    dx = np.zeros(pooled.shape, dtype=grad.dtype)
    for k in range(ph * pw):
        i, j = divmod(k, pw)
        dx[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] += \
            np.where(pooled.argmax == k, grad, 0)
    return dx
