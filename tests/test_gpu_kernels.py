"""The CUDA stream kernels, proved without a GPU.

``src/zoopt/_gpu/streams.cu`` compiled for the host (tests/gpu_emu) and driven
through the same launchers the CuPy backend uses (``zoopt._gpu._streams``) must
give, bit for bit, what the Cython kernels and the NumPy twins give; the same
source must compile for the device with nvcc and with NVRTC under the options
the loader uses, without FMA contraction and without register spills.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoopt._cy import metrics as cy_metrics
from zoopt._cy import policy as cy_policy
from zoopt._cy import projection as cy_projection
from zoopt._cy import streams as cy
from zoopt._gpu._metrics import MetricKernels
from zoopt._gpu._policy import PolicyKernels
from zoopt._gpu._projection import ProjectionKernels
from zoopt._gpu._streams import StreamKernels
from zoopt.random import KIND_GUMBEL

import gpu_emu
import reference as ref
from strategies import dims, float_dtypes, keys, steps

pytestmark = pytest.mark.skipif(gpu_emu.compiler() is None,
                                reason="no C++ compiler for the host emulation")

STREAMS_CU = gpu_emu.GPU_DIR / "streams.cu"
DIST = {"normal": 0, "rademacher": 1}


@pytest.fixture(scope="module")
def emu_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("emu")


@pytest.fixture(scope="module")
def emu_lib(emu_dir):
    return gpu_emu.build("streams", emu_dir)


@pytest.fixture(scope="module")
def gpu_policy(emu_dir):
    lib = gpu_emu.build("policy", emu_dir)
    return {"full": PolicyKernels(gpu_emu.EmuLauncher(lib), np),
            "strided": PolicyKernels(gpu_emu.EmuLauncher(lib, block=32, max_blocks=3), np)}


@pytest.fixture(scope="module")
def gpu_projection(emu_dir):
    lib = gpu_emu.build("projection", emu_dir)
    return {"full": ProjectionKernels(gpu_emu.EmuLauncher(lib), np),
            "strided": ProjectionKernels(gpu_emu.EmuLauncher(lib, block=32, max_blocks=3), np)}


@pytest.fixture(scope="module")
def gpu_metrics(emu_dir):
    lib = gpu_emu.build("metrics", emu_dir)
    return {"full": MetricKernels(gpu_emu.EmuLauncher(lib), np),
            "strided": MetricKernels(gpu_emu.EmuLauncher(lib, block=32, max_blocks=3), np)}


@pytest.fixture(scope="module")
def gpu(emu_lib):
    """The CUDA kernel set, on the host: a full grid, and a grid of at most 3 blocks of
    32 threads (every thread then loops: the grid-stride paths)."""
    return {"full": StreamKernels(gpu_emu.EmuLauncher(emu_lib), np),
            "strided": StreamKernels(gpu_emu.EmuLauncher(emu_lib, block=32, max_blocks=3),
                                     np)}


def bits(a):
    a = np.asarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def assert_same_bits(a, b):
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(bits(a), bits(b))


def stream_words(key, step, kind):
    c2, c3 = ref.counter_words(step, kind)
    return int(key[0]), int(key[1]), c2, c3


launch_kinds = st.sampled_from(["full", "strided"])


def _no_nvrtc(exc):
    """Skip without NVRTC, except where it is meant to be there (CI, the test extra)."""
    import importlib.metadata

    try:
        importlib.metadata.version("nvidia-cuda-nvrtc")
        installed = True
    except importlib.metadata.PackageNotFoundError:
        installed = False
    if installed or os.environ.get("CI"):
        pytest.fail(f"NVRTC should be available here: {exc}")
    pytest.skip(str(exc))
dist_names = st.sampled_from(["normal", "rademacher"])
small_n = st.integers(1, 5)
starts = st.one_of(st.just(0), st.integers(0, 2**32 - 6))


# ---------------------------------------------------------------------------
# kernel by kernel, against Cython and the NumPy twins


@settings(max_examples=40)
@given(st.integers(1, 300), st.integers(1, 16), launch_kinds, st.integers(0, 2**63 - 1))
def test_philox_words(gpu, n, rounds, kind, seed):
    gen = np.random.default_rng(seed)
    ctr = gen.integers(0, 2**32, (n, 4), dtype=np.uint32)
    key = gen.integers(0, 2**32, (n, 2), dtype=np.uint32)
    out, want = np.empty_like(ctr), np.empty_like(ctr)
    gpu[kind].philox4x32(ctr, key, out, rounds, 1)
    cy.philox4x32(ctr, key, want, rounds, 1)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(out, ref.philox4x32(ctr, key, rounds))


@settings(max_examples=60)
@given(small_n, dims, dist_names, float_dtypes, keys, steps, starts, st.booleans(),
       launch_kinds)
def test_fill(gpu, n, d, dist, dtype, key, step, i0, scaled, kind):
    k0, k1, c2, c3 = stream_words(key, step, ref.KIND[dist])
    scale = (np.linspace(0.5, 2.0, n).astype(dtype) if scaled else np.empty(0, dtype))
    out, want = np.empty((n, d), dtype), np.empty((n, d), dtype)
    gpu[kind].fill(scale, out, DIST[dist], k0, k1, c2, c3, i0, 1)
    cy.fill(scale, want, DIST[dist], k0, k1, c2, c3, i0, 1)
    assert_same_bits(out, want)
    if not scaled:
        assert_same_bits(out, ref.directions(key, n, d, dist=dist, step=step, dtype=dtype,
                                             start=i0))


@settings(max_examples=30)
@given(small_n, dims, float_dtypes, keys, steps, starts, launch_kinds)
def test_sphere(gpu, n, d, dtype, key, step, i0, kind):
    k0, k1, c2, c3 = stream_words(key, step, 1)
    out, want = np.empty((n, d), dtype), np.empty((n, d), dtype)
    gpu[kind].fill_sphere(out, k0, k1, c2, c3, i0, 1)
    cy.fill_sphere(want, k0, k1, c2, c3, i0, 1)
    assert_same_bits(out, want)
    assert_same_bits(out, ref.directions(key, n, d, dist="sphere", step=step, dtype=dtype,
                                         start=i0))
    sq, want_sq = np.empty(n), np.empty(n)
    gpu[kind].sq_norms(np.empty(0, dtype), sq, d, 0, k0, k1, c2, c3, i0, 1)
    cy.sq_norms(np.empty(0, dtype), want_sq, d, 0, k0, k1, c2, c3, i0, 1)
    assert_same_bits(sq, want_sq)
    U = ref.directions(key, n, d, dist="normal", step=step, dtype=dtype, start=i0)
    assert_same_bits(sq, np.array([ref.sq_norm(u) for u in U]))


@settings(max_examples=60)
@given(small_n, dims, dist_names, float_dtypes, keys, steps, st.booleans(), st.booleans(),
       st.booleans(), launch_kinds, st.integers(0, 2**63 - 1))
def test_perturb(gpu, n, d, dist, dtype, key, step, antithetic, per_coord, scaled, kind,
                 seed):
    gen = np.random.default_rng(seed)
    k0, k1, c2, c3 = stream_words(key, step, ref.KIND[dist])
    x = gen.standard_normal(d).astype(dtype)
    # subnormal and signed-zero coordinates: no flushing on either side
    x[: min(d, 2)] = np.array([np.finfo(dtype).smallest_subnormal, -0.0], dtype)[: min(d, 2)]
    sigma = dtype(1e-3)
    svec = (gen.uniform(1e-4, 1e-2, d).astype(dtype) if per_coord else np.empty(0, dtype))
    scale = gen.uniform(0.5, 2, n).astype(dtype) if scaled else np.empty(0, dtype)
    rows = 2 * n if antithetic else n
    out, want = np.empty((rows, d), dtype), np.empty((rows, d), dtype)
    gpu[kind].perturb(x, sigma, svec, scale, out, DIST[dist], k0, k1, c2, c3, 7, antithetic, 1)
    cy.perturb(x, sigma, svec, scale, want, DIST[dist], k0, k1, c2, c3, 7, antithetic, 1)
    assert_same_bits(out, want)
    if not (per_coord or scaled):
        V = ref.directions(key, n, d, dist=dist, step=step, dtype=dtype, start=7)
        assert_same_bits(out, ref.perturb(x, sigma, V, antithetic))


@settings(max_examples=60)
@given(st.integers(1, 12), dims, dist_names, float_dtypes, keys, steps, st.booleans(),
       st.booleans(), launch_kinds, st.integers(0, 2**63 - 1))
def test_accumulate(gpu, n, d, dist, dtype, key, step, square, scaled, kind, seed):
    gen = np.random.default_rng(seed)
    k0, k1, c2, c3 = stream_words(key, step, ref.KIND[dist])
    w = gen.standard_normal(n)
    w[gen.random(n) < 0.3] = 0.0  # zero weights are skipped on both sides
    scale = gen.uniform(0.5, 2, n).astype(dtype) if scaled else np.empty(0, dtype)
    start = gen.standard_normal(d)  # the sum adds to what acc holds
    acc, want = start.copy(), start.copy()
    gpu[kind].accumulate(w, scale, acc, DIST[dist], k0, k1, c2, c3, 3, square, 1)
    cy.accumulate(w, scale, want, DIST[dist], k0, k1, c2, c3, 3, square, 1)
    assert_same_bits(acc, want)
    if not (square or scaled):
        V = ref.directions(key, n, d, dist=dist, step=step, dtype=dtype, start=3)
        zero = np.zeros(d)
        gpu[kind].accumulate(w, scale, zero, DIST[dist], k0, k1, c2, c3, 3, square, 1)
        assert_same_bits(zero, ref.accumulate(w, V))


@settings(max_examples=60)
@given(st.integers(0, 1500), st.integers(0, 5000), dist_names, float_dtypes, keys, steps,
       launch_kinds, st.integers(0, 2**63 - 1))
def test_spans(gpu, length, j_first, dist, dtype, key, step, kind, seed):
    gen = np.random.default_rng(seed)
    k0, k1, c2, c3 = stream_words(key, step, ref.KIND[dist])
    out, want = np.full(length, np.nan, dtype), np.full(length, np.nan, dtype)
    gpu[kind].fill_span(out, DIST[dist], k0, k1, c2, c3, 11, j_first, 1)
    cy.fill_span(want, DIST[dist], k0, k1, c2, c3, 11, j_first, 1)
    assert_same_bits(out, want)
    full = ref.direction(key, 11, j_first + length, dist=dist, step=step, dtype=dtype)
    assert_same_bits(out, full[j_first:])
    w = gen.standard_normal(4)
    acc, want_acc = np.zeros(length), np.zeros(length)
    gpu[kind].accumulate_span(w, acc, np.empty(0, dtype), DIST[dist], k0, k1, c2, c3, 5,
                              j_first, 1)
    cy.accumulate_span(w, want_acc, np.empty(0, dtype), DIST[dist], k0, k1, c2, c3, 5,
                       j_first, 1)
    assert_same_bits(acc, want_acc)
    V = ref.directions(key, 4, j_first + length, dist=dist, step=step, dtype=dtype, start=5)
    assert_same_bits(acc, ref.accumulate(w, V)[j_first:])


@settings(max_examples=40)
@given(st.integers(0, 700), st.integers(0, 600), dist_names, float_dtypes, keys, steps,
       st.sampled_from([1, -1]), launch_kinds,
       st.integers(0, 2**63 - 1))
def test_shift_spans(gpu, length, j_first, dist, dtype, key, step, sign, kind, seed):
    """ZOOptimizer's in-place probe and its reverse move, with parameters whose rounding
    loses bits: the moved values, the lost mask, the kept old values, the count."""
    gen = np.random.default_rng(seed)
    k0, k1, c2, c3 = stream_words(key, step, ref.KIND[dist])
    theta = (gen.standard_normal(length) * 10.0 ** gen.integers(-8, 8, length)).astype(dtype)
    theta[: length // 9] = -0.0
    got, want = theta.copy(), theta.copy()
    lost, want_lost = np.full(length, 7, np.int32), np.full(length, 7, np.int32)
    orig, want_orig = np.zeros(length, dtype), np.zeros(length, dtype)
    n = gpu[kind].shift_span(got, 1e-3, sign, lost, orig, DIST[dist], k0, k1, c2, c3, 6,
                             j_first, 1)
    want_n = cy.shift_span(want, dtype(1e-3), sign, want_lost, want_orig, DIST[dist], k0, k1,
                           c2, c3, 6, j_first, 1)
    assert_same_bits(got, want)
    assert n == want_n
    np.testing.assert_array_equal(lost[:n], want_lost[:n])
    assert_same_bits(orig[:n], want_orig[:n])
    gpu[kind].unshift_span(got, 1e-3, sign, DIST[dist], k0, k1, c2, c3, 6, j_first, 1)
    cy.unshift_span(want, dtype(1e-3), sign, DIST[dist], k0, k1, c2, c3, 6, j_first, 1)
    assert_same_bits(got, want)


@settings(max_examples=40)
@given(st.integers(1, 30), st.integers(1, 40), st.integers(1, 5), st.data(), float_dtypes,
       st.sampled_from([1, -1]), launch_kinds, st.integers(0, 2**63 - 1))
def test_shift_lowrank_spans(gpu, m, n, r, data, dtype, sign, kind, seed):
    """LOZO's probes along A B^T / sqrt(r), over spans that start and end mid-row: the
    moved values, the lost coordinates and their old values, and the reverse move, as
    the Cython kernels give them."""
    gen = np.random.default_rng(seed)
    c0 = data.draw(st.integers(0, m * n - 1))
    length = data.draw(st.integers(0, m * n - c0))
    A = gen.standard_normal((m, r)).astype(dtype)
    B = gen.standard_normal((n, r)).astype(dtype)
    theta = (gen.standard_normal(length) * 10.0 ** gen.integers(-8, 8, length)).astype(dtype)
    theta[: length // 9] = -0.0
    inv, scale = dtype(1.0 / np.sqrt(r)), dtype(1e-3)
    got, want = theta.copy(), theta.copy()
    lost, want_lost = np.full(length, 7, np.int32), np.full(length, 7, np.int32)
    orig, want_orig = np.zeros(length, dtype), np.zeros(length, dtype)
    k = gpu[kind].shift_lowrank(got, A, B, c0, inv, scale, sign, lost, orig, 1)
    want_k = cy.shift_lowrank(want, A, B, c0, inv, scale, sign, want_lost, want_orig, 1)
    assert_same_bits(got, want)
    # and the NumPy twin itself
    moved, twin_lost, _ = ref.shift_span(theta, scale, sign, ref.lowrank_span(A, B, c0, length))
    assert_same_bits(got, moved)
    assert k == int(twin_lost.sum())
    assert k == want_k
    np.testing.assert_array_equal(lost[:k], want_lost[:k])
    assert_same_bits(orig[:k], want_orig[:k])
    gpu[kind].unshift_lowrank(got, A, B, c0, inv, scale, sign, 1)
    cy.unshift_lowrank(want, A, B, c0, inv, scale, sign, 1)
    assert_same_bits(got, want)
    with pytest.raises(ValueError, match="outside the"):
        gpu[kind].shift_lowrank(got, A, B, m * n + 1, inv, scale, sign, lost, orig, 1)


@pytest.mark.parametrize("dist", ["normal", "rademacher"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spans_past_block_2_32(gpu, dist, dtype):
    # the block index's bits 32..35 go to bits 28..31 of the last counter word, on the
    # device as on the CPU (with 32-bit blocks, coordinate 2**34 of a float32 direction
    # was coordinate 0 again)
    key = np.array([5, 6], np.uint32)
    k0, k1, c2, c3 = stream_words(key, 9, ref.KIND[dist])
    per = 128 if dist == "rademacher" else 4 if dtype == np.float32 else 2
    w = np.array([1.5, 0.0, -0.25])
    for j_first, length in [((per << 32) - 700, 1400), ((per << 36) - 300, 300)]:
        want = ref.direction_span(key, 11, j_first, length, dist=dist, step=9, dtype=dtype)
        for kind in ("full", "strided"):
            out = np.full(length, np.nan, dtype)
            gpu[kind].fill_span(out, DIST[dist], k0, k1, c2, c3, 11, j_first, 1)
            assert_same_bits(out, want)
            acc = np.zeros(length)
            gpu[kind].accumulate_span(w, acc, np.empty(0, dtype), DIST[dist], k0, k1, c2, c3,
                                      4, j_first, 1)
            want_acc = np.zeros(length)
            cy.accumulate_span(w, want_acc, np.empty(0, dtype), DIST[dist], k0, k1, c2, c3, 4,
                               j_first, 1)
            assert_same_bits(acc, want_acc)


def test_launchers_cover_partial_blocks(emu_lib):
    # a tail of every size below a unit and a block, one thread and one block
    for block, max_blocks in [(1, 1), (7, 2), (32, 1), (128, 1 << 20)]:
        k = StreamKernels(gpu_emu.EmuLauncher(emu_lib, block=block, max_blocks=max_blocks), np)
        for d in (1, 3, 31, 33, 129):
            for dtype in (np.float32, np.float64):
                for dist in (0, 1):
                    out, want = np.empty((3, d), dtype), np.empty((3, d), dtype)
                    k.fill(np.empty(0, dtype), out, dist, 1, 2, 3, 4, 0, 1)
                    cy.fill(np.empty(0, dtype), want, dist, 1, 2, 3, 4, 0, 1)
                    assert_same_bits(out, want)


@settings(max_examples=40)
@given(st.integers(1, 300), st.integers(1, 12), float_dtypes, st.floats(0.05, 20.0),
       st.integers(0, 2**63 - 1), launch_kinds)
def test_race_weights(gpu_policy, N, C, dtype, tau, seed, kind):
    gen = np.random.default_rng(seed)
    z = (gen.normal(size=(N, C)) * gen.choice([1.0, 30.0, 3000.0])).astype(dtype)
    out, want = np.empty((N, C)), np.empty((N, C))
    gpu_policy[kind].race_weights(z, 1.0 / tau, out, 1)
    cy_policy.race_weights(z, 1.0 / tau, want, 1)
    assert_same_bits(out, want)
    assert_same_bits(out, ref.race_weights(z, 1.0 / tau))


@settings(max_examples=40)
@given(st.integers(1, 600), st.integers(1, 11), st.integers(1, 6), keys, steps,
       st.integers(0, 2**63 - 1), launch_kinds)
def test_gumbel_argmax(gpu_policy, N, C, S, key, step, seed, kind):
    gen = np.random.default_rng(seed)
    z = gen.normal(size=(N, C)) * 2.0
    z[gen.random((N, C)) < 0.1] = 40.0  # ties of huge weights
    w = ref.race_weights(z, 1.0)
    c2, c3 = ref.counter_words(step, KIND_GUMBEL)
    out = np.empty((S, N), np.int32)
    want = np.empty((S, N), np.int32)
    gpu_policy[kind].gumbel_argmax(w, out, int(key[0]), int(key[1]), c2, c3, 1)
    cy_policy.gumbel_argmax(w, want, int(key[0]), int(key[1]), c2, c3, 1)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(out, ref.gumbel_argmax(z, 1.0, key, step, S))


@settings(max_examples=40)
@given(st.integers(1, 7), st.integers(1, 300), st.integers(1, 9), st.booleans(),
       float_dtypes, st.integers(0, 2**63 - 1), launch_kinds)
def test_categorical_score(gpu_policy, S, N, C, per_example, dtype, seed, kind):
    gen = np.random.default_rng(seed)
    labels = gen.integers(0, C, (S, N)).astype(np.int32)
    adv = gen.normal(size=(S, N if per_example else 1))
    probs = gen.dirichlet(np.ones(C), size=N)
    out, want = np.empty((N, C), dtype), np.empty((N, C), dtype)
    gpu_policy[kind].categorical_score(labels, adv, probs, 0.37, out, 1)
    cy_policy.categorical_score(labels, adv, probs, 0.37, want, 1)
    assert_same_bits(out, want)
    assert_same_bits(out, ref.categorical_score(labels, adv, probs, 0.37, dtype))


@settings(max_examples=40)
@given(st.integers(1, 60), st.integers(1, 300), float_dtypes, st.integers(0, 2**63 - 1),
       launch_kinds)
def test_row_score(gpu_policy, R, V, dtype, seed, kind):
    gen = np.random.default_rng(seed)
    z = (gen.normal(size=(R, V)) * gen.choice([1.0, 10.0])).astype(dtype)
    labels = gen.integers(0, V, R).astype(np.int64)
    coef = gen.normal(size=R)
    coef[gen.random(R) < 0.2] = 0.0
    out, want = np.empty((R, V), dtype), np.empty((R, V), dtype)
    gpu_policy[kind].row_score(z, labels, coef, out, 1)
    cy_policy.row_score(z, labels, coef, want, 1)
    assert_same_bits(out, want)
    assert_same_bits(out, ref.row_score(z, labels, coef))


@settings(max_examples=40)
@given(st.integers(1, 6), st.integers(1, 400), st.sampled_from([1, 2, 5, 600]),
       st.sampled_from([np.int32, np.int64]), st.integers(0, 2**63 - 1), launch_kinds)
def test_count_kernels(gpu_metrics, P, N, C, dtype, seed, kind):
    gen = np.random.default_rng(seed)
    yt = gen.integers(0, C, N).astype(dtype)
    yp = gen.integers(0, C, (P, N)).astype(dtype)
    yp[:, : N // 2] = yt[: N // 2]  # plenty of hits
    tp, pred = np.full((P, C), -7, np.int64), np.full((P, C), -7, np.int64)
    gpu_metrics[kind].class_counts(yt, yp, tp, pred, 1)
    etp, epred = ref.class_counts(yt, yp, C)
    np.testing.assert_array_equal(tp, etp)
    np.testing.assert_array_equal(pred, epred)
    wtp, wpred = np.empty((P, C), np.int64), np.empty((P, C), np.int64)
    cy_metrics.class_counts(yt, yp, wtp, wpred, 1)
    np.testing.assert_array_equal(tp, wtp)
    cm = np.zeros((P, C, C), np.int64)
    gpu_metrics[kind].confusion(yt, yp, cm, 1)
    np.testing.assert_array_equal(cm, ref.confusion(yt, yp, C))
    assert gpu_metrics[kind].minmax(yp.ravel(), 1) == ref.minmax(yp)
    # weighted sums: one thread per row, in sample order, as the Cython kernels
    w = gen.standard_normal(N) * 10.0 ** gen.integers(-8, 9, N)
    stp, spred = np.full((P, C), np.nan), np.full((P, C), np.nan)
    gpu_metrics[kind].class_sums(yt, yp, w, stp, spred, 1)
    ctp, cpred = np.empty((P, C)), np.empty((P, C))
    cy_metrics.class_sums(yt, yp, w, ctp, cpred, 1)
    assert_same_bits(stp, ctp)
    assert_same_bits(spred, cpred)
    etp, epred = ref.class_sums(yt, yp, w, C)
    assert_same_bits(stp, etp)
    assert_same_bits(spred, epred)
    for wt in (w, gen.integers(-5, 9, N)):
        got, want = np.zeros((P, C, C), wt.dtype), np.zeros((P, C, C), wt.dtype)
        gpu_metrics[kind].confusion_sums(yt, yp, wt, got, 1)
        cy_metrics.confusion_sums(yt, yp, wt, want, 1)
        assert_same_bits(got, want)


@settings(max_examples=40)
@given(st.integers(0, 5), st.integers(0, 11), st.sampled_from([np.float32, np.float64,
                                                                np.int64]),
       st.integers(0, 2**63 - 1), launch_kinds)
def test_fwht(gpu_projection, rows, log_n, dtype, seed, kind):
    gen = np.random.default_rng(seed)
    n = 1 << log_n
    a = (gen.integers(-1000, 1000, (rows, n)) if dtype == np.int64
         else gen.standard_normal((rows, n))).astype(dtype)
    got, want = a.copy(), a.copy()
    gpu_projection[kind].fwht_rows(got, 1)
    cy_projection.fwht_rows(want, 1)
    assert_same_bits(got, want)
    # integer-valued data: every sum is exact, so the matrix product of the twin is too
    ints = gen.integers(-1000, 1000, (rows, n)).astype(dtype)
    exact = ints.copy()
    gpu_projection[kind].fwht_rows(exact, 1)
    assert_same_bits(exact, ref.fwht_rows(ints))


@settings(max_examples=40)
@given(st.integers(0, 5), st.integers(1, 300), float_dtypes, st.integers(0, 2**63 - 1),
       launch_kinds)
def test_srht_and_its_transpose(gpu_projection, rows, m, dtype, seed, kind):
    from zoopt._gpu import _projection

    gen = np.random.default_rng(seed)
    # scratch for 2 rows per pass: several passes, a partial last one, the buffer reused
    padded_bytes = (1 << max(0, (m - 1).bit_length())) * np.dtype(dtype).itemsize
    old, _projection._SCRATCH_BYTES = _projection._SCRATCH_BYTES, 2 * padded_bytes
    try:
        _srht_case(gpu_projection[kind], rows, m, dtype, gen)
    finally:
        _projection._SCRATCH_BYTES = old


def _srht_case(kernels, rows, m, dtype, gen):
    padded = 1 << max(0, (m - 1).bit_length())
    k = int(gen.integers(1, padded + 1))
    X = gen.standard_normal((rows, m)).astype(dtype)
    signs = gen.choice([-1.0, 1.0], m).astype(dtype)
    sel = np.sort(gen.choice(padded, k, replace=False)).astype(np.int64)
    out, want = np.empty((rows, k), dtype), np.empty((rows, k), dtype)
    kernels.srht_rows(X, signs, sel, 0.3, padded, out, 1)
    cy_projection.srht_rows(X, signs, sel, 0.3, padded, want, 1)
    assert_same_bits(out, want)
    Z = gen.standard_normal((rows, k)).astype(dtype)
    out, want = np.empty((rows, m), dtype), np.empty((rows, m), dtype)
    kernels.srht_lift_rows(Z, signs, sel, 0.3, padded, out, 1)
    cy_projection.srht_lift_rows(Z, signs, sel, 0.3, padded, want, 1)
    assert_same_bits(out, want)
    # integer-valued data and scale 1: exact arithmetic, so the NumPy twins agree bit for bit
    Xi = gen.integers(-50, 50, (rows, m)).astype(dtype)
    out = np.empty((rows, k), dtype)
    kernels.srht_rows(Xi, signs, sel, 1.0, padded, out, 1)
    assert_same_bits(out, ref.srht_rows(Xi, signs, sel, 1.0, padded))
    Zi = gen.integers(-50, 50, (rows, k)).astype(dtype)
    out = np.empty((rows, m), dtype)
    kernels.srht_lift_rows(Zi, signs, sel, 1.0, padded, out, 1)
    assert_same_bits(out, ref.srht_lift_rows(Zi, signs, sel, 1.0, padded, m))


@settings(max_examples=40)
@given(st.integers(1, 40), st.integers(1, 700), st.sampled_from([1, 2**20, 2**29, 2**31]),
       keys, st.integers(0, 5), st.integers(1, 4), float_dtypes, st.integers(0, 2**63 - 1),
       launch_kinds)
def test_sparse_signs_and_rows(gpu_projection, n_rows, m, half, key, c2, n_x, dtype, seed,
                               kind):
    k0, k1 = int(key[0]), int(key[1])
    got = gpu_projection[kind].sparse_signs(k0, k1, c2, 4 << 24, n_rows, m, half, 1)
    want = cy_projection.sparse_signs(k0, k1, c2, 4 << 24, n_rows, m, half, 1)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    empty = gpu_projection[kind].sparse_signs(k0, k1, c2, 0, 0, m, half, 1)  # no rows
    assert [a.size for a in empty] == [1, 0, 0]
    for a, b in zip(got, ref.sparse_signs(key, c2, 4 << 24, n_rows, m, half), strict=True):
        np.testing.assert_array_equal(a, b)
    X = np.random.default_rng(seed).standard_normal((n_x, m)).astype(dtype)
    out, ref_out = np.empty((n_x, n_rows), dtype), np.empty((n_x, n_rows), dtype)
    gpu_projection[kind].sparse_rows(X, *want, 0.7, out, 1)
    cy_projection.sparse_rows(X, *want, 0.7, ref_out, 1)
    assert_same_bits(out, ref_out)
    Xi = np.random.default_rng(seed).integers(-50, 50, (n_x, m)).astype(dtype)  # exact sums
    gpu_projection[kind].sparse_rows(Xi, *want, 1.0, out, 1)
    assert_same_bits(out, ref.sparse_rows(Xi, *want, 1.0, n_rows))


def test_one_block_loops_over_large_problems(emu_dir):
    # one block of 32 threads: every kernel's grid-stride loop runs many times
    def one_block(name, cls):
        return cls(gpu_emu.EmuLauncher(gpu_emu.build(name, emu_dir), block=32, max_blocks=1),
                   np)

    st_, pk = one_block("streams", StreamKernels), one_block("policy", PolicyKernels)
    mk, prj = one_block("metrics", MetricKernels), one_block("projection", ProjectionKernels)
    gen = np.random.default_rng(9)
    for dtype in (np.float32, np.float64):
        sq, want = np.empty(100), np.empty(100)
        st_.sq_norms(np.empty(0, dtype), sq, 70, 0, 1, 2, 3, 4, 0, 1)
        cy.sq_norms(np.empty(0, dtype), want, 70, 0, 1, 2, 3, 4, 0, 1)
        assert_same_bits(sq, want)
        out, want = np.empty((100, 70), dtype), np.empty((100, 70), dtype)
        st_.fill_sphere(out, 1, 2, 3, 4, 0, 1)
        cy.fill_sphere(want, 1, 2, 3, 4, 0, 1)
        assert_same_bits(out, want)
        span, want = np.empty(5000, dtype), np.empty(5000, dtype)
        st_.fill_span(span, 1, 1, 2, 3, 4, 7, 333, 1)
        cy.fill_span(want, 1, 1, 2, 3, 4, 7, 333, 1)
        assert_same_bits(span, want)
        z = gen.normal(size=(200, 9)).astype(dtype)
        w, want = np.empty((200, 9)), np.empty((200, 9))
        pk.race_weights(z, 0.5, w, 1)
        cy_policy.race_weights(z, 0.5, want, 1)
        assert_same_bits(w, want)
        lab = gen.integers(0, 9, 200).astype(np.int64)
        coef = gen.normal(size=200)
        out, want = np.empty((200, 9), dtype), np.empty((200, 9), dtype)
        pk.row_score(z, lab, coef, out, 1)
        cy_policy.row_score(z, lab, coef, want, 1)
        assert_same_bits(out, want)
        X = gen.normal(size=(50, 300)).astype(dtype)
        pattern = prj.sparse_signs(1, 2, 3, 4, 200, 300, 1 << 29, 1)
        for a, b in zip(pattern, cy_projection.sparse_signs(1, 2, 3, 4, 200, 300, 1 << 29, 1),
                        strict=True):
            np.testing.assert_array_equal(a, b)
        out, want = np.empty((50, 200), dtype), np.empty((50, 200), dtype)
        prj.sparse_rows(X, *pattern, 0.5, out, 1)
        cy_projection.sparse_rows(X, *pattern, 0.5, want, 1)
        assert_same_bits(out, want)
    a = gen.integers(-9, 9, (7, 512))
    got, want = a.copy(), a.copy()
    prj.fwht_rows(got, 1)
    cy_projection.fwht_rows(want, 1)
    np.testing.assert_array_equal(got, want)
    yt, yp = gen.integers(0, 5, 300), gen.integers(0, 5, (4, 300))
    cm = np.zeros((4, 5, 5), np.int64)
    mk.confusion(yt, yp, cm, 1)
    np.testing.assert_array_equal(cm, ref.confusion(yt, yp, 5))
    yp = gen.integers(0, 5, (100, 300))  # more rows than the 32 threads: each loops
    w = gen.standard_normal(300)
    tp, pred = np.empty((100, 5)), np.empty((100, 5))
    mk.class_sums(yt, yp, w, tp, pred, 1)
    etp, epred = ref.class_sums(yt, yp, w, 5)
    assert_same_bits(tp, etp)
    assert_same_bits(pred, epred)
    cm, want = np.zeros((100, 5, 5)), np.zeros((100, 5, 5))
    mk.confusion_sums(yt, yp, w, cm, 1)
    cy_metrics.confusion_sums(yt, yp, w, want, 1)
    assert_same_bits(cm, want)


# ---------------------------------------------------------------------------
# the source: every kernel emulated, device builds clean


@pytest.mark.parametrize("source", sorted(gpu_emu.SOURCES))
def test_every_kernel_has_an_emulation_export(emu_dir, source):
    import ctypes

    from zoopt._gpu import _nvrtc

    try:
        _nvrtc.library()
    except _nvrtc.NVRTCError as exc:
        _no_nvrtc(exc)
    lib = ctypes.CDLL(str(gpu_emu.build(source, emu_dir)))
    names = gpu_emu.kernel_names(source)
    assert names, f"no kernels found in {source}.cu"
    missing = [n for n in names if not hasattr(lib, f"emu_{n}")]
    assert not missing, f"kernels without an emulation export: {missing}"


def test_every_cu_file_has_an_emulation():
    cus = {p.stem for p in gpu_emu.GPU_DIR.glob("*.cu")}
    assert cus == set(gpu_emu.SOURCES)


@pytest.mark.parametrize("source", sorted(gpu_emu.SOURCES))
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvrtc_builds_with_the_loader_options(arch, source):
    from zoopt._gpu import _nvrtc

    try:
        _nvrtc.library()
    except _nvrtc.NVRTCError as exc:
        _no_nvrtc(exc)
    cubin = _nvrtc.compile_source(source, arch)
    assert cubin[:4] == b"\x7fELF"
    ptx = _nvrtc.compile_source(source, arch.replace("sm_", "compute_"),
                                output="ptx").decode()
    assert "fma." not in ptx  # --fmad=false: no contraction
    assert ".ftz" not in ptx  # --ftz=false: no flushed float32 operations
    # CuPy's own compile (its options with -ftz=true appended) also accepts the source
    _nvrtc.compile_source(source, arch.replace("sm_", "compute_"),
                          options=("-ftz=true",), output="ptx")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("source", sorted(gpu_emu.SOURCES))
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvcc_builds_without_spills_or_fma(tmp_path, arch, source):
    base = ["nvcc", f"-arch={arch}", "-fmad=false", "-ftz=false", "-Werror", "all-warnings",
            f"-I{gpu_emu.GPU_DIR}", str(gpu_emu.GPU_DIR / f"{source}.cu")]
    res = subprocess.run([*base[:1], "-cubin", "--resource-usage", *base[1:], "-o",
                          str(tmp_path / "k.cubin")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    usage = res.stderr + res.stdout
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", usage)
    assert spills, usage
    assert all(s == ("0", "0") for s in spills), usage
    res = subprocess.run([*base[:1], "-ptx", *base[1:], "-o", str(tmp_path / "k.ptx")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    ptx = (tmp_path / "k.ptx").read_text()
    assert "fma." not in ptx
    assert re.findall(r"\.entry\s+\w+", ptx)


SANITIZED_RUN = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import gpu_emu
    from zoopt._gpu._streams import StreamKernels
    from zoopt._cy import streams as cy
    for block, mb in [(32, 3), (128, 1 << 20)]:
        k = StreamKernels(gpu_emu.EmuLauncher({lib!r}, block=block, max_blocks=mb), np)
        for dtype in (np.float32, np.float64):
            for dist in (0, 1):
                for d in (1, 5, 130, 1031):
                    x = np.linspace(-1, 1, d).astype(dtype)
                    sc = np.full(3, 0.5, dtype)
                    out = np.empty((6, d), dtype)
                    k.perturb(x, dtype(1e-3), x, sc, out, dist, 1, 2, 3, 4, 0, True, 1)
                    acc = np.zeros(d)
                    k.accumulate(np.ones(3), sc, acc, dist, 1, 2, 3, 4, 0, True, 1)
                    span = np.empty(d - 1, dtype)
                    k.fill_span(span, dist, 1, 2, 3, 4, 9, 1, 1)
                    k.accumulate_span(np.ones(2), np.zeros(d - 1), x, dist, 1, 2, 3, 4, 0, 3, 1)
                    k.fill_sphere(np.empty((2, d), dtype), 1, 2, 3, 4, 0, 1)
                    k.philox4x32(np.ones((d, 4), np.uint32), np.ones((d, 2), np.uint32),
                                 np.empty((d, 4), np.uint32), 10, 1)
    from zoopt._gpu._metrics import MetricKernels
    from zoopt._gpu._policy import PolicyKernels
    pk = PolicyKernels(gpu_emu.EmuLauncher({policy!r}, block=32, max_blocks=3), np)
    z = np.linspace(-3, 3, 7 * 5).reshape(7, 5)
    w = np.empty((7, 5))
    pk.race_weights(z, 1.0, w, 1)
    pk.gumbel_argmax(w, np.empty((3, 7), np.int32), 1, 2, 3, 4, 1)
    lab = (np.arange(21) % 5).astype(np.int32).reshape(3, 7)
    pk.categorical_score(lab, np.ones((3, 7)), np.full((7, 5), 0.2), 1.0,
                         np.empty((7, 5), np.float32), 1)
    mk = MetricKernels(gpu_emu.EmuLauncher({metrics!r}, block=32, max_blocks=3), np)
    yt = (np.arange(50) % 4).astype(np.int64)
    yp = np.stack([yt, yt[::-1].copy()])
    mk.class_counts(yt, yp, np.empty((2, 4), np.int64), np.empty((2, 4), np.int64), 1)
    mk.confusion(yt, yp, np.zeros((2, 4, 4), np.int64), 1)
    mk.class_sums(yt, yp, np.ones(50), np.empty((2, 4)), np.empty((2, 4)), 1)
    mk.confusion_sums(yt, yp, np.ones(50), np.zeros((2, 4, 4)), 1)
    mk.confusion_sums(yt.astype(np.int32), yp.astype(np.int32), np.ones(50, np.int64),
                      np.zeros((2, 4, 4), np.int64), 1)
    pk.row_score(z, np.zeros(7, np.int64), np.ones(7), np.empty((7, 5)), 1)
    from zoopt._gpu._projection import ProjectionKernels
    prj = ProjectionKernels(gpu_emu.EmuLauncher({projection!r}, block=32, max_blocks=3), np)
    X = np.linspace(-1, 1, 3 * 300).reshape(3, 300)
    sel = np.arange(0, 512, 8, dtype=np.int64)
    prj.srht_rows(X, np.ones(300), sel, 0.1, 512, np.empty((3, 64)), 1)
    prj.srht_lift_rows(np.ones((3, 64)), np.ones(300), sel, 0.1, 512, np.empty((3, 300)), 1)
    pattern = prj.sparse_signs(1, 2, 3, 4, 40, 300, 1 << 29, 1)
    prj.sparse_rows(X, *pattern, 0.5, np.empty((3, 40)), 1)
    prj.fwht_rows(np.ones((5, 1024)), 1)
    print("sanitized run ok")
""")


def test_emulation_under_asan_and_ubsan(tmp_path):  # about 5 s: in the default suite
    lib = gpu_emu.build("streams", tmp_path, sanitize=True)
    others = {n: str(gpu_emu.build(n, tmp_path, sanitize=True))
              for n in ("policy", "metrics", "projection")}
    cxx = gpu_emu.compiler()
    asan = subprocess.run([cxx, "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    ubsan = subprocess.run([cxx, "-print-file-name=libubsan.so"], capture_output=True,
                           text=True).stdout.strip()
    env = dict(os.environ, LD_PRELOAD=f"{asan}:{ubsan}", ASAN_OPTIONS="detect_leaks=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    code = SANITIZED_RUN.format(tests=str(gpu_emu.ROOT / "tests"), lib=str(lib), **others)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "sanitized run ok" in res.stdout


def test_loader_builds_and_caches_a_binary_per_source(tmp_path, monkeypatch):
    from zoopt._gpu import _cupy, _nvrtc

    try:
        _nvrtc.library()
    except _nvrtc.NVRTCError as exc:
        _no_nvrtc(exc)
    monkeypatch.setenv("ZOOPT_CACHE_DIR", str(tmp_path))
    for source in gpu_emu.SOURCES:
        path = _cupy.binary_path(source, 90)
        assert path.suffix == ".cubin"
        assert path.read_bytes()[:4] == b"\x7fELF"
        built = path.stat().st_mtime_ns
        monkeypatch.setattr(_nvrtc, "compile_source", None)  # a second build would fail
        assert _cupy.binary_path(source, 90) == path
        assert path.stat().st_mtime_ns == built
        monkeypatch.undo()
        monkeypatch.setenv("ZOOPT_CACHE_DIR", str(tmp_path))
    # a newer device than NVRTC knows gets PTX for the newest architecture it knows
    newest = max(_nvrtc.supported_archs())
    assert _cupy.target(newest + 1) == (f"compute_{newest}", "ptx")
