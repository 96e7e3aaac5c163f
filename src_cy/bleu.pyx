"""BLEU kernels: clipped n-gram matches per sentence pair, and scores from them.

Tokens are integer ids; n-grams are found through a per-thread open-addressing
table keyed by a 64-bit hash and confirmed by comparing the tokens, so a hash
collision can never change a count.  Each sentence pair is handled by one
thread, so results do not depend on the number of threads.
"""
from cython.parallel cimport parallel, prange
from libc.math cimport exp, fabs, isfinite, log
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc

from libc.string cimport memcmp

import numpy as np

from _kernel_util cimport _check_flag, _flag


cdef inline uint64_t _mix(uint64_t h, int64_t t) noexcept nogil:
    """Extend an n-gram hash by one token."""
    h = (h ^ <uint64_t>t) * 0xFF51AFD7ED558CCDULL
    return h ^ (h >> 32)


cdef inline bint _same(const int64_t *a, const int64_t *b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        if a[k] != b[k]:
            return False
    return True


def bleu_stats(const int64_t[::1] toks, const int64_t[::1] hyp_start,
               const int64_t[::1] hyp_end, const int64_t[::1] ref_start,
               const int64_t[::1] ref_end, const int64_t[::1] ref_ptr, int max_order,
               Py_ssize_t table_size, Py_ssize_t scratch, int64_t[:, ::1] stats,
               int n_threads):
    """Per pair ``k``: ``[hyp_len, closest_ref_len, correct_1..N, total_1..N]``.

    Pair ``k`` is the hypothesis ``toks[hyp_start[k]:hyp_end[k]]`` with the
    references ``ref_ptr[k] <= r < ref_ptr[k + 1]``.  ``table_size`` is a power
    of two larger than twice the longest hypothesis; ``scratch`` at least the
    tokens of the longest pair (hypothesis plus its references).

    The hash of the n-gram at each position is extended by one token per
    order (a running hash), and every hash match is confirmed on the tokens.
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
    cdef uint64_t *run
    cdef Py_ssize_t roff
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        run = <uint64_t *> malloc((scratch + 1) * sizeof(uint64_t))
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
            if keys == NULL or pos == NULL or run == NULL:
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
            # running hashes: run[0:hl] for the hypothesis, then each reference
            roff = 0
            for i in range(hl):
                run[i] = 0x9E3779B97F4A7C15ULL
            roff = hl
            for r in range(ref_ptr[k], ref_ptr[k + 1]):
                for j in range(ref_end[r] - ref_start[r]):
                    run[roff + j] = 0x9E3779B97F4A7C15ULL
                roff = roff + (ref_end[r] - ref_start[r])
            for n in range(1, max_order + 1):
                H = hl - n + 1
                stats[k, 2 + max_order + n - 1] = H if H > 0 else 0
                stats[k, 2 + n - 1] = 0
                if H <= 0:
                    continue
                # extend every running hash by the n-th token of its n-gram
                for i in range(H):
                    run[i] = _mix(run[i], tp[h0 + i + n - 1])
                roff = hl
                for r in range(ref_ptr[k], ref_ptr[k + 1]):
                    L = ref_end[r] - ref_start[r] - n + 1
                    for j in range(L):
                        run[roff + j] = _mix(run[roff + j], tp[ref_start[r] + j + n - 1])
                    roff = roff + (ref_end[r] - ref_start[r])
                used_n = 0
                # hypothesis n-grams
                for i in range(H):
                    hv = run[i]
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
                roff = hl
                for r in range(ref_ptr[k], ref_ptr[k + 1]):
                    L = ref_end[r] - ref_start[r] - n + 1
                    for j in range(L):
                        hv = run[roff + j]
                        slot = <Py_ssize_t>(hv & <uint64_t>mask)
                        while pos[slot] >= 0:
                            if keys[slot] == hv and _same(
                                    tp + h0 + pos[slot], tp + ref_start[r] + j, n):
                                if cur[slot] != r:
                                    if rcnt[slot] > rmax[slot]:
                                        rmax[slot] = rcnt[slot]
                                    rcnt[slot] = 0
                                    cur[slot] = r
                                rcnt[slot] += 1
                                break
                            slot = (slot + 1) & mask
                    roff = roff + (ref_end[r] - ref_start[r])
                correct = 0
                for u in range(used_n):
                    slot = used[u]
                    m = rcnt[slot] if rcnt[slot] > rmax[slot] else rmax[slot]
                    correct = correct + (hcnt[slot] if hcnt[slot] < m else m)
                    pos[slot] = -1
                stats[k, 2 + n - 1] = correct
        free(keys)
        free(pos)
        free(run)
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


cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL
    bint PyUnicode_IS_ASCII(object s)


cdef inline bint _is_ascii_space(unsigned char c) noexcept nogil:
    # the ASCII characters str.split() splits on (str.isspace() is True for them)
    return c == 32 or (9 <= c <= 13) or (28 <= c <= 31)


cdef inline uint64_t _bytes_hash(const char *p, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 0xCBF29CE484222325ULL
    cdef Py_ssize_t k
    for k in range(n):
        h = (h ^ <unsigned char>p[k]) * 0x100000001B3ULL
    return h ^ (h >> 29)


cdef class _WordTable:
    """Exact token -> id table over byte strings that stay alive meanwhile."""
    cdef uint64_t *hashes
    cdef const char **ptrs
    cdef Py_ssize_t *lens
    cdef int64_t *ids
    cdef Py_ssize_t cap, n

    def __cinit__(self):
        self.cap = 0
        self.n = 0
        self._grow(1 << 12)

    def __dealloc__(self):
        free(self.hashes)
        free(self.ptrs)
        free(self.lens)
        free(self.ids)

    cdef int _grow(self, Py_ssize_t cap) except -1:
        cdef uint64_t *h = <uint64_t *> malloc(cap * sizeof(uint64_t))
        cdef const char **p = <const char **> malloc(cap * sizeof(char *))
        cdef Py_ssize_t *ln = <Py_ssize_t *> malloc(cap * sizeof(Py_ssize_t))
        cdef int64_t *d = <int64_t *> malloc(cap * sizeof(int64_t))
        cdef Py_ssize_t i, s
        if h == NULL or p == NULL or ln == NULL or d == NULL:
            free(h)
            free(p)
            free(ln)
            free(d)
            raise MemoryError()
        for i in range(cap):
            d[i] = -1
        for i in range(self.cap):
            if self.ids[i] >= 0:
                s = <Py_ssize_t>(self.hashes[i] & <uint64_t>(cap - 1))
                while d[s] >= 0:
                    s = (s + 1) & (cap - 1)
                h[s] = self.hashes[i]
                p[s] = self.ptrs[i]
                ln[s] = self.lens[i]
                d[s] = self.ids[i]
        free(self.hashes)
        free(self.ptrs)
        free(self.lens)
        free(self.ids)
        self.hashes, self.ptrs, self.lens, self.ids, self.cap = h, p, ln, d, cap
        return 0

    cdef int64_t get(self, const char *p, Py_ssize_t n) except -2:
        cdef uint64_t h = _bytes_hash(p, n)
        cdef Py_ssize_t s
        if 2 * (self.n + 1) > self.cap:
            self._grow(2 * self.cap)
        s = <Py_ssize_t>(h & <uint64_t>(self.cap - 1))
        while self.ids[s] >= 0:
            if (self.hashes[s] == h and self.lens[s] == n
                    and memcmp(self.ptrs[s], p, n) == 0):
                return self.ids[s]
            s = (s + 1) & (self.cap - 1)
        self.hashes[s] = h
        self.ptrs[s] = p
        self.lens[s] = n
        self.ids[s] = self.n
        self.n += 1
        return self.ids[s]


def encode_words(list lines):
    """Whitespace tokens of each string -> (ids int64, tokens per line int64).

    Splits exactly as ``str.split()``: ASCII strings in C, others through
    Python; equal tokens get equal ids (compared byte for byte).
    """
    cdef Py_ssize_t n = len(lines), i, j, start, size, total = 0
    cdef const char *buf
    cdef object line, tok
    cdef _WordTable table = _WordTable()
    cdef list keep = []
    for line in lines:
        total += len(<str>line)
    ids_arr = np.empty(total // 2 + n + 1, dtype=np.int64)
    lens_arr = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] ids = ids_arr
    cdef int64_t[::1] lens = lens_arr
    cdef Py_ssize_t k = 0, before
    for i in range(n):
        line = lines[i]
        before = k
        if PyUnicode_IS_ASCII(line):
            buf = PyUnicode_AsUTF8AndSize(line, &size)
            j = 0
            while j < size:
                while j < size and _is_ascii_space(<unsigned char>buf[j]):
                    j += 1
                if j >= size:
                    break
                start = j
                while j < size and not _is_ascii_space(<unsigned char>buf[j]):
                    j += 1
                ids[k] = table.get(buf + start, j - start)
                k += 1
        else:
            for tok in (<str>line).split():
                keep.append(tok)
                buf = PyUnicode_AsUTF8AndSize(tok, &size)
                ids[k] = table.get(buf, size)
                k += 1
        lens[i] = k - before
    return ids_arr[:k], lens_arr
