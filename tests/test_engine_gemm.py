"""engine.gemm: deepterm's own float32 matrix product, and the fits that take it."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from engine import Layer, ModelSpec, build, gemm, kernels
from engine.numpy_backend import NumpyModel, _blas_thread_count

pytest.importorskip("numba")


def _close_to_float64(got, a, b):
    """``got`` is a @ b to float32 rounding: within k float32 ulps of |a| @ |b|."""
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    k = a.shape[1]
    assert got.dtype == np.float32 and got.shape == exact.shape
    assert np.all(np.abs(got - exact) <= 2 * k * np.finfo(np.float32).eps * bound + 1e-30)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 0, 5), (0, 4, 40), (11, 5, 31), (12, 256, 32),
                                   (13, 257, 33), (37, 600, 70), (64, 40, 96)])
@pytest.mark.parametrize("transpose_a,transpose_b", [(False, False), (True, False),
                                                     (False, True), (True, True)])
def test_products_of_every_shape_and_layout_agree_with_float64(m, k, n, transpose_a, transpose_b):
    # tiles of 12 x 32 and inner blocks of 256: the edges of each (11, 12, 13 rows;
    # 31, 32, 33 columns; 256, 257 deep) and A.T, B.T as the backward pass gives them
    rng = np.random.default_rng(m * 1000 + k)
    a = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(np.float32)
    a, b = (a.T if transpose_a else a), (b.T if transpose_b else b)
    for threads in (1, 2):
        _close_to_float64(gemm.matmul(a, b, threads=threads), a, b)
    out = np.full((m, n), np.nan, np.float32)   # written, not added to
    assert gemm.matmul(a, b, out, threads=2) is out
    _close_to_float64(out, a, b)


def test_two_threads_compute_exactly_what_one_does():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((100, 300)).astype(np.float32)
    b = rng.standard_normal((300, 256)).astype(np.float32)
    one, two = gemm.matmul(a, b, threads=1), gemm.matmul(a, b, threads=2)
    assert np.array_equal(one, two)   # each column's sums in the same order
    # products together: each its own result, as one at a time
    c = rng.standard_normal((256, 64)).astype(np.float32)
    both = gemm.products([(a, b, None), (b.T, a.T, None), (a @ b, c, None)], threads=2)
    assert np.array_equal(both[0], one)
    assert np.array_equal(both[1], gemm.matmul(b.T, a.T))
    _close_to_float64(both[2], a @ b, c)


def test_bad_shapes_and_outputs_are_refused():
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="do not chain"):
        gemm.matmul(a, a)
    with pytest.raises(ValueError, match="C-contiguous float32 array of shape \\(4, 4\\)"):
        gemm.matmul(a, a.T, np.empty((4, 4), np.float64))
    with pytest.raises(ValueError, match="shape \\(4, 4\\)"):
        gemm.matmul(a, a.T, np.empty((4, 5), np.float32))


def test_an_elementwise_pass_split_across_threads_is_the_same_pass():
    k = kernels.get()
    rng = np.random.default_rng(1)
    n = 3 * gemm.ELEMENTWISE_MIN + 7
    w, g, m, v = (rng.standard_normal(n).astype(np.float32) for _ in range(4))
    v = np.abs(v)
    scalars = tuple(np.float32(x) for x in (0.001, 0.1, 0.001, 1e-7))
    one = [x.copy() for x in (w, g, m, v)]
    k.adam(*one, *scalars)
    two = [x.copy() for x in (w, g, m, v)]
    kernels.on_threads(k, 2).adam(*two, *scalars)
    for x, y in zip(one, two):
        assert np.array_equal(x, y)
    assert not np.array_equal(one[0], w)   # it did update
    # ReLU's passes, split by rows
    z = rng.standard_normal((512, 300)).astype(np.float32)
    bias = rng.standard_normal(300).astype(np.float32)
    outs = []
    for kk in (k, kernels.on_threads(k, 2)):
        zz, out, da = z.copy(), np.empty_like(z), z[::-1].copy()
        kk.bias_relu(zz, bias, out)
        kk.relu_backward(da, zz)
        outs.append((zz, out, da))
    for x, y in zip(*outs):
        assert np.array_equal(x, y)
    assert (outs[0][1] == 0).any() and (outs[0][2] == 0).any()


def test_the_product_is_chosen_where_the_blas_kernels_are_older_than_the_cpu():
    numpy_libs = os.path.dirname(np.__file__) + ".libs/libscipy_openblas64_.so"
    scipy_libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "scipy.libs",
                              "libscipy_openblas.so")
    avx512 = "+64bit,+avx2,+avx512f,-amx-tile"
    assert gemm.blas_older_than_cpu(avx512, [("openblas", numpy_libs, "Haswell")])
    assert gemm.blas_older_than_cpu(avx512, [("openblas", numpy_libs, "Zen")])
    assert not gemm.blas_older_than_cpu(avx512, [("openblas", numpy_libs, "SkylakeX")])
    assert not gemm.blas_older_than_cpu(avx512, [("openblas", numpy_libs, "Cooperlake")])
    assert not gemm.blas_older_than_cpu("+64bit,+avx2,-avx512f",
                                        [("openblas", numpy_libs, "Haswell")])
    assert not gemm.blas_older_than_cpu(avx512, [("mkl", numpy_libs, None)])
    # SciPy's copy is not what NumPy's matmul calls
    assert not gemm.blas_older_than_cpu(avx512, [("openblas", scipy_libs, "Haswell")])
    assert gemm.blas_older_than_cpu(avx512, [("openblas", scipy_libs, "SkylakeX"),
                                             ("openblas", numpy_libs, "Haswell")])
    assert gemm._decide("own") and not gemm._decide("blas")


# -- fits ---------------------------------------------------------------------------------

def _large():
    """A model whose batches of 256 rows pass NumpyModel.SMALL_BATCH_WORK and whose
    weights pass kernels.FUSED_MIN (so its Adam step splits too)."""
    spec = ModelSpec(input_dim=300, layers=[Layer(256, "relu"), Layer(256, "relu"),
                                            Layer(10, "softmax")],
                     loss="sparse_categorical_crossentropy", optimizer="adam",
                     learning_rate=0.001, metrics=["accuracy"])
    rng = np.random.default_rng(2)
    X = rng.standard_normal((600, 300)).astype(np.float32)
    y = (X[:, :10].argmax(axis=1)).astype(np.int64)
    assert 256 * spec.multiply_adds() >= NumpyModel.SMALL_BATCH_WORK
    return spec, X, y


def _fit(monkeypatch, own: bool):
    monkeypatch.setattr(gemm, "_chosen", own)
    spec, X, y = _large()
    model = build(spec, seed=0)
    history = model.fit(X, y, epochs=3, batch_size=256, validation_split=0.2)
    return model, history


def test_a_large_fit_takes_the_product_on_every_blas_thread_and_agrees_with_numpy(monkeypatch):
    seen = []
    real = gemm.products

    def spy(items, threads=1):
        seen.append((len(items), threads))
        return real(items, threads)

    monkeypatch.setattr(gemm, "products", spy)
    own_model, own = _fit(monkeypatch, True)
    # forward: 2 products a batch; backward: the 2nd layer's pair, the 1st layer's kernel
    # grads (the output layer's narrow products stay with the BLAS); 2 batches, 3 epochs;
    # validation: 2 more per epoch; the divergence rule's starting loss (the loss passes 1):
    # 2 once
    threads = _blas_thread_count()
    assert sorted(set(seen)) == [(1, threads), (2, threads)]
    assert len(seen) == 3 * (2 * 4 + 2) + 2
    assert own_model._gemm_threads == 0    # only while it trains
    seen.clear()
    blas_model, blas = _fit(monkeypatch, False)
    assert seen == []
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(own.history[key], blas.history[key], rtol=2e-5)
    for a, b in zip(own_model.get_weights(), blas_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-6)


def test_a_failing_product_warns_once_and_the_fit_goes_on_with_numpy(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("cannot compile")

    monkeypatch.setattr(gemm, "products", broken)
    with pytest.warns(RuntimeWarning, match="own matrix product could not run .*cannot compile"):
        model, history = _fit(monkeypatch, True)
    assert gemm._chosen is False and history.stop_reason == "completed"
    _, blas = _fit(monkeypatch, False)
    # NumPy's from the first product on
    np.testing.assert_allclose(history.history["loss"], blas.history["loss"], rtol=1e-6)


def test_fits_in_two_threads_at_once_each_get_their_own_numbers(monkeypatch):
    monkeypatch.setattr(gemm, "_chosen", True)
    spec, X, y = _large()
    # 64 outputs and whole batches: every product is engine.gemm's (the BLAS's results
    # may change with its thread count, a process-wide setting both fits change)
    spec = ModelSpec(input_dim=300, layers=[*spec.layers[:-1], Layer(64, "softmax")],
                     loss=spec.loss, optimizer="adam", learning_rate=0.001)
    X, y = X[:512], y[:512]
    alone = build(spec, seed=0).fit(X, y, epochs=2, batch_size=256).history["loss"]
    results = {}

    def fit(name):
        results[name] = build(spec, seed=0).fit(X, y, epochs=2, batch_size=256).history["loss"]

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # one holds the helpers, the other computes alone: the same sums either way
    assert results == {0: alone, 1: alone}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_computes_on_its_own_thread_and_gets_the_same_numbers():
    # GNU OpenMP's threads do not survive a fork (Numba stops a child that uses them)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((64, 200)).astype(np.float32)
    b = rng.standard_normal((200, 128)).astype(np.float32)
    parent = gemm.matmul(a, b, threads=2)   # the parallel loop has run in this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: report, then leave at once
        os.close(read)
        ok = gemm._forked and np.array_equal(gemm.matmul(a, b, threads=2), parent)
        os.write(write, b"same" if ok else b"different")
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert said == b"same" and os.waitstatus_to_exitcode(status) == 0
    assert not gemm._forked


def test_a_parallel_product_uses_no_more_threads_than_it_is_given(monkeypatch):
    import numba

    calls = []
    real = numba.set_num_threads

    def record(n):
        calls.append(n)
        real(n)

    monkeypatch.setattr(numba, "set_num_threads", record)
    before = numba.get_num_threads()
    a = np.ones((64, 64), np.float32)
    b = np.ones((64, 256), np.float32)
    assert np.array_equal(gemm.matmul(a, b, threads=2), np.full((64, 256), 64, np.float32))
    # capped at the threads given (and at Numba's pool), then Numba's own setting again
    assert calls == [min(2, numba.config.NUMBA_NUM_THREADS), before]
    calls.clear()
    gemm.matmul(a, b, threads=1)   # one thread: no parallel loop at all
    assert calls == []


def test_a_model_below_the_fused_size_keeps_the_blas_for_its_large_batches(monkeypatch):
    # 784-64-10 at batch 256: large batches, but fewer weights than kernels.FUSED_MIN (such
    # a model never loads Numba for its fused passes; its short fits would pay for it here)
    monkeypatch.setattr(gemm, "_chosen", True)
    seen = []
    monkeypatch.setattr(gemm, "products", lambda *a, **k: seen.append(1))
    spec = ModelSpec(input_dim=784, layers=[Layer(64, "relu"), Layer(10, "softmax")],
                     loss="sparse_categorical_crossentropy", optimizer="adam")
    assert 256 * spec.multiply_adds() >= NumpyModel.SMALL_BATCH_WORK
    assert spec.count_params() < kernels.FUSED_MIN
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 784)).astype(np.float32)
    model = build(spec, seed=0)
    history = model.fit(X, rng.integers(0, 10, 300), epochs=1, batch_size=256)
    assert seen == [] and history.stop_reason == "completed"
