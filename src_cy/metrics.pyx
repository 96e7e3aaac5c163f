"""Counting kernels of the classification metrics, batched over predictions.

Python validates and maps labels to ids in [0, C); these functions fill the
count arrays.  Each row of predictions is counted by one thread.  The weighted
sums add the weights of a row in sample order, one addition at a time from
zero, as ``numpy.bincount`` adds its weights and as scipy's COO-to-dense
conversion adds repeated entries (scikit-learn's weighted counts are those).
"""
from cython.parallel cimport parallel, prange
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from _kernel_util cimport _check_flag, _flag

ctypedef fused label_t:
    int32_t
    int64_t

ctypedef fused weight_t:
    int64_t
    double

cdef enum:
    # classes up to this count use four interleaved sub-histograms per row
    # (consecutive increments of one counter otherwise serialize through memory)
    SMALL_C = 512


def minmax(const label_t[::1] a, int n_threads):
    """(min, max) of a non-empty array, in one parallel pass."""
    cdef Py_ssize_t n = a.shape[0], nch = 64, k, i, lo_i, hi_i
    cdef int64_t[64] mins
    cdef int64_t[64] maxs
    cdef int64_t v, mn, mx
    for k in prange(nch, schedule="static", nogil=True, num_threads=n_threads):
        lo_i = n * k // nch
        hi_i = n * (k + 1) // nch
        mn = a[0]
        mx = a[0]
        for i in range(lo_i, hi_i):
            v = a[i]
            if v < mn:
                mn = v
            if v > mx:
                mx = v
        mins[k] = mn
        maxs[k] = mx
    mn = mins[0]
    mx = maxs[0]
    for k in range(1, nch):
        mn = min(mn, mins[k])
        mx = max(mx, maxs[k])
    return mn, mx


def class_counts(const label_t[::1] y_true, const label_t[:, ::1] y_pred,
                 int64_t[:, ::1] tp, int64_t[:, ::1] pred, int n_threads):
    """``tp[p, c]`` = hits of class ``c`` in row ``p``; ``pred[p, c]`` = how often
    row ``p`` predicts ``c``.  Labels must be ids in ``[0, C)``."""
    cdef Py_ssize_t P = y_pred.shape[0], N = y_pred.shape[1], C = tp.shape[1]
    cdef Py_ssize_t p, i, c, n4
    cdef int64_t q0, q1, q2, q3
    cdef int64_t *h
    cdef int *failed = _flag()
    if C > SMALL_C:
        for p in prange(P, schedule="static", nogil=True, num_threads=n_threads):
            for c in range(C):
                tp[p, c] = 0
                pred[p, c] = 0
            for i in range(N):
                pred[p, y_pred[p, i]] += 1
                tp[p, y_pred[p, i]] += (y_pred[p, i] == y_true[i])
        _check_flag(failed)
        return
    n4 = N - N % 4
    with nogil, parallel(num_threads=n_threads):
        # 4 prediction histograms, then 4 hit histograms, each of C counters
        h = <int64_t *> malloc(8 * C * sizeof(int64_t))
        for p in prange(P, schedule="static"):
            if h == NULL:
                failed[0] = 1
                continue
            memset(h, 0, 8 * C * sizeof(int64_t))
            for i in range(0, n4, 4):
                q0 = y_pred[p, i]
                q1 = y_pred[p, i + 1]
                q2 = y_pred[p, i + 2]
                q3 = y_pred[p, i + 3]
                h[q0] += 1
                h[C + q1] += 1
                h[2 * C + q2] += 1
                h[3 * C + q3] += 1
                h[4 * C + q0] += (q0 == y_true[i])
                h[5 * C + q1] += (q1 == y_true[i + 1])
                h[6 * C + q2] += (q2 == y_true[i + 2])
                h[7 * C + q3] += (q3 == y_true[i + 3])
            for i in range(n4, N):
                q0 = y_pred[p, i]
                h[q0] += 1
                h[4 * C + q0] += (q0 == y_true[i])
            for c in range(C):
                pred[p, c] = h[c] + h[C + c] + h[2 * C + c] + h[3 * C + c]
                tp[p, c] = h[4 * C + c] + h[5 * C + c] + h[6 * C + c] + h[7 * C + c]
        free(h)
    _check_flag(failed)


def confusion(const label_t[::1] y_true, const label_t[:, ::1] y_pred,
              int64_t[:, :, ::1] out, int n_threads):
    """``out[p, t, q]`` += 1 for every example (true ``t``, predicted ``q``)."""
    cdef Py_ssize_t P = y_pred.shape[0], N = y_pred.shape[1], p, i
    for p in prange(P, schedule="static", nogil=True, num_threads=n_threads):
        for i in range(N):
            out[p, y_true[i], y_pred[p, i]] += 1


def class_sums(const label_t[::1] y_true, const label_t[:, ::1] y_pred,
               const double[::1] w, double[:, ::1] tp, double[:, ::1] pred, int n_threads):
    """Weighted ``class_counts``: ``tp[p, c]`` sums ``w[i]`` over the hits of class
    ``c`` in row ``p``, ``pred[p, c]`` over its predictions of ``c``, in sample order."""
    cdef Py_ssize_t P = y_pred.shape[0], N = y_pred.shape[1], C = tp.shape[1], p, i, c
    cdef label_t q
    for p in prange(P, schedule="static", nogil=True, num_threads=n_threads):
        for c in range(C):
            tp[p, c] = 0.0
            pred[p, c] = 0.0
        for i in range(N):
            q = y_pred[p, i]
            pred[p, q] += w[i]
            if q == y_true[i]:
                tp[p, q] += w[i]


def confusion_sums(const label_t[::1] y_true, const label_t[:, ::1] y_pred,
                   const weight_t[::1] w, weight_t[:, :, ::1] out, int n_threads):
    """``out[p, t, q]`` += ``w[i]`` for every example (true ``t``, predicted ``q``),
    in sample order."""
    cdef Py_ssize_t P = y_pred.shape[0], N = y_pred.shape[1], p, i
    for p in prange(P, schedule="static", nogil=True, num_threads=n_threads):
        for i in range(N):
            out[p, y_true[i], y_pred[p, i]] += w[i]
