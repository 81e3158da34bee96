"""The compiled training loop of engine.compiled: Numba functions, imported only when
the compiled path is first used (importing this module imports Numba).

``train_batches`` runs batches ``b0 .. b1 - 1`` of one epoch of a dense network,
each: gather the batch's rows in the shuffle order, forward pass, per-sample losses
and metrics, backward pass, one optimizer step over the flat weight array, all
without returning to Python and without allocating (every work array is a view of
``work``). Its operations are the NumPy backend's (engine.numpy_backend,
engine.losses, engine.activations, engine.optimizers), in the model's dtype where
the NumPy path computes in it; the per-sample losses and metrics are summed in
float64. No fast-math, NumPy's error model (a division by zero gives inf or NaN).

What is compiled does not depend on the network: the layers, the loss, the
activations, the optimizer and the metrics are integer codes in tables, so there is
one compiled function per dtype, compiled once and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import overload

from . import gemm_kernel as tiles
from . import numba_ops as ops

_jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=False)

# codes, as engine.compiled writes them
LINEAR, RELU, SIGMOID, TANH, SOFTMAX = 0, 1, 2, 3, 4
MSE, MAE, BCE, CCE, SCCE = 0, 1, 2, 3, 4
SGD, MOMENTUM, ADAM, RMSPROP, ADAGRAD = 0, 1, 2, 3, 4
M_MAE, M_MSE, M_ACC_BINARY, M_ACC_SPARSE, M_ACC_CATEGORICAL = 0, 1, 2, 3, 4
#: hyper-parameter slots of ``hyper``
H_LR, H_MOMENTUM, H_NESTEROV, H_BETA_1, H_BETA_2, H_EPSILON, H_RHO = range(7)
#: optimizer state below this size is flushed to zero every FLUSH_EVERY steps
FLUSH_EVERY = 32
FLUSH_BELOW = 2.0 ** -100
EPSILON = 1e-7
#: a float32 product of at most this many multiply-adds whose B has contiguous rows
#: takes the tile loop of engine.gemm_kernel instead of a BLAS call, on a CPU with
#: AVX-512 (``tiles_ok``), when its columns come in whole tiles (a multiple of
#: engine.gemm_kernel.NR), or fill more than one and its inner dimension is one block
#: (engine.gemm_kernel.KC). A BLAS call costs about 1 us, as long as a small product:
#: wages' 32 x 50 x 32 took 0.7 us against 1.6, its 32 x 9 x 50 0.47 against 0.58,
#: MNIST's 50 x 32 x 50 1.7 against 2.4; but its 32 x 784 x 50 (a cut last tile and
#: four blocks) 29.6 against 23.5, and products narrower than a tile (the output layers)
#: 0.9 against 0.1-0.9, so those keep the BLAS. Larger products, on several threads,
#: are engine.gemm's.
TILE_MAX = 1 << 21


def _dot(a, b, out, tiles_ok, packed, edge):
    """out = a @ b (a Numba overload: the tile loop where TILE_MAX says, else np.dot)."""


@overload(_dot)
def _dot_overload(a, b, out, tiles_ok, packed, edge):
    if a.dtype == types.float32 and b.dtype == types.float32:
        def impl(a, b, out, tiles_ok, packed, edge):
            k, n = a.shape[1], b.shape[1]
            if tiles_ok and b.strides[1] == 4 and a.shape[0] * k * n <= TILE_MAX \
                    and (n % tiles.NR == 0 or (n > tiles.NR and k <= tiles.KC)):
                tiles.panels(a, b, out, 0, (n + tiles.NR - 1) // tiles.NR, packed, edge)
            else:
                np.dot(a, b, out)
        return impl

    def blas(a, b, out, tiles_ok, packed, edge):
        np.dot(a, b, out)
    return blas


@_jit
def _activate(act, z, a, tiny, row_log):
    """a = f(z), as engine.activations (sigmoid and softmax flush subnormals). For
    softmax, ``row_log`` (rows, 2) gets each row's max and the log of its sum of
    exp(z - max), from which the loss takes the log-softmax without a second exp."""
    rows, cols = z.shape
    one = z.dtype.type(1)
    zero = z.dtype.type(0)
    if act == LINEAR:
        for r in range(rows):
            for c in range(cols):
                a[r, c] = z[r, c]
    elif act == RELU:
        for r in range(rows):
            for c in range(cols):
                v = z[r, c]
                a[r, c] = v if v > 0 or v != v else zero
    elif act == SIGMOID:
        for r in range(rows):
            for c in range(cols):
                v = z[r, c]
                e = np.exp(-np.abs(v))
                s = one / (one + e) if v >= 0 else e / (one + e)
                a[r, c] = zero if np.abs(s) < tiny else s
    elif act == TANH:
        for r in range(rows):
            for c in range(cols):
                a[r, c] = np.tanh(z[r, c])
    else:   # softmax over each row
        for r in range(rows):
            top = z[r, 0]
            for c in range(1, cols):
                if z[r, c] > top:
                    top = z[r, c]
            total = zero
            for c in range(cols):
                e = np.exp(z[r, c] - top)
                a[r, c] = e
                total += e
            row_log[r, 0] = top
            row_log[r, 1] = np.log(total)
            for c in range(cols):
                s = a[r, c] / total
                a[r, c] = zero if np.abs(s) < tiny else s


@_jit
def _backward_activation(act, z, a, d):
    """d = dL/da becomes dL/dz in place, as engine.activations.backward."""
    rows, cols = d.shape
    one = d.dtype.type(1)
    zero = d.dtype.type(0)
    if act == LINEAR:
        return
    if act == RELU:
        ops.relu_backward(d, z)
    elif act == SIGMOID:
        for r in range(rows):
            for c in range(cols):
                d[r, c] = d[r, c] * a[r, c] * (one - a[r, c])
    elif act == TANH:
        for r in range(rows):
            for c in range(cols):
                d[r, c] = d[r, c] * (one - a[r, c] * a[r, c])
    else:   # softmax: a * (d - <d, a>)
        for r in range(rows):
            s = zero
            for c in range(cols):
                s += d[r, c] * a[r, c]
            for c in range(cols):
                d[r, c] = a[r, c] * (d[r, c] - s)


@_jit
def _clip(v, lo, hi):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@_jit
def _mse_row(yb, a, r):
    """Row r's mean squared error (float64 sum), the mse loss's and metric's."""
    k = a.shape[1]
    s = 0.0
    for c in range(k):
        e = yb[r, c] - a[r, c]
        s += e * e
    return s / k


@_jit
def _mae_row(yb, a, r):
    """Row r's mean absolute error (float64 sum), the mae loss's and metric's."""
    k = a.shape[1]
    s = 0.0
    for c in range(k):
        s += np.abs(yb[r, c] - a[r, c])
    return s / k


@_jit
def _output(loss, act, z, a, yb, lab, d, metric_codes, metric_sums, row_log):
    """The batch's summed per-sample loss (float64), its metrics added to
    ``metric_sums``, and d = dL/dz of the batch-mean loss (engine.losses);
    ``row_log``: the softmax's row max and log-sum (``_activate``)."""
    rows, k = a.shape
    eps = a.dtype.type(EPSILON)
    one = a.dtype.type(1)
    zero = a.dtype.type(0)
    n = a.dtype.type(rows)
    nk = a.dtype.type(rows * k)
    logits = (loss == BCE and act == SIGMOID) or ((loss == CCE or loss == SCCE) and act == SOFTMAX)
    total = 0.0
    for r in range(rows):
        # -- the sample's loss
        s = 0.0
        if loss == MSE:
            s = _mse_row(yb, a, r)
        elif loss == MAE:
            s = _mae_row(yb, a, r)
        elif loss == BCE:
            for c in range(k):
                y = yb[r, c]
                if logits:
                    v = z[r, c]
                    s += max(v, zero) - v * y + np.log1p(np.exp(-np.abs(v)))
                else:
                    p = _clip(a[r, c], eps, one - eps)
                    s -= y * np.log(p) + (one - y) * np.log(one - p)
            s /= k
        elif logits:
            # log-softmax of the logits: (z - max) - log(sum(exp(z - max))), as engine.losses
            top, log_sum = row_log[r, 0], row_log[r, 1]
            if loss == SCCE:
                s = -((z[r, lab[r]] - top) - log_sum)
            else:
                for c in range(k):
                    s -= yb[r, c] * ((z[r, c] - top) - log_sum)
        elif loss == SCCE:   # not from logits: the log-softmax of the probabilities' logs
            top = -np.inf
            for c in range(k):
                v = np.log(_clip(a[r, c], eps, one - eps))
                if v > top:
                    top = v
            lse = 0.0
            for c in range(k):
                lse += np.exp(np.log(_clip(a[r, c], eps, one - eps)) - top)
            lse = np.log(lse)
            s = -(np.log(_clip(a[r, lab[r]], eps, one - eps)) - top - lse)
        else:   # categorical from probabilities: clip(a / sum(a))
            row = zero
            for c in range(k):
                row += a[r, c]
            for c in range(k):
                s -= yb[r, c] * np.log(_clip(a[r, c] / row, eps, one - eps))
        total += s
        # -- its metrics
        for i in range(metric_codes.size):
            code = metric_codes[i]
            m = 0.0
            if code == M_MAE:
                m = _mae_row(yb, a, r)
            elif code == M_MSE:
                m = _mse_row(yb, a, r)
            elif code == M_ACC_BINARY:
                for c in range(k):
                    if (a[r, c] > 0.5) == (yb[r, c] == 1):
                        m += 1.0
                m /= k
            else:
                best = 0
                for c in range(1, k):
                    if a[r, c] > a[r, best]:
                        best = c
                if code == M_ACC_SPARSE:
                    truth = lab[r]
                else:
                    truth = 0
                    for c in range(1, k):
                        if yb[r, c] > yb[r, truth]:
                            truth = c
                m = 1.0 if best == truth else 0.0
            metric_sums[i] += m
        # -- dL/dz
        if logits:
            if loss == BCE:
                for c in range(k):
                    d[r, c] = (a[r, c] - yb[r, c]) / nk
            elif loss == CCE:
                ysum = zero
                for c in range(k):
                    ysum += yb[r, c]
                for c in range(k):
                    d[r, c] = (a[r, c] * ysum - yb[r, c]) / n
            else:
                for c in range(k):
                    d[r, c] = a[r, c]
                d[r, lab[r]] -= one
                for c in range(k):
                    d[r, c] /= n
            continue
        # dL/da (engine.losses.output_grad), then through the activation
        if loss == MSE:
            for c in range(k):
                d[r, c] = a.dtype.type(2) * (a[r, c] - yb[r, c]) / nk
        elif loss == MAE:
            for c in range(k):
                e = a[r, c] - yb[r, c]
                d[r, c] = (one if e > 0 else (-one if e < 0 else e)) / nk
        elif loss == BCE:
            for c in range(k):
                v = a[r, c]
                if v >= eps and v <= one - eps:
                    d[r, c] = (v - yb[r, c]) / (v * (one - v)) / nk
                else:
                    d[r, c] = zero
        elif loss == CCE:
            row = zero
            for c in range(k):
                row += a[r, c]
            dot = zero
            for c in range(k):
                q = a[r, c] / row
                dq = -yb[r, c] / _clip(q, eps, one - eps) if q >= eps and q <= one - eps \
                    else zero
                d[r, c] = dq
                dot += dq * q
            for c in range(k):
                d[r, c] = (d[r, c] - dot) / row / n
        else:   # sparse, from probabilities
            psum = zero
            for c in range(k):
                psum += _clip(a[r, c], eps, one - eps)
            for c in range(k):
                v = a[r, c]
                p = _clip(v, eps, one - eps)
                g = p / psum - (one if c == lab[r] else zero)
                d[r, c] = g / p / n if v >= eps and v <= one - eps else zero
    # through the output activation (the logit pairs already give dL/dz)
    if not logits:
        _backward_activation(act, z, a, d)
    return total


@_jit
def _step(opt, flat, grad, s1, s2, hyper, iterations):
    """One optimizer step over every weight: engine.numba_ops' updates (the same
    float operations as engine.optimizers, with its scalars in the weights' dtype),
    then its periodic flush of tiny state."""
    scalar = flat.dtype.type
    lr = scalar(hyper[H_LR])
    if opt == SGD:
        ops.sgd(flat, grad, lr)
    elif opt == MOMENTUM:
        ops.momentum(flat, grad, s1, lr, scalar(hyper[H_MOMENTUM]), hyper[H_NESTEROV] != 0)
    elif opt == ADAM:
        t = iterations + 1
        b1, b2 = hyper[H_BETA_1], hyper[H_BETA_2]
        alpha = scalar(hyper[H_LR] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t))
        ops.adam(flat, grad, s1, s2, alpha, scalar(1 - b1), scalar(1 - b2),
                 scalar(hyper[H_EPSILON]))
    elif opt == RMSPROP:
        ops.rmsprop(flat, grad, s1, lr, scalar(hyper[H_RHO]), scalar(1 - hyper[H_RHO]),
                    scalar(hyper[H_EPSILON]))
    else:   # adagrad
        ops.adagrad(flat, grad, s1, lr, scalar(hyper[H_EPSILON]))
    if (iterations + 1) % FLUSH_EVERY == 0:
        zero = scalar(0)
        for i in range(s1.size):
            if np.abs(s1[i]) < FLUSH_BELOW:
                s1[i] = zero
        for i in range(s2.size):
            if np.abs(s2[i]) < FLUSH_BELOW:
                s2[i] = zero


@_jit
def _drop(a, out, uniforms, start, rate):
    """out = a * mask (``out`` may be ``a``), the mask drawn from ``uniforms[start:]``
    row by row (a value is kept where its draw is at least ``rate``, as
    NumPyModel.dropout_mask)."""
    rows, cols = a.shape
    scalar = out.dtype.type
    kept = scalar(1) / scalar(1.0 - rate)
    zero = scalar(0)
    threshold = np.float32(rate)
    j = start
    for r in range(rows):
        for c in range(cols):
            out[r, c] = a[r, c] * (kept if uniforms[j] >= threshold else zero)
            j += 1


@_jit
def _draws_before(layers, drops, rows, layer, start):
    """Where layer ``layer``'s draws begin in ``uniforms``: a batch's draws begin at
    ``start`` and come layer by layer."""
    at = start
    for i in range(layer):
        if drops[i] > 0:
            at += rows * layers[i, 0]
    return at


@_jit
def _penalize(flat, grad, layers, regs):
    """The regularizers' penalty on the kernels, sum(l1 * |W| + l2 * W**2) (summed in
    float64), and its gradient, l1 * sign(W) + 2 * l2 * W, added to ``grad`` (as the
    NumPy path's penalty and _add_penalty_grads)."""
    scalar = flat.dtype.type
    total = 0.0
    for i in range(layers.shape[0]):
        l1, l2 = regs[i, 0], regs[i, 1]
        if l1 == 0 and l2 == 0:
            continue
        start = layers[i, 2]
        end = start + layers[i, 0] * layers[i, 1]
        if l1 != 0:
            rate = scalar(l1)
            absolute = 0.0
            for j in range(start, end):
                w = flat[j]
                absolute += np.abs(w)
                grad[j] += rate * np.sign(w)
            total += l1 * absolute
        if l2 != 0:
            twice = scalar(2.0 * l2)
            square = 0.0
            for j in range(start, end):
                w = flat[j]
                square += w * w
                grad[j] += twice * w
            total += l2 * square
    return total


@_jit
def train_batches(X, Y, labels, order, b0, b1, batch_size, flat, grad, s1, s2, hyper,
                  iterations, opt, loss, layers, regs, drops, uniforms, work, work_table, lab,
                  row_log, metric_codes, sums, batch_metrics, tiles_ok, packed, edge):
    """Train batches b0 .. b1 - 1 of the epoch whose row order is ``order``.

    X: (n, input_dim); Y: (n, output_units), or (0, units) with ``labels`` (n,) int64
    for the sparse loss (``lab``: (batch_size,) int64 room for a batch's labels);
    flat / grad: every weight and its gradient; s1, s2: the optimizer's state slots
    (empty when it has fewer); hyper: float64 hyper-parameters (H_*); iterations:
    the optimizer's steps so far; layers: (n_layers, 5) int64 rows of (n_in, n_out,
    kernel offset, bias offset or -1, activation code); regs: (n_layers, 2) float64,
    each layer's kernel regularizer rates (l1, l2), zeros for none; drops:
    (n_layers,) float64, the Dropout rate before each layer (0: none); uniforms:
    float32, the dropout generator's draws for these batches, batch by batch and
    layer by layer, rows x inputs for each layer with a Dropout (the NumPy path's
    draws, in its order); work_table: (n_layers + 1, 4) offsets into ``work`` of each
    layer's z, a, dL/dz and its dropped-out inputs (-1: no Dropout) (row n_layers:
    the batch's X, its Y); row_log: (batch_size, 2) scratch of the model's dtype (a
    softmax's row max and log-sum); sums: float64 (1 + n_metrics,), the summed
    per-sample loss and metrics, added to; batch_metrics: float64 (n_metrics,) scratch;
    tiles_ok: whether small float32 products may take engine.gemm_kernel's tile loop
    (``_dot``), with packed: float32 (panels of the widest layer * NR * KC,) and edge:
    float32 (MR * KC,) its scratch.

    Returns (the batch reached, 1 when its loss was not finite: it is not applied).
    """
    n = X.shape[0]
    n_layers = layers.shape[0]
    n_in0 = X.shape[1]
    k = layers[n_layers - 1, 1]
    tiny = np.finfo(flat.dtype).tiny
    n_metrics = metric_codes.size
    sparse = loss == SCCE
    drawn = 0   # the uniforms used so far
    for b in range(b0, b1):
        lo = b * batch_size
        hi = min(n, lo + batch_size)
        rows = hi - lo
        xo = work_table[n_layers, 0]
        yo = work_table[n_layers, 1]
        xb = work[xo:xo + rows * n_in0].reshape((rows, n_in0))
        yb = work[yo:yo + rows * k].reshape((rows, k))
        for r in range(rows):
            src = order[lo + r]
            for c in range(n_in0):
                xb[r, c] = X[src, c]
            if sparse:
                lab[r] = labels[src]
            else:
                for c in range(k):
                    yb[r, c] = Y[src, c]
        # -- forward
        a_in = xb
        batch_draws = drawn
        for i in range(n_layers):
            n_in, n_out, ko, bo, act = layers[i, 0], layers[i, 1], layers[i, 2], layers[i, 3], \
                layers[i, 4]
            kernel = flat[ko:ko + n_in * n_out].reshape((n_in, n_out))
            if drops[i] > 0:   # the inputs times a fresh mask: keep with 1 - rate, scaled
                mo = work_table[i, 3]
                dropped = work[mo:mo + rows * n_in].reshape((rows, n_in))
                _drop(a_in, dropped, uniforms, drawn, drops[i])
                drawn += rows * n_in
                a_in = dropped
            zo, ao = work_table[i, 0], work_table[i, 1]
            z = work[zo:zo + rows * n_out].reshape((rows, n_out))
            a = work[ao:ao + rows * n_out].reshape((rows, n_out))
            _dot(a_in, kernel, z, tiles_ok, packed, edge)
            if bo >= 0 and act == RELU:   # one pass, as the NumPy path's fused one
                ops.bias_relu(z, flat[bo:bo + n_out], a)
            else:
                if bo >= 0:
                    for r in range(rows):
                        for c in range(n_out):
                            z[r, c] += flat[bo + c]
                _activate(act, z, a, tiny, row_log)
            a_in = a
        # -- loss, metrics, dL/dz of the output
        last = n_layers - 1
        zo, ao, do = work_table[last, 0], work_table[last, 1], work_table[last, 2]
        z = work[zo:zo + rows * k].reshape((rows, k))
        a = work[ao:ao + rows * k].reshape((rows, k))
        d = work[do:do + rows * k].reshape((rows, k))
        for i in range(n_metrics):
            batch_metrics[i] = 0.0
        batch_loss = _output(loss, layers[last, 4], z, a, yb, lab, d, metric_codes,
                             batch_metrics, row_log)
        # -- backward
        for i in range(last, -1, -1):
            n_in, n_out, ko, bo = layers[i, 0], layers[i, 1], layers[i, 2], layers[i, 3]
            do = work_table[i, 2]
            d = work[do:do + rows * n_out].reshape((rows, n_out))
            if i > 0:
                po = work_table[i - 1, 1]
                a_prev = work[po:po + rows * n_in].reshape((rows, n_in))
            else:
                a_prev = xb
            mo = work_table[i, 3]
            # the layer's inputs as it saw them (after its Dropout)
            inputs = a_prev if mo < 0 else work[mo:mo + rows * n_in].reshape((rows, n_in))
            _dot(inputs.T, d, grad[ko:ko + n_in * n_out].reshape((n_in, n_out)), tiles_ok, packed,
                 edge)
            if bo >= 0:
                for c in range(n_out):
                    grad[bo + c] = 0
                for r in range(rows):
                    for c in range(n_out):
                        grad[bo + c] += d[r, c]
            if i > 0:
                kernel = flat[ko:ko + n_in * n_out].reshape((n_in, n_out))
                pdo, pzo = work_table[i - 1, 2], work_table[i - 1, 0]
                d_prev = work[pdo:pdo + rows * n_in].reshape((rows, n_in))
                np.dot(d, kernel.T, d_prev)
                if mo >= 0:   # through the Dropout (its mask again): dropped inputs get no gradient
                    _drop(d_prev, d_prev, uniforms,
                          _draws_before(layers, drops, rows, i, batch_draws), drops[i])
                _backward_activation(layers[i - 1, 4],
                                     work[pzo:pzo + rows * n_in].reshape((rows, n_in)),
                                     a_prev, d_prev)
        # -- the kernel regularizers: their penalty joins the loss, their gradient the grads
        batch_loss += _penalize(flat, grad, layers, regs) * rows
        if not np.isfinite(batch_loss):
            return b, 1
        _step(opt, flat, grad, s1, s2, hyper, iterations)
        iterations += 1
        sums[0] += batch_loss
        for i in range(n_metrics):
            sums[1 + i] += batch_metrics[i]
    return b1, 0
