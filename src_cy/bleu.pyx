"""BLEU kernels: clipped n-gram matches per sentence pair, and scores from them.

Tokens are integer ids; n-grams are found through a per-thread open-addressing
table keyed by a 64-bit hash and confirmed by comparing the tokens, so a hash
collision can never change a count.  Each sentence pair is handled by one
thread, so results do not depend on the number of threads.
"""
from cython.parallel cimport parallel, prange
from libc.math cimport exp, fabs, isfinite, log
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc

from _kernel_util cimport _check_flag, _flag


cdef inline uint64_t _ngram_hash(const int64_t *t, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL
    cdef Py_ssize_t k
    for k in range(n):
        h = (h ^ <uint64_t>t[k]) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 32
    return h


cdef inline bint _same(const int64_t *a, const int64_t *b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        if a[k] != b[k]:
            return False
    return True


def bleu_stats(const int64_t[::1] toks, const int64_t[::1] hyp_start,
               const int64_t[::1] hyp_end, const int64_t[::1] ref_start,
               const int64_t[::1] ref_end, const int64_t[::1] ref_ptr, int max_order,
               Py_ssize_t table_size, int64_t[:, ::1] stats, int n_threads):
    """Per pair ``k``: ``[hyp_len, closest_ref_len, correct_1..N, total_1..N]``.

    Pair ``k`` is the hypothesis ``toks[hyp_start[k]:hyp_end[k]]`` with the
    references ``ref_ptr[k] <= r < ref_ptr[k + 1]``.  ``table_size`` is a power
    of two larger than twice the longest hypothesis.
    """
    cdef Py_ssize_t K = hyp_start.shape[0], S = table_size, mask = table_size - 1
    cdef Py_ssize_t k, n, i, j, r, slot, H, L, used_n, u, z
    cdef int64_t h0, hl, rl, best_diff, best_len, diff, correct, m
    cdef uint64_t hv
    cdef const int64_t *tp = &toks[0] if toks.shape[0] > 0 else NULL
    cdef uint64_t *keys
    cdef int64_t *pos
    cdef int64_t *hcnt
    cdef int64_t *rcnt
    cdef int64_t *rmax
    cdef int64_t *cur
    cdef int64_t *used
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        keys = <uint64_t *> malloc(S * sizeof(uint64_t))
        pos = <int64_t *> malloc(6 * S * sizeof(int64_t))
        hcnt = pos + S
        rcnt = pos + 2 * S
        rmax = pos + 3 * S
        cur = pos + 4 * S
        used = pos + 5 * S
        if keys != NULL and pos != NULL:
            for z in range(S):
                pos[z] = -1
        for k in prange(K, schedule="dynamic"):
            if keys == NULL or pos == NULL:
                failed[0] = 1
                continue
            h0 = hyp_start[k]
            hl = hyp_end[k] - h0
            # closest reference length, ties to the shorter one
            best_diff = -1
            best_len = -1
            for r in range(ref_ptr[k], ref_ptr[k + 1]):
                rl = ref_end[r] - ref_start[r]
                diff = hl - rl if hl >= rl else rl - hl
                if best_diff == -1 or diff < best_diff:
                    best_diff = diff
                    best_len = rl
                elif diff == best_diff and rl < best_len:
                    best_len = rl
            stats[k, 0] = hl
            stats[k, 1] = best_len if best_len >= 0 else 0
            for n in range(1, max_order + 1):
                H = hl - n + 1
                stats[k, 2 + max_order + n - 1] = H if H > 0 else 0
                stats[k, 2 + n - 1] = 0
                if H <= 0:
                    continue
                used_n = 0
                # hypothesis n-grams
                for i in range(H):
                    hv = _ngram_hash(tp + h0 + i, n)
                    slot = <Py_ssize_t>(hv & <uint64_t>mask)
                    while True:
                        if pos[slot] < 0:
                            pos[slot] = i
                            keys[slot] = hv
                            hcnt[slot] = 1
                            rcnt[slot] = 0
                            rmax[slot] = 0
                            cur[slot] = -1
                            used[used_n] = slot
                            used_n = used_n + 1
                            break
                        if keys[slot] == hv and _same(tp + h0 + pos[slot], tp + h0 + i, n):
                            hcnt[slot] += 1
                            break
                        slot = (slot + 1) & mask
                # reference n-grams: counts per reference, maximum over references
                for r in range(ref_ptr[k], ref_ptr[k + 1]):
                    L = ref_end[r] - ref_start[r] - n + 1
                    for j in range(L):
                        hv = _ngram_hash(tp + ref_start[r] + j, n)
                        slot = <Py_ssize_t>(hv & <uint64_t>mask)
                        while pos[slot] >= 0:
                            if keys[slot] == hv and _same(tp + h0 + pos[slot],
                                                           tp + ref_start[r] + j, n):
                                if cur[slot] != r:
                                    if rcnt[slot] > rmax[slot]:
                                        rmax[slot] = rcnt[slot]
                                    rcnt[slot] = 0
                                    cur[slot] = r
                                rcnt[slot] += 1
                                break
                            slot = (slot + 1) & mask
                correct = 0
                for u in range(used_n):
                    slot = used[u]
                    m = rcnt[slot] if rcnt[slot] > rmax[slot] else rmax[slot]
                    correct = correct + (hcnt[slot] if hcnt[slot] < m else m)
                    pos[slot] = -1
                stats[k, 2 + n - 1] = correct
        free(keys)
        free(pos)
    _check_flag(failed)


cdef inline double _sum_logs(const double *v, int n, bint compensated) noexcept nogil:
    """Python's ``sum()`` of floats starting from the int 0: plain left-to-right
    additions before Python 3.12, Neumaier's compensated sum from 3.12 on."""
    cdef double s, c, t, x
    cdef int i
    if n == 0:
        return 0.0
    s = v[0]
    if not compensated:
        for i in range(1, n):
            s = s + v[i]
        return s
    c = 0.0
    for i in range(1, n):
        x = v[i]
        t = s + x
        if fabs(s) >= fabs(x):
            c = c + ((s - t) + x)
        else:
            c = c + ((x - t) + s)
        s = t
    if c != 0.0 and isfinite(c):
        s = s + c
    return s


def bleu_scores(const double[:, ::1] stats, int max_order, int smooth, double smooth_value,
                bint effective_order, bint compensated, double[::1] score,
                double[:, ::1] precisions, double[::1] bp_out, int n_threads):
    """BLEU (0-100) from ``[sys_len, ref_len, correct_1..N, total_1..N]`` rows.

    ``smooth``: 0 none, 1 floor, 2 add-k, 3 exp (Chen and Cherry 2014).  The
    arithmetic is that of sacreBLEU's ``compute_bleu``, operation by operation.
    """
    cdef Py_ssize_t K = stats.shape[0], k
    cdef int n, eff, any_correct, zero_prec
    cdef double sys_len, ref_len, bp, mteval, c, t, acc
    cdef double *logs
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        logs = <double *> malloc((max_order + 1) * sizeof(double))
        for k in prange(K, schedule="static"):
            if logs == NULL:
                failed[0] = 1
                continue
            sys_len = stats[k, 0]
            ref_len = stats[k, 1]
            bp = 1.0
            if sys_len < ref_len:
                bp = exp(1.0 - ref_len / sys_len) if sys_len > 0 else 0.0
            bp_out[k] = bp
            for n in range(max_order):
                precisions[k, n] = 0.0
            any_correct = 0
            for n in range(max_order):
                if stats[k, 2 + n] != 0:
                    any_correct = 1
            if not any_correct:
                score[k] = 0.0
                continue
            mteval = 1.0
            eff = max_order
            for n in range(1, max_order + 1):
                c = stats[k, 2 + n - 1]
                t = stats[k, 2 + max_order + n - 1]
                if smooth == 2 and n > 1:
                    c = c + smooth_value
                    t = t + smooth_value
                if t == 0:
                    break
                if effective_order:
                    eff = n
                if c == 0:
                    if smooth == 3:
                        mteval = mteval * 2
                        precisions[k, n - 1] = 100.0 / (mteval * t)
                    elif smooth == 1:
                        precisions[k, n - 1] = 100.0 * smooth_value / t
                else:
                    precisions[k, n - 1] = 100.0 * c / t
            zero_prec = 0
            for n in range(eff):
                if precisions[k, n] == 0.0:
                    zero_prec = 1
                else:
                    logs[n] = log(precisions[k, n])
            if zero_prec:
                # sacreBLEU's floored log (-9999999999) makes the exponential 0
                score[k] = bp * 0.0
            else:
                acc = _sum_logs(logs, eff, compensated)
                score[k] = bp * exp(acc / eff)
        free(logs)
    _check_flag(failed)
