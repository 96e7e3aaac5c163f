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
from zoopt._validation import check_choice, check_int

__all__ = ["BLEU", "BLEUScore", "BLEUSignature", "PairedTestResult", "accuracy",
           "confusion_matrix", "corpus_bleu", "f1_score", "paired_bleu_test", "sentence_bleu",
           "sentence_bleu_batch"]

AVERAGES = ("binary", "micro", "macro", "weighted")
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
    if a.dtype.kind == "f":
        raise TypeError(f"The {name!r} parameter of {caller} must hold integer (or string, "
                        f"or bool) labels. Got float dtype {a.dtype}; convert class labels "
                        "with .astype(int) if they are whole numbers.")
    if a.dtype.kind not in "biuUSO":
        raise TypeError(f"The {name!r} parameter of {caller} must hold integer, bool or "
                        f"string labels. Got dtype {a.dtype}.")
    if a.dtype.kind == "O":
        flat = a.ravel().tolist()
        if any(v is None for v in flat):
            raise TypeError(f"The {name!r} parameter of {caller} holds None labels.")
        strings = {isinstance(v, str) for v in flat}
        if len(strings) > 1:  # 1 and "1" are different labels, not one
            raise TypeError(f"The {name!r} parameter of {caller} mixes string and "
                            "non-string labels; use one type.")
        a = a.astype(str) if strings == {True} else np.asarray(flat).reshape(a.shape)
    return a


def _check_pair(y_true: Any, y_pred: Any, caller: str) -> tuple[np.ndarray, np.ndarray]:
    yt = _labels_array(y_true, "y_true", caller)
    yp = _labels_array(y_pred, "y_pred", caller)
    check_same_backend(backend_of(yp), yt, "y_true", caller)
    if yt.ndim != 1 or yt.size == 0:
        raise ValueError(f"The 'y_true' parameter of {caller} must be a non-empty 1-D array. "
                         f"Got shape {yt.shape} instead.")
    if yp.ndim == 0 or yp.shape[-1] != yt.size:
        raise ValueError(f"The 'y_pred' parameter of {caller} must have shape (..., N) with "
                         f"N = {yt.size} as y_true. Got shape {yp.shape} instead.")
    if (yt.dtype.kind in "US") != (yp.dtype.kind in "US"):
        raise TypeError(f"The 'y_true' and 'y_pred' parameters of {caller} mix string and "
                        f"numeric labels ({yt.dtype} and {yp.dtype}).")
    return yt, yp


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
            return yt.astype(dt), yp_c, np.arange(hi + 1)
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


def accuracy(y_true: Any, y_pred: Any) -> Any:
    """Fraction of correct predictions, batched over the leading axes of ``y_pred``.

    Parameters
    ----------
    y_true : array_like of int, bool or str, shape (N,)
    y_pred : array_like, shape (..., N)

    Returns
    -------
    acc : float or ndarray of shape ``y_pred.shape[:-1]``
        Same as ``sklearn.metrics.accuracy_score(y_true, row)`` for each row.

    Examples
    --------
    >>> from zoopt.metrics import accuracy
    >>> accuracy([0, 1, 1, 0], [[0, 1, 0, 0], [1, 1, 1, 0]]).tolist()
    [0.75, 0.75]
    """
    yt, yp = _check_pair(y_true, y_pred, "accuracy")
    acc = (yp == yt).sum(axis=-1) / yt.size
    return float(acc) if yp.ndim == 1 else acc


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Confusion matrices, batched: ``out[..., t, q]`` counts true ``t`` predicted ``q``.

    Parameters
    ----------
    y_true : array_like of int, shape (N,)
        Labels in ``[0, n_classes)``.
    y_pred : array_like of int, shape (..., N)
    n_classes : int

    Returns
    -------
    cm : ndarray of int64, shape ``y_pred.shape[:-1] + (n_classes, n_classes)``
        Rows are true classes and columns predictions, as in scikit-learn's
        ``confusion_matrix(y_true, row, labels=range(n_classes))``.
    """
    caller = "confusion_matrix"
    yt, yp = _check_pair(y_true, y_pred, caller)
    backend = backend_of(yp)
    xp = backend.xp
    C = check_int(n_classes, "n_classes", caller, low=1, high=_DIRECT_MAX)
    for name, a in (("y_true", yt), ("y_pred", yp)):
        if a.dtype.kind not in "biu" or a.min() < 0 or a.max() >= C:
            raise ValueError(f"The {name!r} parameter of {caller} must hold integer labels in "
                             f"[0, {C}). Got values in [{a.min()}, {a.max()}].")
    yp2 = xp.ascontiguousarray(yp.reshape(-1, yt.size).astype(np.int32))
    out = xp.zeros((yp2.shape[0], C, C), dtype=np.int64)
    backend.metrics.confusion(xp.ascontiguousarray(yt.astype(np.int32)), yp2, out,
                              get_num_threads())
    return out.reshape(*yp.shape[:-1], C, C)


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
    """2 tp / (true + pred), as scikit-learn computes it; zero denominators give zd."""
    denom = (true + pred).astype(np.float64)
    zero = denom == 0
    f = (2.0 * tp.astype(np.float64)) / np.where(zero, 1.0, denom)
    return np.where(zero, zd, f)


def f1_score(y_true: Any, y_pred: Any, *, average: str | None = "binary", pos_label: Any = 1,
             labels: Any = None, zero_division: Any = 0.0) -> Any:
    """F1 score, batched over the leading axes of ``y_pred``; scikit-learn's values.

    Parameters
    ----------
    y_true : array_like of int, bool or str, shape (N,)
    y_pred : array_like, shape (..., N)
        One or many predictions of the same examples.
    average : {"binary", "micro", "macro", "weighted"} or None, optional
        As in ``sklearn.metrics.f1_score`` (default "binary": the F1 of
        ``pos_label``; needs at most two labels).  None returns one score per
        label (of ``labels``, or of every label seen in the batch).
    pos_label : int, bool or str, optional
        The positive class of ``average="binary"`` (default 1).
    labels : array_like, optional
        The labels to score and average over; by default those present (in
        ``y_true`` or in that row of ``y_pred``), as scikit-learn does per call.
    zero_division : {0.0, 1.0, np.nan, "warn"}, optional
        The value of an F1 whose denominator is zero (default 0.0; "warn"
        gives 0.0 as scikit-learn does, without the warning).  NaN scores are
        left out of the averages.

    Returns
    -------
    f1 : float or ndarray
        Shape ``y_pred.shape[:-1]`` (a float for 1-D ``y_pred``), plus a last
        axis of labels when ``average`` is None.

    Notes
    -----
    ``F1 = 2 tp / (2 tp + fp + fn)``.  One compiled pass counts hits and
    predictions per class for every row; the averages follow scikit-learn's
    definitions (macro: mean over labels; weighted: weighted by support, plain
    mean if all supports are zero; micro: from the summed counts).

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
    lab = None if labels is None else _labels_array(labels, "labels", caller).ravel()
    if lab is not None and lab.size == 0:
        raise ValueError("The 'labels' parameter of f1_score must not be empty.")
    pos = None
    if average == "binary":
        pos = _labels_array([pos_label], "pos_label", caller)
    extra = None
    if lab is not None:
        extra = lab
    yt_ids, yp2, classes = _encode(yt, yp, extra)
    C = classes.size
    tp, pred, true = _counts(yt_ids, yp2, C)
    present = (true[None, :] + pred) > 0  # (P, C): seen in y_true or in that row

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
            raise ValueError(f"pos_label={pos_label!r} is not a valid label. It should be "
                             f"one of {classes[present[bad[0]]].tolist()}.")
        out = (np.full(tp.shape[0], zd) if k.size == 0
               else _fscore(tp[:, k[0]], true[k[0]], pred[:, k[0]], zd))
        return _shape(out, yp)

    if lab is not None:
        ids = np.searchsorted(classes, backend_of(lab).to_host(lab))  # all among the classes
        sel_tp, sel_pred, sel_true = tp[:, ids], pred[:, ids], true[ids]
        mask = np.ones(sel_tp.shape, dtype=bool)
    else:
        sel_tp, sel_pred, sel_true = tp, pred, true
        mask = present

    if average == "micro":
        out = _fscore((sel_tp * mask).sum(1), (sel_true[None, :] * mask).sum(1),
                      (sel_pred * mask).sum(1), zd)
        return _shape(out, yp)
    f = _fscore(sel_tp, sel_true[None, :], sel_pred, zd)
    if average is None:
        if lab is None:
            cols = np.flatnonzero(present.any(axis=0))
            f = f[:, cols]
        xp = backend_of(yp).xp
        return xp.asarray(f[0] if yp.ndim == 1 else f.reshape(*yp.shape[:-1], f.shape[1]))
    ok = mask & ~np.isnan(f)
    if average == "macro":
        cnt = ok.sum(axis=1)
        out = np.where(cnt > 0, np.where(ok, f, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)
        return _shape(out, yp)
    # weighted by support; all-zero support falls back to the plain mean (as scikit-learn)
    w = np.where(ok, sel_true[None, :], 0).astype(np.float64)
    wsum = w.sum(axis=1)
    fw = np.where(ok, f, 0.0)
    cnt = ok.sum(axis=1)
    plain = np.where(cnt > 0, fw.sum(axis=1) / np.maximum(cnt, 1), np.nan)
    weighted = (fw * w).sum(axis=1) / np.where(wsum == 0, 1.0, wsum)
    return _shape(np.where(wsum == 0, plain, weighted), yp)


def _shape(out: np.ndarray, yp: Any) -> Any:
    """Scores from the counts (host arrays) in the shape of ``yp``: a float for one row,
    else an array of ``yp``'s backend (its one copy back to the device)."""
    if yp.ndim == 1:
        return float(out[0])
    return backend_of(yp).xp.asarray(out.reshape(yp.shape[:-1]))
