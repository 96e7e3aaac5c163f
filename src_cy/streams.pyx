"""Kernels over the counter-based streams: raw Philox words, directions,
perturbed probes, squared norms and the weighted sum of directions.

Python validates and allocates; these functions fill ``out``.  Every output
element is computed by exactly one thread from its counters alone, and sums run
in a fixed order inside one thread, so results do not depend on the number of
threads or on how the caller splits the directions into chunks.  Loops are
scheduled dynamically (a thread takes the next tile when it is done), so a
thread that the OS deschedules on a busy machine does not hold up the others;
which thread computes a tile never changes its values.
"""
from cython.parallel cimport parallel, prange, threadid
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from libc.math cimport sqrt

from _kernel_util cimport _check_flag, _flag

from cython cimport floating

cdef extern from "zoopt_streams.h" nogil:
    int ZO_TILE
    void zo_philox4x32(const uint32_t *ctr, const uint32_t *key, int rounds,
                       uint32_t *out)
    void zo_gen_f32(int dist, uint32_t k0, uint32_t k1, uint32_t dir,
                    uint32_t c2, uint32_t c3, int64_t j0, int64_t n,
                    float *out)
    void zo_gen_f64(int dist, uint32_t k0, uint32_t k1, uint32_t dir,
                    uint32_t c2, uint32_t c3, int64_t j0, int64_t n,
                    double *out)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int zo_max_threads(void) { return omp_get_max_threads(); }
    static int zo_has_openmp(void) { return 1; }
    static int zo_team_size(int n) {
        int got = 1;
        #pragma omp parallel num_threads(n)
        {
            #pragma omp single
            got = omp_get_num_threads();
        }
        return got;
    }
    #else
    static int zo_max_threads(void) { return 1; }
    static int zo_has_openmp(void) { return 0; }
    static int zo_team_size(int n) { (void)n; return 1; }
    #endif
    """
    int zo_max_threads() nogil
    int zo_has_openmp() nogil
    int zo_team_size(int n) nogil

TILE = ZO_TILE


def max_threads():
    """OpenMP's default number of threads (1 without OpenMP)."""
    return zo_max_threads()


def has_openmp():
    """Whether the kernels were compiled with OpenMP."""
    return bool(zo_has_openmp())


def team_size(int n_threads):
    """Threads OpenMP runs in a parallel region that asks for ``n_threads``, as the
    kernels' loops do (1 without OpenMP)."""
    return zo_team_size(n_threads)


cdef inline void _gen(floating *buf, int dist, uint32_t k0, uint32_t k1,
                      uint32_t direction, uint32_t c2, uint32_t c3, int64_t j0,
                      int64_t n) noexcept nogil:
    if floating is float:
        zo_gen_f32(dist, k0, k1, direction, c2, c3, j0, n, buf)
    else:
        zo_gen_f64(dist, k0, k1, direction, c2, c3, j0, n, buf)


def philox4x32(const uint32_t[:, ::1] ctr, const uint32_t[:, ::1] key,
               uint32_t[:, ::1] out, int rounds, int n_threads):
    """Philox4x32 of each counter row with the matching key row."""
    cdef Py_ssize_t i, n = ctr.shape[0]
    for i in prange(n, schedule="dynamic", nogil=True, num_threads=n_threads):
        zo_philox4x32(&ctr[i, 0], &key[i, 0], rounds, &out[i, 0])


def fill(const floating[::1] scale, floating[:, ::1] out, int dist,
         uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3,
         uint32_t i0, int n_threads):
    """Row r of ``out`` = direction ``i0 + r`` (times ``scale[r]`` if given)."""
    cdef Py_ssize_t n = out.shape[0], d = out.shape[1]
    cdef Py_ssize_t ntiles = (d + ZO_TILE - 1) // ZO_TILE
    cdef Py_ssize_t item, r, t, j, j0, m
    cdef bint scaled = scale.shape[0] > 0
    cdef floating s
    for item in prange(n * ntiles, schedule="dynamic", nogil=True,
                       num_threads=n_threads):
        r = item // ntiles
        t = item - r * ntiles
        j0 = t * ZO_TILE
        m = min(<Py_ssize_t>ZO_TILE, d - j0)
        _gen(&out[r, j0], dist, k0, k1, <uint32_t>(i0 + r), c2, c3, j0, m)
        if scaled:
            s = scale[r]
            for j in range(j0, j0 + m):
                out[r, j] = out[r, j] * s


def fill_sphere(floating[:, ::1] out, uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3,
                uint32_t i0, int n_threads):
    """Row r of ``out`` = normal direction ``i0 + r`` divided by its norm, in one pass:
    the same bits as ``fill`` with the scales from ``sq_norms`` (the squares summed
    in float64 in coordinate order, the inverse norm rounded to the dtype)."""
    cdef Py_ssize_t n = out.shape[0], d = out.shape[1]
    cdef Py_ssize_t ntiles = (d + ZO_TILE - 1) // ZO_TILE
    cdef Py_ssize_t r, t, j, j0, m
    cdef double total, v
    cdef floating s
    for r in prange(n, schedule="dynamic", nogil=True, num_threads=n_threads):
        total = 0.0
        for t in range(ntiles):
            j0 = t * ZO_TILE
            m = min(<Py_ssize_t>ZO_TILE, d - j0)
            _gen(&out[r, j0], 0, k0, k1, <uint32_t>(i0 + r), c2, c3, j0, m)
            for j in range(j0, j0 + m):
                v = <double>out[r, j]
                total = total + v * v
        s = <floating>(1.0 / sqrt(total))
        for j in range(d):
            out[r, j] = out[r, j] * s


def perturb(const floating[::1] x, floating sigma, const floating[::1] sigma_vec,
            const floating[::1] scale, floating[:, ::1] out, int dist,
            uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3, uint32_t i0,
            bint antithetic, int n_threads):
    """Probes ``x + sigma * v_i`` (and ``x - sigma * v_i`` right after each
    when ``antithetic``) for the directions ``i0, i0 + 1, ...``.

    ``v_i = u_i * scale[i - i0]`` when ``scale`` is given, else ``u_i``;
    ``sigma_vec[j]`` replaces ``sigma`` when given (one step per coordinate).
    The product ``sigma * v`` is rounded once and added or subtracted.
    """
    cdef Py_ssize_t rows = out.shape[0], d = out.shape[1]
    cdef Py_ssize_t per = 2 if antithetic else 1
    cdef Py_ssize_t n = rows // per
    cdef Py_ssize_t ntiles = (d + ZO_TILE - 1) // ZO_TILE
    cdef Py_ssize_t item, r, t, j, j0, m
    cdef bint scaled = scale.shape[0] > 0
    cdef bint per_coord = sigma_vec.shape[0] > 0
    cdef floating s
    cdef floating *buf
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        buf = <floating *> malloc(ZO_TILE * sizeof(floating))
        for item in prange(n * ntiles, schedule="dynamic"):
            if buf == NULL:
                failed[0] = 1
                continue
            r = item // ntiles
            t = item - r * ntiles
            j0 = t * ZO_TILE
            m = min(<Py_ssize_t>ZO_TILE, d - j0)
            _gen(buf, dist, k0, k1, <uint32_t>(i0 + r), c2, c3, j0, m)
            if scaled:
                s = scale[r]
                for j in range(m):
                    buf[j] = buf[j] * s
            if per_coord:
                for j in range(m):
                    buf[j] = sigma_vec[j0 + j] * buf[j]
            else:
                for j in range(m):
                    buf[j] = sigma * buf[j]
            if antithetic:
                for j in range(m):
                    step = buf[j]
                    out[2 * r, j0 + j] = x[j0 + j] + step
                    out[2 * r + 1, j0 + j] = x[j0 + j] - step
            else:
                for j in range(m):
                    out[r, j0 + j] = x[j0 + j] + buf[j]
        free(buf)
    _check_flag(failed)


def accumulate(const double[::1] w, const floating[::1] scale,
               double[::1] acc, int dist, uint32_t k0, uint32_t k1,
               uint32_t c2, uint32_t c3, uint32_t i0, bint square, int n_threads):
    """``acc += sum_i w[i] * v_{i0 + i}`` in float64, in the order of ``i``;
    with ``square``, ``acc += sum_i w[i] * (v_{i0 + i}^2 - 1)`` (the score of
    a Gaussian's log standard deviation).

    Threads own disjoint coordinate tiles and each tile runs through the
    directions in order, so the sum is the same for any thread count, and
    calling this on consecutive chunks of directions equals one call.  Zero
    weights are skipped.
    """
    cdef Py_ssize_t n = w.shape[0], d = acc.shape[0]
    cdef Py_ssize_t ntiles = (d + ZO_TILE - 1) // ZO_TILE
    cdef Py_ssize_t i, t, j, j0, m
    cdef bint scaled = scale.shape[0] > 0
    cdef floating s
    cdef double wi, v
    cdef floating *buf
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        buf = <floating *> malloc(ZO_TILE * sizeof(floating))
        for t in prange(ntiles, schedule="dynamic"):
            if buf == NULL:
                failed[0] = 1
                continue
            j0 = t * ZO_TILE
            m = min(<Py_ssize_t>ZO_TILE, d - j0)
            for i in range(n):
                wi = w[i]
                if wi == 0.0:
                    continue
                _gen(buf, dist, k0, k1, <uint32_t>(i0 + i), c2, c3, j0, m)
                if scaled:
                    s = scale[i]
                    for j in range(m):
                        buf[j] = buf[j] * s
                if square:
                    for j in range(m):
                        v = <double>buf[j]
                        acc[j0 + j] += wi * (v * v - 1.0)
                else:
                    for j in range(m):
                        acc[j0 + j] += wi * <double>buf[j]
        free(buf)
    _check_flag(failed)


def fill_span(floating[::1] out, int dist, uint32_t k0, uint32_t k1, uint32_t c2,
              uint32_t c3, uint32_t direction, int64_t j_first, int n_threads):
    """``out[j] = u_{direction, j_first + j}``: a span of coordinates of one direction
    (any ``j_first``; the blocks around it are generated and trimmed)."""
    cdef int64_t n = out.shape[0]
    cdef int64_t jb = j_first - j_first % 128  # block-aligned start
    cdef int64_t ntiles = (j_first + n - jb + ZO_TILE - 1) // ZO_TILE
    cdef int64_t t, j, a0, lo, hi
    cdef floating *buf
    cdef int *failed = _flag()
    if n == 0:
        free(failed)
        return
    with nogil, parallel(num_threads=n_threads):
        buf = <floating *> malloc(ZO_TILE * sizeof(floating))
        for t in prange(ntiles, schedule="dynamic"):
            if buf == NULL:
                failed[0] = 1
                continue
            a0 = jb + t * ZO_TILE  # absolute coordinates a0 .. a0 + TILE - 1
            lo = max(a0, j_first)
            hi = min(a0 + ZO_TILE, j_first + n)
            _gen(buf, dist, k0, k1, direction, c2, c3, a0, hi - a0)
            for j in range(lo, hi):
                out[j - j_first] = buf[j - a0]
        free(buf)
    _check_flag(failed)


def accumulate_span(const double[::1] w, double[::1] acc, const floating[::1] dtype_of, int dist,
                    uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3, uint32_t i0,
                    int64_t j_first, int n_threads):
    """``acc[j] += sum_i w[i] * u_{i0 + i, j_first + j}`` in float64, in the order of ``i``
    (the same sums as ``accumulate`` over the whole vector, restricted to a span).
    ``dtype_of`` only selects the stream's precision."""
    cdef int64_t n = acc.shape[0], nw = w.shape[0]
    cdef int64_t jb = j_first - j_first % 128
    cdef int64_t ntiles = (j_first + n - jb + ZO_TILE - 1) // ZO_TILE
    cdef int64_t t, i, j, a0, lo, hi
    cdef double wi
    cdef floating *buf
    cdef int *failed = _flag()
    if n == 0:
        free(failed)
        return
    with nogil, parallel(num_threads=n_threads):
        buf = <floating *> malloc(ZO_TILE * sizeof(floating))
        for t in prange(ntiles, schedule="dynamic"):
            if buf == NULL:
                failed[0] = 1
                continue
            a0 = jb + t * ZO_TILE
            lo = max(a0, j_first)
            hi = min(a0 + ZO_TILE, j_first + n)
            for i in range(nw):
                wi = w[i]
                if wi == 0.0:
                    continue
                _gen(buf, dist, k0, k1, <uint32_t>(i0 + i), c2, c3, a0, hi - a0)
                for j in range(lo, hi):
                    acc[j - j_first] += wi * <double>buf[j - a0]
        free(buf)
    _check_flag(failed)


def sq_norms(floating[::1] dtype_of, double[::1] out, Py_ssize_t d, int dist,
             uint32_t k0, uint32_t k1, uint32_t c2, uint32_t c3, uint32_t i0,
             int n_threads):
    """``out[i] = sum_j u_{i0 + i, j}^2`` in float64, coordinates in order.

    ``dtype_of`` only selects the stream's precision (its contents are unused).
    """
    cdef Py_ssize_t n = out.shape[0]
    cdef Py_ssize_t ntiles = (d + ZO_TILE - 1) // ZO_TILE
    cdef Py_ssize_t i, t, j, j0, m
    cdef double total, v
    cdef floating *buf
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        buf = <floating *> malloc(ZO_TILE * sizeof(floating))
        for i in prange(n, schedule="dynamic"):
            if buf == NULL:
                failed[0] = 1
                continue
            total = 0.0
            for t in range(ntiles):
                j0 = t * ZO_TILE
                m = min(<Py_ssize_t>ZO_TILE, d - j0)
                _gen(buf, dist, k0, k1, <uint32_t>(i0 + i), c2, c3, j0, m)
                for j in range(m):
                    v = <double>buf[j]
                    total = total + v * v
            out[i] = total
        free(buf)
    _check_flag(failed)


cdef inline bint _same_bits(floating a, floating b) noexcept nogil:
    """The two values have the same bits (so -0.0 differs from 0.0, NaN payloads count)."""
    cdef uint32_t ia, ib
    cdef uint64_t la, lb
    if floating is float:
        memcpy(&ia, &a, 4)
        memcpy(&ib, &b, 4)
        return ia == ib
    else:
        memcpy(&la, &a, 8)
        memcpy(&lb, &b, 8)
        return la == lb


def shift_span(floating[::1] theta, floating scale, int sign, int32_t[::1] lost,
               floating[::1] orig, int dist, uint32_t k0, uint32_t k1, uint32_t c2,
               uint32_t c3, uint32_t direction, int64_t j_first, int n_threads):
    """Move a span of parameters in place along one direction, and say where the move
    cannot be undone by the reverse move.

    With ``s_j = fl(scale * u_{direction, j_first + j})`` in the parameters' dtype:
    ``theta[j] <- fl(theta[j] + s_j)`` (``sign`` = 1) or ``fl(theta[j] - s_j)``
    (``sign`` = -1).  Returns the number ``n`` of coordinates where the reverse move
    gives other bits than the old value; ``lost[:n]`` receives those coordinates in
    increasing order and ``orig[:n]`` their old values.  Nothing is moved unless
    every coordinate is (the scratch is allocated before the first move).
    """
    cdef int64_t n = theta.shape[0]
    cdef int64_t jb = j_first - j_first % 128
    cdef int64_t ntiles = (j_first + n - jb + ZO_TILE - 1) // ZO_TILE
    cdef int64_t t, j, a0, lo, hi, c, n_lost = 0
    cdef floating *buf
    cdef floating s, th, mv, bk
    cdef floating sg = 1 if sign > 0 else -1
    cdef uint8_t *off
    cdef floating *bufs
    cdef uint8_t *offs
    cdef int64_t *counts
    if lost.shape[0] < n or orig.shape[0] < n:
        raise ValueError("shift_span: 'lost' and 'orig' must cover 'theta'")
    if n == 0:
        return 0
    if n > 2**31 - 1:
        raise ValueError("shift_span: at most 2**31 - 1 coordinates per span")
    n_threads = max(1, n_threads)
    bufs = <floating *> malloc(n_threads * ZO_TILE * sizeof(floating))
    offs = <uint8_t *> malloc(n_threads * ZO_TILE)
    counts = <int64_t *> malloc(ntiles * sizeof(int64_t))
    if bufs == NULL or offs == NULL or counts == NULL:
        free(bufs)
        free(offs)
        free(counts)
        raise MemoryError("shift_span: no memory for the scratch tiles")
    with nogil, parallel(num_threads=n_threads):
        buf = bufs + threadid() * ZO_TILE
        off = offs + threadid() * ZO_TILE
        for t in prange(ntiles, schedule="dynamic"):
            a0 = jb + t * ZO_TILE
            lo = max(a0, j_first)
            hi = min(a0 + ZO_TILE, j_first + n)
            _gen(buf, dist, k0, k1, direction, c2, c3, a0, hi - a0)
            c = 0
            for j in range(lo, hi):
                # th - s is th + (-s) exactly (IEEE 754), so one branch-free form serves
                # both signs and the loop vectorizes; the old value replaces the noise
                s = sg * (scale * buf[j - a0])
                th = theta[j - j_first]
                mv = th + s
                bk = mv - s
                off[j - a0] = not _same_bits(bk, th)
                c = c + off[j - a0]
                buf[j - a0] = th
                theta[j - j_first] = mv
            counts[t] = c
            if c:
                # this tile's lost coordinates, packed at the start of its own range
                # (branch-free: every coordinate is written, the kept ones advance)
                c = lo - j_first
                for j in range(lo, hi):
                    lost[c] = <int32_t> (j - j_first)
                    orig[c] = buf[j - a0]
                    c = c + off[j - a0]
    # the tiles' packed runs, one after the other (they only move to lower indices)
    for t in range(ntiles):
        c = counts[t]
        if c:
            lo = max(jb + t * ZO_TILE, j_first) - j_first
            if lo != n_lost:
                for j in range(c):
                    lost[n_lost + j] = lost[lo + j]
                    orig[n_lost + j] = orig[lo + j]
            n_lost += c
    free(bufs)
    free(offs)
    free(counts)
    return n_lost


def unshift_span(floating[::1] theta, floating scale, int sign, int dist, uint32_t k0,
                 uint32_t k1, uint32_t c2, uint32_t c3, uint32_t direction, int64_t j_first,
                 int n_threads):
    """The reverse move of :func:`shift_span`: ``theta[j] <- fl(theta[j] - s_j)``
    (``sign`` = 1) or ``fl(theta[j] + s_j)`` (``sign`` = -1), same ``s_j``; all or
    nothing, like :func:`shift_span`."""
    cdef int64_t n = theta.shape[0]
    cdef int64_t jb = j_first - j_first % 128
    cdef int64_t ntiles = (j_first + n - jb + ZO_TILE - 1) // ZO_TILE
    cdef int64_t t, j, a0, lo, hi
    cdef floating *buf
    cdef floating sg = 1 if sign > 0 else -1
    cdef floating *bufs
    if n == 0:
        return
    n_threads = max(1, n_threads)
    bufs = <floating *> malloc(n_threads * ZO_TILE * sizeof(floating))
    if bufs == NULL:
        raise MemoryError("unshift_span: no memory for the scratch tiles")
    with nogil, parallel(num_threads=n_threads):
        buf = bufs + threadid() * ZO_TILE
        for t in prange(ntiles, schedule="dynamic"):
            a0 = jb + t * ZO_TILE
            lo = max(a0, j_first)
            hi = min(a0 + ZO_TILE, j_first + n)
            _gen(buf, dist, k0, k1, direction, c2, c3, a0, hi - a0)
            for j in range(lo, hi):
                theta[j - j_first] = theta[j - j_first] - sg * (scale * buf[j - a0])
    free(bufs)


cdef inline floating _lowrank_at(const floating[:, ::1] A, const floating[:, ::1] B,
                                 int64_t i, int64_t j, floating inv) noexcept nogil:
    """Element (i, j) of A B^T / sqrt(r): the r products added in order, then the
    factor ``inv`` = fl(1 / sqrt(r)), as :func:`zoopt.random.directions` builds it."""
    cdef Py_ssize_t k
    cdef floating v = A[i, 0] * B[j, 0]
    for k in range(1, A.shape[1]):
        v = v + A[i, k] * B[j, k]
    return v * inv


def shift_lowrank(floating[::1] theta, const floating[:, ::1] A, const floating[:, ::1] B,
                  int64_t c0, floating inv, floating scale, int sign, int32_t[::1] lost,
                  floating[::1] orig, int n_threads):
    """:func:`shift_span` for a low-rank direction: a span of coordinates ``c0 ..`` of a
    row-major ``m x n`` matrix moves along ``A B^T / sqrt(r)`` (``A`` is ``m x r``, ``B``
    is ``n x r``).  ``s = fl(scale * fl(inv * sum_k A[i, k] B[j, k]))``, the rest as
    :func:`shift_span`: returns the number of lost coordinates, ``lost[:n]`` and
    ``orig[:n]`` their indices (increasing) and old values."""
    cdef int64_t n = theta.shape[0]
    cdef int64_t ncol = B.shape[0]
    cdef int64_t i, j, lo, hi, c, i0, i1
    cdef floating s, th, mv, bk
    cdef floating sg = 1 if sign > 0 else -1
    _check_lowrank_span(theta.shape[0], A.shape[0], A.shape[1], B.shape[0], B.shape[1], c0)
    if lost.shape[0] < n or orig.shape[0] < n:
        raise ValueError("shift_lowrank: 'lost' and 'orig' must cover 'theta'")
    if n > 2**31 - 1:
        raise ValueError("shift_lowrank: at most 2**31 - 1 coordinates per span")
    if n == 0:
        return 0
    i0, i1 = c0 // ncol, (c0 + n - 1) // ncol + 1
    with nogil:
        # one pass, a matrix row at a time: move, and flag in lost[j] (the old value kept
        # in orig[j]) where the reverse move would not give the old bits back
        for i in prange(i0, i1, num_threads=max(1, n_threads), schedule="dynamic"):
            lo = max(i * ncol, c0) - c0
            hi = min((i + 1) * ncol, c0 + n) - c0
            for j in range(lo, hi):
                s = sg * (scale * _lowrank_at(A, B, i, c0 + j - i * ncol, inv))
                th = theta[j]
                mv = th + s
                bk = mv - s
                lost[j] = not _same_bits(bk, th)
                orig[j] = th
                theta[j] = mv
        # the flagged coordinates packed in order (c <= j: nothing unread is overwritten)
        c = 0
        for j in range(n):
            if lost[j]:
                lost[c] = <int32_t> j
                orig[c] = orig[j]
                c = c + 1
    return c


def unshift_lowrank(floating[::1] theta, const floating[:, ::1] A, const floating[:, ::1] B,
                    int64_t c0, floating inv, floating scale, int sign, int n_threads):
    """The reverse move of :func:`shift_lowrank` (the same ``s``)."""
    cdef int64_t n = theta.shape[0]
    cdef int64_t ncol = B.shape[0]
    cdef int64_t i, j, lo, hi, i0, i1
    cdef floating sg = 1 if sign > 0 else -1
    _check_lowrank_span(theta.shape[0], A.shape[0], A.shape[1], B.shape[0], B.shape[1], c0)
    if n == 0:
        return
    i0, i1 = c0 // ncol, (c0 + n - 1) // ncol + 1
    with nogil:
        for i in prange(i0, i1, num_threads=max(1, n_threads), schedule="dynamic"):
            lo = max(i * ncol, c0) - c0
            hi = min((i + 1) * ncol, c0 + n) - c0
            for j in range(lo, hi):
                theta[j] = theta[j] - sg * (
                    scale * _lowrank_at(A, B, i, c0 + j - i * ncol, inv))


cdef _check_lowrank_span(Py_ssize_t n, Py_ssize_t m, Py_ssize_t ra, Py_ssize_t ncol,
                         Py_ssize_t rb, int64_t c0):
    if ra != rb or ra < 1:
        raise ValueError(f"lowrank span: 'A' ({m} x {ra}) and 'B' ({ncol} x {rb}) need the "
                         "same r >= 1 columns")
    if ncol < 1 or c0 < 0 or c0 + n > m * ncol:
        raise ValueError(f"lowrank span: coordinates {c0} .. {c0 + n} are outside the "
                         f"{m} x {ncol} matrix")
