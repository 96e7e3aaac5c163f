"""BLEU with sacreBLEU's numbers, from a compiled n-gram counting kernel.

BLEU (Papineni et al. 2002): brevity penalty times the geometric mean of the
clipped n-gram precisions; smoothing methods of Chen and Cherry (2014) as
sacreBLEU names them (``none``, ``floor``, ``add-k``, ``exp``); sacreBLEU's
``13a``, ``intl``, ``zh``, ``char``, ``ja-mecab`` and ``ko-mecab`` tokenizers
(Post 2018).
"""

from __future__ import annotations

import contextlib
import json
import numbers
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from zoopt._bleu_tokenizers import check_tokenizer, preprocess
from zoopt._threads import get_num_threads
from zoopt._validation import check_bool, check_int

__all__ = ["BLEUScore", "corpus_bleu", "sentence_bleu", "sentence_bleu_batch"]

# smoothing code of the kernel, and sacreBLEU's default value (an int for add-k, as
# sacreBLEU has it: the counts it reports under add-k stay ints by default)
SMOOTHS: dict[str, tuple[int, float | None]] = {
    "none": (0, None), "floor": (1, 0.1), "add-k": (2, 1), "exp": (3, None)}
FORMS = ("per-hypothesis", "streams")


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
        Matched and hypothesis n-grams per order.  Under ``add-k`` smoothing
        orders 2 and up include the added ``k``, as sacreBLEU reports them
        (floats when ``k`` is a float).
    name : str
        ``"BLEU"``.
    ratio : float
        ``sys_len / ref_len`` (0 when ``ref_len`` is 0).

    Notes
    -----
    ``str(score)`` and ``repr(score)`` are :meth:`format`'s line, as in sacreBLEU.
    """

    score: float
    precisions: list[float]
    bp: float
    sys_len: int
    ref_len: int
    counts: list[Any]
    totals: list[Any]
    # bootstrap mean and 95% half-width (sacreBLEU's _mean and _ci; -1 when not estimated)
    _mean: float = field(default=-1.0, repr=False, compare=False)
    _ci: float = field(default=-1.0, repr=False, compare=False)
    name: ClassVar[str] = "BLEU"

    def __float__(self) -> float:
        return self.score

    @property
    def ratio(self) -> float:
        return self.sys_len / self.ref_len if self.ref_len else 0

    @property
    def prec_str(self) -> str:
        return "/".join(f"{p:.1f}" for p in self.precisions)

    def _verbose(self) -> str:
        return (f"{self.prec_str} (BP = {self.bp:.3f} ratio = {self.ratio:.3f} "
                f"hyp_len = {self.sys_len:d} ref_len = {self.ref_len:d})")

    def format(self, width: int = 2, score_only: bool = False, signature: str = "",
               is_json: bool = False) -> str:
        """The score as sacreBLEU prints it.

        Parameters
        ----------
        width : int, optional
            Decimals of the score (default 2).
        score_only : bool, optional
            Only the score (and the bootstrap mean and interval, when estimated).
        signature : str, optional
            A signature string (``str(BLEU.get_signature())``) to print after
            the name.
        is_json : bool, optional
            A JSON object instead of the line.

        Returns
        -------
        str
            e.g. ``"BLEU = 53.73 83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000
            hyp_len = 6 ref_len = 6)"``, the line of sacreBLEU's ``format``.
        """
        width = check_int(width, "width", "BLEUScore.format", low=0, high=100)
        signature = str(signature)
        sc = f"{self.score:.{width}f}"
        out: dict[str, Any] = {"name": self.name, "score": float(sc), "signature": signature}
        if self._mean > 0:
            mean, ci = f"{self._mean:.{width}f}", f"{self._ci:.{width}f}"
            sc += f" (\u03bc = {mean} \u00b1 {ci})"
            out.update(confidence_mean=float(mean), confidence_var=float(ci),
                       confidence=f"\u03bc = {mean} \u00b1 {ci}")
        if score_only:
            return sc
        verbose = self._verbose()
        if is_json:
            out["verbose_score"] = verbose
            if signature:
                for part in signature.split("|"):
                    key, _, value = part.partition(":")
                    out[key] = value
            return json.dumps(out, indent=1, ensure_ascii=False)
        head = f"{self.name}|{signature}" if signature else self.name
        return f"{head} = {sc} {verbose}"

    def __repr__(self) -> str:
        return self.format()

    __str__ = __repr__


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


def _bytes_error(name: str, what: str, caller: str) -> TypeError:
    return TypeError(
        f"The {name!r} parameter of {caller} must hold str (or token sequences), not bytes: "
        f"{what} is a bytes object. Decode it first, e.g. b.decode('utf-8').")


def _check_outer(hyps: Any, refs: Any, caller: str, hyp_name: str = "hypotheses") -> None:
    """The containers: sequences, non-empty, no bytes where text is expected."""
    if isinstance(hyps, bytes | bytearray):
        raise _bytes_error(hyp_name, "the whole parameter", caller)
    if isinstance(hyps, str) or not _is_seq(hyps):
        raise TypeError(f"The {hyp_name!r} parameter of {caller} must be a sequence of "
                        f"hypotheses (strings or token sequences). Got {type(hyps).__name__}.")
    if isinstance(refs, bytes | bytearray):
        raise _bytes_error("references", "the whole parameter", caller)
    if isinstance(refs, str) or not _is_seq(refs):
        raise TypeError(f"The 'references' parameter of {caller} must be a sequence with one "
                        f"entry per hypothesis. Got {type(refs).__name__}.")
    if len(hyps) == 0:
        raise ValueError(f"The {hyp_name!r} parameter of {caller} must not be empty.")
    if isinstance(hyps[0], bytes | bytearray):
        raise _bytes_error(hyp_name, "hypothesis 0", caller)


def _stream_like(refs: Any, K: int, text: bool) -> bool:
    """Whether ``refs`` reads as sacreBLEU's streams: sequences of K references each."""
    if len(refs) == 0:
        return False
    for s in refs:
        if not _is_seq(s) or len(s) != K:
            return False
        first = s[0]
        if not (isinstance(first, str) or first is None if text else _is_seq(first)):
            return False
    return True


def _check_form(form: Any, caller: str) -> str | None:
    if form is None or (isinstance(form, str) and form in FORMS):
        return form
    raise ValueError(f"The 'references_form' parameter of {caller} must be None, "
                     f"'per-hypothesis' or 'streams'. Got {form!r} instead.")


def _from_streams(hyps: Any, refs: Any, caller: str) -> tuple[list[list[Any]], int]:
    """sacreBLEU's reference streams (``refs[j][k]``: reference j of hypothesis k,
    ``None`` where hypothesis k has fewer references) -> references per hypothesis,
    and the references per hypothesis (-1 when they vary)."""
    K = len(hyps)
    if len(refs) == 0:
        raise ValueError(f"The 'references' parameter of {caller} must hold at least one "
                         "reference stream.")
    for j, s in enumerate(refs):
        if isinstance(s, bytes | bytearray):
            raise _bytes_error("references", f"stream {j}", caller)
        if not _is_seq(s):
            raise TypeError(f"The 'references' parameter of {caller} must be a list of "
                            f"reference streams (each a sequence with one reference per "
                            f"hypothesis). Stream {j} is {type(s).__name__}.")
        if len(s) != K:
            raise ValueError(f"The 'references' parameter of {caller}: every reference stream "
                             f"needs one entry per hypothesis ({K}); stream {j} has {len(s)}.")
    per = [list(t) for t in zip(*refs, strict=True)]
    if any(r is None for t in per for r in t):
        per = [[r for r in t if r is not None] for t in per]
        for k, t in enumerate(per):
            if not t:
                raise ValueError(f"The 'references' parameter of {caller}: hypothesis {k} has "
                                 "no reference (None in every stream).")
        counts = {len(t) for t in per}
        return per, counts.pop() if len(counts) == 1 else -1
    return per, len(refs)


def _per_hypothesis(hyps: Any, refs: Any, form: str | None, caller: str) -> Any:
    """References as one entry per hypothesis, read as ``form`` says; refused when
    the form is not given and the references could be read either way."""
    K = len(hyps)
    text = isinstance(hyps[0], str)
    if form == "streams":
        return _from_streams(hyps, refs, caller)[0]
    if form == "per-hypothesis":
        return refs
    hint = ("pass references_form='per-hypothesis' (references[k] holds the references of "
            "hypothesis k) or references_form='streams' (references[j][k] is reference j of "
            "hypothesis k, sacreBLEU's layout); zoopt.metrics.BLEU().corpus_score takes "
            "sacreBLEU's streams as sacreBLEU does")
    if len(refs) != K:
        if _stream_like(refs, K, text):
            raise ValueError(
                f"The 'references' parameter of {caller} has {len(refs)} entries for {K} "
                f"hypotheses, each with {K} references: it looks like sacreBLEU's reference "
                f"streams, which are not the default reading here; {hint}.")
        return refs  # the entry count is refused with the other checks
    if K >= 2 and _stream_like(refs, K, text):
        raise ValueError(
            f"The 'references' parameter of {caller} can be read two ways: {K} entries of {K} "
            f"references each, one entry per hypothesis or one reference stream each; {hint}.")
    return refs


def _prepare(hyps: Any, refs: Any, tokenize: str, lowercase: bool, caller: str,
             form: str | None = None, hyp_name: str = "hypotheses"):
    _check_outer(hyps, refs, caller, hyp_name)
    refs = _per_hypothesis(hyps, refs, form, caller)
    K = len(hyps)
    if len(refs) != K:
        raise ValueError(f"The 'references' parameter of {caller} must have one entry per "
                         f"hypothesis: {K} hypotheses, {len(refs)} reference entries.")
    if isinstance(hyps[0], str):
        return _prepare_text(hyps, refs, tokenize, lowercase, caller, hyp_name)
    if tokenize != "none":
        raise ValueError(f"The 'tokenize' parameter of {caller} applies to string inputs; "
                         "token sequences are used as they are. Pass tokenize='none' (or the "
                         f"untokenized strings). Got tokenize={tokenize!r} with hypothesis 0 "
                         f"of type {type(hyps[0]).__name__}.")

    def words(s: Any, what: str, name: str) -> Any:
        if isinstance(s, bytes | bytearray):
            raise _bytes_error(name, what, caller)
        if not _is_seq(s):
            raise TypeError(f"{caller}: {what} must be a sequence of tokens like the first "
                            f"hypothesis. Got {type(s).__name__}.")
        return [t.lower() if (lowercase and isinstance(t, str)) else t for t in s] \
            if lowercase else s

    enc = _Encoder(caller)
    pieces: list[np.ndarray] = []
    hyp_se, ref_se, ref_ptr = [], [], [0]
    off = 0
    for k in range(K):
        h = enc.ids(words(hyps[k], f"hypothesis {k}", hyp_name))
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
            ids = enc.ids(words(r, f"reference {j} of hypothesis {k}", "references"))
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
                  hyp_name: str = "hypotheses"):
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
        if isinstance(h, bytes | bytearray):
            raise _bytes_error(hyp_name, f"hypothesis {k}", caller)
        if not isinstance(h, str):
            raise TypeError(f"{caller}: hypothesis {k} must be a string like the first "
                            f"hypothesis. Got {type(h).__name__}.")
        if isinstance(rk, bytes | bytearray):
            raise _bytes_error("references", f"the reference of hypothesis {k}", caller)
        many = [rk] if isinstance(rk, str) else list(rk) if _is_seq(rk) else None
        if not many:
            raise ValueError(f"{caller}: hypothesis {k} needs at least one reference "
                             "(a string or a list of strings).")
        for j, r in enumerate(many):
            if isinstance(r, bytes | bytearray):
                raise _bytes_error("references", f"reference {j} of hypothesis {k}", caller)
            if not isinstance(r, str):
                raise TypeError(f"{caller}: reference {j} of hypothesis {k} must be a string. "
                                f"Got {type(r).__name__}.")
        lines.append(h)
        lines += many
        n_refs.append(len(many))
    return _segments(lines, n_refs, tokenize, lowercase)


def _segments(lines: list[str], n_refs: list[int], tokenize: str, lowercase: bool):
    """Lines (each hypothesis followed by its references) -> kernel inputs."""
    return _encoded(preprocess(lines, tokenize, lowercase), n_refs)


def _encoded(lines: list[str], n_refs: list[int]):
    """Preprocessed lines (each hypothesis followed by its references) -> kernel inputs."""
    from zoopt._cy import bleu as kernels

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


class _Options(NamedTuple):
    max_order: int
    smooth: str
    code: int  # the kernel's smoothing code
    value: float  # the smoothing value the kernel uses
    raw: Any  # the smoothing value as sacreBLEU keeps it (None: the default)
    eff: bool
    tokenize: str
    lowercase: bool


def _options(max_order: Any, smooth: Any, smooth_value: Any, tokenize: Any,
             effective_order: Any, lowercase: Any, caller: str,
             names: tuple[str, str] = ("max_order", "smooth")) -> _Options:
    max_order = check_int(max_order, names[0], caller, low=1, high=64)
    if not isinstance(smooth, str) or smooth not in SMOOTHS:
        options = ", ".join(repr(c) for c in SMOOTHS)
        raise ValueError(f"The {names[1]!r} parameter of {caller} must be one of {options}. "
                         f"Got {smooth!r} instead.")
    tokenize = check_tokenizer(tokenize, caller)
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
    eff = check_bool(effective_order, "effective_order", caller)
    lowercase = check_bool(lowercase, "lowercase", caller)
    return _Options(max_order, smooth, code, value, smooth_value, eff, tokenize, lowercase)


def _count(prepared: tuple[np.ndarray, ...], max_order: int) -> np.ndarray:
    """Kernel inputs -> per-pair statistics ``[hyp_len, ref_len, correct.., total..]``."""
    from zoopt._cy import bleu as kernels

    toks, hs, he, rs, re_, rp = prepared
    longest = int((he - hs).max()) if he.size else 0
    size = 1 << max(4, int(2 * longest + 2).bit_length())
    # tokens of each pair (hypothesis and references): the kernel's n-gram ids
    ref_tok = np.concatenate([[0], np.cumsum(re_ - rs)])
    pair = (he - hs) + (ref_tok[rp[1:]] - ref_tok[rp[:-1]])
    scratch = int(pair.max()) if pair.size else 0
    stats = np.zeros((hs.size, 2 + 2 * max_order), dtype=np.int64)
    kernels.bleu_stats(toks, hs, he, rs, re_, rp, max_order, size, scratch, stats,
                       get_num_threads())
    return stats


def _stats(hyps: Any, refs: Any, max_order: int, tokenize: str, lowercase: bool,
           caller: str, form: str | None = None, hyp_name: str = "hypotheses") -> np.ndarray:
    return _count(_prepare(hyps, refs, tokenize, lowercase, caller, form, hyp_name),
                  max_order)


def _scores(stats: np.ndarray, opts: _Options):
    from zoopt._cy import bleu as kernels

    K = stats.shape[0]
    score = np.empty(K)
    prec = np.empty((K, opts.max_order))
    bp = np.empty(K)
    kernels.bleu_scores(np.ascontiguousarray(stats, dtype=np.float64), opts.max_order,
                        opts.code, opts.value, opts.eff, sys.version_info >= (3, 12), score,
                        prec, bp, get_num_threads())
    return score, prec, bp


def _score_of(total: np.ndarray, opts: _Options) -> BLEUScore:
    """The BLEUScore of summed statistics, with the counts as sacreBLEU reports them."""
    score, prec, bp = _scores(total[None, :], opts)
    N = opts.max_order
    counts = total[2 : 2 + N].tolist()
    totals = total[2 + N :].tolist()
    if opts.smooth == "add-k" and any(counts):
        # sacreBLEU adds k to the statistics of orders 2.. in place, before its check
        # for an order without n-grams, and reports them so
        k = SMOOTHS["add-k"][1] if opts.raw is None else opts.raw
        for n in range(1, N):
            counts[n] += k
            totals[n] += k
            if totals[n] == 0:
                break
    return BLEUScore(score=float(score[0]), precisions=prec[0].tolist(), bp=float(bp[0]),
                     sys_len=int(total[0]), ref_len=int(total[1]), counts=counts,
                     totals=totals)


def corpus_bleu(hypotheses: Any, references: Any, *, max_order: int = 4, smooth: str = "exp",
                smooth_value: float | None = None, tokenize: str = "none",
                effective_order: bool = False, lowercase: bool = False,
                references_form: str | None = None) -> BLEUScore:
    """Corpus BLEU with sacreBLEU's numbers.

    Parameters
    ----------
    hypotheses : sequence
        Strings (split into tokens by ``tokenize``) or token sequences (strings
        or integer ids, e.g. arrays of token ids).
    references : sequence
        One entry per hypothesis: a reference of the same kind, or a list of
        several references (``references_form="per-hypothesis"``); or
        sacreBLEU's reference streams (``references_form="streams"``).
    max_order : int, optional
        Largest n-gram order (default 4, at most 64).
    smooth : {"exp", "none", "floor", "add-k"}, optional
        Smoothing (default "exp", sacreBLEU's default).
    smooth_value : float, optional
        For "floor" (default 0.1) and "add-k" (default 1).
    tokenize : {"none", "13a", "intl", "zh", "char", "ja-mecab", "ko-mecab"}, optional
        For string inputs: "none" (default here) splits on whitespace; the
        others are sacreBLEU's tokenizers of those names ("13a" is
        mteval-v13a's, sacreBLEU's default: pass ``tokenize="13a"`` to compare
        with its default output; "intl" needs the ``regex`` module, the
        ``intl`` extra; "ja-mecab" and "ko-mecab" the ``ja`` and ``ko``
        extras).  Token sequences are used as given ("none" only).
    effective_order : bool, optional
        Ignore orders with no n-gram (default False for corpus BLEU).
    lowercase : bool, optional
    references_form : {None, "per-hypothesis", "streams"}, optional
        How ``references`` is laid out.  "per-hypothesis": ``references[k]``
        holds the reference(s) of hypothesis ``k``.  "streams": sacreBLEU's
        layout, ``references[j][k]`` is reference ``j`` of hypothesis ``k``
        (every stream as long as ``hypotheses``; ``None`` entries where a
        hypothesis has fewer references).  None (default): "per-hypothesis",
        and a ``ValueError`` when the references could also be streams
        (``len(references) == len(hypotheses)`` entries of as many references
        each) or can only be streams (e.g. ``[refs]``), so that no layout is
        guessed.

    Returns
    -------
    BLEUScore
        ``score`` (0-100), ``precisions``, ``bp``, ``sys_len``, ``ref_len``,
        ``counts``, ``totals``: the same numbers as
        ``sacrebleu.metrics.BLEU(...).corpus_score``.

    See Also
    --------
    BLEU : sacreBLEU's interface (``BLEU().corpus_score(hyps, [refs])``).

    Examples
    --------
    >>> from zoopt.metrics import corpus_bleu
    >>> round(corpus_bleu(["the cat sat on the mat"], [["the cat sat on a mat"]]).score, 4)
    53.7285
    >>> hyps = ["the cat sat on the mat", "a dog ran"]
    >>> stream = ["the cat sat on a mat", "the dog ran"]
    >>> corpus_bleu(hyps, [stream], references_form="streams").score == corpus_bleu(
    ...     hyps, [[r] for r in stream]).score
    True
    """
    caller = "corpus_bleu"
    opts = _options(max_order, smooth, smooth_value, tokenize, effective_order, lowercase,
                    caller)
    form = _check_form(references_form, caller)
    stats = _stats(hypotheses, references, opts.max_order, opts.tokenize, opts.lowercase,
                   caller, form)
    return _score_of(stats.sum(axis=0), opts)


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
    caller = "sentence_bleu"
    if isinstance(hypothesis, bytes | bytearray):
        raise _bytes_error("hypothesis", "the hypothesis", caller)
    opts = _options(max_order, smooth, smooth_value, tokenize, effective_order, lowercase,
                    caller)
    many = references if _is_seq(references) and len(references) > 0 and (
        isinstance(references[0], str | bytes | bytearray) if isinstance(hypothesis, str)
        else _is_seq(references[0])) else [references]
    stats = _stats([hypothesis], [many], opts.max_order, opts.tokenize, opts.lowercase,
                   caller, "per-hypothesis")
    return _score_of(stats[0], opts)


def sentence_bleu_batch(hypotheses: Any, references: Any, *, max_order: int = 4,
                        smooth: str = "exp", smooth_value: float | None = None,
                        tokenize: str = "none", effective_order: bool = True,
                        lowercase: bool = False,
                        references_form: str | None = None) -> np.ndarray:
    """Sentence BLEU of many hypotheses in one compiled call (the REINFORCE use).

    Same inputs as :func:`corpus_bleu` (``references_form`` included) and the
    defaults of :func:`sentence_bleu`.

    Returns
    -------
    scores : ndarray of float64, shape (K,)
        ``scores[k] == sentence_bleu(hypotheses[k], references[k]).score``.
    """
    caller = "sentence_bleu_batch"
    opts = _options(max_order, smooth, smooth_value, tokenize, effective_order, lowercase,
                    caller)
    form = _check_form(references_form, caller)
    stats = _stats(hypotheses, references, opts.max_order, opts.tokenize, opts.lowercase,
                   caller, form)
    return _scores(stats, opts)[0]
