"""deepterm's float32 matrix product (engine.gemm): Numba functions, imported only
when engine.gemm is first used (importing this module imports Numba).

``panels(A, B, C, j0, j1, ...)`` writes columns ``[j0 * NR, j1 * NR)`` of
``C = A @ B`` the way a BLAS does (Goto's scheme): the products are taken in blocks
of ``KC`` of the inner dimension; for each block, B's columns are copied into
contiguous panels of ``NR`` columns (``pack``), and a register tile of ``MR`` x
``NR`` results (``_tile``, 24 accumulators of 16 floats) is summed over the block
with one fused multiply-add per 16 products, reading A in place through its
strides (a row-major A and a transposed one, ``X.T``, alike) and a row of the
packed panel at a time. The tile is written in LLVM's vector types, so the code
generated for a CPU with AVX-512 holds a vector in one register; elsewhere LLVM
splits each vector into what the CPU has (correct, slower: engine.gemm uses the
BLAS there).

Rounding: every product is a float32 fused multiply-add into a float32
accumulator, summed in the order of the inner index within a block, and the
blocks' sums added in order: an order of its own, as every BLAS has; the result
agrees with a float64 product to float32 rounding (tests/test_engine_gemm.py).

engine.compiled_kernel calls ``panels`` for its small products; Numba's disk cache of
that module does not notice an edit to this file: touch engine/compiled_kernel.py too.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import numba_ops as ops

#: rows and columns of the register tile; floats per vector
MR, NR, LANES = 12, 32, 16
#: the inner dimension's block: a packed panel of B is KC x NR floats (32 KiB)
KC = 256

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")


@intrinsic
def _tile(typingctx, a_addr, a_row, a_col, b_addr, b_row, c_addr, kc, ldc, accumulate, rows,
          cols):
    """C[:rows, :cols] (row stride ``ldc`` floats) = (C +, when ``accumulate``) the
    first rows and columns of sum over p < kc of A[:MR, p] outer B[p, :NR]: A's element
    (i, p) at ``a_addr + 4 * (i * a_row + p * a_col)``, B's row p (NR contiguous
    floats) at ``b_addr + 4 * p * b_row``. rows <= MR, cols <= NR: a tile at C's edge
    writes only what is inside C (masked stores)."""
    sig = types.void(types.uintp, types.intp, types.intp, types.uintp, types.intp, types.uintp,
                     types.intp, types.intp, types.boolean, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        a_addr, a_row, a_col, b_addr, b_row, c_addr, kc, ldc, accumulate, rows, cols = args
        f32 = ir.FloatType()
        i32 = ir.IntType(32)
        vec = ir.VectorType(f32, LANES)
        ivec = ir.VectorType(i32, LANES)
        mask_type = ir.VectorType(ir.IntType(1), LANES)
        index = kc.type
        vec_ptr = vec.as_pointer()
        a = builder.inttoptr(a_addr, f32.as_pointer())
        b = builder.inttoptr(b_addr, f32.as_pointer())
        c = builder.inttoptr(c_addr, f32.as_pointer())
        per_row = NR // LANES
        # accumulators in allocas at the function's entry: LLVM keeps them in registers
        acc = [[cgutils.alloca_once(builder, vec) for _ in range(per_row)] for _ in range(MR)]
        for row in acc:
            for slot in row:
                builder.store(ir.Constant(vec, [0.0] * LANES), slot)
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fma.v{LANES}f32")
        masked_load = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec_ptr, i32, mask_type, vec]),
            f"llvm.masked.load.v{LANES}f32.p0")
        masked_store = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vec, vec_ptr, i32, mask_type]),
            f"llvm.masked.store.v{LANES}f32.p0")
        undef = ir.Constant(vec, ir.Undefined)
        lane0 = ir.Constant(i32, 0)
        broadcast = ir.Constant(ivec, [0] * LANES)
        a_rows = [builder.gep(a, [builder.mul(ir.Constant(index, i), a_row)]) for i in range(MR)]
        with cgutils.for_range(builder, kc) as loop:
            p = loop.index
            b_at = builder.gep(b, [builder.mul(p, b_row)])
            bs = [builder.load(builder.bitcast(builder.gep(b_at, [ir.Constant(index, v * LANES)]),
                                               vec_ptr), align=4) for v in range(per_row)]
            at = builder.mul(p, a_col)
            for i in range(MR):
                value = builder.load(builder.gep(a_rows[i], [at]))
                splat = builder.shuffle_vector(builder.insert_element(undef, value, lane0), undef,
                                               broadcast)
                for v in range(per_row):
                    builder.store(builder.call(fma, [splat, bs[v], builder.load(acc[i][v])]),
                                  acc[i][v])
        # which lanes of each vector of a row lie inside C: lane < cols - v * LANES
        lanes = ir.Constant(ivec, list(range(LANES)))
        masks = []
        for v in range(per_row):
            inside = builder.trunc(builder.sub(cols, ir.Constant(index, v * LANES)), i32)
            masks.append(builder.icmp_signed(
                "<", lanes, builder.shuffle_vector(builder.insert_element(
                    ir.Constant(ivec, ir.Undefined), inside, lane0),
                    ir.Constant(ivec, ir.Undefined), broadcast)))
        zero = ir.Constant(vec, [0.0] * LANES)
        align = ir.Constant(i32, 4)
        for i in range(MR):
            with builder.if_then(builder.icmp_signed("<", ir.Constant(index, i), rows)):
                c_row = builder.gep(c, [builder.mul(ir.Constant(index, i), ldc)])
                for v in range(per_row):
                    where = builder.bitcast(builder.gep(c_row, [ir.Constant(index, v * LANES)]),
                                            vec_ptr)
                    total = builder.load(acc[i][v])
                    old = builder.call(masked_load, [where, align, masks[v], zero])
                    builder.call(masked_store, [builder.select(accumulate, builder.fadd(old, total),
                                                               total), where, align, masks[v]])
        return context.get_dummy_value()

    return sig, codegen


@_jit
def _pack(B, k0, kc, j0, j1, packed):
    """B[k0:k0 + kc, panel j * NR ...] for panels j0 .. j1 - 1 into ``packed``, panel
    after panel, each kc rows of NR floats (zeros past B's last column). A B whose
    rows are contiguous is read in place instead, but for a last panel past its
    edge."""
    n = B.shape[1]
    at = 0
    for j in range(j0, j1):
        if B.strides[1] == 4 and (j + 1) * NR <= n:
            at += kc * NR   # read in place
            continue
        first = j * NR
        width = min(NR, n - first)
        if B.strides[0] < B.strides[1]:   # a transposed B (W.T): read its columns whole
            for c in range(width):
                for p in range(kc):
                    packed[at + p * NR + c] = B[k0 + p, first + c]
            for p in range(kc):
                for c in range(width, NR):
                    packed[at + p * NR + c] = 0.0
        else:
            for p in range(kc):
                for c in range(width):
                    packed[at + p * NR + c] = B[k0 + p, first + c]
                for c in range(width, NR):
                    packed[at + p * NR + c] = 0.0
        at += kc * NR


@numba.njit("void(float32[:, :], float32[:, :], float32[:, ::1], intp, intp, float32[::1], "
            "float32[::1])", nogil=True, cache=True, error_model="numpy")
def panels(A, B, C, j0, j1, packed, edge):
    """Columns of panels j0 .. j1 - 1 (NR columns each) of C = A @ B.

    A: (m, k) float32, any strides (multiples of 4 bytes); B: (k, n) float32, any
    strides; C: (m, n) float32, C-contiguous, written (not added to). Scratch:
    packed: at least (j1 - j0) * NR * KC floats; edge: MR * KC.
    """
    m, k = A.shape
    n = B.shape[1]
    a_row, a_col = A.strides[0] // 4, A.strides[1] // 4
    b_row = B.strides[0] // 4
    in_place = B.strides[1] == 4
    full = m // MR
    c0 = C.ctypes.data
    for k0 in range(0, k, KC):
        kc = min(KC, k - k0)
        _pack(B, k0, kc, j0, j1, packed)
        more = k0 > 0
        for i in range((m + MR - 1) // MR):
            if i < full:    # MR rows of A, read in place
                a_addr = A.ctypes.data + 4 * (i * MR * a_row + k0 * a_col)
                row, col = a_row, a_col
            else:           # the last rows, copied with zeros below them
                for p in range(kc):
                    for r in range(MR):
                        at = i * MR + r
                        edge[p * MR + r] = A[at, k0 + p] if at < m else 0.0
                a_addr = edge.ctypes.data
                row, col = 1, MR
            for j in range(j0, j1):
                if in_place and (j + 1) * NR <= n:
                    b_addr = B.ctypes.data + 4 * (k0 * b_row + j * NR)
                    b_step = b_row
                else:
                    b_addr = packed.ctypes.data + 4 * (j - j0) * NR * kc
                    b_step = NR
                _tile(a_addr, row, col, b_addr, b_step, c0 + 4 * (i * MR * n + j * NR), kc, n,
                      more, min(MR, m - i * MR), min(NR, n - j * NR))


# -- on several threads: Numba's parallel loops (its threading layer: OpenMP, TBB or
# its own work queue), one part per thread; engine.gemm lets one caller at a time in

@numba.njit("void(float32[:, :], float32[:, :], float32[:, ::1], intp, intp, float32[:, ::1], "
            "float32[:, ::1])", parallel=True, nogil=True, cache=True, error_model="numpy")
def panels_parallel(A, B, C, n_panels, parts, packed, edge):
    """``panels`` of all ``n_panels`` column panels of C = A @ B, in ``parts`` parts of
    consecutive panels, part t with scratch row t (as ``panels`` takes them)."""
    for t in numba.prange(parts):
        panels(A, B, C, n_panels * t // parts, n_panels * (t + 1) // parts, packed[t], edge[t])


_parallel = numba.njit(parallel=True, nogil=True, cache=True, error_model="numpy")


@_parallel
def adam_parallel(parts, var, grad, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    n = var.size
    for t in numba.prange(parts):
        lo, hi = n * t // parts, n * (t + 1) // parts
        ops.adam(var[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], alpha, one_minus_beta_1,
                 one_minus_beta_2, epsilon)


@_parallel
def sgd_parallel(parts, var, grad, learning_rate):
    n = var.size
    for t in numba.prange(parts):
        lo, hi = n * t // parts, n * (t + 1) // parts
        ops.sgd(var[lo:hi], grad[lo:hi], learning_rate)


@_parallel
def momentum_parallel(parts, var, grad, m, learning_rate, momentum, nesterov):
    n = var.size
    for t in numba.prange(parts):
        lo, hi = n * t // parts, n * (t + 1) // parts
        ops.momentum(var[lo:hi], grad[lo:hi], m[lo:hi], learning_rate, momentum, nesterov)


@_parallel
def rmsprop_parallel(parts, var, grad, v, learning_rate, rho, one_minus_rho, epsilon):
    n = var.size
    for t in numba.prange(parts):
        lo, hi = n * t // parts, n * (t + 1) // parts
        ops.rmsprop(var[lo:hi], grad[lo:hi], v[lo:hi], learning_rate, rho, one_minus_rho, epsilon)


@_parallel
def adagrad_parallel(parts, var, grad, acc, learning_rate, epsilon):
    n = var.size
    for t in numba.prange(parts):
        lo, hi = n * t // parts, n * (t + 1) // parts
        ops.adagrad(var[lo:hi], grad[lo:hi], acc[lo:hi], learning_rate, epsilon)


@_parallel
def bias_relu_parallel(parts, z, bias, out):
    rows = z.shape[0]
    for t in numba.prange(parts):
        lo, hi = rows * t // parts, rows * (t + 1) // parts
        ops.bias_relu(z[lo:hi], bias, out[lo:hi])


@_parallel
def relu_backward_parallel(parts, da, z):
    rows = da.shape[0]
    for t in numba.prange(parts):
        lo, hi = rows * t // parts, rows * (t + 1) // parts
        ops.relu_backward(da[lo:hi], z[lo:hi])
