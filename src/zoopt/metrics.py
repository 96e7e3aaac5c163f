"""Metrics as batched objectives: accuracy, F1 and BLEU, with the numbers of
scikit-learn and sacreBLEU.

Classification metrics as batched objectives: one call scores many predictions.

``y_pred`` may carry leading axes: a population of ``P`` predictions of the same
``N`` examples (``y_pred`` of shape ``(P, N)``, or any ``(..., N)``) is scored
in one compiled counting pass, with the same values as scikit-learn's
``accuracy_score``, ``confusion_matrix`` and ``f1_score`` called on each row.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from zoopt._backend import backend_of, check_same_backend, is_device_array
from zoopt._bleu import BLEUScore, corpus_bleu, sentence_bleu, sentence_bleu_batch
from zoopt._bleu_compat import BLEU, BLEUSignature
from zoopt._bleu_significance import PairedTestResult, paired_bleu_test
from zoopt._threads import get_num_threads
from zoopt._validation import check_bool, check_choice, check_int

__all__ = ["BLEU", "BLEUScore", "BLEUSignature", "PairedTestResult", "accuracy",
           "confusion_matrix", "corpus_bleu", "f1_score", "paired_bleu_test", "sentence_bleu",
           "sentence_bleu_batch"]

AVERAGES = ("binary", "micro", "macro", "weighted")
NORMALIZE = ("true", "pred", "all")
_DIRECT_MAX = 1 << 22  # labels in [0, 2^22) are used as ids directly


def _labels_array(y: Any, name: str, caller: str) -> Any:
    if is_device_array(y):  # a CuPy array stays on the device
        if y.dtype.kind not in "biu":
            raise TypeError(f"The {name!r} parameter of {caller} must hold integer or bool "
                            f"labels on the GPU. Got dtype {y.dtype}.")
        return y
    a = np.asarray(y)
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype.kind == "O":
        # scikit-learn cannot order such labels either (it fails sorting them)
        flat = a.ravel().tolist()
        if any(v is None for v in flat):
            raise TypeError(f"The {name!r} parameter of {caller} holds None labels; labels "
                            "must be all strings or all integers.")
        strings = {isinstance(v, str) for v in flat}
        if len(strings) > 1:  # 1 and "1" are different labels, not one
            raise TypeError(f"The {name!r} parameter of {caller} mixes string and "
                            "non-string labels; use one type.")
        conv = np.asarray(flat)
        if conv.shape != (len(flat),):
            raise TypeError(f"The {name!r} parameter of {caller} must hold one scalar label "
                            "per element. Got an object array holding sequences.")
        a = conv.reshape(a.shape)
    if a.dtype.kind == "f":
        raise TypeError(f"The {name!r} parameter of {caller} must hold integer (or string, "
                        f"or bool) labels. Got float dtype {a.dtype}; convert class labels "
                        "with .astype(int) if they are whole numbers.")
    if a.dtype.kind not in "biuUS":
        raise TypeError(f"The {name!r} parameter of {caller} must hold integer, bool or "
                        f"string labels. Got dtype {a.dtype}.")
    return a


def _check_pair(y_true: Any, y_pred: Any, caller: str) -> tuple[np.ndarray, np.ndarray]:
    yt = _labels_array(y_true, "y_true", caller)
    yp = _labels_array(y_pred, "y_pred", caller)
    check_same_backend(backend_of(yp), yt, "y_true", caller)
    # (N, 1) columns are raveled, as scikit-learn's metrics do (without a warning there):
    # a column of y_pred cannot be N predictions of one example, y_true has N examples
    if yt.ndim == 2 and yt.shape[1] == 1:
        yt = yt.reshape(-1)
    if yt.ndim != 1 or yt.size == 0:
        raise ValueError(f"The 'y_true' parameter of {caller} must be a non-empty 1-D array "
                         f"(or an (N, 1) column). Got shape {yt.shape} instead.")
    if yp.ndim == 2 and yp.shape == (yt.size, 1) and yt.size > 1:
        yp = yp.reshape(-1)
    if yp.ndim == 0 or yp.shape[-1] != yt.size:
        raise ValueError(f"The 'y_pred' parameter of {caller} must have shape (..., N) with "
                         f"N = {yt.size} as y_true. Got shape {yp.shape} instead.")
    if (yt.dtype.kind in "US") != (yp.dtype.kind in "US"):
        raise TypeError(f"The 'y_true' and 'y_pred' parameters of {caller} mix string and "
                        f"numeric labels ({yt.dtype} and {yp.dtype}).")
    return yt, yp


def _check_labels(labels: Any, yt: Any, caller: str) -> Any:
    """The ``labels`` argument as a non-empty 1-D array of the kind of ``y_true``'s labels."""
    lab = _labels_array(labels, "labels", caller).ravel()
    if lab.size == 0:
        raise ValueError(f"The 'labels' parameter of {caller} must name at least one label. "
                         "Got an empty array.")
    if (lab.dtype.kind in "US") != (yt.dtype.kind in "US"):
        raise TypeError(f"The 'labels' parameter of {caller} must hold labels of the kind of "
                        f"y_true ({yt.dtype}). Got dtype {lab.dtype}: string and numeric "
                        "labels never match.")
    return lab


def _sample_weight(sample_weight: Any, n: int, backend: Any, caller: str) -> Any:
    """``sample_weight`` as a 1-D array of ``n`` finite int or float weights, not all
    zero (scikit-learn refuses all-zero weights too), on ``backend``; None stays None."""
    if sample_weight is None:
        return None
    check_same_backend(backend, sample_weight, "sample_weight", caller)
    xp = backend.xp
    w = sample_weight if is_device_array(sample_weight) else np.asarray(sample_weight)
    if w.dtype.kind not in "iuf" or w.dtype.itemsize > 8:
        hint = "; pass sample_weight.astype(int) for 0/1 weights" if w.dtype.kind == "b" else ""
        raise TypeError(f"The 'sample_weight' parameter of {caller} must hold int or float "
                        f"(float16, float32, float64) weights. Got dtype {w.dtype}{hint}.")
    if w.shape != (n,):
        raise ValueError(f"The 'sample_weight' parameter of {caller} must have shape (N,) = "
                         f"({n},), one weight per example of y_true. Got shape {w.shape} "
                         "instead.")
    if w.dtype.kind == "f":
        bad = int((~xp.isfinite(w)).sum())
        if bad:
            raise ValueError(f"The 'sample_weight' parameter of {caller} must hold finite "
                             f"weights. Got {bad} NaN or infinite weight(s).")
    if not bool((w != 0).any()):
        raise ValueError(f"The 'sample_weight' parameter of {caller} must hold at least one "
                         "non-zero weight. Got only zeros.")
    return w


def _encode(yt: np.ndarray, yp: np.ndarray, extra: np.ndarray | None):
    """Ids in [0, C) for the labels (int32 or int64 arrays, no copy when the labels
    are already small non-negative integers), and the label value of each id."""
    backend = backend_of(yp)
    kernels, xp = backend.metrics, backend.xp
    yp2 = yp.reshape(-1, yt.size)
    if extra is not None:
        extra = xp.asarray(extra)  # the few labels the caller named (to the device, if any)
    parts = [yt, yp2] + ([] if extra is None else [extra])
    if all(p.dtype.kind in "biu" for p in parts):
        dt = np.int32 if yp2.dtype.itemsize <= 4 and yp2.dtype.kind != "u" else np.int64
        yp_c = xp.ascontiguousarray(yp2, dtype=dt)
        lo, hi = kernels.minmax(yp_c.reshape(-1), get_num_threads())
        for p in (yt, extra):
            if p is not None:
                lo, hi = min(lo, int(p.min())), max(hi, int(p.max()))
        # labels as ids directly only when the id range is about the size of the input:
        # the counts are (P, hi + 1), so a label 4,000,000 among a few would size the work
        # by the label, not by the data
        n_in = sum(int(p.size) for p in parts)
        if lo >= 0 and hi < _DIRECT_MAX and hi < max(1024, 4 * n_in):
            return xp.ascontiguousarray(yt, dtype=dt), yp_c, np.arange(hi + 1)
    classes = xp.unique(xp.concatenate([xp.unique(p) for p in parts]))
    yt_ids = xp.searchsorted(classes, yt).astype(np.int32)
    yp_ids = xp.searchsorted(classes, yp2).astype(np.int32)
    return yt_ids, yp_ids, backend.to_host(classes)


def _counts(yt: Any, yp2: Any, C: int):
    """Hits, predictions and support per class, as host arrays: on a GPU the counting
    pass runs on the device and only the (P, C) counts come back."""
    backend = backend_of(yp2)
    xp = backend.xp
    P = yp2.shape[0]
    tp = xp.empty((P, C), dtype=np.int64)
    pred = xp.empty((P, C), dtype=np.int64)
    backend.metrics.class_counts(xp.ascontiguousarray(yt), xp.ascontiguousarray(yp2), tp,
                                 pred, get_num_threads())
    true = xp.bincount(yt, minlength=C).astype(np.int64)
    return backend.to_host(tp), backend.to_host(pred), backend.to_host(true)


def _weighted_counts(yt: Any, yp2: Any, w: Any, C: int):
    """The sums of the weights of hits, predictions and examples per class (float64,
    host arrays), each added in sample order as ``numpy.bincount`` adds them."""
    backend = backend_of(yp2)
    xp = backend.xp
    yt_c, yp_c = xp.ascontiguousarray(yt), xp.ascontiguousarray(yp2)
    w64 = xp.ascontiguousarray(w, dtype=np.float64)  # bincount's conversion of weights
    P = yp_c.shape[0]
    tp, pred = xp.empty((P, C)), xp.empty((P, C))
    backend.metrics.class_sums(yt_c, yp_c, w64, tp, pred, get_num_threads())
    hits, true = xp.empty((1, C)), xp.empty((1, C))  # y_true predicting itself: its sums
    backend.metrics.class_sums(yt_c, yt_c.reshape(1, -1), w64, hits, true, get_num_threads())
    return backend.to_host(tp), backend.to_host(pred), backend.to_host(true)[0]


def _packed_sums(v: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``np.sum(v[p][keep[p]])`` for each row ``p``, bit for bit.

    NumPy's pairwise summation groups the items by their count and position, so the
    kept items of each row are packed side by side and rows of one count are summed
    together (one NumPy reduction per distinct count, at most one per class)."""
    if keep.all():
        return np.ascontiguousarray(v, dtype=np.float64).sum(axis=1)
    n = keep.sum(axis=1)
    out = np.zeros(v.shape[0])
    for k in np.unique(n):
        rows = np.flatnonzero(n == k)
        packed = np.asarray(v[rows][keep[rows]], dtype=np.float64).reshape(rows.size, int(k))
        out[rows] = packed.sum(axis=1)
    return out


def _nanmean_one(f: np.ndarray) -> np.ndarray:
    """scikit-learn's ``np.nanmean`` of one score per row: NaN stays NaN, else NumPy's
    sum of the one item (which starts from +0.0: -0.0 becomes 0.0) over 1."""
    return np.where(np.isnan(f), np.nan, _packed_sums(f[:, None], np.ones((f.size, 1), bool)))


def accuracy(y_true: Any, y_pred: Any, *, normalize: bool = True,
             sample_weight: Any = None) -> Any:
    """Fraction of correct predictions, batched over the leading axes of ``y_pred``.

    Parameters
    ----------
    y_true : array_like of int, bool or str, shape (N,) or (N, 1)
    y_pred : array_like, shape (..., N), or an (N, 1) column
    normalize : bool, optional
        True (default): the (weighted) fraction of correct predictions; False:
        their (weighted) count, as a float.
    sample_weight : array_like of int or float, shape (N,), optional
        One weight per example, shared by all rows of ``y_pred``.  On the GPU
        only integer weights are taken (their sums are exact in any order);
        float weights need host arrays.

    Returns
    -------
    acc : float or ndarray of shape ``y_pred.shape[:-1]``
        Same as ``sklearn.metrics.accuracy_score(y_true, row, normalize=...,
        sample_weight=...)`` for each row, bit for bit.

    Notes
    -----
    With weights, the fraction is ``np.average`` of the hits: their products
    with the weights summed by NumPy's pairwise summation, over
    ``sample_weight.sum(dtype=float64)``; the count is ``np.dot`` of each
    row's hits and the weights (a BLAS dot for float weights, taken row by
    row since a matrix-vector product sums in another order).  These are the
    operations of scikit-learn's ``accuracy_score``.

    Examples
    --------
    >>> from zoopt.metrics import accuracy
    >>> accuracy([0, 1, 1, 0], [[0, 1, 0, 0], [1, 1, 1, 0]]).tolist()
    [0.75, 0.75]
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0], sample_weight=[1, 2, 3, 4])
    0.7
    """
    caller = "accuracy"
    yt, yp = _check_pair(y_true, y_pred, caller)
    normalize = check_bool(normalize, "normalize", caller)
    backend = backend_of(yp)
    w = _sample_weight(sample_weight, yt.size, backend, caller)
    hits = (yp == yt).reshape(-1, yt.size)
    if w is None:
        n_hit = hits.sum(axis=1)
        acc = n_hit / yt.size if normalize else n_hit.astype(np.float64)
    elif backend.is_device:
        if w.dtype.kind == "f":
            raise TypeError("The 'sample_weight' parameter of accuracy must hold integer "
                            f"weights on the GPU. Got dtype {w.dtype}: scikit-learn's sums of "
                            "float weights run in NumPy's order; pass host arrays for them.")
        wi = w.astype(np.int64)
        total = (hits * wi).sum(axis=1)  # integers: exact in any order
        if normalize:
            scale = int(wi.sum())
            if scale == 0:
                raise ValueError("The 'sample_weight' parameter of accuracy sums to zero: "
                                 "the weighted fraction (normalize=True) is undefined.")
            acc = total.astype(np.float64) / float(scale)
        else:  # np.dot of integers wraps in the weights' dtype: so does this
            acc = total.astype(w.dtype).astype(np.float64)
    elif normalize:
        scale = w.sum(dtype=np.float64)
        if scale == 0:
            raise ValueError("The 'sample_weight' parameter of accuracy sums to zero: the "
                             "weighted fraction (normalize=True) is undefined.")
        acc = np.multiply(hits, w, dtype=np.float64).sum(axis=1) / scale
    elif w.dtype.kind == "f":
        acc = np.array([np.dot(h, w) for h in hits], dtype=np.float64)
    else:
        acc = np.dot(hits, w).astype(np.float64)
    return float(acc[0]) if yp.ndim == 1 else acc.reshape(yp.shape[:-1])


def _normalized(cm: np.ndarray, how: str) -> np.ndarray:
    """``cm`` (P, L, L) over its rows, columns or whole matrix, 0/0 as 0: the operations
    of scikit-learn's ``confusion_matrix(normalize=...)``, matrix by matrix."""
    with np.errstate(all="ignore"):
        if how == "true":
            cm = cm / cm.sum(axis=-1, keepdims=True)
        elif how == "pred":
            cm = cm / cm.sum(axis=-2, keepdims=True)
        else:
            cm = cm / cm.reshape(cm.shape[0], -1).sum(axis=-1)[:, None, None]
    return np.nan_to_num(cm)


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None, *,
                     labels: Any = None, sample_weight: Any = None,
                     normalize: str | None = None) -> Any:
    """Confusion matrices, batched: ``out[..., t, q]`` counts true ``t`` predicted ``q``.

    Parameters
    ----------
    y_true : array_like of int, bool or str, shape (N,) or (N, 1)
    y_pred : array_like, shape (..., N), or an (N, 1) column
    n_classes : int, optional
        Integer labels in ``[0, n_classes)``, rows and columns in that order
        (labels outside are an error).  Give ``n_classes`` or ``labels``, not both.
    labels : array_like, optional
        The labels of the rows and columns, in that order, as scikit-learn's
        ``labels``: examples whose true or predicted label is not among them
        are left out; at least one must occur in ``y_true``.  By default the
        sorted labels seen in ``y_true`` or in ``y_pred`` (for a batch, in any
        of its rows, so that all matrices share one shape).
    sample_weight : array_like of int or float, shape (N,), optional
        Weights of the examples: the cells sum them (int64 for integer
        weights, float64 for float weights, as scikit-learn).
    normalize : {"true", "pred", "all"}, optional
        Divide by the row sums (true labels), the column sums (predictions) or
        the total; 0/0 gives 0, as scikit-learn.

    Returns
    -------
    cm : ndarray of shape ``y_pred.shape[:-1] + (L, L)``
        int64 counts (float64 with float weights or ``normalize``): for each
        row of ``y_pred``, scikit-learn's ``confusion_matrix(y_true, row,
        labels=..., sample_weight=..., normalize=...)``, bit for bit (with
        ``n_classes``, ``labels=range(n_classes)``).

    Raises
    ------
    TypeError
        String labels with ``n_classes`` (name them with ``labels``).
    ValueError
        Labels outside ``[0, n_classes)``; ``labels`` empty or none of them
        in ``y_true``; ``n_classes`` and ``labels`` both given.

    Notes
    -----
    Weighted cells add the weights in sample order, as scikit-learn's COO
    sum does.  On the GPU, normalized matrices are finished on the host
    (NumPy's summation order) from the counts, then copied back.

    Examples
    --------
    >>> from zoopt.metrics import confusion_matrix
    >>> confusion_matrix(["cat", "dog", "cat"], ["cat", "cat", "cat"]).tolist()
    [[2, 0], [1, 0]]
    >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2, normalize="true").tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    caller = "confusion_matrix"
    yt, yp = _check_pair(y_true, y_pred, caller)
    backend = backend_of(yp)
    xp = backend.xp
    w = _sample_weight(sample_weight, yt.size, backend, caller)
    if normalize is not None:
        normalize = check_choice(normalize, "normalize", caller, NORMALIZE)
    if n_classes is not None:
        if labels is not None:
            raise ValueError(f"The 'n_classes' and 'labels' parameters of {caller} both name "
                             f"the classes; pass one. Got n_classes={n_classes!r} and labels.")
        L = size = check_int(n_classes, "n_classes", caller, low=1, high=_DIRECT_MAX)
        for name, a in (("y_true", yt), ("y_pred", yp)):
            if a.dtype.kind in "US":
                raise TypeError(f"The {name!r} parameter of {caller} must hold integer labels "
                                f"in [0, {L}) when n_classes is given. Got string labels "
                                f"(dtype {a.dtype}); name them with labels=[...] instead.")
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi >= L:
                raise ValueError(f"The {name!r} parameter of {caller} must hold integer labels "
                                 f"in [0, {L}) (n_classes={L}). Got values in [{lo}, {hi}].")
        yt_ids = xp.ascontiguousarray(yt, dtype=np.int32)
        yp_ids = xp.ascontiguousarray(yp.reshape(-1, yt.size), dtype=np.int32)
    else:
        lab = None if labels is None else _check_labels(labels, yt, caller)
        yt_ids, yp_ids, classes = _encode(yt, yp, lab)
        K = classes.size
        n_true = backend.to_host(xp.bincount(yt_ids, minlength=K))
        if lab is None:
            n_pred = backend.to_host(xp.bincount(yp_ids.reshape(-1), minlength=K))
            sel = np.flatnonzero((n_true > 0) | (n_pred > 0))
        else:
            sel = np.searchsorted(classes, backend.to_host(lab))
            if not (n_true[sel] > 0).any():
                raise ValueError(f"The 'labels' parameter of {caller} must name at least one "
                                 f"label of y_true. Got {backend.to_host(lab)[:5].tolist()}, "
                                 "none of which is in y_true.")
        L = size = sel.size
        if not np.array_equal(sel, np.arange(K)):
            # each class id to its position among the labels (a repeated label keeps its
            # last position, as scikit-learn's label-to-index dict does); the examples of
            # other classes go to an extra row and column, cut off below
            size = L + 1
            where = np.full(K, L, dtype=np.int32)
            ids, first = np.unique(sel[::-1], return_index=True)
            where[ids] = L - 1 - first
            where_x = xp.asarray(where)
            yt_ids, yp_ids = where_x[yt_ids], where_x[yp_ids]
    P = yp_ids.shape[0]
    if w is None:
        cm = xp.zeros((P, size, size), dtype=np.int64)
        backend.metrics.confusion(yt_ids, yp_ids, cm, get_num_threads())
    else:
        acc = np.int64 if w.dtype.kind in "iu" else np.float64  # scikit-learn's accumulator
        cm = xp.zeros((P, size, size), dtype=acc)
        backend.metrics.confusion_sums(yt_ids, yp_ids, xp.ascontiguousarray(w, dtype=acc), cm,
                                       get_num_threads())
    if size != L:
        cm = xp.ascontiguousarray(cm[:, :L, :L])
    if normalize is not None:
        cm = xp.asarray(_normalized(backend.to_host(cm), normalize))
    return cm.reshape(*yp.shape[:-1], L, L)


def _zero_division(value: Any) -> float:
    if isinstance(value, str) and value == "warn":
        return 0.0
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if v in (0.0, 1.0) or math.isnan(v):
            return v
    raise ValueError("The 'zero_division' parameter of f1_score must be 0.0, 1.0, np.nan or "
                     f"'warn'. Got {value!r} instead.")


def _fscore(tp: np.ndarray, true: np.ndarray, pred: np.ndarray, zd: float) -> np.ndarray:
    """2 tp / (true + pred) in float64, as scikit-learn computes it (its F-beta with
    beta = 1); zero denominators give zd."""
    denom = np.asarray(true, dtype=np.float64) + np.asarray(pred, dtype=np.float64)
    zero = denom == 0
    f = (2 * np.asarray(tp, dtype=np.float64)) / np.where(zero, 1.0, denom)
    return np.where(zero, zd, f)


def f1_score(y_true: Any, y_pred: Any, *, average: str | None = "binary", pos_label: Any = 1,
             labels: Any = None, sample_weight: Any = None, zero_division: Any = 0.0) -> Any:
    """F1 score, batched over the leading axes of ``y_pred``; scikit-learn's values.

    Parameters
    ----------
    y_true : array_like of int, bool or str, shape (N,) or (N, 1)
    y_pred : array_like, shape (..., N), or an (N, 1) column
        One or many predictions of the same examples.
    average : {"binary", "micro", "macro", "weighted"} or None, optional
        As in ``sklearn.metrics.f1_score`` (default "binary": the F1 of
        ``pos_label``; each row may hold at most two labels, judged row by
        row as one scikit-learn call per row).  None returns one score per
        label (of ``labels``, or of every label seen in the batch).
    pos_label : int, bool or str, optional
        The positive class of ``average="binary"`` (default 1).
    labels : array_like, optional
        The labels to score and average over; by default those present (in
        ``y_true`` or in that row of ``y_pred``), as scikit-learn does per call.
        Not used with ``average="binary"`` (as in scikit-learn).
    sample_weight : array_like of int or float, shape (N,), optional
        Weights of the examples, shared by all rows of ``y_pred``.
    zero_division : {0.0, 1.0, np.nan, "warn"}, optional
        The value of an F1 whose denominator is zero (default 0.0; "warn"
        gives 0.0 as scikit-learn does, without the warning).  NaN scores are
        left out of the averages.

    Returns
    -------
    f1 : float or ndarray
        Shape ``y_pred.shape[:-1]`` (a float for 1-D ``y_pred``), plus a last
        axis of labels when ``average`` is None.

    Raises
    ------
    ValueError
        A row with more than two labels, or two labels without ``pos_label``,
        under ``average="binary"`` (as scikit-learn).

    Notes
    -----
    ``F1 = 2 tp / (2 tp + fp + fn)``.  One compiled pass counts hits and
    predictions per class for every row (weighted: sums of the weights in
    sample order, as ``numpy.bincount``); the averages follow scikit-learn's
    operations, so the results are its bits: the totals rebuilt as
    ``tp + fp`` and ``tp + fn``, macro as ``np.nanmean`` over the row's labels,
    weighted as ``np.average`` of the non-NaN scores by support (their plain
    mean if the supports sum to zero), micro from the summed totals.

    Examples
    --------
    >>> from zoopt.metrics import f1_score
    >>> y_true = [0, 1, 1, 0, 1]
    >>> population = [[0, 1, 1, 0, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    >>> f1_score(y_true, population).round(4).tolist()
    [1.0, 0.4, 0.75]
    """
    caller = "f1_score"
    yt, yp = _check_pair(y_true, y_pred, caller)
    if average is not None:
        average = check_choice(average, "average", caller, AVERAGES)
    zd = _zero_division(zero_division)
    backend = backend_of(yp)
    w = _sample_weight(sample_weight, yt.size, backend, caller)
    lab = None
    if labels is not None and average != "binary":
        lab = _check_labels(labels, yt, caller)
    pos = None
    if average == "binary":
        pos = _labels_array([pos_label], "pos_label", caller)
    yt_ids, yp2, classes = _encode(yt, yp, lab)
    C = classes.size
    tp, pred, true = _counts(yt_ids, yp2, C)
    present = (true[None, :] + pred) > 0  # (P, C): seen in y_true or in that row
    if w is not None:
        tp, pred, true = _weighted_counts(yt_ids, yp2, w, C)

    if average == "binary":
        assert pos is not None
        # each row is its own scikit-learn call: its labels are those of y_true and the row
        per_row = present.sum(axis=1)
        if (per_row > 2).any():
            r = int(np.flatnonzero(per_row > 2)[0])
            raise ValueError(f"Target is multiclass (labels {classes[present[r]][:5].tolist()}"
                             f") but average='binary'. Choose average='micro', 'macro' or "
                             "'weighted'.")
        same_kind = (pos.dtype.kind in "US") == (classes.dtype.kind in "US")
        k = np.flatnonzero(classes == pos[0]) if same_kind else np.array([], dtype=int)
        has_pos = present[:, k[0]] if k.size else np.zeros(per_row.shape, dtype=bool)
        bad = np.flatnonzero(~has_pos & (per_row >= 2))
        if bad.size:
            hint = ("; labels is not used with average='binary', the scored class is "
                    "pos_label" if labels is not None else "")
            raise ValueError(f"pos_label={pos_label!r} is not a valid label. It should be "
                             f"one of {classes[present[bad[0]]].tolist()}{hint}.")
        if k.size == 0:
            return _shape(_nanmean_one(np.full(tp.shape[0], zd)), yp)
        c = k[0]
        fp, fn = pred[:, c] - tp[:, c], true[c] - tp[:, c]
        return _shape(_nanmean_one(_fscore(tp[:, c], tp[:, c] + fn, tp[:, c] + fp, zd)), yp)

    if lab is not None:
        ids = np.searchsorted(classes, backend.to_host(lab))  # all among the classes
        tp, pred, true = tp[:, ids], pred[:, ids], true[ids]
        keep = np.ones(tp.shape, dtype=bool)
    else:
        keep = present
    # scikit-learn rebuilds the totals from its per-class confusion matrices
    fp, fn = pred - tp, true[None, :] - tp
    pred, true = tp + fp, tp + fn

    if average == "micro":
        out = _fscore(_packed_sums(tp, keep), _packed_sums(true, keep),
                      _packed_sums(pred, keep), zd)
        return _shape(_nanmean_one(out), yp)
    f = _fscore(tp, true, pred, zd)
    if average is None:
        if lab is None:
            cols = np.flatnonzero(present.any(axis=0))
            f = f[:, cols]
        xp = backend.xp
        return xp.asarray(f[0] if yp.ndim == 1 else f.reshape(*yp.shape[:-1], f.shape[1]))
    nan = np.isnan(f)
    ok = keep & ~nan
    cnt = ok.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if average == "macro":  # np.nanmean over the row's labels: NaN read as 0 in place
            out = _packed_sums(np.where(nan, 0.0, f), keep) / cnt
        else:  # np.average over the non-NaN scores, by support; all-zero support: the mean
            sup = np.where(ok, true, 0).astype(np.float64)
            scale = _packed_sums(sup, ok)
            mean = _packed_sums(np.where(ok, f, 0.0), ok) / cnt
            out = np.where(scale == 0, mean, _packed_sums(np.where(ok, f, 0.0) * sup, ok) / scale)
    return _shape(np.where(cnt > 0, out, np.nan), yp)


def _shape(out: np.ndarray, yp: Any) -> Any:
    """Scores from the counts (host arrays) in the shape of ``yp``: a float for one row,
    else an array of ``yp``'s backend (its one copy back to the device)."""
    if yp.ndim == 1:
        return float(out[0])
    return backend_of(yp).xp.asarray(out.reshape(yp.shape[:-1]))
