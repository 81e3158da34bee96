"""Conv2D and MaxPooling2D for the NumPy backend, on channels-last images.

A convolution is one matrix product: ``im2col`` copies every window of the input
into a row (a loop over the ``kh * kw`` kernel offsets, none over positions), so that
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

from .spec import Conv2D, MaxPooling2D


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis: (before, after), the odd one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


@dataclass
class Windows:
    """What a convolution's backward pass needs from its forward pass."""

    cols: np.ndarray                  # (n * oh * ow, kh * kw * in), a transposed view
    padded: tuple[int, int, int, int]  # the padded input's shape
    pads: tuple[tuple[int, int], tuple[int, int]]
    out: tuple[int, int]              # (oh, ow)


def im2col(x: np.ndarray, layer: Conv2D) -> Windows:
    """Every ``kernel_size`` window of ``x: (n, h, w, c)`` (zero-padded for "same"),
    ``strides`` apart, as one row of ``kh * kw * c`` values in the kernel's order.

    The rows are stored transposed: one contiguous block ``(n, oh, ow)`` per kernel
    offset and channel, filled by one copy per kernel offset whose inner loop runs
    along an image row; ``cols`` is the transposed view of that block, which matrix
    products take as it is. (Copying windows into rows ran ``c`` values at a time:
    one value for MNIST, 3x slower.)"""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    oh, ow, _ = layer.output_shape(x.shape[1:])
    pads = ((0, 0), (0, 0))
    if layer.padding == "same":
        pads = (same_padding(x.shape[1], kh, sh), same_padding(x.shape[2], kw, sw))
        if any(pads[0] + pads[1]):
            x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    n, c = x.shape[0], x.shape[3]
    block = np.empty((kh, kw, c, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            block[i, j] = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] \
                .transpose(3, 0, 1, 2)
    cols = block.reshape(kh * kw * c, n * oh * ow).T
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
    # a product with ones, not dz2.sum(axis=0): a sum down a column of only ``filters``
    # values per row ran 15-30x slower (0.4 ms against 0.02 on 32 MNIST images)
    dbias = np.ones(len(dz2), dtype=dz2.dtype) @ dz2
    dx = col2im(dz2 @ kernel.reshape(-1, layer.filters).T, windows, layer) \
        if need_input_grad else None
    return dkernel, dbias, dx


@dataclass
class Pooled:
    """Where each window's maximum was (its index in the window, row-major)."""

    argmax: np.ndarray     # (n, oh, ow, c): the index in the window, row-major
    shape: tuple[int, int, int, int]


def _disjoint(layer: MaxPooling2D) -> bool:
    """Whether the pooling windows do not overlap (strides >= pool size)."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.step
    return sh >= ph and sw >= pw


def _window_values(x: np.ndarray, layer: MaxPooling2D) -> list[np.ndarray]:
    """For each window offset (row-major), every window's value there: ``ph * pw``
    arrays ``(n, oh, ow, c)``. Windows that do not overlap (strides == pool size, the
    default) are copied once into one contiguous array, so that every pass after runs
    over contiguous memory (a strided view of channels-last images runs ``c`` values at
    a time: 10x slower on MNIST-sized images); otherwise strided views."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.step
    oh, ow, _ = layer.output_shape(x.shape[1:])
    n, c = x.shape[0], x.shape[3]
    if (sh, sw) == (ph, pw):
        blocks = x[:, :oh * ph, :ow * pw].reshape(n, oh, ph, ow, pw, c)
        stacked = np.ascontiguousarray(blocks.transpose(2, 4, 0, 1, 3, 5))
        return list(stacked.reshape(ph * pw, n, oh, ow, c))
    return [x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            for i, j in (divmod(k, pw) for k in range(ph * pw))]


def pool_forward(x: np.ndarray, layer: MaxPooling2D) -> tuple[np.ndarray, Pooled]:
    """The maximum of each window per channel: ``(n, oh, ow, c)``. One elementwise
    pass per window offset (``ph * pw`` of them), keeping the first maximum: offsets
    go in increasing order and only a strictly larger value moves the index, so the
    index is ``max(index, k * larger)``."""
    (ph, pw) = layer.pool_size
    values = _window_values(x, layer)
    out = values[0].copy()
    arg = np.zeros(out.shape, dtype=np.uint8 if ph * pw <= 256 else np.intp)
    larger = np.empty(out.shape, dtype=bool)
    moved = np.empty(out.shape, dtype=arg.dtype)
    for k in range(1, ph * pw):
        np.greater(values[k], out, out=larger)
        np.maximum(out, values[k], out=out)
        np.multiply(larger, arg.dtype.type(k), out=moved)
        np.maximum(arg, moved, out=arg)
    return out, Pooled(arg, x.shape)


def pool_backward(grad: np.ndarray, pooled: Pooled, layer: MaxPooling2D) -> np.ndarray:
    """d loss / d input: each window's gradient goes to its maximum (the first, on a
    tie), summed where windows overlap. Windows that do not overlap are written in
    place (each input position gets at most one window's gradient)."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.step
    _, oh, ow, _ = grad.shape
    dx = np.zeros(pooled.shape, dtype=grad.dtype)
    hit = np.empty(grad.shape, dtype=bool)
    disjoint = _disjoint(layer)
    for k in range(ph * pw):
        i, j = divmod(k, pw)
        view = dx[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
        np.equal(pooled.argmax, k, out=hit)
        if disjoint:
            np.multiply(grad, hit, out=view)
        else:
            view += grad * hit
    return dx
