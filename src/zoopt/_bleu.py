"""BLEU with sacreBLEU's numbers, from a compiled n-gram counting kernel.

BLEU (Papineni et al. 2002): brevity penalty times the geometric mean of the
clipped n-gram precisions; smoothing methods of Chen and Cherry (2014) as
sacreBLEU names them (``none``, ``floor``, ``add-k``, ``exp``); the ``13a``
tokenizer of mteval-v13a.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoopt._threads import get_num_threads
from zoopt._validation import check_bool, check_choice, check_int

__all__ = ["BLEUScore", "corpus_bleu", "sentence_bleu", "sentence_bleu_batch"]

SMOOTHS = {"none": (0, None), "floor": (1, 0.1), "add-k": (2, 1.0), "exp": (3, None)}
TOKENIZERS = ("none", "13a")


@dataclass(frozen=True)
class BLEUScore:
    """A BLEU score with its statistics (the fields of sacreBLEU's ``BLEUScore``).

    Attributes
    ----------
    score : float
        BLEU in [0, 100].
    precisions : list of float
        Clipped n-gram precisions in percent (smoothed as requested).
    bp : float
        Brevity penalty.
    sys_len, ref_len : int
        Hypothesis and (closest) reference lengths in tokens, summed.
    counts, totals : list of int
        Matched and hypothesis n-grams per order.
    """

    score: float
    precisions: list[float]
    bp: float
    sys_len: int
    ref_len: int
    counts: list[int]
    totals: list[int]

    def __float__(self) -> float:
        return self.score


# -- 13a tokenization (mteval-v13a, as used by WMT) ---------------------------

_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # punctuation and symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma unless in a number
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash after a digit
]


@functools.lru_cache(maxsize=1 << 16)
def _tokenize_13a(line: str) -> str:
    # cached: references repeat across the calls of a training loop
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (line.replace("&quot;", '"').replace("&amp;", "&")
                .replace("&lt;", "<").replace("&gt;", ">"))
    line = f" {line} "
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


# -- inputs -------------------------------------------------------------------

def _is_seq(x: Any) -> bool:
    return isinstance(x, Sequence | np.ndarray) and not isinstance(x, str | bytes)


class _Encoder:
    """Tokens -> int64: integer tokens are their own ids; other tokens (strings)
    get ids from a vocabulary.  One corpus uses one kind."""

    def __init__(self, caller: str) -> None:
        self.vocab: dict[Any, int] = {}
        self.kind: str | None = None
        self.caller = caller

    def ids(self, tokens: Any) -> np.ndarray:
        arr = tokens if isinstance(tokens, np.ndarray) else None
        if arr is None and len(tokens) > 0 and isinstance(tokens[0], numbers.Integral):
            arr = np.asarray(tokens)
        if arr is not None and arr.dtype.kind in "iu":
            self._kind("int")
            return arr.astype(np.int64).ravel()
        if len(tokens) == 0:
            return np.zeros(0, dtype=np.int64)
        self._kind("obj")
        get = self.vocab.setdefault
        return np.fromiter((get(t, len(self.vocab)) for t in tokens), dtype=np.int64,
                           count=len(tokens))

    def _kind(self, kind: str) -> None:
        if self.kind is None:
            self.kind = kind
        elif self.kind != kind:
            raise TypeError(f"{self.caller}: tokens must be all integer ids or all strings, "
                            "not a mix.")


def _prepare(hyps: Any, refs: Any, tokenize: str, lowercase: bool, caller: str):
    if isinstance(hyps, str) or not _is_seq(hyps):
        raise TypeError(f"The 'hypotheses' parameter of {caller} must be a sequence of "
                        f"hypotheses (strings or token sequences). Got {type(hyps).__name__}.")
    if isinstance(refs, str) or not _is_seq(refs):
        raise TypeError(f"The 'references' parameter of {caller} must be a sequence with one "
                        f"entry per hypothesis. Got {type(refs).__name__}.")
    K = len(hyps)
    if K == 0:
        raise ValueError(f"The 'hypotheses' parameter of {caller} must not be empty.")
    if len(refs) != K:
        raise ValueError(f"The 'references' parameter of {caller} must have one entry per "
                         f"hypothesis: {K} hypotheses, {len(refs)} reference entries.")
    text = isinstance(hyps[0], str)

    def words(s: Any, what: str) -> Any:
        if text:
            if not isinstance(s, str):
                raise TypeError(f"{caller}: {what} must be a string like the first hypothesis. "
                                f"Got {type(s).__name__}.")
            s = s.lower() if lowercase else s
            s = s.rstrip()
            return (_tokenize_13a(s) if tokenize == "13a" else s).split()
        if not _is_seq(s):
            raise TypeError(f"{caller}: {what} must be a sequence of tokens like the first "
                            f"hypothesis. Got {type(s).__name__}.")
        return [t.lower() if (lowercase and isinstance(t, str)) else t for t in s] \
            if lowercase else s

    if text:
        return _prepare_text(hyps, refs, tokenize, lowercase, caller, words)
    enc = _Encoder(caller)
    pieces: list[np.ndarray] = []
    hyp_se, ref_se, ref_ptr = [], [], [0]
    off = 0
    for k in range(K):
        h = enc.ids(words(hyps[k], f"hypothesis {k}"))
        pieces.append(h)
        hyp_se.append((off, off + h.size))
        off += h.size
        rk = refs[k]
        many = list(rk) if (_is_seq(rk) and len(rk) > 0 and _is_seq(rk[0])) else [rk]
        if len(many) == 0 or (len(many) == 1 and _is_seq(rk) and len(rk) == 0
                              and not isinstance(rk, np.ndarray)):
            raise ValueError(f"{caller}: hypothesis {k} needs at least one reference "
                             "(a token sequence or a list of them).")
        for j, r in enumerate(many):
            ids = enc.ids(words(r, f"reference {j} of hypothesis {k}"))
            pieces.append(ids)
            ref_se.append((off, off + ids.size))
            off += ids.size
        ref_ptr.append(len(ref_se))
    toks = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
    hyp = np.array(hyp_se, dtype=np.int64).reshape(-1, 2)
    ref = np.array(ref_se, dtype=np.int64).reshape(-1, 2)
    return (np.ascontiguousarray(toks), np.ascontiguousarray(hyp[:, 0]),
            np.ascontiguousarray(hyp[:, 1]), np.ascontiguousarray(ref[:, 0]),
            np.ascontiguousarray(ref[:, 1]), np.array(ref_ptr, dtype=np.int64))


def _prepare_text(hyps: Any, refs: Any, tokenize: str, lowercase: bool, caller: str,
                  words: Any):
    """String inputs: every line split and encoded by one compiled pass."""
    K = len(hyps)
    lines: list[str]
    n_refs: list[int]
    # Fast paths: the lines are built by comprehension and the compiled encoder checks
    # that each is a str; any failure falls through to the loop below, which names the
    # offending entry.
    if type(refs[0]) is str:
        if all(type(r) is str for r in refs):  # one reference string each
            lines = [""] * (2 * K)
            lines[0::2] = hyps
            lines[1::2] = refs
            n_refs = [1] * K
            with contextlib.suppress(TypeError, AttributeError):
                return _segments(lines, n_refs, tokenize, lowercase)
    elif all(type(r) in (list, tuple) for r in refs):  # lists of reference strings
        n_refs = [len(r) for r in refs]
        if min(n_refs) > 0:
            if max(n_refs) == 1:
                lines = [""] * (2 * K)
                lines[0::2] = hyps
                lines[1::2] = [r[0] for r in refs]
            else:
                lines = [s for h, r in zip(hyps, refs, strict=True) for s in (h, *r)]
            with contextlib.suppress(TypeError, AttributeError):
                return _segments(lines, n_refs, tokenize, lowercase)
    lines = []
    n_refs = []
    for k, (h, rk) in enumerate(zip(hyps, refs, strict=True)):
        if not isinstance(h, str):
            raise TypeError(f"{caller}: hypothesis {k} must be a string like the first "
                            f"hypothesis. Got {type(h).__name__}.")
        many = [rk] if isinstance(rk, str) else list(rk) if _is_seq(rk) else None
        if not many:
            raise ValueError(f"{caller}: hypothesis {k} needs at least one reference "
                             "(a string or a list of strings).")
        for j, r in enumerate(many):
            if not isinstance(r, str):
                raise TypeError(f"{caller}: reference {j} of hypothesis {k} must be a string. "
                                f"Got {type(r).__name__}.")
        lines.append(h)
        lines += many
        n_refs.append(len(many))
    return _segments(lines, n_refs, tokenize, lowercase)


def _segments(lines: list[str], n_refs: list[int], tokenize: str, lowercase: bool):
    """Lines (each hypothesis followed by its references) -> kernel inputs."""
    from zoopt._cy import bleu as kernels

    if lowercase:
        lines = [s.lower() for s in lines]
    if tokenize == "13a":
        lines = [_tokenize_13a(s.rstrip()) for s in lines]
    toks, lens = kernels.encode_words(lines, get_num_threads())
    ends = np.cumsum(lens)
    starts = ends - lens
    per = np.array(n_refs, dtype=np.int64) + 1  # segments per pair
    first = np.concatenate([[0], np.cumsum(per)[:-1]]).astype(np.int64)
    is_ref = np.ones(ends.size, dtype=bool)
    is_ref[first] = False
    ref_ptr = np.concatenate([[0], np.cumsum(per - 1)]).astype(np.int64)
    return (np.ascontiguousarray(toks), np.ascontiguousarray(starts[first]),
            np.ascontiguousarray(ends[first]), np.ascontiguousarray(starts[is_ref]),
            np.ascontiguousarray(ends[is_ref]), ref_ptr)


def _options(max_order: Any, smooth: Any, smooth_value: Any, tokenize: Any, caller: str):
    max_order = check_int(max_order, "max_order", caller, low=1, high=64)
    smooth = check_choice(smooth, "smooth", caller, tuple(SMOOTHS))
    tokenize = check_choice(tokenize, "tokenize", caller, TOKENIZERS)
    code, default = SMOOTHS[smooth]
    if smooth_value is None:
        value = 0.0 if default is None else float(default)
    else:
        if not isinstance(smooth_value, numbers.Real) or isinstance(smooth_value, bool):
            raise TypeError(f"The 'smooth_value' parameter of {caller} must be a float. "
                            f"Got {smooth_value!r}.")
        value = float(smooth_value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"The 'smooth_value' parameter of {caller} must be finite and "
                             f">= 0. Got {smooth_value!r}.")
    return max_order, code, value, tokenize


def _stats(hyps: Any, refs: Any, max_order: int, tokenize: str, lowercase: bool,
           caller: str) -> np.ndarray:
    from zoopt._cy import bleu as kernels

    toks, hs, he, rs, re_, rp = _prepare(hyps, refs, tokenize, lowercase, caller)
    longest = int((he - hs).max()) if he.size else 0
    size = 1 << max(4, int(2 * longest + 2).bit_length())
    # tokens of each pair (hypothesis and references) for the running hashes
    ref_tok = np.concatenate([[0], np.cumsum(re_ - rs)])
    pair = (he - hs) + (ref_tok[rp[1:]] - ref_tok[rp[:-1]])
    scratch = int(pair.max()) if pair.size else 0
    stats = np.zeros((hs.size, 2 + 2 * max_order), dtype=np.int64)
    kernels.bleu_stats(toks, hs, he, rs, re_, rp, max_order, size, scratch, stats,
                       get_num_threads())
    return stats


def _checked_stats(hyps: Any, refs: Any, max_order: Any, smooth: Any, smooth_value: Any,
                   tokenize: Any, effective_order: Any, lowercase: Any, caller: str):
    """Validate the options, then the per-pair statistics."""
    max_order, code, value, tokenize = _options(max_order, smooth, smooth_value, tokenize,
                                                caller)
    eff = check_bool(effective_order, "effective_order", caller)
    lowercase = check_bool(lowercase, "lowercase", caller)
    stats = _stats(hyps, refs, max_order, tokenize, lowercase, caller)
    return stats, (max_order, code, value, eff)


def _scores(stats: np.ndarray, max_order: int, code: int, value: float, eff: bool):
    from zoopt._cy import bleu as kernels

    K = stats.shape[0]
    score = np.empty(K)
    prec = np.empty((K, max_order))
    bp = np.empty(K)
    kernels.bleu_scores(np.ascontiguousarray(stats, dtype=np.float64), max_order, code, value,
                        eff, sys.version_info >= (3, 12), score, prec, bp, get_num_threads())
    return score, prec, bp


def corpus_bleu(hypotheses: Any, references: Any, *, max_order: int = 4, smooth: str = "exp",
                smooth_value: float | None = None, tokenize: str = "none",
                effective_order: bool = False, lowercase: bool = False) -> BLEUScore:
    """Corpus BLEU with sacreBLEU's numbers.

    Parameters
    ----------
    hypotheses : sequence
        Strings (split into tokens by ``tokenize``) or token sequences (strings
        or integer ids, e.g. arrays of token ids).
    references : sequence
        One entry per hypothesis: a reference of the same kind, or a list of
        several references.
    max_order : int, optional
        Largest n-gram order (default 4).
    smooth : {"exp", "none", "floor", "add-k"}, optional
        Smoothing (default "exp", sacreBLEU's default).
    smooth_value : float, optional
        For "floor" (default 0.1) and "add-k" (default 1).
    tokenize : {"none", "13a"}, optional
        For string inputs: "none" (default here) splits on whitespace; "13a"
        is mteval-v13a's tokenization, sacreBLEU's default.  Note that
        sacreBLEU's default is "13a": pass ``tokenize="13a"`` to compare with
        its default output.
    effective_order : bool, optional
        Ignore orders with no n-gram (default False for corpus BLEU).
    lowercase : bool, optional

    Returns
    -------
    BLEUScore
        ``score`` (0-100), ``precisions``, ``bp``, ``sys_len``, ``ref_len``,
        ``counts``, ``totals``: the same numbers as
        ``sacrebleu.metrics.BLEU(...).corpus_score``.

    Examples
    --------
    >>> from zoopt.metrics import corpus_bleu
    >>> round(corpus_bleu(["the cat sat on the mat"], [["the cat sat on a mat"]]).score, 4)
    53.7285
    """
    stats, (max_order, code, value, eff) = _checked_stats(
        hypotheses, references, max_order, smooth, smooth_value, tokenize, effective_order,
        lowercase, "corpus_bleu")
    total = stats.sum(axis=0)[None, :]
    score, prec, bp = _scores(total, max_order, code, value, eff)
    t = total[0]
    return BLEUScore(score=float(score[0]), precisions=prec[0].tolist(), bp=float(bp[0]),
                     sys_len=int(t[0]), ref_len=int(t[1]),
                     counts=t[2 : 2 + max_order].tolist(), totals=t[2 + max_order :].tolist())


def sentence_bleu(hypothesis: Any, references: Any, *, max_order: int = 4, smooth: str = "exp",
                  smooth_value: float | None = None, tokenize: str = "none",
                  effective_order: bool = True, lowercase: bool = False) -> BLEUScore:
    """Sentence BLEU of one hypothesis (defaults of sacreBLEU's ``sentence_bleu``:
    "exp" smoothing and effective order; tokenization "none" here).

    ``references`` is one reference or a list of them.  See :func:`corpus_bleu`.

    Examples
    --------
    >>> from zoopt.metrics import sentence_bleu
    >>> round(sentence_bleu("the cat sat", ["the cat sat down"]).score, 4)
    71.6531
    """
    many = references if _is_seq(references) and len(references) > 0 and (
        isinstance(references[0], str) if isinstance(hypothesis, str)
        else _is_seq(references[0])) else [references]
    return corpus_bleu([hypothesis], [many], max_order=max_order, smooth=smooth,
                       smooth_value=smooth_value, tokenize=tokenize,
                       effective_order=effective_order, lowercase=lowercase)


def sentence_bleu_batch(hypotheses: Any, references: Any, *, max_order: int = 4,
                        smooth: str = "exp", smooth_value: float | None = None,
                        tokenize: str = "none", effective_order: bool = True,
                        lowercase: bool = False) -> np.ndarray:
    """Sentence BLEU of many hypotheses in one compiled call (the REINFORCE use).

    Same inputs as :func:`corpus_bleu` (one reference entry per hypothesis)
    and the defaults of :func:`sentence_bleu`.

    Returns
    -------
    scores : ndarray of float64, shape (K,)
        ``scores[k] == sentence_bleu(hypotheses[k], references[k]).score``.
    """
    stats, (max_order, code, value, eff) = _checked_stats(
        hypotheses, references, max_order, smooth, smooth_value, tokenize, effective_order,
        lowercase, "sentence_bleu_batch")
    return _scores(stats, max_order, code, value, eff)[0]
