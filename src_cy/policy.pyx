"""Kernels of the policy-gradient estimators: Gumbel-max sampling of labels
from the counter streams, and the score-function sums.

Python validates and allocates; these functions fill ``out``.  Each output
element is owned by one thread and sums run in a fixed order, so results do
not depend on the number of threads.
"""
from cython.parallel cimport parallel, prange
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport free, malloc

from _kernel_util cimport _check_flag, _flag

from cython cimport floating

cdef extern from "zoopt_streams.h" nogil:
    void zo_gen_exp1_f32(uint32_t k0, uint32_t k1, uint32_t dir, uint32_t c2,
                         uint32_t c3, int64_t j0, int64_t n, float *out)
    double zo_exp_f64(double x)

cdef enum:
    # examples per tile; a multiple of 4 so that a tile starts on a Philox block
    NT = 256
    # noise values per pass of gumbel_argmax (a multiple of 4): its buffer, whatever C
    CHUNK = 1024
    # float64 sums per thread of categorical_score: tiles of NT rows while NT C fits,
    # single rows (C sums) beyond
    SCORE_SUMS = 1 << 16


def race_weights(const floating[:, ::1] logits, double inv_tau, double[:, ::1] out,
                 int n_threads):
    """``out[n, c] = exp((max_c' logits[n, c'] - logits[n, c]) * inv_tau)``, in [1, inf]."""
    cdef Py_ssize_t N = logits.shape[0], C = logits.shape[1], n, c
    cdef double mx
    for n in prange(N, schedule="static", nogil=True, num_threads=n_threads):
        mx = logits[n, 0]
        for c in range(1, C):
            if logits[n, c] > mx:
                mx = logits[n, c]
        for c in range(C):
            out[n, c] = zo_exp_f64((mx - <double>logits[n, c]) * inv_tau)


def gumbel_argmax(const double[:, ::1] weights, int32_t[:, ::1] out, uint32_t k0,
                  uint32_t k1, uint32_t c2, uint32_t c3, int n_threads):
    """``out[s, n] = argmin_c E[s, n, c] * weights[n, c]`` (first minimum wins):
    the Gumbel-max sample in its exponential-race form.

    ``E[s, n, c]`` is Exp(1) noise from word ``(n C + c) % 4`` of block
    ``(n C + c) // 4`` of counter row ``s``; the product is taken in float64.
    A tile of examples walks its span of that flat index CHUNK values at a time,
    so each thread holds CHUNK floats for any number of classes.
    """
    cdef Py_ssize_t N = weights.shape[0], C = weights.shape[1], S = out.shape[0]
    cdef Py_ssize_t ntiles = (N + NT - 1) // NT
    cdef Py_ssize_t item, s, t, n0, r, c, p, end, k, q, seg, j, arg
    cdef double best, v
    cdef float *buf
    cdef int *failed = _flag()
    # no more threads than tiles: the others would only allocate
    cdef int nt = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>n_threads, S * ntiles))
    with nogil, parallel(num_threads=nt):
        buf = <float *> malloc(CHUNK * sizeof(float))
        for item in prange(S * ntiles, schedule="static"):
            if buf == NULL:
                failed[0] = 1
                continue
            s = item // ntiles
            t = item - s * ntiles
            n0 = t * NT
            # the flat span [n0 C, end) of the tile's noise; (r, c) follows it
            p = n0 * C
            end = min(n0 + <Py_ssize_t>NT, N) * C
            r = n0
            c = 0
            best = 0.0
            arg = 0
            while p < end:
                k = min(<Py_ssize_t>CHUNK, end - p)
                zo_gen_exp1_f32(k0, k1, <uint32_t>s, c2, c3, p, k, buf)
                q = 0
                while q < k:
                    if c == 0:
                        best = <double>buf[q] * weights[r, 0]
                        arg = 0
                        c = 1
                        q = q + 1
                    seg = min(C - c, k - q)
                    for j in range(seg):
                        v = <double>buf[q + j] * weights[r, c + j]
                        # branch-free select: the winner is rarely predictable
                        arg = c + j if v < best else arg
                        best = v if v < best else best
                    c = c + seg
                    q = q + seg
                    if c == C:
                        out[s, r] = <int32_t>arg
                        r = r + 1
                        c = 0
                p = p + k
        free(buf)
    _check_flag(failed)


def categorical_score(const int32_t[:, ::1] labels, const double[:, ::1] adv,
                      const double[:, ::1] probs, double scale,
                      floating[:, ::1] out, int n_threads):
    """``out[n, c] = scale * sum_s adv[s, n'] (1[labels[s, n] = c] - probs[n, c])``

    with ``n' = n`` when ``adv`` has N columns (one advantage per example) and
    ``n' = 0`` when it has one (one advantage per sample).  Sums over ``s`` run
    in order in float64.  Each thread holds the sums of one tile of rows: at most
    ``max(SCORE_SUMS, C)`` of them, and only as many threads as tiles run.
    """
    cdef Py_ssize_t S = labels.shape[0], N = labels.shape[1], C = probs.shape[1]
    cdef bint per_example = adv.shape[1] > 1
    cdef Py_ssize_t rows = NT
    cdef Py_ssize_t ntiles, t, s, n0, m, r, c
    cdef double a
    cdef double *acc
    cdef double *tot
    cdef int *failed = _flag()
    cdef int nt
    if N == 0 or C == 0:
        free(failed)
        return
    rows = min(max(<Py_ssize_t>1, min(rows, SCORE_SUMS // C)), N)
    ntiles = (N + rows - 1) // rows
    nt = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>n_threads, ntiles))
    with nogil, parallel(num_threads=nt):
        acc = <double *> malloc(rows * C * sizeof(double))
        tot = <double *> malloc(rows * sizeof(double))
        for t in prange(ntiles, schedule="static"):
            if acc == NULL or tot == NULL:
                failed[0] = 1
                continue
            n0 = t * rows
            m = min(rows, N - n0)
            for r in range(m * C):
                acc[r] = 0.0
            for r in range(m):
                tot[r] = 0.0
            for s in range(S):
                for r in range(m):
                    a = adv[s, n0 + r] if per_example else adv[s, 0]
                    tot[r] = tot[r] + a
                    acc[r * C + labels[s, n0 + r]] += a
            for r in range(m):
                for c in range(C):
                    out[n0 + r, c] = <floating>(
                        scale * (acc[r * C + c] - probs[n0 + r, c] * tot[r]))
        free(acc)
        free(tot)
    _check_flag(failed)


def row_score(const floating[:, ::1] logits, const int64_t[::1] labels,
              const double[::1] coef, floating[:, ::1] out, int n_threads):
    """``out[r, v] = coef[r] * (1[v = labels[r]] - softmax(logits[r])_v)``.

    The gradient of ``coef[r] * log softmax(logits[r])[labels[r]]`` with
    respect to the logits; rows with ``coef[r] == 0`` are zero.  Softmax in
    float64 with the row maximum subtracted; ``exp`` is the header's
    ``zo_exp_f64`` (not the C library's), so the CUDA kernel gives the same bits.
    """
    cdef Py_ssize_t R = logits.shape[0], V = logits.shape[1]
    cdef Py_ssize_t r, v
    cdef double mx, total, cr
    for r in prange(R, schedule="static", nogil=True, num_threads=n_threads):
        cr = coef[r]
        if cr == 0.0:
            for v in range(V):
                out[r, v] = 0
            continue
        mx = logits[r, 0]
        for v in range(1, V):
            if logits[r, v] > mx:
                mx = logits[r, v]
        total = 0.0
        for v in range(V):
            total = total + zo_exp_f64(<double>logits[r, v] - mx)
        for v in range(V):
            out[r, v] = <floating>(-cr * zo_exp_f64(<double>logits[r, v] - mx) / total)
        out[r, labels[r]] = <floating>(
            cr * (1.0 - zo_exp_f64(<double>logits[r, labels[r]] - mx) / total))
