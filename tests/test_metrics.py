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
    if average in ("micro", "binary"):
        np.testing.assert_array_equal(ours, ref)
    else:  # sums over a masked row may round differently in the last bit
        np.testing.assert_allclose(ours, ref, rtol=1e-14, atol=0)
    # a single row gives a float, bit for bit scikit-learn's
    one = metrics.f1_score(yt, yp[0], average=average, zero_division=zd, labels=labels)
    assert isinstance(one, float)
    np.testing.assert_array_equal(one, ref[0])


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
    (lambda: metrics.f1_score([0, 1], [0, 1], labels=[]), ValueError, "'labels'"),
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
        np.testing.assert_allclose(metrics.f1_score(yt, yp, average=avg), ref, rtol=1e-14)
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
