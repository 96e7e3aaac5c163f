"""Paired significance tests for BLEU: paired bootstrap resampling (Koehn 2004)
and approximate randomization (Riezler and Maxwell 2005), as sacreBLEU runs
them (``--paired-bs``, ``--paired-ar``).

Both work on the per-sentence sufficient statistics (lengths and n-gram counts)
from the counting kernel: a resample or a shuffle is a 0/1 or count matrix over
the sentences, its corpus statistics one matrix product, its scores one call of
the scoring kernel, a chunk of samples at a time.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoopt._bleu import _check_form, _is_seq, _Options, _options, _score_of, _scores, _stats
from zoopt._validation import check_int

__all__ = ["PairedTestResult", "paired_bleu_test"]

METHODS = ("bs", "ar")
DEFAULT_SAMPLES = {"bs": 1000, "ar": 10000}  # sacreBLEU's defaults
_MAX_SAMPLES = 10_000_000
_CHUNK = 1 << 21  # sentence weights per chunk (16 MiB of float64)


def _generator(rng: Any, caller: str) -> np.random.Generator:
    """SPEC 7: None, an int, a SeedSequence or a Generator (used as it is)."""
    if isinstance(rng, np.random.RandomState):
        raise TypeError(
            f"The 'rng' parameter of {caller} does not accept numpy.random.RandomState. Pass "
            "an int, a numpy.random.SeedSequence or a numpy.random.Generator.")
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        if int(rng) < 0:
            raise ValueError(f"The 'rng' parameter of {caller} must be a non-negative int "
                             f"when it is an int. Got {int(rng)} instead.")
        return np.random.default_rng(int(rng))
    raise TypeError(f"The 'rng' parameter of {caller} must be None, an int, a "
                    f"numpy.random.SeedSequence or a numpy.random.Generator. Got {rng!r} "
                    "instead.")


def _rows_per_chunk(K: int) -> int:
    # a multiple of 32 rows: NumPy draws 32 booleans from each 32-bit word and drops
    # the rest of the word at the end of a call, so chunks of 32 k rows give the same
    # draws as one call for all the samples (integers are drawn one by one)
    return max(32, _CHUNK // max(K, 1) // 32 * 32)


def _scores_of_sums(sums: np.ndarray, opts: _Options) -> np.ndarray:
    return _scores(sums, opts)[0]


def bootstrap_scores(stats: list[np.ndarray], n: int, gen: np.random.Generator,
                     opts: _Options) -> np.ndarray:
    """Scores of ``n`` bootstrap resamples of the sentences, the same resamples for
    each system: ``(n, len(stats))``.  The sentence indices are drawn as sacreBLEU
    draws them (``gen.choice(K, size=(n, K))``, taken a chunk of rows at a time)."""
    K, D = stats[0].shape
    both = np.concatenate(stats, axis=1).astype(np.float64)
    out = np.empty((n, len(stats)))
    step = _rows_per_chunk(K)
    for lo in range(0, n, step):
        c = min(step, n - lo)
        idx = gen.integers(0, K, size=(c, K))
        out[lo : lo + c] = resample_scores(both, idx, D, opts)
    return out


def resample_scores(both: np.ndarray, idx: np.ndarray, D: int, opts: _Options) -> np.ndarray:
    """Scores of the resamples ``idx`` (rows of sentence indices) for each block of
    ``D`` statistics columns of ``both``: ``(len(idx), n_blocks)``."""
    c, K = idx.shape
    weights = np.bincount((idx + K * np.arange(c)[:, None]).ravel(), minlength=c * K)
    # integer counts times integer statistics: exact in float64 below 2^53
    sums = weights.reshape(c, K).astype(np.float64) @ both
    return np.stack([_scores_of_sums(sums[:, j * D : (j + 1) * D], opts)
                     for j in range(both.shape[1] // D)], axis=1)


def randomization_scores(base: np.ndarray, system: np.ndarray, n: int,
                         gen: np.random.Generator, opts: _Options) -> np.ndarray:
    """Scores of ``n`` pairs of shuffled systems: each sentence of the first is the
    baseline's or the system's by a fair coin (``gen.integers(2, dtype=bool)``, as
    sacreBLEU draws them), the second gets the other one: ``(n, 2)``."""
    K = base.shape[0]
    out = np.empty((n, 2))
    step = _rows_per_chunk(K)
    for lo in range(0, n, step):
        c = min(step, n - lo)
        out[lo : lo + c] = shuffle_scores(base, system,
                                          gen.integers(2, size=(c, K), dtype=bool), opts)
    return out


def shuffle_scores(base: np.ndarray, system: np.ndarray, coin: np.ndarray,
                   opts: _Options) -> np.ndarray:
    """Scores of the shuffled systems ``coin`` (rows of per-sentence booleans: True
    takes the baseline's sentence into the first system): ``(len(coin), 2)``."""
    diff = (base - system).astype(np.float64)
    swap = coin.astype(np.float64) @ diff  # exact: integer sums below 2^53
    first = system.sum(axis=0).astype(np.float64) + swap
    second = base.sum(axis=0).astype(np.float64) - swap
    return np.stack([_scores_of_sums(first, opts), _scores_of_sums(second, opts)], axis=1)


def estimate_ci(scores: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the central 95% of the scores (sacreBLEU's bounds:
    the ``n // 40``-th smallest and largest)."""
    s = np.sort(scores)
    lo = s.size // 40
    return float(s.mean()), float(0.5 * (s[s.size - lo - 1] - s[lo]))


def p_value(statistics: np.ndarray, observed: float) -> float:
    """``(#{statistic >= observed} + 1) / (n + 1)`` (Riezler and Maxwell 2005)."""
    return (int(np.count_nonzero(statistics >= observed)) + 1) / (statistics.size + 1)


@dataclass(frozen=True, eq=False)
class PairedTestResult:
    """The outcome of :func:`paired_bleu_test`.

    Attributes
    ----------
    method : {"bs", "ar"}
        Paired bootstrap resampling or approximate randomization.
    n_samples : int
        Resamples ("bs") or shuffles ("ar").
    p_value : float
        Probability, under the null hypothesis that both systems are equally
        good, of a difference at least as large as the one observed; at least
        ``1 / (n_samples + 1)``.
    baseline_score, system_score : float
        Corpus BLEU of the two systems.
    baseline_mean, baseline_ci, system_mean, system_ci : float or None
        For "bs": mean of the resampled scores and half-width of their central
        95% (sacreBLEU's "mu +- ci"); None for "ar".
    sample_scores : ndarray, shape (n_samples, 2)
        "bs": the scores of the baseline and of the system on each resample;
        "ar": the scores of the two shuffled systems of each shuffle.
    """

    method: str
    n_samples: int
    p_value: float
    baseline_score: float
    system_score: float
    baseline_mean: float | None
    baseline_ci: float | None
    system_mean: float | None
    system_ci: float | None
    sample_scores: np.ndarray

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in (
            "method", "n_samples", "p_value", "baseline_score", "system_score",
            "baseline_mean", "baseline_ci", "system_mean", "system_ci"))
        return f"PairedTestResult({fields}, sample_scores=<array {self.sample_scores.shape}>)"


def paired_bleu_test(baseline_hypotheses: Any, system_hypotheses: Any, references: Any, *,
                     method: str = "bs", n_samples: int | None = None, rng: Any = None,
                     references_form: str | None = None, max_order: int = 4,
                     smooth: str = "exp", smooth_value: float | None = None,
                     tokenize: str = "none", effective_order: bool = False,
                     lowercase: bool = False) -> PairedTestResult:
    """Paired significance test of a system's corpus BLEU against a baseline's.

    Parameters
    ----------
    baseline_hypotheses, system_hypotheses : sequence
        The two systems' outputs for the same sentences (as for :func:`corpus_bleu`).
    references : sequence
        The references, as for :func:`corpus_bleu` (``references_form`` included).
    method : {"bs", "ar"}, optional
        "bs" (default): paired bootstrap resampling (Koehn 2004), sacreBLEU's
        ``--paired-bs``: both systems are scored on the same resamples of the
        sentences; the statistic is ``|sys - base|`` centred on its mean over
        the resamples.  "ar": approximate randomization (Riezler and Maxwell
        2005), sacreBLEU's ``--paired-ar``: each sentence's two outputs are
        swapped by a fair coin; the statistic is the score difference of the
        two shuffled systems.  Both count the samples whose statistic reaches
        the observed ``|sys - base|``.
    n_samples : int, optional
        Resamples or shuffles (sacreBLEU's defaults: 1000 for "bs", 10000 for "ar").
    rng : None, int, SeedSequence or Generator, optional
        Source of the samples, normalized with ``numpy.random.default_rng`` (a
        Generator is used as it is).  The same ``rng`` gives the same result;
        an int seed gives the same samples as sacreBLEU with that seed
        (``SACREBLEU_SEED``, 12345 by default).
    max_order, smooth, smooth_value, tokenize, effective_order, lowercase
        BLEU's options, as for :func:`corpus_bleu`.

    Returns
    -------
    PairedTestResult

    Notes
    -----
    With ``N`` samples and ``c`` of them having a statistic at least as large as
    the observed difference, the p-value is

    .. math:: p = \\frac{c + 1}{N + 1}.

    Counting ties (Riezler and Maxwell) keeps the test valid when sampled
    statistics equal the observed one; sacreBLEU (after MultEval) counts only
    the strictly larger ones.  The two agree unless a sampled statistic equals
    the observed difference exactly, e.g. a system compared with itself:
    sacreBLEU reports ``1 / (N + 1)`` there, zoopt 1.

    sacreBLEU computes the resampled scores of "bs" from float32 statistics
    (with NumPy 2, its precisions are rounded to float32); zoopt's are the
    float64 scores of the exact integer statistics, so they can differ from
    sacreBLEU's in the last digits, and a p-value only when a statistic lies
    that close to the observed difference.  The "ar" scores are the same.

    References
    ----------
    P. Koehn, "Statistical significance tests for machine translation
    evaluation", EMNLP 2004.  S. Riezler and J. T. Maxwell, "On some pitfalls in
    automatic evaluation and significance testing for MT", ACL workshop 2005.

    Examples
    --------
    >>> from zoopt.metrics import paired_bleu_test
    >>> refs = [["the cat sat on the mat"], ["a dog ran in the park"], ["it is late"]]
    >>> base = ["the cat sat on a mat", "a dog ran", "it is late now"]
    >>> res = paired_bleu_test(base, base, refs, rng=0)
    >>> res.p_value > 0.5
    True
    """
    caller = "paired_bleu_test"
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"The 'method' parameter of {caller} must be one of 'bs', 'ar'. "
                         f"Got {method!r} instead.")
    n = DEFAULT_SAMPLES[method] if n_samples is None else check_int(
        n_samples, "n_samples", caller, low=1, high=_MAX_SAMPLES)
    opts = _options(max_order, smooth, smooth_value, tokenize, effective_order, lowercase,
                    caller)
    form = _check_form(references_form, caller)
    gen = _generator(rng, caller)
    if _is_seq(baseline_hypotheses) and _is_seq(system_hypotheses) and len(
            system_hypotheses) != len(baseline_hypotheses):
        raise ValueError(f"The 'system_hypotheses' parameter of {caller} must have as many "
                         f"hypotheses as 'baseline_hypotheses' ({len(baseline_hypotheses)}). "
                         f"Got {len(system_hypotheses)}.")
    base, system = (_stats(h, references, opts.max_order, opts.tokenize, opts.lowercase,
                           caller, form, name)
                    for h, name in ((baseline_hypotheses, "baseline_hypotheses"),
                                    (system_hypotheses, "system_hypotheses")))
    base_score = _score_of(base.sum(axis=0), opts).score
    sys_score = _score_of(system.sum(axis=0), opts).score
    observed = abs(base_score - sys_score)
    if method == "bs":
        samples = bootstrap_scores([base, system], n, gen, opts)
        diffs = np.abs(samples[:, 1] - samples[:, 0])
        p = p_value(diffs - diffs.mean(), observed)
        b_mean, b_ci = estimate_ci(samples[:, 0])
        s_mean, s_ci = estimate_ci(samples[:, 1])
        return PairedTestResult("bs", n, p, base_score, sys_score, b_mean, b_ci, s_mean, s_ci,
                                samples)
    samples = randomization_scores(base, system, n, gen, opts)
    p = p_value(np.abs(samples[:, 0] - samples[:, 1]), observed)
    return PairedTestResult("ar", n, p, base_score, sys_score, None, None, None, None, samples)
