"""zoopt.metrics.BLEU against sacreBLEU's BLEU: reference streams, score objects,
format() and signatures; zoopt's own form refuses references it would have to guess."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zoopt
from zoopt import metrics

sacrebleu = pytest.importorskip("sacrebleu")

WORDS = ["The", "cat", "sat", "on", "a", "mat.", "dog", "ran,", "it's", "3.5", "x-1", "\u6211",
         "\u00e9t\u00e9", "(ok)"]


pytestmark = pytest.mark.usefixtures("quiet_sacrebleu")


@st.composite
def stream_corpora(draw, allow_none=True):
    K = draw(st.integers(1, 6))
    R = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    vocab = WORDS[: draw(st.integers(2, len(WORDS)))]

    def sent():
        n = int(gen.integers(0, 12))
        return " ".join(gen.choice(vocab, size=n)) if n else ""

    hyps = [sent() for _ in range(K)]
    streams = [[sent() for _ in range(K)] for _ in range(R)]
    if allow_none and R > 1 and draw(st.booleans()):
        for j in range(1, R):  # variable references: None in the later streams
            for k in range(K):
                if gen.random() < 0.4:
                    streams[j][k] = None
    return hyps, streams


OPTIONS = st.fixed_dictionaries({
    "smooth_method": st.sampled_from(["none", "floor", "add-k", "exp"]),
    "smooth_value": st.sampled_from([None, 1, 0.01, 0.5, 2.0]),
    "max_ngram_order": st.integers(1, 6),
    "effective_order": st.booleans(),
    "lowercase": st.booleans(),
    "tokenize": st.sampled_from(["13a", "none", "intl", "zh", "char"]),
})


def _same(ours, theirs):
    assert ours.score == theirs.score
    assert ours.precisions == list(theirs.precisions)
    assert ours.bp == theirs.bp
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
    assert ours.counts == list(theirs.counts)
    assert ours.totals == list(theirs.totals)
    assert [type(x) for x in ours.counts + ours.totals] == [
        type(x) for x in list(theirs.counts) + list(theirs.totals)]
    assert ours.name == theirs.name
    assert ours.ratio == theirs.ratio
    assert ours.format() == theirs.format()
    for width in (0, 1, 4):
        assert ours.format(width=width, score_only=True) == theirs.format(width, True)
    assert repr(ours) == repr(theirs)


def _sig(metric):
    # zoopt writes its own version: everything else is sacreBLEU's
    return re.sub(r"(version|v):[^|]*$", r"\1:*", metric.get_signature().format())


@given(stream_corpora(), OPTIONS)
def test_corpus_score_identical_to_sacrebleu(corpus, opts):
    hyps, streams = corpus
    ours, theirs = metrics.BLEU(**opts), sacrebleu.metrics.BLEU(**opts)
    _same(ours.corpus_score(hyps, streams), theirs.corpus_score(hyps, streams))
    assert _sig(ours) == _sig(theirs)
    for short in (False, True):
        a = ours.get_signature().format(short).rsplit("|", 1)
        b = theirs.get_signature().format(short).rsplit("|", 1)
        assert a[0] == b[0]
    sig = str(theirs.get_signature())
    assert ours.corpus_score(hyps, streams).format(signature=sig, is_json=True) == \
        theirs.corpus_score(hyps, streams).format(signature=sig, is_json=True)


@given(stream_corpora(allow_none=False), OPTIONS)
def test_sentence_score_identical_to_sacrebleu(corpus, opts):
    hyps, streams = corpus
    ours, theirs = metrics.BLEU(**opts), sacrebleu.metrics.BLEU(**opts)
    for k, h in enumerate(hyps):
        refs = [s[k] for s in streams]
        if opts["effective_order"]:
            a = ours.sentence_score(h, refs)
        else:
            with pytest.warns(UserWarning, match="effective_order=True is recommended"):
                a = ours.sentence_score(h, refs)
        _same(a, theirs.sentence_score(h, refs))
        assert _sig(ours) == _sig(theirs)


def test_a_sacrebleu_users_call_works_unchanged():
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.",
             "The man had bitten the dog."]]
    for kw in ({}, {"tokenize": "none"}, {"tokenize": "intl"}, {"smooth_method": "none"},
               {"lowercase": True}):
        _same(metrics.BLEU(**kw).corpus_score(hyps, refs),
              sacrebleu.metrics.BLEU(**kw).corpus_score(hyps, refs))
        _same(metrics.BLEU(**kw).corpus_score(hyps, refs[:1]),
              sacrebleu.metrics.BLEU(**kw).corpus_score(hyps, refs[:1]))
    ours = metrics.BLEU()
    ours.corpus_score(hyps, refs)
    assert str(ours.get_signature()) == ("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|"
                                         f"version:zoopt-{zoopt.__version__}")


def test_variable_references_give_nrefs_var():
    hyps = ["a b c d", "e f g"]
    streams = [["a b c d", "e f"], [None, "e f g h"]]
    ours, theirs = metrics.BLEU(tokenize="none"), sacrebleu.metrics.BLEU(tokenize="none")
    _same(ours.corpus_score(hyps, streams), theirs.corpus_score(hyps, streams))
    assert str(ours.get_signature()).startswith("nrefs:var|")
    assert _sig(ours) == _sig(theirs)


def test_bootstrap_interval_and_signature_as_sacrebleu():
    gen = np.random.default_rng(3)
    vocab = WORDS[:8]
    hyps = [" ".join(gen.choice(vocab, size=gen.integers(3, 12))) for _ in range(60)]
    refs = [[" ".join(gen.choice(vocab, size=gen.integers(3, 12))) for _ in range(60)]]
    ours, theirs = metrics.BLEU(), sacrebleu.metrics.BLEU()
    a = ours.corpus_score(hyps, refs, n_bootstrap=200)  # rng=12345: sacreBLEU's default seed
    b = theirs.corpus_score(hyps, refs, n_bootstrap=200)
    assert a.score == b.score
    assert _sig(ours) == _sig(theirs)
    assert "|bs:200|seed:12345|" in str(ours.get_signature())
    # sacreBLEU scores its resamples from float32 precisions (two roundings, relative
    # 2^-23), zoopt in float64: the same resamples, scores within 100 * 2^-22
    tol = 100 * 2.0**-22
    assert abs(a._mean - b._mean) <= tol
    assert abs(a._ci - b._ci) <= tol
    c = ours.corpus_score(hyps, refs, n_bootstrap=200)
    assert (c._mean, c._ci) == (a._mean, a._ci)  # same rng, same interval
    assert "\u03bc = " in a.format()


def test_precomputed_references():
    hyps = ["The cat sat on the mat.", "A dog ran."]
    refs = [["The cat sat on a mat.", "The dog ran."], ["A cat sat.", None]]
    cached = metrics.BLEU(references=refs)
    theirs = sacrebleu.metrics.BLEU(references=refs)
    _same(cached.corpus_score(hyps, None), theirs.corpus_score(hyps, None))
    _same(cached.corpus_score(hyps, None), metrics.BLEU().corpus_score(hyps, refs))
    assert _sig(cached) == _sig(theirs)
    with pytest.raises(ValueError, match="one hypothesis per cached reference"):
        cached.corpus_score(hyps[:1], None)
    with pytest.raises(ValueError, match="no references were given"):
        metrics.BLEU().corpus_score(hyps, None)


def test_streams_of_another_length_and_missing_references_are_refused():
    bleu = metrics.BLEU()
    with pytest.raises(ValueError, match="stream 1 has 1"):
        bleu.corpus_score(["a b", "c d"], [["a b", "c d"], ["a b"]])
    with pytest.raises(ValueError, match="hypothesis 1 has no reference"):
        bleu.corpus_score(["a b", "c d"], [["a b", None], [None, None]])
    with pytest.raises(TypeError, match="list of reference streams"):
        bleu.corpus_score(["a b"], "a b")
    with pytest.raises(ValueError, match="the number of references is not known"):
        metrics.BLEU().get_signature()


def test_trg_lang_picks_and_checks_the_tokenizer():
    assert metrics.BLEU(trg_lang="zh").tokenizer_signature == \
        sacrebleu.metrics.BLEU(trg_lang="zh").tokenizer_signature == "zh"
    assert metrics.BLEU(trg_lang="de").tokenizer_signature == "13a"
    with pytest.warns(UserWarning, match="consider the 'zh' tokenizer for Chinese"):
        metrics.BLEU(trg_lang="zh", tokenize="13a")


def test_force_silences_the_tokenized_period_warning():
    hyps = ["a b ."] * 100
    refs = [["a b ."] * 100]
    with pytest.warns(UserWarning, match="tokenized period"):
        metrics.BLEU().corpus_score(hyps, refs)
    metrics.BLEU(force=True).corpus_score(hyps, refs)  # no warning (warnings are errors)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"smooth_method": "laplace"}, ValueError, "'smooth_method' parameter of BLEU"),
    ({"max_ngram_order": 0}, ValueError, "'max_ngram_order' parameter of BLEU"),
    ({"tokenize": "moses"}, ValueError, "'tokenize' parameter of BLEU"),
    ({"force": 1}, TypeError, "'force' parameter of BLEU"),
    ({"trg_lang": None}, TypeError, "'trg_lang' parameter of BLEU"),
])
def test_bad_parameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        metrics.BLEU(**kw)


# -- zoopt's form: references per hypothesis, no guessing -------------------------------

def test_sacrebleu_style_call_of_corpus_bleu_is_refused_with_the_way_out():
    hyps, refs = ["the cat sat", "a dog ran", "it is late"], ["the cat sat", "a dog", "late"]
    with pytest.raises(ValueError, match=r"looks like sacreBLEU's reference streams.*"
                                         r"references_form='streams'.*BLEU\(\)\.corpus_score"):
        metrics.corpus_bleu(hyps, [refs])
    theirs = sacrebleu.metrics.BLEU(tokenize="none").corpus_score(hyps, [refs])
    ours = metrics.corpus_bleu(hyps, [refs], references_form="streams")
    assert ours.score == theirs.score
    assert ours == metrics.corpus_bleu(hyps, [[r] for r in refs])
    with pytest.raises(ValueError, match="looks like sacreBLEU's reference streams"):
        metrics.sentence_bleu_batch(hyps, [refs, refs])


def test_references_readable_both_ways_need_the_keyword():
    hyps = ["a b c d", "e f g h"]
    refs = [["a b c d", "e f g h"], ["x", "y"]]  # 2 entries of 2: per hypothesis or streams
    for fn in (metrics.corpus_bleu, metrics.sentence_bleu_batch):
        with pytest.raises(ValueError, match=r"can be read two ways.*references_form="):
            fn(hyps, refs)
    per = metrics.corpus_bleu(hyps, refs, references_form="per-hypothesis")
    streams = metrics.corpus_bleu(hyps, refs, references_form="streams")
    sb = sacrebleu.metrics.BLEU(tokenize="none")
    assert streams.score == sb.corpus_score(hyps, refs).score
    assert per.score == sb.corpus_score(hyps, [list(t) for t in zip(*refs, strict=True)]).score
    assert per.score != streams.score
    ids = [np.array([1, 2, 3]), np.array([4, 5, 6])]
    with pytest.raises(ValueError, match="can be read two ways"):
        metrics.corpus_bleu(ids, [[ids[0], ids[1][:2]], [ids[0][:2], ids[1]]])


def test_unambiguous_per_hypothesis_references_need_no_keyword():
    hyps = ["a b c d", "d e f g"]
    for refs in (["a b c d", "d e"], [["a b c d"], ["d e", "d e f g"]]):
        assert metrics.corpus_bleu(hyps, refs) == metrics.corpus_bleu(
            hyps, refs, references_form="per-hypothesis")
    sb = sacrebleu.metrics.BLEU(tokenize="none")
    assert metrics.corpus_bleu(hyps, [["a b c d"], ["d e", "d e f g"]]).score == \
        sb.corpus_score(hyps, [["a b c d", "d e"], [None, "d e f g"]]).score
    assert metrics.corpus_bleu(["a b c d"], [["a b c d", "a b"]]).score == \
        sb.corpus_score(["a b c d"], [["a b c d"], ["a b"]]).score


def test_streams_form_takes_none_for_fewer_references():
    hyps = ["a b c d", "e f g"]
    streams = [["a b c d", "e f"], [None, "e f g h"]]
    theirs = sacrebleu.metrics.BLEU(tokenize="none").corpus_score(hyps, streams)
    assert metrics.corpus_bleu(hyps, streams, references_form="streams").score == theirs.score
    with pytest.raises(ValueError, match="'references_form' parameter of corpus_bleu"):
        metrics.corpus_bleu(hyps, streams, references_form="transposed")


# -- bytes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "name"), [
    (lambda: metrics.corpus_bleu([b"a b"], [["a b"]]), "'hypotheses'"),
    (lambda: metrics.corpus_bleu(b"a b\nc d", [["a b"]]), "'hypotheses'"),
    (lambda: metrics.corpus_bleu(["a b"], [[b"a b"]]), "'references'"),
    (lambda: metrics.corpus_bleu(["a b"], [b"a b"]), "'references'"),
    (lambda: metrics.corpus_bleu(["a b", "c"], ["a b", b"c"]), "'references'"),
    (lambda: metrics.corpus_bleu(["a b", b"c"], ["a b", "c"]), "'hypotheses'"),
    (lambda: metrics.corpus_bleu([[1, 2]], [b"a b"]), "'references'"),
    (lambda: metrics.corpus_bleu(["a b"], [[b"a b"]], references_form="streams"),
     "'references'"),
    (lambda: metrics.sentence_bleu(b"a b", ["a b"]), "'hypothesis'"),
    (lambda: metrics.sentence_bleu("a b", [b"a b"]), "'references'"),
    (lambda: metrics.sentence_bleu_batch([b"a b"], ["a b"]), "'hypotheses'"),
    (lambda: metrics.BLEU().corpus_score([b"a b"], [["a b"]]), "'hypotheses'"),
    (lambda: metrics.BLEU().corpus_score(["a b"], [[b"a b"]]), "'references'"),
    (lambda: metrics.BLEU().sentence_score(b"a b", ["a b"]), "'hypothesis'"),
    (lambda: metrics.paired_bleu_test(["a b"], [b"a b"], ["a b"]), "'system_hypotheses'"),
])
def test_bytes_are_refused_naming_the_parameter(call, name):
    with pytest.raises(TypeError, match=rf"{name} parameter of .* str .*not bytes.*decode"):
        call()


def test_doctests_of_the_bleu_modules():
    import doctest

    import zoopt._bleu
    import zoopt._bleu_compat
    import zoopt._bleu_significance

    for module in (zoopt._bleu, zoopt._bleu_compat, zoopt._bleu_significance):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0
