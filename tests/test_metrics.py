"""zoopt.metrics against scikit-learn: the batched call equals the loop of
single scikit-learn calls, for every average, zero_division and label set."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoopt import metrics

sk = pytest.importorskip("sklearn.metrics")


@st.composite
def label_problems(draw):
    N = draw(st.integers(1, 40))
    C = draw(st.integers(1, 7))
    P = draw(st.integers(1, 5))
    offset = draw(st.sampled_from([0, 0, 3, -2]))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    yt = gen.integers(0, C, N) + offset
    yp = gen.integers(0, C, (P, N)) + offset
    return yt, yp


def _sk(fun, yt, row, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fun(yt, row, **kw)
        except ValueError as exc:
            return exc


def _sk_call(fun, *args, **kw):
    """A scikit-learn call without its warnings (ill-defined scores, one label)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fun(*args, **kw)


def assert_same_bits(got, want):
    """Equal as float64 bit patterns: -0.0 differs from 0.0, NaN equals NaN."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


@given(label_problems(), st.sampled_from(["micro", "macro", "weighted", "binary"]),
       st.sampled_from([0.0, 1.0, np.nan]),
       st.sampled_from([None, [0, 2], [1, 5, 0]]))
def test_f1_matches_sklearn_row_by_row(problem, average, zd, labels):
    yt, yp = problem
    refs = [_sk(sk.f1_score, yt, row, average=average, zero_division=zd, labels=labels)
            for row in yp]
    if any(isinstance(r, Exception) for r in refs):
        if average == "binary":  # scikit-learn refuses these rows: so do we
            with pytest.raises(ValueError):
                metrics.f1_score(yt, yp, average=average, zero_division=zd, labels=labels)
        return
    ours = metrics.f1_score(yt, yp, average=average, zero_division=zd, labels=labels)
    ref = np.array(refs, dtype=np.float64)
    assert_same_bits(ours, ref)
    # a single row gives a float, bit for bit scikit-learn's
    one = metrics.f1_score(yt, yp[0], average=average, zero_division=zd, labels=labels)
    assert isinstance(one, float)
    assert_same_bits(one, ref[0])


@given(label_problems())
def test_f1_per_label_single_row(problem):
    yt, yp = problem
    np.testing.assert_array_equal(metrics.f1_score(yt, yp[0], average=None),
                                  _sk(sk.f1_score, yt, yp[0], average=None))
    np.testing.assert_array_equal(
        metrics.f1_score(yt, yp[0], average=None, labels=[0, 1, 9]),
        _sk(sk.f1_score, yt, yp[0], average=None, labels=[0, 1, 9]))


@given(label_problems())
def test_accuracy_matches_sklearn(problem):
    yt, yp = problem
    ours = metrics.accuracy(yt, yp)
    np.testing.assert_array_equal(ours, [sk.accuracy_score(yt, row) for row in yp])
    assert metrics.accuracy(yt, yp[0]) == sk.accuracy_score(yt, yp[0])


@given(label_problems())
def test_confusion_matrix_matches_sklearn(problem):
    yt, yp = problem
    lo = min(yt.min(), yp.min())
    yt, yp = yt - lo, yp - lo
    C = int(max(yt.max(), yp.max())) + 1
    cm = metrics.confusion_matrix(yt, yp, C)
    assert cm.shape == (len(yp), C, C)
    for row, m in zip(yp, cm, strict=True):
        np.testing.assert_array_equal(m, _sk(sk.confusion_matrix, yt, row, labels=range(C)))


def test_string_and_bool_labels_and_batch_shapes():
    yt = np.array(["cat", "dog", "cat", "bird"])
    yp = np.array([["cat", "cat", "cat", "bird"], ["dog", "dog", "cat", "cat"]])
    np.testing.assert_array_equal(metrics.f1_score(yt, yp, average="macro"),
                                  [sk.f1_score(yt, r, average="macro") for r in yp])
    assert metrics.f1_score(["a", "b", "a"], ["a", "a", "a"], pos_label="a") == \
        sk.f1_score(["a", "b", "a"], ["a", "a", "a"], pos_label="a")
    yb = np.array([True, False, True])
    assert metrics.f1_score(yb, np.array([True, True, True])) == \
        sk.f1_score(yb, np.array([True, True, True]))
    # any leading shape
    yp3 = np.random.default_rng(0).integers(0, 2, (2, 3, 10))
    yt3 = np.random.default_rng(1).integers(0, 2, 10)
    out = metrics.f1_score(yt3, yp3)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, metrics.f1_score(yt3, yp3.reshape(6, 10)).reshape(2, 3))


def test_zero_division_cases():
    # nothing positive anywhere: F1 is 0/0
    assert metrics.f1_score([0, 0], [0, 0], zero_division=1.0) == \
        sk.f1_score([0, 0], [0, 0], zero_division=1.0)
    assert np.isnan(metrics.f1_score([0, 0], [0, 0], zero_division=np.nan))
    assert metrics.f1_score([0, 0], [0, 0], zero_division="warn") == 0.0


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: metrics.f1_score([0, 1], [0.0, 1.0]), TypeError, "float dtype"),
    (lambda: metrics.f1_score([0, 1, 2], [0, 1]), ValueError, r"shape \(\.\.\., N\)"),
    (lambda: metrics.f1_score([], []), ValueError, "non-empty 1-D"),
    (lambda: metrics.f1_score([0, 1, 2], [0, 1, 2]), ValueError, "multiclass"),
    (lambda: metrics.f1_score([0, 2], [2, 0], pos_label=1), ValueError, "not a valid label"),
    (lambda: metrics.f1_score([0, 1], [0, 1], average="samples"), ValueError, "'average'"),
    (lambda: metrics.f1_score([0, 1], [0, 1], zero_division=0.5), ValueError,
     "'zero_division'"),
    (lambda: metrics.f1_score([0, 1], ["a", "b"]), TypeError, "mix string and numeric"),
    (lambda: metrics.f1_score([0, 1], [0, 1], labels=[], average="macro"), ValueError,
     "'labels'"),
    (lambda: metrics.confusion_matrix([0, 3], [0, 1], 3), ValueError, r"in \[0, 3\)"),
    (lambda: metrics.accuracy([[0, 1]], [0, 1]), ValueError, "'y_true'"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.int16])
@pytest.mark.parametrize("C", [2, 9, 700])
def test_integer_dtypes_and_many_classes(dtype, C):
    gen = np.random.default_rng(C)
    N = 3000
    yt = gen.integers(0, min(C, 255), N).astype(dtype)
    yp = np.where(gen.random((3, N)) < 0.6, yt, gen.integers(0, min(C, 255), (3, N))).astype(dtype)
    for avg in ("micro", "macro", "weighted"):
        ref = [_sk(sk.f1_score, yt, r, average=avg) for r in yp]
        assert_same_bits(metrics.f1_score(yt, yp, average=avg), ref)
    np.testing.assert_array_equal(metrics.accuracy(yt, yp), [sk.accuracy_score(yt, r) for r in yp])


def test_work_follows_the_input_not_the_label_values():
    # labels [0, 4_000_000]: the counts were sized by the label (16.5 GB, 108 s)
    gen = np.random.default_rng(0)
    yt = np.array([0, 4_000_000])
    yp = gen.choice(yt, size=(100, 2))
    _, _, classes = metrics._encode(yt, yp, None)
    assert classes.size == 2  # two classes counted, not 4,000,001
    got = metrics.f1_score(yt, yp, average="macro")
    small = metrics.f1_score((yt > 0).astype(int), (yp > 0).astype(int), average="macro")
    np.testing.assert_array_equal(got, small)
    # small non-negative ids are still used as they are
    assert metrics._encode(np.array([0, 3]), np.array([[1, 2]]), None)[2].size == 4


def test_mixed_object_labels_are_refused():
    with pytest.raises(TypeError, match="mixes string and non-string labels"):
        metrics.f1_score(np.array([1, "1"], dtype=object), np.array([1, 1], dtype=object))
    with pytest.raises(TypeError, match="holds None labels"):
        metrics.accuracy(np.array([1, None], dtype=object), np.array([1, 1]))
    objs = np.array([1, 2, 2], dtype=object)  # one type: labels as given
    assert metrics.accuracy(objs, np.array([1, 2, 1])) == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------
# scikit-learn's bits: averages, weights, columns, confusion options


def _f1_problem(gen, weighted):
    """Labels with gaps (a few of 0..39), classes missing from y_true or from rows,
    sometimes only two labels (binary), optional weights (some zero, some negative)."""
    N = int(gen.integers(1, 50))
    C = int(gen.choice([2, 2, 3, 6, 11]))
    pool = np.sort(gen.choice(40, C, replace=False))
    yt = gen.choice(pool[: max(1, C - 1)], N)  # the last label only ever predicted
    yp = gen.choice(pool, (2, N))
    w = None
    if weighted:
        w = gen.choice([0.0, 0.1, 0.5, 1.0, 3.7, -0.3], N) * gen.random(N)
        w[0] = 1.0  # not all zero
    return yt, yp, pool, w


@pytest.mark.parametrize("weighted", [False, True])
def test_f1_same_bits_as_sklearn_sweep(weighted):
    gen = np.random.default_rng(17 + weighted)
    compared = 0
    for _ in range(40):
        yt, yp, pool, w = _f1_problem(gen, weighted)
        labels = [None, None, [int(pool[-1]), int(pool[0]), 99],
                  [int(pool[0]), int(pool[0])]][int(gen.integers(4))]
        for average in (None, "binary", "micro", "macro", "weighted"):
            zd = [0.0, 1.0, np.nan, "warn"][int(gen.integers(4))]
            kw = dict(average=average, zero_division=zd, sample_weight=w,
                      pos_label=int(pool[-1]))
            if average is not None:
                kw["labels"] = labels
            refs = [_sk(sk.f1_score, yt, r, **kw) for r in yp]
            if any(isinstance(r, Exception) for r in refs):
                assert average == "binary"
                with pytest.raises(ValueError):
                    metrics.f1_score(yt, yp, **kw)
                continue
            if average is None:  # one score per label: rows one at a time
                for row, ref in zip(yp, refs, strict=True):
                    assert_same_bits(metrics.f1_score(yt, row, **kw), ref)
            else:
                assert_same_bits(metrics.f1_score(yt, yp, **kw), refs)
            compared += 1
    assert compared > 150


def test_f1_weighted_with_gapped_labels_is_sklearns_last_bit():
    yt, yp = [7, 2, 1, 4, 2, 9, 1, 4], [7, 1, 7, 4, 2, 1, 5, 2]
    got = metrics.f1_score(yt, yp, average="weighted")
    assert_same_bits(got, sk.f1_score(yt, yp, average="weighted"))
    assert got == 0.37499999999999994  # not 0.375: scikit-learn's pairwise sum of 6 labels
    assert_same_bits(metrics.f1_score(yt, [yp, yp], average="macro"),
                     [_sk_call(sk.f1_score, yt, yp, average="macro")] * 2)


def test_binary_is_judged_row_by_row():
    # each row holds two labels, the batch three: one scikit-learn call per row
    yt = np.array([1, 1, 1, 1, 0])
    yp = np.array([[1, 0, 1, 1, 0], [1, 2, 1, 1, 1], [2, 2, 1, 1, 1]])
    with pytest.raises(ValueError):
        sk.f1_score(yt, yp[1])  # rows 1 and 2 see 0, 1 and 2 with y_true
    ok = np.array([[1, 0, 1, 1, 0], [1, 1, 1, 0, 1]])
    assert_same_bits(metrics.f1_score(yt, ok), [sk.f1_score(yt, r) for r in ok])
    with pytest.raises(ValueError, match="multiclass"):
        metrics.f1_score(yt, yp)
    yt2 = np.array([1, 1, 1, 1])
    yp2 = np.array([[1, 0, 1, 1], [1, 2, 1, 1], [1, 1, 1, 1]])  # {0, 1}, {1, 2}, {1}
    assert_same_bits(metrics.f1_score(yt2, yp2), [sk.f1_score(yt2, r) for r in yp2])
    # a row of two labels without pos_label is refused, as scikit-learn refuses it
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        metrics.f1_score(np.array([0, 2, 2]), np.array([[0, 2, 2], [2, 2, 0]]))


def test_binary_does_not_use_labels():
    # scikit-learn scores pos_label under average='binary', whatever labels says
    yt, yp = [0, 1, 0], [0, 1, 1]
    assert_same_bits(metrics.f1_score(yt, yp, labels=["a"]),
                     sk.f1_score(yt, yp, labels=["a"]))
    assert_same_bits(metrics.f1_score(yt, yp, labels=[0]), sk.f1_score(yt, yp, labels=[0]))
    ys, ps = ["a", "b", "a"], ["a", "a", "b"]
    assert_same_bits(metrics.f1_score(ys, ps, labels=["b"], pos_label="a"),
                     sk.f1_score(ys, ps, labels=["b"], pos_label="a"))
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        sk.f1_score(ys, ps, labels=["a"])
    with pytest.raises(ValueError, match=r"pos_label=1 is not a valid label\. It should be one "
                                         r"of \['a', 'b'\]; labels is not used"):
        metrics.f1_score(ys, ps, labels=["a"])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, np.float32, np.float64])
@pytest.mark.parametrize("normalize", [True, False])
def test_accuracy_sample_weight_same_bits(dtype, normalize):
    gen = np.random.default_rng(5)
    N = 3001  # long rows: BLAS dots and NumPy's pairwise blocks both matter
    yt = gen.integers(0, 4, N)
    yp = np.where(gen.random((4, N)) < 0.7, yt, gen.integers(0, 4, (4, N)))
    top = 0 if dtype == np.float16 else 3  # float16 dots of 3001 weights stay finite
    w = (gen.integers(0, 7, N) if np.dtype(dtype).kind == "i"
         else gen.random(N) * 10 ** gen.uniform(-3, top, N)).astype(dtype)
    got = metrics.accuracy(yt, yp, normalize=normalize, sample_weight=w)
    want = [sk.accuracy_score(yt, r, normalize=normalize, sample_weight=w) for r in yp]
    assert_same_bits(got, want)
    one = metrics.accuracy(yt, yp[0], normalize=normalize, sample_weight=w)
    assert isinstance(one, float)
    assert_same_bits(one, want[0])


def test_accuracy_normalize_false_counts():
    yt, yp = [0, 1, 1, 2], [[0, 1, 0, 2], [1, 1, 1, 1]]
    got = metrics.accuracy(yt, yp, normalize=False)
    assert_same_bits(got, [sk.accuracy_score(yt, r, normalize=False) for r in yp])
    assert got.dtype == np.float64
    assert metrics.accuracy(yt, yp[0], normalize=False) == 3.0
    with pytest.raises(TypeError, match="'normalize'"):
        metrics.accuracy(yt, yp, normalize="yes")


def _union_labels(yt, yp):
    return np.unique(np.concatenate([np.asarray(yt).ravel(), np.asarray(yp).ravel()]))


@pytest.mark.parametrize("weights", [None, "int", "float32", "float64", "signed"])
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_labels_weights_normalize_same_bits(weights, normalize):
    gen = np.random.default_rng(hash((weights, normalize)) % 2**32)
    for trial in range(6):
        N = int(gen.integers(1, 40))
        strings = trial % 2 == 1
        pool = np.array(["ant", "bee", "cat", "dog", "eel"]) if strings else \
            np.sort(gen.choice(30, 5, replace=False))
        yt, yp = gen.choice(pool[:4], N), gen.choice(pool, (3, N))
        w = {None: None, "int": gen.integers(0, 5, N),
             "float32": gen.random(N).astype(np.float32),
             "float64": gen.random(N) * 10 ** gen.uniform(-4, 4, N),
             "signed": gen.choice([-1.0, 1.0, 0.5], N)}[weights]
        if w is not None:
            w[0] = 1
        kw = dict(sample_weight=w, normalize=normalize)
        got = metrics.confusion_matrix(yt, yp, **kw)  # the labels of the whole batch
        union = _union_labels(yt, yp)
        for row, m in zip(yp, got, strict=True):
            assert_same_bits(m, _sk_call(sk.confusion_matrix, yt, row, labels=union, **kw))
        want = _sk_call(sk.confusion_matrix, yt, yp[0], **kw)  # one row: its own labels
        one = metrics.confusion_matrix(yt, yp[0], **kw)
        assert one.dtype == want.dtype
        assert_same_bits(one, want)
        for labels in (pool[[3, 0, 4]], pool[[1, 1, 2]], pool[[2]]):  # order, repeats, subset
            if not np.isin(labels, yt).any():
                continue
            got = metrics.confusion_matrix(yt, yp, labels=labels, **kw)
            assert got.shape == (3, len(labels), len(labels))
            for row, m in zip(yp, got, strict=True):
                assert_same_bits(m, _sk_call(sk.confusion_matrix, yt, row, labels=labels, **kw))


def test_confusion_matrix_n_classes_and_its_errors():
    yt, yp = np.array([0, 1, 1, 2]), np.array([[0, 2, 1, 2], [0, 0, 0, 0]])
    cm = metrics.confusion_matrix(yt, yp, 4)  # n_classes: a fixed size, absent classes too
    assert cm.shape == (2, 4, 4)
    assert cm.dtype == np.int64
    for row, m in zip(yp, cm, strict=True):
        np.testing.assert_array_equal(m, sk.confusion_matrix(yt, row, labels=range(4)))
    np.testing.assert_array_equal(metrics.confusion_matrix(yt, yp, n_classes=4), cm)
    assert_same_bits(metrics.confusion_matrix(yt, yp, 4, normalize="pred")[1],
                     _sk_call(sk.confusion_matrix, yt, yp[1], labels=range(4), normalize="pred"))
    with pytest.raises(TypeError, match=r"must hold integer labels in \[0, 2\) when n_classes "
                                        r"is given\. Got string labels.*labels="):
        metrics.confusion_matrix(["a", "b"], ["a", "b"], 2)
    with pytest.raises(ValueError, match="'n_classes' and 'labels'"):
        metrics.confusion_matrix(yt, yp, 3, labels=[0, 1])
    with pytest.raises(ValueError, match="at least one label of y_true"):
        metrics.confusion_matrix(yt, yp, labels=[7])
    with pytest.raises(ValueError, match=r"'labels'.*at least one label"):
        metrics.confusion_matrix(yt, yp, labels=[])
    with pytest.raises(TypeError, match=r"'labels'.*kind of y_true"):
        metrics.confusion_matrix(yt, yp, labels=["a"])
    with pytest.raises(ValueError, match="'normalize'"):
        metrics.confusion_matrix(yt, yp, normalize="rows")


def test_column_vectors_are_raveled_as_sklearn():
    yt = np.array([[0], [1], [2], [1], [1]])
    yp = np.array([[0], [2], [2], [1], [0]])
    assert metrics.accuracy(yt, yp) == sk.accuracy_score(yt, yp)
    assert_same_bits(metrics.f1_score(yt, yp, average="macro"),
                     sk.f1_score(yt, yp, average="macro"))
    np.testing.assert_array_equal(metrics.confusion_matrix(yt, yp), sk.confusion_matrix(yt, yp))
    assert metrics.accuracy(yt.ravel(), yp) == sk.accuracy_score(yt.ravel(), yp.ravel())
    # a column y_true with a batch of rows
    batch = np.stack([yp.ravel(), yt.ravel()])
    np.testing.assert_array_equal(metrics.accuracy(yt, batch), [0.6, 1.0])


@pytest.mark.parametrize("fun", [metrics.accuracy, metrics.confusion_matrix,
                                 lambda a, b, **kw: metrics.f1_score(a, b, average="macro",
                                                                     **kw)])
@pytest.mark.parametrize(("w", "exc", "match"), [
    ([0, 0, 0], ValueError, "at least one non-zero weight"),
    ([1.0, np.nan, 1.0], ValueError, "finite weights. Got 1 NaN"),
    ([1, 2], ValueError, r"shape \(N,\) = \(3,\).*Got shape \(2,\)"),
    ([[1, 2, 3]], ValueError, r"Got shape \(1, 3\)"),
    ([True, False, True], TypeError, r"astype\(int\)"),
    (["a", "b", "c"], TypeError, "int or float"),
])
def test_bad_sample_weight(fun, w, exc, match):
    with pytest.raises(exc, match=f"'sample_weight'.*{match}"):
        fun([0, 1, 1], [0, 1, 0], sample_weight=w)


def test_accuracy_weights_summing_to_zero():
    with pytest.raises(ZeroDivisionError):
        sk.accuracy_score([0, 1, 1], [0, 1, 0], sample_weight=[1, -1, 0])
    with pytest.raises(ValueError, match=r"'sample_weight'.*sums to zero"):
        metrics.accuracy([0, 1, 1], [0, 1, 0], sample_weight=[1, -1, 0])
    assert metrics.accuracy([0, 1, 1], [0, 1, 0], normalize=False, sample_weight=[1, -1, 0]) \
        == sk.accuracy_score([0, 1, 1], [0, 1, 0], normalize=False, sample_weight=[1, -1, 0])


def test_weighted_work_follows_the_input():
    gen = np.random.default_rng(3)
    yt = np.array([0, 4_000_000, 0, 4_000_000])
    yp = gen.choice(yt, size=(50, 4))
    w = np.array([0.5, 2.0, 1.0, 0.25])
    small_t, small_p = (yt > 0).astype(int), (yp > 0).astype(int)
    assert_same_bits(metrics.f1_score(yt, yp, average="weighted", sample_weight=w),
                     metrics.f1_score(small_t, small_p, average="weighted", sample_weight=w))
    cm = metrics.confusion_matrix(yt, yp, sample_weight=w)
    assert cm.shape == (50, 2, 2)
    assert_same_bits(cm, metrics.confusion_matrix(small_t, small_p, sample_weight=w))


@pytest.mark.parametrize(("y", "match"), [
    (np.array([1, "1", 2], dtype=object), "mixes string and non-string labels"),
    (np.array([1, None, 2], dtype=object), "holds None labels"),
    (np.array(["a", None, "b"], dtype=object), "holds None labels"),
    (np.array([1, 2.5, 2], dtype=object), "float dtype"),
    (np.array([1.0, 2.0, 2.0], dtype=object), "float dtype"),
])
@pytest.mark.parametrize("name", ["accuracy", "f1_score", "confusion_matrix"])
def test_object_labels_refused_as_sklearn_refuses_them(y, match, name):
    other = np.array([1, 1, 2], dtype=object)
    with pytest.raises((TypeError, ValueError)):  # scikit-learn cannot sort or type them
        _sk_call(getattr(sk, {"accuracy": "accuracy_score"}.get(name, name)), y, other)
    fun = getattr(metrics, name)
    kw = {"average": "macro"} if name == "f1_score" else {}
    with pytest.raises(TypeError, match=f"'y_true' parameter of {name}.*{match}"):
        fun(y, other, **kw)
    with pytest.raises(TypeError, match=f"'y_pred' parameter of {name}"):
        fun(other, y, **kw)


def test_labels_of_another_kind_are_refused():
    with pytest.raises(TypeError, match="'labels' parameter of f1_score must hold labels of "
                                        "the kind of y_true"):
        metrics.f1_score([0, 1, 2], [0, 1, 1], labels=["1"], average="macro")
