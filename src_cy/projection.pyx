"""Kernels of the random projections: the fast Walsh-Hadamard transform, the
subsampled randomized Hadamard transform (SRHT) and sparse sign matrices.

Each row of the data is transformed by one thread (with its own padded
buffer), and each row of a sparse matrix is drawn by one thread from its own
counters, so results do not depend on the number of threads.
"""
from cython.parallel cimport parallel, prange
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

from _kernel_util cimport _check_flag, _flag

ctypedef fused real_t:
    float
    double

ctypedef fused fwht_t:
    float
    double
    int64_t

cdef extern from "zoopt_streams.h" nogil:
    void zo_philox_blocks(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t c2,
                          uint32_t c3, int64_t nb, uint32_t *o0, uint32_t *o1,
                          uint32_t *o2, uint32_t *o3)

cdef enum:
    # butterflies below this span are done block by block while the block is in cache
    FWHT_BLOCK = 4096
    # Philox blocks per pass of the sparse generator (4 words each)
    PASS = 256


cdef void _butterflies(fwht_t *a, Py_ssize_t n, Py_ssize_t h0, Py_ssize_t h1) noexcept nogil:
    """Stages of span h0, 2 h0, ... below h1 over a[:n]."""
    cdef Py_ssize_t h = h0, i, j, q
    cdef fwht_t u, v
    while h < h1:
        if h == 1:
            for i in range(0, n, 2):
                u = a[i]
                v = a[i + 1]
                a[i] = u + v
                a[i + 1] = u - v
        elif h == 2:
            for i in range(0, n, 4):
                u = a[i]
                v = a[i + 2]
                a[i] = u + v
                a[i + 2] = u - v
                u = a[i + 1]
                v = a[i + 3]
                a[i + 1] = u + v
                a[i + 3] = u - v
        else:
            for q in range(n // (2 * h)):
                i = 2 * h * q
                for j in range(i, i + h):
                    u = a[j]
                    v = a[j + h]
                    a[j] = u + v
                    a[j + h] = u - v
        h *= 2


cdef void _fwht(fwht_t *a, Py_ssize_t n) noexcept nogil:
    """In place, unnormalized, natural (Sylvester) order: ``a <- H_n a``, n a power of 2.

    The stages with spans below FWHT_BLOCK run block by block (each block stays
    in cache); the larger ones sweep the whole array.  Additions only, so the
    order of the stages does not change an exact (integer) result, and it is
    fixed, so floating-point results are reproducible.
    """
    cdef Py_ssize_t b, blk = FWHT_BLOCK if n > FWHT_BLOCK else n
    for b in range(n // blk):
        _butterflies(a + b * blk, blk, 1, blk)
    _butterflies(a, n, blk, n)


def fwht_rows(fwht_t[:, ::1] a, int n_threads):
    """Each row of ``a`` (length a power of 2) replaced by its Walsh-Hadamard transform."""
    cdef Py_ssize_t r, n_rows = a.shape[0], n = a.shape[1]
    if n_rows == 0 or n == 0:
        return
    for r in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        _fwht(&a[r, 0], n)


def srht_rows(const real_t[:, ::1] X, const real_t[::1] signs, const int64_t[::1] rows,
              double scale, Py_ssize_t padded, real_t[:, ::1] out, int n_threads):
    """``out[r, j] = scale * (H (signs * pad(X[r])))[rows[j]]``, H of size ``padded``."""
    cdef Py_ssize_t r, j, n_rows = X.shape[0], m = X.shape[1], k = rows.shape[0]
    cdef real_t *buf
    cdef real_t sc = <real_t>scale
    cdef int *failed = _flag()
    if n_rows > 0:
        with nogil, parallel(num_threads=n_threads):
            buf = <real_t *> malloc(padded * sizeof(real_t))
            if buf == NULL:
                failed[0] = 1
            for r in prange(n_rows, schedule="static"):
                if buf != NULL:
                    for j in range(m):
                        buf[j] = X[r, j] * signs[j]
                    for j in range(m, padded):
                        buf[j] = 0
                    _fwht(buf, padded)
                    for j in range(k):
                        out[r, j] = sc * buf[rows[j]]
            free(buf)
    _check_flag(failed)


def srht_lift_rows(const real_t[:, ::1] Z, const real_t[::1] signs,
                   const int64_t[::1] rows, double scale, Py_ssize_t padded,
                   real_t[:, ::1] out, int n_threads):
    """The transpose map: ``out[r] = scale * signs * (H R^T Z[r])[:d]`` (H is symmetric)."""
    cdef Py_ssize_t r, j, n_rows = Z.shape[0], k = Z.shape[1], d = out.shape[1]
    cdef real_t *buf
    cdef real_t sc = <real_t>scale
    cdef int *failed = _flag()
    if n_rows > 0:
        with nogil, parallel(num_threads=n_threads):
            buf = <real_t *> malloc(padded * sizeof(real_t))
            if buf == NULL:
                failed[0] = 1
            for r in prange(n_rows, schedule="static"):
                if buf != NULL:
                    for j in range(padded):
                        buf[j] = 0
                    for j in range(k):
                        buf[rows[j]] = Z[r, j]
                    _fwht(buf, padded)
                    for j in range(d):
                        out[r, j] = sc * signs[j] * buf[j]
            free(buf)
    _check_flag(failed)


cdef Py_ssize_t _sparse_row(uint32_t k0, uint32_t k1, uint32_t row, uint32_t c2, uint32_t c3,
                            Py_ssize_t m, uint32_t half, int32_t *idx, int8_t *sgn,
                            uint32_t *w) noexcept nogil:
    """Entries of one row: word ``w_j < half`` gives -1, ``half <= w_j < 2 half`` +1, else 0.

    Word ``j`` is word ``j % 4`` of the Philox block with counter
    ``(j // 4, row, c2, c3)``.  Writes the columns and signs (if idx is not
    NULL); returns how many there are.
    """
    cdef Py_ssize_t j0, j, nb, nnz = 0, take, q
    cdef uint32_t v
    for q in range((m + 4 * PASS - 1) // (4 * PASS)):
        j0 = 4 * PASS * q
        take = m - j0 if m - j0 < 4 * PASS else 4 * PASS
        nb = (take + 3) // 4
        zo_philox_blocks(k0, k1, <uint32_t>(j0 // 4), row, c2, c3, nb, w, w + PASS,
                         w + 2 * PASS, w + 3 * PASS)
        for j in range(take):
            v = w[(j % 4) * PASS + j // 4]
            if <uint64_t>v < 2 * <uint64_t>half:
                if idx != NULL:
                    idx[nnz] = <int32_t>(j0 + j)
                    sgn[nnz] = -1 if v < half else 1
                nnz += 1
    return nnz


def sparse_signs(uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3, Py_ssize_t n_rows,
                 Py_ssize_t m, uint32_t half, int n_threads):
    """CSR pattern ``(indptr, indices int32, signs int8)`` of an ``(n_rows, m)`` sign matrix
    with P(-1) = P(+1) = half / 2**32 per entry, drawn row by row from the stream."""
    import numpy as np

    cdef Py_ssize_t r
    cdef uint32_t *w
    cdef int *failed = _flag()
    counts_arr = np.zeros(n_rows + 1, dtype=np.int64)
    cdef int64_t[::1] counts = counts_arr
    with nogil, parallel(num_threads=n_threads):
        w = <uint32_t *> malloc(4 * PASS * sizeof(uint32_t))
        if w == NULL:
            failed[0] = 1
        for r in prange(n_rows, schedule="static"):
            if w != NULL:
                counts[r + 1] = _sparse_row(k0, k1, <uint32_t>r, c2, c3, m, half, NULL, NULL, w)
        free(w)
    _check_flag(failed)
    indptr_arr = np.cumsum(counts_arr)
    indices_arr = np.empty(indptr_arr[n_rows], dtype=np.int32)
    signs_arr = np.empty(indptr_arr[n_rows], dtype=np.int8)
    cdef int64_t[::1] indptr = indptr_arr
    cdef int32_t[::1] indices = indices_arr
    cdef int8_t[::1] sg = signs_arr
    cdef int32_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef int8_t *sp = &sg[0] if sg.shape[0] > 0 else NULL
    failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        w = <uint32_t *> malloc(4 * PASS * sizeof(uint32_t))
        if w == NULL:
            failed[0] = 1
        for r in prange(n_rows, schedule="static"):
            if w != NULL and indptr[r + 1] > indptr[r]:
                _sparse_row(k0, k1, <uint32_t>r, c2, c3, m, half, ip + indptr[r],
                            sp + indptr[r], w)
        free(w)
    _check_flag(failed)
    return indptr_arr, indices_arr, signs_arr


def sparse_rows(const real_t[:, ::1] X, const int64_t[::1] indptr,
                const int32_t[::1] indices, const int8_t[::1] signs, double scale,
                real_t[:, ::1] out, int n_threads):
    """``out[r, i] = scale * sum_p signs[p] X[r, indices[p]]`` over row ``i``'s entries,
    summed in float64 in the order of the entries."""
    cdef Py_ssize_t r, i, p, n_rows = X.shape[0], k = out.shape[1]
    cdef double acc
    if n_rows == 0:
        return
    for r in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        for i in range(k):
            acc = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                if signs[p] > 0:
                    acc = acc + X[r, indices[p]]
                else:
                    acc = acc - X[r, indices[p]]
            out[r, i] = <real_t>(scale * acc)
