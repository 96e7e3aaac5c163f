"""The metrics and BLEU kernels against their NumPy twins in tests/reference.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoopt._cy import bleu as bleu_k
from zoopt._cy import metrics as metrics_k

import reference as ref
from strategies import keys, seeds


@given(st.integers(1, 6), st.integers(1, 50), st.sampled_from([2, 5, 600]), seeds,
       st.sampled_from([np.int32, np.int64]), st.integers(1, 2))
def test_count_kernels_match_twins(P, N, C, seed, dtype, n_threads):
    gen = np.random.default_rng(seed % 2**32)
    yt = gen.integers(0, C, N).astype(dtype)
    yp = gen.integers(0, C, (P, N)).astype(dtype)
    tp = np.empty((P, C), np.int64)
    pred = np.empty((P, C), np.int64)
    metrics_k.class_counts(yt, yp, tp, pred, n_threads)
    etp, epred = ref.class_counts(yt, yp, C)
    np.testing.assert_array_equal(tp, etp)
    np.testing.assert_array_equal(pred, epred)
    cm = np.zeros((P, C, C), np.int64)
    metrics_k.confusion(yt, yp, cm, n_threads)
    np.testing.assert_array_equal(cm, ref.confusion(yt, yp, C))
    assert metrics_k.minmax(yp.ravel(), n_threads) == ref.minmax(yp)


@given(st.integers(1, 6), st.integers(1, 50), st.sampled_from([2, 5, 600]), seeds,
       st.sampled_from([np.int32, np.int64]), st.integers(1, 2))
def test_weighted_count_kernels_match_twins(P, N, C, seed, dtype, n_threads):
    gen = np.random.default_rng(seed % 2**32)
    yt = gen.integers(0, C, N).astype(dtype)
    yp = gen.integers(0, C, (P, N)).astype(dtype)
    yp[:, : N // 2] = yt[: N // 2]  # plenty of hits
    w = gen.standard_normal(N) * 10.0 ** gen.integers(-8, 9, N)  # sums that depend on order
    tp, pred = np.full((P, C), np.nan), np.full((P, C), np.nan)
    metrics_k.class_sums(yt, yp, w, tp, pred, n_threads)
    etp, epred = ref.class_sums(yt, yp, w, C)
    np.testing.assert_array_equal(tp.view(np.uint64), etp.view(np.uint64))
    np.testing.assert_array_equal(pred.view(np.uint64), epred.view(np.uint64))
    for wt in (w, gen.integers(-5, 9, N)):  # the float64 and the int64 accumulator
        cm = np.zeros((P, C, C), wt.dtype)
        metrics_k.confusion_sums(yt, yp, wt, cm, n_threads)
        want = ref.confusion_sums(yt, yp, wt, C)
        np.testing.assert_array_equal(cm.view(np.uint64), want.view(np.uint64))


@given(st.lists(st.lists(st.sampled_from(["a", "b", "é", "c\u00a0d", "x\ty", ""]),
                         max_size=6).map(" ".join), max_size=8))
def test_encode_words_matches_twin(lines):
    ids, lens = bleu_k.encode_words(lines)
    eids, elens = ref.encode_words(lines)
    np.testing.assert_array_equal(ids, eids)
    np.testing.assert_array_equal(lens, elens)


@settings(max_examples=20)
@given(seeds, st.integers(1, 5), st.integers(512, 3000))
def test_encode_words_threads_match_twin(seed, n_threads, n):
    # enough lines for one table per thread, merged afterwards: same ids as one table
    gen = np.random.default_rng(seed % 2**32)
    vocab = np.array(["a", "bb", "é", "c\u00a0d", "x\ty", "", "ü\u2003v", "zz"]
                     + [f"w{i}" for i in range(300)])
    lines = [" ".join(gen.choice(vocab, size=gen.integers(0, 9))) for _ in range(n)]
    ids, lens = bleu_k.encode_words(lines, n_threads)
    eids, elens = ref.encode_words(lines)
    np.testing.assert_array_equal(ids, eids)
    np.testing.assert_array_equal(lens, elens)


@given(st.integers(1, 5), st.integers(1, 3), st.integers(1, 5), seeds)
def test_bleu_stats_matches_twin(K, R, max_order, seed):
    gen = np.random.default_rng(seed % 2**32)
    hyps = [gen.integers(0, 4, gen.integers(0, 12)) for _ in range(K)]
    refs = [[gen.integers(0, 4, gen.integers(0, 12)) for _ in range(R)] for _ in range(K)]
    pieces, hs, he, rs, re_, rp, off = [], [], [], [], [], [0], 0
    for h, rr in zip(hyps, refs, strict=True):
        pieces.append(h)
        hs.append(off)
        off += h.size
        he.append(off)
        for r in rr:
            pieces.append(r)
            rs.append(off)
            off += r.size
            re_.append(off)
        rp.append(len(rs))
    toks = np.concatenate(pieces).astype(np.int64)
    arr = [np.array(v, dtype=np.int64) for v in (hs, he, rs, re_, rp)]
    stats = np.zeros((K, 2 + 2 * max_order), np.int64)
    scratch = max(h.size + sum(r.size for r in rr) for h, rr in zip(hyps, refs, strict=True))
    bleu_k.bleu_stats(toks, *arr, max_order, 64, scratch, stats, 2)
    for k in range(K):
        assert stats[k].tolist() == ref.bleu_stats(hyps[k].tolist(),
                                                   [r.tolist() for r in refs[k]], max_order)


@settings(max_examples=30)
@given(keys, st.integers(1, 9), st.sampled_from([1, 5, 1023, 1025, 2100]),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 5), st.integers(1, 2))
def test_fill_sphere_matches_twin(key, n, d, dtype, start, n_threads):
    from zoopt._cy import streams
    from zoopt.random import KIND_NORMAL, _counter_words

    c2, c3 = _counter_words(9, KIND_NORMAL)
    out = np.empty((n, d), dtype=dtype)
    streams.fill_sphere(out, int(key[0]), int(key[1]), c2, c3, start, n_threads)
    want = ref.directions(key, n, d, dist="sphere", step=9, dtype=dtype, start=start)
    np.testing.assert_array_equal(out, want)


@settings(max_examples=30)
@given(keys, st.integers(1, 5), st.integers(1, 2300), st.data(),
       st.sampled_from([np.float32, np.float64]), st.sampled_from([0, 1]),
       st.integers(1, 2))
def test_span_kernels_match_twin(key, n, d, data, dtype, code, n_threads):
    """fill_span / accumulate_span (ZOOptimizer's per-tensor spans) against the
    reference directions sliced at any offset."""
    from zoopt._cy import streams
    from zoopt.random import KIND_NORMAL, KIND_RADEMACHER, _counter_words

    dist = "normal" if code == 0 else "rademacher"
    j0 = data.draw(st.integers(0, d - 1))
    m = data.draw(st.integers(0, d - j0))
    c2, c3 = _counter_words(4, KIND_NORMAL if code == 0 else KIND_RADEMACHER)
    V = ref.directions(key, n, d, dist=dist, step=4, dtype=dtype)
    out = np.empty(m, dtype=dtype)
    streams.fill_span(out, code, int(key[0]), int(key[1]), c2, c3, n - 1, j0, n_threads)
    np.testing.assert_array_equal(out, V[n - 1, j0 : j0 + m])
    w = np.random.default_rng(int(key[0])).standard_normal(n)
    w[0] = 0.0
    acc = np.zeros(m)
    streams.accumulate_span(w, acc, np.empty(0, dtype), code, int(key[0]), int(key[1]), c2,
                            c3, 0, j0, n_threads)
    np.testing.assert_array_equal(acc, ref.accumulate(w, V)[j0 : j0 + m])


@settings(max_examples=30)
@given(keys, st.integers(1, 2300), st.data(), st.sampled_from([np.float32, np.float64]),
       st.sampled_from([0, 1]), st.sampled_from([1, -1]), st.integers(1, 2))
def test_shift_span_kernels_match_twin(key, d, data, dtype, code, sign, n_threads):
    """shift_span / unshift_span (ZOOptimizer's in-place probes) against the reference
    move, with parameters whose rounding loses bits (tiny and huge magnitudes, -0.0)."""
    from zoopt._cy import streams
    from zoopt.random import KIND_NORMAL, KIND_RADEMACHER, _counter_words

    dist = "normal" if code == 0 else "rademacher"
    j0 = data.draw(st.integers(0, d - 1))
    m = data.draw(st.integers(0, d - j0))
    c2, c3 = _counter_words(2, KIND_NORMAL if code == 0 else KIND_RADEMACHER)
    rng = np.random.default_rng(int(key[1]))
    theta = (rng.standard_normal(m) * 10.0 ** rng.integers(-8, 8, m)).astype(dtype)
    theta[: m // 7] = -0.0
    scale = 1e-3
    u = ref.direction_span(key, 5, j0, m, dist=dist, step=2, dtype=dtype)
    moved, lost, old = ref.shift_span(theta, scale, sign, u)

    got = theta.copy()
    lost_k = np.full(m, 7, dtype=np.int32)
    orig = np.zeros(m, dtype=dtype)
    n_lost = streams.shift_span(got, dtype(scale), sign, lost_k, orig, code, int(key[0]),
                                int(key[1]), c2, c3, 5, j0, n_threads)
    np.testing.assert_array_equal(got.view(np.uint8), moved.view(np.uint8))
    assert n_lost == int(lost.sum())
    np.testing.assert_array_equal(lost_k[:n_lost], np.flatnonzero(lost))  # packed, in order
    np.testing.assert_array_equal(orig[:n_lost].view(np.uint8), old.view(np.uint8))

    streams.unshift_span(got, dtype(scale), sign, code, int(key[0]), int(key[1]), c2, c3, 5,
                         j0, n_threads)
    np.testing.assert_array_equal(got.view(np.uint8),
                                  ref.unshift_span(moved, scale, sign, u).view(np.uint8))
    got[lost] = old  # the exact restore: every bit back
    np.testing.assert_array_equal(got.view(np.uint8), theta.view(np.uint8))


@settings(max_examples=30)
@given(st.integers(1, 40), st.integers(1, 60), st.integers(1, 5), st.data(),
       st.sampled_from([np.float32, np.float64]), st.sampled_from([1, -1]), st.integers(1, 2),
       seeds)
def test_shift_lowrank_kernels_match_twin(m, n, r, data, dtype, sign, n_threads, seed):
    """shift_lowrank / unshift_lowrank (ZOOptimizer's low-rank probes, LOZO) against the
    reference move along a span of vec(A B^T) / sqrt(r) that starts and ends mid-row."""
    from zoopt._cy import streams

    j0 = data.draw(st.integers(0, m * n - 1))
    size = data.draw(st.integers(0, m * n - j0))
    rng = np.random.default_rng(seed % 2**32)
    A = rng.standard_normal((m, r)).astype(dtype)
    B = rng.standard_normal((n, r)).astype(dtype)
    theta = (rng.standard_normal(size) * 10.0 ** rng.integers(-8, 8, size)).astype(dtype)
    theta[: size // 7] = -0.0
    scale = 1e-3
    u = ref.lowrank_span(A, B, j0, size)
    moved, lost, old = ref.shift_span(theta, scale, sign, u)

    got = theta.copy()
    lost_k = np.full(size, 7, dtype=np.int32)
    orig = np.zeros(size, dtype=dtype)
    inv = dtype(1.0 / np.sqrt(r))
    n_lost = streams.shift_lowrank(got, A, B, j0, inv, dtype(scale), sign, lost_k, orig,
                                   n_threads)
    np.testing.assert_array_equal(got.view(np.uint8), moved.view(np.uint8))
    assert n_lost == int(lost.sum())
    np.testing.assert_array_equal(lost_k[:n_lost], np.flatnonzero(lost))
    np.testing.assert_array_equal(orig[:n_lost].view(np.uint8), old.view(np.uint8))

    streams.unshift_lowrank(got, A, B, j0, inv, dtype(scale), sign, n_threads)
    np.testing.assert_array_equal(got.view(np.uint8),
                                  ref.unshift_span(moved, scale, sign, u).view(np.uint8))
    got[lost] = old
    np.testing.assert_array_equal(got.view(np.uint8), theta.view(np.uint8))


def test_shift_lowrank_refuses_a_span_outside_the_matrix():
    from zoopt._cy import streams

    A, B = np.ones((3, 2)), np.ones((4, 2))
    theta, lost, orig = np.zeros(5), np.zeros(5, np.int32), np.zeros(5)
    with pytest.raises(ValueError, match=r"coordinates 8 .. 13 are outside the 3 x 4"):
        streams.shift_lowrank(theta, A, B, 8, 1.0, 1.0, 1, lost, orig, 1)
    with pytest.raises(ValueError, match=r"same r >= 1 columns"):
        streams.unshift_lowrank(theta, A, np.ones((4, 1)), 0, 1.0, 1.0, 1, 1)
