"""Paired significance tests for BLEU: the resampled statistics against direct
computations, sacreBLEU's paired tests with the same seed, and the p-value's laws."""


import numpy as np
import pytest

from zoopt import _bleu_significance as sig
from zoopt import metrics
from zoopt._bleu import _options, _stats

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.significance import PairedTest  # noqa: E402

VOCAB = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "x", "y", "z", "."]


pytestmark = pytest.mark.usefixtures("quiet_sacrebleu")


def _systems(K, seed, p_base=0.5, p_sys=0.4):
    gen = np.random.default_rng(seed)

    def sent():
        return " ".join(gen.choice(VOCAB, size=gen.integers(3, 15)))

    refs = [sent() for _ in range(K)]
    base = [sent() if gen.random() < p_base else r for r in refs]
    system = [sent() if gen.random() < p_sys else r for r in refs]
    return base, system, refs


def _opts(**kw):
    return _options(kw.get("max_order", 4), kw.get("smooth", "exp"), None, "none",
                    kw.get("effective_order", False), False, "test")


def _direct_score(row, opts):
    """sacreBLEU's own scoring of integer statistics (float64, Python ints)."""
    N = opts.max_order
    row = [int(v) for v in row]
    return sacrebleu.metrics.BLEU.compute_bleu(
        row[2 : 2 + N], row[2 + N :], row[0], row[1], smooth_method=opts.smooth,
        effective_order=opts.eff, max_ngram_order=N).score


@pytest.mark.parametrize("smooth", ["exp", "none", "floor"])
def test_bootstrap_statistics_on_fixed_indices_equal_a_direct_computation(smooth):
    base, system, refs = _systems(40, 0)
    opts = _opts(smooth=smooth)
    sb = _stats(base, [[r] for r in refs], 4, "none", False, "test")
    ss = _stats(system, [[r] for r in refs], 4, "none", False, "test")
    idx = np.random.default_rng(1).integers(0, 40, size=(25, 40))
    got = sig.resample_scores(np.concatenate([sb, ss], axis=1).astype(float), idx,
                              sb.shape[1], opts)
    for i in range(idx.shape[0]):
        assert got[i, 0] == _direct_score(sb[idx[i]].sum(axis=0), opts)
        assert got[i, 1] == _direct_score(ss[idx[i]].sum(axis=0), opts)


def test_randomization_statistics_on_fixed_coins_equal_a_direct_computation():
    base, system, refs = _systems(40, 2)
    opts = _opts()
    sb = _stats(base, [[r] for r in refs], 4, "none", False, "test")
    ss = _stats(system, [[r] for r in refs], 4, "none", False, "test")
    coins = np.random.default_rng(3).integers(2, size=(25, 40)).astype(bool)
    got = sig.shuffle_scores(sb, ss, coins, opts)
    for i, coin in enumerate(coins):
        first = np.where(coin[:, None], sb, ss).sum(axis=0)
        second = np.where(coin[:, None], ss, sb).sum(axis=0)
        assert got[i, 0] == _direct_score(first, opts)
        assert got[i, 1] == _direct_score(second, opts)


@pytest.mark.parametrize("method", ["ar", "bs"])
def test_same_samples_and_p_value_as_sacrebleu_with_the_same_seed(method, monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    base, system, refs = _systems(300, 1)
    sb = sacrebleu.metrics.BLEU(tokenize="none")
    _, scores = PairedTest([("base", base), ("sys", system)], {"BLEU": sb}, [refs],
                           test_type=method, n_samples=0)()
    b_res, s_res = scores["BLEU"]
    ours = metrics.paired_bleu_test(base, system, [refs], method=method, rng=12345,
                                    references_form="streams")
    assert ours.n_samples == {"ar": 10000, "bs": 1000}[method]
    assert (ours.baseline_score, ours.system_score) == (b_res.score, s_res.score)
    observed = abs(ours.system_score - ours.baseline_score)
    if method == "ar":
        stat = np.abs(ours.sample_scores[:, 0] - ours.sample_scores[:, 1])
    else:
        d = np.abs(ours.sample_scores[:, 1] - ours.sample_scores[:, 0])
        stat = d - d.mean()
    # no sampled statistic ties with (or, for "bs", lies within sacreBLEU's float32
    # error of) the observed difference, where the two counting rules would differ
    assert np.min(np.abs(stat - observed)) > 100 * 2.0**-20
    assert ours.p_value == s_res.p_value
    if method == "bs":
        # same resamples; sacreBLEU's resampled scores come from float32 precisions
        # (relative error 2^-23), zoopt's are float64
        tol = 100 * 2.0**-22
        assert abs(ours.system_mean - s_res.mean) <= tol
        assert abs(ours.system_ci - s_res.ci) <= tol
        assert abs(ours.baseline_mean - b_res.mean) <= tol
        assert abs(ours.baseline_ci - b_res.ci) <= tol
    else:
        assert ours.system_mean is None
        assert ours.system_ci is None


@pytest.mark.parametrize("method", ["ar", "bs"])
def test_same_rng_same_result(method):
    base, system, refs = _systems(50, 4)
    a = metrics.paired_bleu_test(base, system, [[r] for r in refs], method=method,
                                 n_samples=300, rng=7)
    b = metrics.paired_bleu_test(base, system, [[r] for r in refs], method=method,
                                 n_samples=300, rng=np.random.SeedSequence(7))
    c = metrics.paired_bleu_test(base, system, [[r] for r in refs], method=method,
                                 n_samples=300, rng=8)
    np.testing.assert_array_equal(a.sample_scores, b.sample_scores)
    assert a.p_value == b.p_value
    assert not np.array_equal(a.sample_scores, c.sample_scores)
    gen = np.random.default_rng(7)
    d = metrics.paired_bleu_test(base, system, [[r] for r in refs], method=method,
                                 n_samples=300, rng=gen)
    np.testing.assert_array_equal(a.sample_scores, d.sample_scores)
    e = metrics.paired_bleu_test(base, system, [[r] for r in refs], method=method,
                                 n_samples=300, rng=gen)  # the generator moved on
    assert not np.array_equal(d.sample_scores, e.sample_scores)


def test_chunks_draw_what_one_call_draws(monkeypatch):
    # the samples do not depend on the chunk size (sacreBLEU draws them in one call)
    base, system, refs = _systems(30, 5)
    refs = [[r] for r in refs]
    full = {m: metrics.paired_bleu_test(base, system, refs, method=m, n_samples=200, rng=1)
            for m in ("ar", "bs")}
    monkeypatch.setattr(sig, "_CHUNK", 30 * 40)  # 32 rows a chunk
    for m, res in full.items():
        again = metrics.paired_bleu_test(base, system, refs, method=m, n_samples=200, rng=1)
        np.testing.assert_array_equal(again.sample_scores, res.sample_scores)


@pytest.mark.parametrize("method", ["ar", "bs"])
def test_a_system_against_itself_is_not_significant(method):
    base, _, refs = _systems(60, 6)
    res = metrics.paired_bleu_test(base, list(base), [[r] for r in refs], method=method,
                                   n_samples=500, rng=0)
    assert res.p_value == 1.0
    assert res.baseline_score == res.system_score


@pytest.mark.parametrize("method", ["ar", "bs"])
def test_a_much_better_system_is_significant(method):
    base, _, refs = _systems(200, 7, p_base=1.0)
    res = metrics.paired_bleu_test(base, refs, [[r] for r in refs], method=method,
                                   n_samples=500, rng=0)
    assert res.p_value == 1 / 501  # no sample reaches the observed difference


def test_randomization_p_values_are_valid_under_the_null():
    # both systems' outputs of each sentence are drawn alike, so swapping them is
    # exchangeable and P(p <= a) <= a; 200 tests, 5 binomial standard errors
    gen = np.random.default_rng(8)
    M, alpha = 200, 0.1
    small = 0
    for _ in range(M):
        K = 30
        refs = [gen.integers(0, 6, gen.integers(4, 10)) for _ in range(K)]
        a = [np.where(gen.random(r.size) < 0.5, r, gen.integers(0, 6, r.size)) for r in refs]
        b = [np.where(gen.random(r.size) < 0.5, r, gen.integers(0, 6, r.size)) for r in refs]
        res = metrics.paired_bleu_test(a, b, refs, method="ar", n_samples=199,
                                       rng=int(gen.integers(2**32)))
        small += res.p_value <= alpha
    assert small <= M * alpha + 5 * np.sqrt(M * alpha * (1 - alpha))
    assert small >= M * alpha - 5 * np.sqrt(M * alpha * (1 - alpha))


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"method": "t"}, ValueError, "'method' parameter of paired_bleu_test"),
    ({"n_samples": 0}, ValueError, "'n_samples' parameter of paired_bleu_test"),
    ({"rng": np.random.RandomState(0)}, TypeError, "RandomState"),
    ({"rng": -1}, ValueError, "'rng' parameter"),
    ({"rng": "seed"}, TypeError, "'rng' parameter"),
    ({"tokenize": "flores200"}, ValueError, "'flores200'"),
])
def test_bad_parameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        metrics.paired_bleu_test(["a b"], ["a c"], ["a b"], **kw)


def test_systems_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match=r"'system_hypotheses' parameter.*as many"):
        metrics.paired_bleu_test(["a b", "c"], ["a b"], ["a b", "c"])
