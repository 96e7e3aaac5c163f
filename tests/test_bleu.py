"""BLEU against sacreBLEU: identical scores, precisions, brevity penalty and lengths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoopt import metrics
from zoopt._bleu import _stats

sacrebleu = pytest.importorskip("sacrebleu")

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "The", "x"]
PUNCT_WORDS = ["Hello,", "world!", "it's", "3.5", "e-mail", "(ok)", "&amp;", "x-1", "end.",
               "a", "b"]


@st.composite
def corpora(draw, words=WORDS, max_len=12):
    K = draw(st.integers(1, 6))
    R = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    vocab = words[: draw(st.integers(2, len(words)))]

    def sent():
        n = int(gen.integers(0, max_len + 1))
        return " ".join(gen.choice(vocab, size=n)) if n else ""

    hyps = [sent() for _ in range(K)]
    streams = [[sent() for _ in range(K)] for _ in range(R)]
    return hyps, streams


def _refs(streams):
    return [[s[k] for s in streams] for k in range(len(streams[0]))]


def _same(ours, theirs):
    assert ours.score == theirs.score
    assert ours.precisions == list(theirs.precisions)
    assert ours.bp == theirs.bp
    assert ours.sys_len == theirs.sys_len
    assert ours.ref_len == theirs.ref_len
    # counts and totals as sacreBLEU reports them (add-k included), of the same types
    assert ours.counts == list(theirs.counts)
    assert ours.totals == list(theirs.totals)
    assert [type(x) for x in ours.counts + ours.totals] == [
        type(x) for x in list(theirs.counts) + list(theirs.totals)]


OPTIONS = st.fixed_dictionaries({
    "smooth": st.sampled_from(["none", "floor", "add-k", "exp"]),
    "smooth_value": st.sampled_from([None, 0.01, 0.5, 2.0]),
    "max_order": st.integers(1, 6),
    "effective_order": st.booleans(),
    "lowercase": st.booleans(),
})


def _sacre(opts, tokenize):
    return sacrebleu.metrics.BLEU(
        tokenize=tokenize, smooth_method=opts["smooth"], smooth_value=opts["smooth_value"],
        max_ngram_order=opts["max_order"], effective_order=opts["effective_order"],
        lowercase=opts["lowercase"])


def _ours(opts):
    return {"smooth": opts["smooth"], "smooth_value": opts["smooth_value"],
            "max_order": opts["max_order"], "effective_order": opts["effective_order"],
            "lowercase": opts["lowercase"]}


@given(corpora(), OPTIONS)
def test_corpus_bleu_identical_to_sacrebleu(corpus, opts):
    hyps, streams = corpus
    theirs = _sacre(opts, "none").corpus_score(hyps, streams)
    _same(metrics.corpus_bleu(hyps, _refs(streams), references_form="per-hypothesis",
                              **_ours(opts)), theirs)
    _same(metrics.corpus_bleu(hyps, streams, references_form="streams", **_ours(opts)), theirs)


@given(corpora(words=PUNCT_WORDS), OPTIONS)
def test_13a_tokenization_identical_to_sacrebleu(corpus, opts):
    hyps, streams = corpus
    theirs = _sacre(opts, "13a").corpus_score(hyps, streams)
    _same(metrics.corpus_bleu(hyps, _refs(streams), tokenize="13a",
                              references_form="per-hypothesis", **_ours(opts)), theirs)


@given(corpora(), OPTIONS)
def test_sentence_scores_and_batch_equal_the_loop(corpus, opts):
    hyps, streams = corpus
    refs = _refs(streams)
    sb = _sacre(opts, "none")
    batch = metrics.sentence_bleu_batch(hyps, refs, references_form="per-hypothesis",
                                        **_ours(opts))
    for k, (h, r) in enumerate(zip(hyps, refs, strict=True)):
        theirs = sb.sentence_score(h, r)
        ours = metrics.sentence_bleu(h, r, **_ours(opts))
        _same(ours, theirs)
        assert batch[k] == theirs.score


def test_sentence_defaults_are_sacrebleus():
    h, r = "the cat sat on the mat today", ["the cat sat on a mat", "a cat was on the mat"]
    theirs = sacrebleu.sentence_bleu(h, r, tokenize="none")  # exp smoothing, effective order
    _same(metrics.sentence_bleu(h, r), theirs)


@given(corpora())
def test_integer_ids_give_the_same_scores_as_strings(corpus):
    hyps, streams = corpus
    vocab = {w: i for i, w in enumerate(WORDS)}

    def ids(s):
        return np.array([vocab[w] for w in s.split()], dtype=np.int64)

    refs = _refs(streams)
    form = {"references_form": "per-hypothesis"}
    a = metrics.corpus_bleu(hyps, refs, **form)
    b = metrics.corpus_bleu([ids(h) for h in hyps], [[ids(x) for x in r] for r in refs], **form)
    c = metrics.corpus_bleu([h.split() for h in hyps], [[x.split() for x in r] for r in refs],
                            **form)
    assert a == b == c


def test_properties_bleu_of_itself_is_100_and_in_range():
    s = "one two three four five"
    assert metrics.sentence_bleu(s, [s]).score == pytest.approx(100.0, abs=1e-12)
    gen = np.random.default_rng(0)
    hyps = [gen.integers(0, 5, gen.integers(0, 10)) for _ in range(200)]
    refs = [gen.integers(0, 5, gen.integers(1, 10)) for _ in range(200)]
    scores = metrics.sentence_bleu_batch(hyps, refs)
    assert np.all((scores >= 0) & (scores <= 100 + 1e-9))


def test_thread_count_does_not_change_scores(threads):
    gen = np.random.default_rng(1)
    hyps = [gen.integers(0, 50, gen.integers(0, 40)) for _ in range(500)]
    refs = [[gen.integers(0, 50, gen.integers(1, 40)) for _ in range(2)] for _ in range(500)]
    threads(1)
    a = metrics.sentence_bleu_batch(hyps, refs)
    threads(2)
    b = metrics.sentence_bleu_batch(hyps, refs)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: metrics.corpus_bleu(["a b", "c"], ["a"]), ValueError, "one entry per"),
    (lambda: metrics.corpus_bleu(["a b"], [["a"], ["b"]]), ValueError, "streams"),
    (lambda: metrics.corpus_bleu([], []), ValueError, "must not be empty"),
    (lambda: metrics.corpus_bleu("a b", ["a"]), TypeError, "'hypotheses'"),
    (lambda: metrics.corpus_bleu(["a b"], [[]]), ValueError, "at least one reference"),
    (lambda: metrics.corpus_bleu(["a", ["b"]], ["a", "b"]), TypeError, "must be a string"),
    (lambda: metrics.corpus_bleu([[1, 2]], [[["a", "b"]]]), TypeError, "not a mix"),
    (lambda: metrics.corpus_bleu(["a"], ["a"], smooth="laplace"), ValueError, "'smooth'"),
    (lambda: metrics.corpus_bleu(["a"], ["a"], tokenize="moses"), ValueError, "'tokenize'"),
    (lambda: metrics.corpus_bleu(["a"], ["a"], max_order=0), ValueError, "'max_order'"),
    (lambda: metrics.corpus_bleu(["a"], ["a"], smooth_value=-1.0), ValueError,
     "'smooth_value'"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_unicode_whitespace_and_tokens_split_like_str_split():
    from zoopt._cy import bleu as kernels

    lines = ["naïve café\u00a0au lait", "a\x1cb\tc\n d", "", "   ", "été été", "x\u2003y"]
    ids, lens = kernels.encode_words(lines)
    assert lens.tolist() == [len(s.split()) for s in lines]
    words = [w for s in lines for w in s.split()]
    index = {w: i for i, w in enumerate(dict.fromkeys(words))}
    assert ids.tolist() == [index[w] for w in words]
    h = ["naïve café\u00a0au lait", "x\u2003y z"]
    r = ["naïve café au lait", "x y z"]
    theirs = sacrebleu.metrics.BLEU(tokenize="none").corpus_score(h, [r])
    _same(metrics.corpus_bleu(h, [[x] for x in r]), theirs)


def test_lone_surrogates_split_like_str_split():
    s = b"the cat \xff sat".decode("utf-8", "surrogateescape")
    ours = metrics.sentence_bleu(s, [s])
    theirs = sacrebleu.metrics.BLEU(tokenize="none", effective_order=True).sentence_score(s, [s])
    assert ours.score == theirs.score
    assert ours.counts == [4, 3, 2, 1]


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.sampled_from([2, 3, 50]),
       st.sampled_from([8, 33, 64]))
def test_long_orders_count_exactly(seed, R, V, max_order):
    # repetitive n-grams of every order up to 64 (small vocabularies, long sentences,
    # references sharing long spans with the hypothesis): the counts of the twin
    import reference as ref

    gen = np.random.default_rng(seed)
    K = 4
    hyps = [gen.integers(0, V, gen.integers(0, 90)) for _ in range(K)]
    refs = []
    for h in hyps:
        rr = []
        for _ in range(R):
            r = h.copy()
            edit = gen.random(r.size) < gen.choice([0.0, 0.05, 0.3])
            r[edit] = gen.integers(0, V, int(edit.sum()))
            rr.append(np.concatenate([r, gen.integers(0, V, gen.integers(0, 5))]))
        refs.append(rr)
    stats = _stats(hyps, refs, max_order, "none", False, "test")
    for k in range(K):
        assert stats[k].tolist() == ref.bleu_stats(hyps[k].tolist(),
                                                   [r.tolist() for r in refs[k]], max_order)
