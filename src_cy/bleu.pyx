"""BLEU kernels: clipped n-gram matches per sentence pair, and scores from them.

Tokens are integer ids.  Within a sentence pair every n-gram gets an exact id
built from the id of its (n-1)-gram prefix and its last token, through a
per-thread open-addressing table keyed by that pair of integers: two n-grams
have the same id exactly when their tokens are equal, so counts are exact (no
hash can change them) and each order costs one table step per position
instead of a comparison of n tokens.  Each sentence pair is handled by one
thread, so results do not depend on the number of threads.
"""
from cython.parallel cimport parallel, prange
from libc.math cimport exp, fabs, isfinite, log
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc

from libc.string cimport memcmp

import numpy as np

from _kernel_util cimport _check_flag, _flag

# ids of positions: a table slot (>= 0), the empty prefix of a 1-gram, or a dead
# position (an n-gram whose prefix occurs in no reference, or, for a reference,
# in the hypothesis: it cannot match, nor can any longer n-gram starting there)
cdef enum:
    _ROOT = -2
    _DEAD = -1


cdef struct _Gram:
    # a slot of the n-gram table: key (prefix id, last token), then the counts
    int64_t a
    int64_t b
    int64_t hcnt
    int64_t rcnt
    int64_t rmax
    int64_t cur


cdef inline Py_ssize_t _slot_of(int64_t a, int64_t b, Py_ssize_t mask) noexcept nogil:
    """Start slot of the key (prefix id, last token)."""
    cdef uint64_t h = <uint64_t>a * 0x9E3779B97F4A7C15ULL + <uint64_t>b
    h = (h ^ (h >> 32)) * 0xD6E8FEB86659FD93ULL
    return <Py_ssize_t>((h ^ (h >> 32)) & <uint64_t>mask)


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

    Order ``n`` keys each hypothesis n-gram by (id of its (n-1)-gram, last
    token) and looks the reference n-grams up the same way; the slot found is
    the n-gram's id at order ``n + 1``.  Work per pair: O(tokens x max_order).
    """
    cdef Py_ssize_t K = hyp_start.shape[0], S = table_size, mask = table_size - 1
    cdef Py_ssize_t k, n, i, j, r, slot, H, L, used_n, u, z, roff, p, alive
    cdef int64_t h0, hl, rl, best_diff, best_len, diff, correct, m, a, b
    cdef const int64_t *tp = &toks[0] if toks.shape[0] > 0 else NULL
    cdef int64_t *ids
    cdef _Gram *tab
    cdef _Gram *g
    cdef int64_t *used
    cdef int *failed = _flag()
    with nogil, parallel(num_threads=n_threads):
        ids = <int64_t *> malloc((scratch + 1) * sizeof(int64_t))
        tab = <_Gram *> malloc(S * sizeof(_Gram))
        used = <int64_t *> malloc(S * sizeof(int64_t))
        if tab != NULL:
            for z in range(S):
                tab[z].a = _DEAD  # an empty slot
        for k in prange(K, schedule="dynamic"):
            if tab == NULL or used == NULL or ids == NULL:
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
            # ids[0:hl] for the hypothesis positions, then each reference's
            p = hl
            for r in range(ref_ptr[k], ref_ptr[k + 1]):
                p = p + (ref_end[r] - ref_start[r])
            for i in range(p):
                ids[i] = _ROOT
            alive = hl
            for n in range(1, max_order + 1):
                H = hl - n + 1
                stats[k, 2 + max_order + n - 1] = H if H > 0 else 0
                stats[k, 2 + n - 1] = 0
                if H <= 0 or alive == 0:
                    continue
                used_n = 0
                # hypothesis n-grams
                for i in range(H):
                    a = ids[i]
                    if a == _DEAD:
                        continue
                    b = tp[h0 + i + n - 1]
                    slot = _slot_of(a, b, mask)
                    while True:
                        g = &tab[slot]
                        if g.a == _DEAD:
                            g.a = a
                            g.b = b
                            g.hcnt = 1
                            g.rcnt = 0
                            g.rmax = 0
                            g.cur = -1
                            used[used_n] = slot
                            used_n = used_n + 1
                            break
                        if g.a == a and g.b == b:
                            g.hcnt += 1
                            break
                        slot = (slot + 1) & mask
                    ids[i] = slot
                # reference n-grams: counts per reference, maximum over references
                roff = hl
                for r in range(ref_ptr[k], ref_ptr[k + 1]):
                    L = ref_end[r] - ref_start[r] - n + 1
                    for j in range(L):
                        a = ids[roff + j]
                        if a == _DEAD:
                            continue
                        b = tp[ref_start[r] + j + n - 1]
                        slot = _slot_of(a, b, mask)
                        g = &tab[slot]
                        while g.a != _DEAD and (g.a != a or g.b != b):
                            slot = (slot + 1) & mask
                            g = &tab[slot]
                        if g.a == _DEAD:
                            ids[roff + j] = _DEAD
                            continue
                        if g.cur != r:
                            if g.rcnt > g.rmax:
                                g.rmax = g.rcnt
                            g.rcnt = 0
                            g.cur = r
                        g.rcnt += 1
                        ids[roff + j] = slot
                    roff = roff + (ref_end[r] - ref_start[r])
                correct = 0
                for u in range(used_n):
                    g = &tab[used[u]]
                    if g.rcnt > g.rmax:
                        g.rmax = g.rcnt
                    m = g.rmax
                    correct = correct + (g.hcnt if g.hcnt < m else m)
                stats[k, 2 + n - 1] = correct
                # hypothesis n-grams found in no reference end here
                alive = 0
                for i in range(H):
                    if ids[i] != _DEAD:
                        if tab[ids[i]].rmax == 0:
                            ids[i] = _DEAD
                        else:
                            alive = alive + 1
                for u in range(used_n):
                    tab[used[u]].a = _DEAD
        free(tab)
        free(used)
        free(ids)
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
    char *PyBytes_AS_STRING(object b)


cdef inline bint _is_ascii_space(unsigned char c) noexcept nogil:
    # the ASCII characters str.split() splits on (str.isspace() is True for them)
    return c == 32 or (9 <= c <= 13) or (28 <= c <= 31)


cdef struct _Words:
    # open addressing over slots (hash, id), and the words by id
    uint64_t *slot_hash
    int64_t *slot_id
    Py_ssize_t cap
    Py_ssize_t n
    const char **word
    Py_ssize_t *length
    uint64_t *hash


cdef void _words_free(_Words *t) noexcept nogil:
    free(t.slot_hash)
    free(t.slot_id)
    free(t.word)
    free(t.length)
    free(t.hash)
    t.slot_hash = NULL
    t.slot_id = NULL
    t.word = NULL
    t.length = NULL
    t.hash = NULL
    t.cap = 0
    t.n = 0


cdef int _words_resize(_Words *t, Py_ssize_t cap) noexcept nogil:
    """Rehash into ``cap`` slots (a power of two); -1 if out of memory."""
    cdef uint64_t *sh = <uint64_t *> malloc(cap * sizeof(uint64_t))
    cdef int64_t *sid = <int64_t *> malloc(cap * sizeof(int64_t))
    cdef const char **w = <const char **> malloc((cap // 2) * sizeof(char *))
    cdef Py_ssize_t *ln = <Py_ssize_t *> malloc((cap // 2) * sizeof(Py_ssize_t))
    cdef uint64_t *hs = <uint64_t *> malloc((cap // 2) * sizeof(uint64_t))
    cdef Py_ssize_t i, s
    if sh == NULL or sid == NULL or w == NULL or ln == NULL or hs == NULL:
        free(sh)
        free(sid)
        free(w)
        free(ln)
        free(hs)
        return -1
    for s in range(cap):
        sid[s] = -1
    for i in range(t.n):
        w[i] = t.word[i]
        ln[i] = t.length[i]
        hs[i] = t.hash[i]
        s = <Py_ssize_t>(hs[i] & <uint64_t>(cap - 1))
        while sid[s] >= 0:
            s = (s + 1) & (cap - 1)
        sh[s] = hs[i]
        sid[s] = i
    free(t.slot_hash)
    free(t.slot_id)
    free(t.word)
    free(t.length)
    free(t.hash)
    t.slot_hash, t.slot_id, t.word, t.length, t.hash, t.cap = sh, sid, w, ln, hs, cap
    return 0


cdef int64_t _words_get(_Words *t, const char *p, Py_ssize_t n, uint64_t h) noexcept nogil:
    """The id of the word ``p[:n]`` (hash ``h``), added if new; -1 if out of memory."""
    cdef Py_ssize_t s
    cdef int64_t i
    if 2 * (t.n + 1) > t.cap:
        if _words_resize(t, 4096 if t.cap == 0 else 2 * t.cap) < 0:
            return -1
    s = <Py_ssize_t>(h & <uint64_t>(t.cap - 1))
    while t.slot_id[s] >= 0:
        i = t.slot_id[s]
        if t.slot_hash[s] == h and t.length[i] == n and memcmp(t.word[i], p, n) == 0:
            return i
        s = (s + 1) & (t.cap - 1)
    i = t.n
    t.slot_hash[s] = h
    t.slot_id[s] = i
    t.word[i] = p
    t.length[i] = n
    t.hash[i] = h
    t.n += 1
    return i


cdef Py_ssize_t _encode_line(const char *buf, Py_ssize_t size, _Words *t,
                             int64_t *out) noexcept nogil:
    """Split on ASCII whitespace, write the word ids; the count, or -1 if out of memory."""
    cdef Py_ssize_t j = 0, start, k = 0
    cdef uint64_t h
    cdef int64_t i
    while j < size:
        while j < size and _is_ascii_space(<unsigned char>buf[j]):
            j += 1
        if j >= size:
            break
        start = j
        h = 0xCBF29CE484222325ULL  # FNV-1a over the bytes, during the scan
        while j < size and not _is_ascii_space(<unsigned char>buf[j]):
            h = (h ^ <unsigned char>buf[j]) * 0x100000001B3ULL
            j += 1
        i = _words_get(t, buf + start, j - start, h ^ (h >> 29))
        if i < 0:
            return -1
        out[k] = i
        k += 1
    return k


def encode_words(list lines, int n_threads=1):
    """Whitespace tokens of each string -> (ids int64, tokens per line int64).

    Splits exactly as ``str.split()``; equal tokens get equal ids (compared
    byte for byte), numbered in order of first occurrence.  The lines are cut
    into one contiguous range per thread, each with its own table; the tables
    are then merged in range order, which gives the same first-occurrence ids
    as one table would, whatever the thread count.
    """
    cdef Py_ssize_t n = len(lines), i, size, bound = 0
    cdef object line, b
    cdef list keep = []  # UTF-8 copies of the non-ASCII lines, alive until the end
    cdef int T = max(1, min(n_threads, <int>(n // 512)))
    cdef int t
    cdef const char **bufs = <const char **> malloc((n + 1) * sizeof(char *))
    cdef Py_ssize_t *sizes = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *first = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef _Words *tabs = <_Words *> calloc(T, sizeof(_Words))
    cdef int64_t **maps = <int64_t **> calloc(T, sizeof(int64_t *))
    cdef Py_ssize_t *counts = <Py_ssize_t *> calloc(T + 1, sizeof(Py_ssize_t))
    cdef int *failed = NULL
    try:
        if bufs == NULL or sizes == NULL or first == NULL or tabs == NULL or maps == NULL \
                or counts == NULL:
            raise MemoryError()
        for i in range(n):
            line = lines[i]
            if not isinstance(line, str):
                raise TypeError(f"encode_words: line {i} must be a str, not "
                                f"{type(line).__name__}")
            if PyUnicode_IS_ASCII(line):
                bufs[i] = PyUnicode_AsUTF8AndSize(line, &size)
            else:
                # str.split() knows the non-ASCII spaces; rejoin its words with ASCII
                # spaces (UTF-8 continuation bytes are never ASCII)
                b = " ".join((<str>line).split()).encode("utf-8", "surrogatepass")
                keep.append(b)
                bufs[i] = PyBytes_AS_STRING(b)
                size = len(b)
            sizes[i] = size
            first[i] = bound  # where line i may start writing: at most (size + 1) // 2 words
            bound += (size + 1) // 2
        first[n] = bound
        tmp_arr = np.empty(bound, dtype=np.int64)
        lens_arr = np.empty(n, dtype=np.int64)
        failed = _flag()
        _encode_ranges(bufs, sizes, first, n, tabs, counts, tmp_arr, lens_arr, T, failed)
        _check_flag(failed)
        failed = NULL
        return _merge_ranges(tabs, maps, counts, first, n, T, tmp_arr, lens_arr)
    finally:
        if failed != NULL:
            free(failed)
        if tabs != NULL:
            for t in range(T):
                _words_free(&tabs[t])
        if maps != NULL:
            for t in range(T):
                free(maps[t])
        free(bufs)
        free(sizes)
        free(first)
        free(tabs)
        free(maps)
        free(counts)


cdef void _encode_ranges(const char **bufs, Py_ssize_t *sizes, Py_ssize_t *first,
                         Py_ssize_t n, _Words *tabs, Py_ssize_t *counts,
                         int64_t[::1] tmp, int64_t[::1] lens, int T, int *failed):
    """Range ``t`` (lines ``n*t//T`` to ``n*(t+1)//T``) encoded with table ``t``."""
    cdef int t
    cdef Py_ssize_t i, k, lo, hi
    cdef int64_t *out = &tmp[0] if tmp.shape[0] > 0 else NULL
    with nogil, parallel(num_threads=T):
        for t in prange(T, schedule="static", chunksize=1):
            lo = n * t // T
            hi = n * (t + 1) // T
            for i in range(lo, hi):
                k = _encode_line(bufs[i], sizes[i], &tabs[t], out + first[i]) \
                    if not failed[0] else -1
                if k < 0:
                    failed[0] = 1
                    k = 0
                lens[i] = k


cdef object _merge_ranges(_Words *tabs, int64_t **maps, Py_ssize_t *counts, Py_ssize_t *first,
                          Py_ssize_t n, int T, int64_t[::1] tmp, int64_t[::1] lens):
    """One table: range 0's ids stand, later ranges' words are looked up (or added) in
    range order; then every line's ids are mapped and packed."""
    cdef int t
    cdef Py_ssize_t i, w, pos
    cdef int64_t g
    cdef int bad = 0
    cdef Py_ssize_t *start = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    if start == NULL:
        raise MemoryError()
    try:
        with nogil:
            for t in range(1, T):
                maps[t] = <int64_t *> malloc((tabs[t].n + 1) * sizeof(int64_t))
                if maps[t] == NULL:
                    bad = 1
                    break
                for w in range(tabs[t].n):
                    g = _words_get(&tabs[0], tabs[t].word[w], tabs[t].length[w],
                                   tabs[t].hash[w])
                    if g < 0:
                        bad = 1
                        break
                    maps[t][w] = g
                if bad:
                    break
            pos = 0
            for i in range(n):
                start[i] = pos
                pos += lens[i]
            start[n] = pos
        if bad:
            raise MemoryError()
        ids_arr = np.empty(start[n], dtype=np.int64)
        _pack_ranges(maps, start, first, n, T, tmp, ids_arr)
        return ids_arr, np.asarray(lens)
    finally:
        free(start)


cdef void _pack_ranges(int64_t **maps, Py_ssize_t *start, Py_ssize_t *first, Py_ssize_t n,
                       int T, const int64_t[::1] tmp, int64_t[::1] ids):
    cdef int t
    cdef Py_ssize_t i, j, lo, hi, m
    with nogil, parallel(num_threads=T):
        for t in prange(T, schedule="static", chunksize=1):
            lo = n * t // T
            hi = n * (t + 1) // T
            for i in range(lo, hi):
                m = start[i + 1] - start[i]
                if t == 0:
                    for j in range(m):
                        ids[start[i] + j] = tmp[first[i] + j]
                else:
                    for j in range(m):
                        ids[start[i] + j] = maps[t][tmp[first[i] + j]]
