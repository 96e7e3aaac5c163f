"""Plain NumPy twins of zoopt's compiled kernels, written to be read.

Each function repeats, operation by operation and in the same precision, what
``src_cy/zoopt_streams.h`` and ``src_cy/streams.pyx`` compute, so the tests can
compare the kernels with these bit for bit.  The library never imports this
module.
"""

from __future__ import annotations

import math

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)

KIND = {"normal": 1, "rademacher": 2, "sphere": 1, "lowrank": 6}


# --------------------------------------------------------------------------
# Philox4x32 (Salmon et al. 2011)

def philox4x32(ctr, key, rounds=10):
    """ctr (n, 4) uint32, key (n, 2) uint32 -> (n, 4) uint32."""
    ctr = np.asarray(ctr, dtype=np.uint32)
    key = np.asarray(key, dtype=np.uint32)
    x0, x1, x2, x3 = (ctr[:, i].astype(np.uint64) for i in range(4))
    k0, k1 = key[:, 0].copy(), key[:, 1].copy()
    for r in range(rounds):
        if r > 0:
            k0 = k0 + W0  # uint32 wrap-around
            k1 = k1 + W1
        p0 = M0 * x0
        p1 = M1 * x2
        y0 = (p1 >> np.uint64(32)) ^ x1 ^ k0.astype(np.uint64)
        y2 = (p0 >> np.uint64(32)) ^ x3 ^ k1.astype(np.uint64)
        x1 = p1 & MASK32
        x3 = p0 & MASK32
        x0, x2 = y0, y2
    return np.stack([x0, x1, x2, x3], axis=1).astype(np.uint32)


def counter_words(step, kind):
    return step & 0xFFFFFFFF, (kind << 24) | ((step >> 32) & 0xFFFFFF)


def block_counters(first, n_blocks, c1, c2, c3):
    """Counters of blocks first .. first + n_blocks - 1: bits 0..31 of the block in
    word 0, bits 32..35 in bits 28..31 of word 3 (above the kind)."""
    b = np.arange(first, first + n_blocks, dtype=np.uint64)
    ctr = np.zeros((n_blocks, 4), dtype=np.uint32)
    ctr[:, 0] = (b & MASK32).astype(np.uint32)
    ctr[:, 1] = c1
    ctr[:, 2] = c2
    ctr[:, 3] = np.uint32(c3) | ((b >> np.uint64(32)) << np.uint64(28)).astype(np.uint32)
    return ctr


def blocks(key, direction, step, kind, n_blocks, first=0):
    """The Philox words of blocks first .. first + n_blocks - 1 of one direction."""
    c2, c3 = counter_words(step, kind)
    ctr = block_counters(first, n_blocks, direction, c2, c3)
    keys = np.broadcast_to(np.asarray(key, dtype=np.uint32), (n_blocks, 2))
    return philox4x32(ctr, keys)


# --------------------------------------------------------------------------
# Transforms (same operations, same order, same precision as the header)

def _f32(v):
    return np.float32(v)


def log_f32(x):
    x = np.asarray(x, dtype=np.float32)
    ix = x.view(np.uint32)
    e = (ix >> np.uint32(23)).astype(np.int32) - np.int32(127)
    mb = (ix & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000)
    big = (mb > np.uint32(0x3FB504F3)).astype(np.uint32)
    mb = mb - (big << np.uint32(23))
    e = e + big.astype(np.int32)
    m = mb.view(np.float32)
    one = _f32(1.0)
    s = (m - one) / (m + one)
    z = s * s
    p = one + z * (_f32(1.0 / 3.0) + z * (_f32(1.0 / 5.0) + z * (_f32(1.0 / 7.0)
                                                                  + z * _f32(1.0 / 9.0))))
    fe = e.astype(np.float32)
    return fe * _f32(0.693145751953125) + (fe * _f32(1.428606765330187e-06) + _f32(2.0) * s * p)


def log_f64(x):
    x = np.asarray(x, dtype=np.float64)
    ix = x.view(np.uint64)
    e = (ix >> np.uint64(52)).astype(np.int32) - np.int32(1023)
    mb = (ix & np.uint64(0x000FFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000)
    big = (mb > np.uint64(0x3FF6A09E667F3BCC)).astype(np.uint64)
    mb = mb - (big << np.uint64(52))
    e = e + big.astype(np.int32)
    m = mb.view(np.float64)
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = np.full_like(z, 1.0 / 23.0)
    for k in (21, 19, 17, 15, 13, 11, 9, 7, 5, 3):
        p = 1.0 / k + z * p
    fe = e.astype(np.float64)
    return fe * 6.93147180369123816490e-01 + (
        fe * 1.90821492927058770002e-10 + 2.0 * s + 2.0 * s * (z * p))


def _rotate(cs, sn, q, bits, uint):
    r = q.astype(uint) & uint(3)
    swap = (uint(0) - (r & uint(1))).astype(uint)
    bc, bs = cs.view(uint), sn.view(uint)
    oc = (bs & swap) | (bc & ~swap)
    os_ = (bc & swap) | (bs & ~swap)
    oc = oc ^ (((r ^ (r >> uint(1))) & uint(1)) << uint(bits - 1))
    os_ = os_ ^ ((r >> uint(1)) << uint(bits - 1))
    return oc.view(cs.dtype), os_.view(cs.dtype)


def cossin2pi_f32(t):
    t = np.asarray(t, dtype=np.float32)
    q = (t * _f32(4.0) + _f32(0.5)).astype(np.int32)
    y = t - q.astype(np.float32) * _f32(0.25)
    a = y * _f32(6.28318530717958647692)
    a2 = a * a
    sn = a * (_f32(1.0) + a2 * (_f32(-1.0 / 6.0) + a2 * (_f32(1.0 / 120.0) + a2 * (
        _f32(-1.0 / 5040.0) + a2 * _f32(1.0 / 362880.0)))))
    cs = _f32(1.0) + a2 * (_f32(-0.5) + a2 * (_f32(1.0 / 24.0) + a2 * (_f32(-1.0 / 720.0) + a2 * (
        _f32(1.0 / 40320.0) + a2 * _f32(-1.0 / 3628800.0)))))
    return _rotate(cs, sn, q, 32, np.uint32)


def cossin2pi_f64(t):
    t = np.asarray(t, dtype=np.float64)
    q = (t * 4.0 + 0.5).astype(np.int32)
    y = t - q.astype(np.float64) * 0.25
    a = y * 6.28318530717958647692
    a2 = a * a
    ps = np.full_like(a, 1.0 / 355687428096000.0)
    for c in (-1.0 / 1307674368000.0, 1.0 / 6227020800.0, -1.0 / 39916800.0,
              1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0):
        ps = c + a2 * ps
    sn = a + a * (a2 * ps)
    pc = np.full_like(a, -1.0 / 6402373705728000.0)
    for c in (1.0 / 20922789888000.0, -1.0 / 87178291200.0, 1.0 / 479001600.0,
              -1.0 / 3628800.0, 1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0, -0.5):
        pc = c + a2 * pc
    cs = 1.0 + a2 * pc
    return _rotate(cs, sn, q, 64, np.uint64)


def u01_f32(w):
    w = np.asarray(w, dtype=np.uint32)
    k = ((w >> np.uint32(9)) << np.uint32(1)) | np.uint32(1)
    return k.astype(np.int32).astype(np.float32) * _f32(5.9604644775390625e-08)


def u01_f64(hi, lo):
    k = ((hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)) >> np.uint64(12)
    return (np.uint64(0x3FF0000000000000) | k).view(np.float64) - (1.0 - 2.0 ** -53)


def box_muller_f32(wu, wt):
    u, t = u01_f32(wu), u01_f32(wt)
    r = np.sqrt(_f32(-2.0) * log_f32(u))
    c, s = cossin2pi_f32(t)
    return r * c, r * s


def box_muller_f64(w0, w1, w2, w3):
    u, t = u01_f64(w0, w1), u01_f64(w2, w3)
    r = np.sqrt(-2.0 * log_f64(u))
    c, s = cossin2pi_f64(t)
    return r * c, r * s


# --------------------------------------------------------------------------
# One direction, all its coordinates

def direction(key, i, d, *, dist="normal", step=0, dtype=np.float64):
    """Unscaled direction i: normal or Rademacher coordinates 0 .. d - 1."""
    dtype = np.dtype(dtype)
    kind = KIND[dist]
    if dist == "rademacher":
        w = blocks(key, i, step, kind, -(-d // 128))  # (nb, 4)
        j = np.arange(d)
        word = w[j // 128, (j % 128) // 32]
        bit = (word >> (j % 32).astype(np.uint32)) & np.uint32(1)
        return (1 - 2 * bit.astype(np.int64)).astype(dtype)
    if dtype == np.float32:
        w = blocks(key, i, step, kind, -(-d // 4))
        z0, z1 = box_muller_f32(w[:, 0], w[:, 1])
        z2, z3 = box_muller_f32(w[:, 2], w[:, 3])
        return np.stack([z0, z1, z2, z3], axis=1).ravel()[:d]
    w = blocks(key, i, step, kind, -(-d // 2))
    z0, z1 = box_muller_f64(w[:, 0], w[:, 1], w[:, 2], w[:, 3])
    return np.stack([z0, z1], axis=1).ravel()[:d]


def direction_span(key, i, j_first, n, *, dist="normal", step=0, dtype=np.float64):
    """Coordinates j_first .. j_first + n - 1 of the unscaled direction i (any j_first:
    the blocks around the span are generated and trimmed)."""
    dtype = np.dtype(dtype)
    kind = KIND[dist]
    per = 128 if dist == "rademacher" else 4 if dtype == np.float32 else 2
    b0 = j_first // per
    nb = (j_first + n + per - 1) // per - b0
    w = blocks(key, i, step, kind, nb, first=b0)
    if dist == "rademacher":
        j = np.arange(nb * per)
        word = w[j // 128, (j % 128) // 32]
        bit = (word >> (j % 32).astype(np.uint32)) & np.uint32(1)
        vals = (1 - 2 * bit.astype(np.int64)).astype(dtype)
    elif dtype == np.float32:
        z0, z1 = box_muller_f32(w[:, 0], w[:, 1])
        z2, z3 = box_muller_f32(w[:, 2], w[:, 3])
        vals = np.stack([z0, z1, z2, z3], axis=1).ravel()
    else:
        z0, z1 = box_muller_f64(w[:, 0], w[:, 1], w[:, 2], w[:, 3])
        vals = np.stack([z0, z1], axis=1).ravel()
    start = j_first - b0 * per
    return vals[start : start + n]


def shift_span(theta, scale, sign, u):
    """The in-place move of ZOOptimizer's probes: (moved theta, lost mask, old values at
    the lost coordinates).  ``u`` is the unscaled span of the direction."""
    t = theta.dtype.type
    s = t(scale) * u.astype(theta.dtype)
    moved = theta + s if sign > 0 else theta - s
    back = moved - s if sign > 0 else moved + s
    ity = np.uint32 if theta.dtype == np.float32 else np.uint64
    lost = back.view(ity) != theta.view(ity)
    return moved, lost, theta[lost]


def unshift_span(theta, scale, sign, u):
    t = theta.dtype.type
    s = t(scale) * u.astype(theta.dtype)
    return theta - s if sign > 0 else theta + s


def lowrank_span(A, B, c0, m):
    """Coordinates c0 .. c0 + m of vec(A B^T) / sqrt(r) (row-major), element by element
    with the r products added in order: the unscaled span of a low-rank move."""
    dtype = A.dtype
    n, r = B.shape
    inv = dtype.type(1.0 / np.sqrt(r))
    out = np.empty(m, dtype=dtype)
    for q in range(m):
        i, j = divmod(c0 + q, n)
        v = A[i, 0] * B[j, 0]
        for k in range(1, r):
            v = v + A[i, k] * B[j, k]
        out[q] = v * inv
    return out


def sq_norm(u):
    """Sum of squares in float64, coordinates in order (as the kernel)."""
    total = 0.0
    for v in u.astype(np.float64).tolist():
        total = total + v * v
    return total


def scale(key, i, d, *, step=0, dtype=np.float64):
    dtype = np.dtype(dtype)
    u = direction(key, i, d, step=step, dtype=dtype)
    return dtype.type(1.0 / np.sqrt(sq_norm(u)))


def directions(key, n, d, *, dist="normal", step=0, dtype=np.float64, start=0):
    rows = []
    for i in range(start, start + n):
        u = direction(key, i, d, dist=dist, step=step, dtype=dtype)
        if dist == "sphere":
            u = u * scale(key, i, d, step=step, dtype=dtype)
        rows.append(u)
    return np.array(rows, dtype=dtype).reshape(n, d)


def lowrank_direction(key, i, m, n, r, *, step=0, dtype=np.float64):
    """Direction i of dist="lowrank": the factors A (m, r), B (n, r) are the (m + n) r
    normal coordinates of counter row i of kind 6, row-major; v = vec(A B^T) / sqrt(r)
    with the r outer products added in order."""
    dtype = np.dtype(dtype)
    f = direction(key, i, (m + n) * r, dist="lowrank", step=step, dtype=dtype)
    A, B = f[: m * r].reshape(m, r), f[m * r :].reshape(n, r)
    V = np.zeros((m, n), dtype=dtype)
    for k in range(r):
        term = np.empty((m, n), dtype=dtype)
        for a in range(m):
            for b in range(n):
                term[a, b] = A[a, k] * B[b, k]
        V = term if k == 0 else V + term
    return (V * dtype.type(1.0 / np.sqrt(r))).ravel()


def lowrank_directions(key, n_dirs, m, n, r, *, step=0, dtype=np.float64, start=0):
    return np.array([lowrank_direction(key, i, m, n, r, step=step, dtype=dtype)
                     for i in range(start, start + n_dirs)], dtype=dtype).reshape(n_dirs, m * n)


def perturb(x, sigma, V, antithetic):
    """Rows x + sigma*v (then x - sigma*v right after each, if antithetic)."""
    sv = x.dtype.type(sigma) * V
    if not antithetic:
        return x + sv
    out = np.empty((2 * V.shape[0], x.size), dtype=x.dtype)
    out[0::2] = x + sv
    out[1::2] = x - sv
    return out


def accumulate(w, V):
    """sum_i w_i v_i in float64, in the order of i."""
    acc = np.zeros(V.shape[1], dtype=np.float64)
    for i in range(V.shape[0]):
        if w[i] != 0.0:
            acc = acc + w[i] * V[i].astype(np.float64)
    return acc


def grad(f, x, key, *, method="central", dist="normal", sigma=1e-3, n_dirs=32, step=0):
    """The whole random-direction estimator, materialized."""
    dtype = x.dtype
    h = float(dtype.type(sigma))
    V = directions(key, n_dirs, x.size, dist=dist, step=step, dtype=dtype)
    if method == "central":
        vals = f(perturb(x, h, V, True)).astype(np.float64)
        diffs = (vals[0::2] - vals[1::2]) / (2.0 * h)
    else:
        fx = float(f(x[None, :])[0])
        diffs = (f(perturb(x, h, V, False)).astype(np.float64) - fx) / h
    w = diffs * ((x.size if dist == "sphere" else 1) / n_dirs)
    return accumulate(w, V).astype(dtype)


# --------------------------------------------------------------------------
# Policy kernels

KIND_GUMBEL = 3


def exp1_f32(w):
    """e = -ln u, float32, from words (Exp(1) noise)."""
    return -log_f32(u01_f32(w))


def exp_f64(x):
    """e^x by the header's reduction and Taylor series, operation by operation."""
    x = np.asarray(x, dtype=np.float64)
    kd = np.floor(x * 1.44269504088896340736 + 0.5)
    k = kd.astype(np.int32)
    r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10
    p = np.full_like(r, 1.0 / 6227020800.0)
    for c in (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
              1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
              1.0 / 6.0, 0.5, 1.0, 1.0):
        p = c + r * p
    scale = (np.clip(k + 1023, 1, 2046).astype(np.uint64) << np.uint64(52)).view(np.float64)
    out = p * scale
    out = np.where(x > 709.0, np.inf, out)
    return np.where(x < -708.0, 0.0, out)


def race_weights(logits, inv_tau):
    z = logits.astype(np.float64)
    return exp_f64((z.max(axis=1, keepdims=True) - z) * inv_tau)


def gumbel_argmax(logits, inv_tau, key, step, n_samples):
    """Labels (S, N): the Gumbel-max sample as argmin_c E * exp((max - z) / T)."""
    N, C = logits.shape
    w8 = race_weights(logits, inv_tau)
    out = np.empty((n_samples, N), dtype=np.int32)
    n_vals = N * C
    for s in range(n_samples):
        w = blocks(key, s, step, KIND_GUMBEL, -(-n_vals // 4)).ravel()[:n_vals]
        e = exp1_f32(w).astype(np.float64).reshape(N, C)
        out[s] = (e * w8).argmin(axis=1)  # first minimum, as the kernel
    return out


def categorical_score(labels, adv, probs, scale, dtype):
    """scale * sum_s adv[s, n'] (onehot(labels[s, n]) - probs[n]), sums in order of s."""
    S, N = labels.shape
    C = probs.shape[1]
    acc = np.zeros((N, C))
    tot = np.zeros(N)
    rows = np.arange(N)
    for s in range(S):
        a = adv[s] if adv.shape[1] > 1 else np.full(N, adv[s, 0])
        tot = tot + a
        np.add.at(acc, (rows, labels[s]), a)
    return (scale * (acc - probs * tot[:, None])).astype(dtype)


def row_score(logits, labels, coef):
    """coef[r] * (onehot(labels[r]) - softmax(logits[r])): softmax in float64 with the
    header's exp_f64, the total summed left to right (as one thread does)."""
    z = logits.astype(np.float64)
    e = exp_f64(z - z.max(axis=1, keepdims=True))
    total = np.cumsum(e, axis=1)[:, -1]
    out = (-coef[:, None] * e / total[:, None]).astype(logits.dtype)
    rows = np.arange(len(labels))
    out[rows, labels] = (coef * (1.0 - e[rows, labels] / total)).astype(logits.dtype)
    out[coef == 0] = 0
    return out


# --------------------------------------------------------------------------
# Metrics kernels

def minmax(a):
    return int(a.min()), int(a.max())


def class_counts(y_true, y_pred, C):
    """tp[p, c] and pred[p, c], one row at a time."""
    P = y_pred.shape[0]
    tp = np.zeros((P, C), dtype=np.int64)
    pred = np.zeros((P, C), dtype=np.int64)
    for p in range(P):
        pred[p] = np.bincount(y_pred[p], minlength=C)
        hits = y_pred[p][y_pred[p] == y_true]
        tp[p] = np.bincount(hits, minlength=C)
    return tp, pred


def confusion(y_true, y_pred, C):
    out = np.zeros((y_pred.shape[0], C, C), dtype=np.int64)
    for p in range(y_pred.shape[0]):
        np.add.at(out[p], (y_true, y_pred[p]), 1)
    return out


def class_sums(y_true, y_pred, w, C):
    """Weighted tp[p, c] and pred[p, c]: np.bincount adds its weights in sample order."""
    P = y_pred.shape[0]
    tp = np.zeros((P, C))
    pred = np.zeros((P, C))
    for p in range(P):
        pred[p] = np.bincount(y_pred[p], weights=w, minlength=C)
        hit = y_pred[p] == y_true
        tp[p] = np.bincount(y_pred[p][hit], weights=w[hit], minlength=C)
    return tp, pred


def confusion_sums(y_true, y_pred, w, C):
    """out[p, t, q] += w[i], one example after the other."""
    out = np.zeros((y_pred.shape[0], C, C), dtype=w.dtype)
    for p in range(y_pred.shape[0]):
        for i in range(y_true.size):
            out[p, y_true[i], y_pred[p, i]] += w[i]
    return out


# --------------------------------------------------------------------------
# BLEU kernels

def encode_words(lines):
    """str.split() tokens -> ids in order of first occurrence, tokens per line."""
    words = [w.split() for w in lines]
    index = {}
    ids = [index.setdefault(t, len(index)) for ws in words for t in ws]
    return np.array(ids, dtype=np.int64), np.array([len(ws) for ws in words], dtype=np.int64)


def bleu_stats(hyp, refs, max_order):
    """[hyp_len, closest_ref_len, correct_1..N, total_1..N] by counting n-grams."""
    from collections import Counter

    def grams(t, n):
        return Counter(tuple(t[i:i + n]) for i in range(len(t) - n + 1))

    lens = [len(r) for r in refs]
    closest = min(lens, key=lambda L: (abs(len(hyp) - L), L))
    correct, total = [], []
    for n in range(1, max_order + 1):
        h = grams(list(hyp), n)
        best = Counter()
        for r in refs:
            for g, c in grams(list(r), n).items():
                best[g] = max(best[g], c)
        correct.append(sum(min(c, best[g]) for g, c in h.items()))
        total.append(max(0, len(hyp) - n + 1))
    return [len(hyp), closest, *correct, *total]


# --------------------------------------------------------------------------
# Projection kernels

def hadamard(n):
    """Sylvester's Hadamard matrix of order n (a power of 2), by Kronecker products."""
    H = np.ones((1, 1), dtype=np.int64)
    while H.shape[0] < n:
        H = np.block([[H, H], [H, -H]])
    return H


def fwht_rows(a):
    """Each row times the (symmetric) Hadamard matrix."""
    return a @ hadamard(a.shape[1]).astype(a.dtype)


def srht_rows(X, signs, rows, scale, padded):
    Y = np.zeros((X.shape[0], padded), dtype=X.dtype)
    Y[:, : X.shape[1]] = X * signs
    return (scale * fwht_rows(Y)[:, rows]).astype(X.dtype)


def srht_lift_rows(Z, signs, rows, scale, padded, d):
    Y = np.zeros((Z.shape[0], padded), dtype=Z.dtype)
    Y[:, rows] = Z
    return (scale * signs * fwht_rows(Y)[:, :d]).astype(Z.dtype)


def sparse_signs(key, c2, c3, n_rows, m, half):
    """Word j of row r is word j % 4 of block j // 4 of "direction" r: -1 below half,
    +1 below 2 half, else 0; as CSR (indptr, indices, signs)."""
    nb = (m + 3) // 4
    indptr, indices, signs = [0], [], []
    for r in range(n_rows):
        ctr = block_counters(0, nb, r, c2, c3)
        w = philox4x32(ctr, np.broadcast_to(np.asarray(key, np.uint32), (nb, 2))).ravel()[:m]
        w = w.astype(np.uint64)
        cols = np.flatnonzero(w < 2 * half)
        indices.append(cols)
        signs.append(np.where(w[cols] < half, -1, 1))
        indptr.append(indptr[-1] + cols.size)
    return (np.array(indptr, dtype=np.int64), np.concatenate(indices).astype(np.int32),
            np.concatenate(signs).astype(np.int8))


def sparse_rows(X, indptr, indices, signs, scale, k):
    out = np.zeros((X.shape[0], k), dtype=np.float64)
    for i in range(k):
        sl = slice(indptr[i], indptr[i + 1])
        out[:, i] = (X[:, indices[sl]].astype(np.float64) * signs[sl]).sum(axis=1)
    return (scale * out).astype(X.dtype)



def cma_generation(m, sigma, C, B, D, pc, ps, gen, z, values, active=True):
    """One CMA-ES generation written from Hansen's tutorial (arXiv:1604.00772, Table 1
    and the algorithm of its appendix A) term by term, sample by sample: C^-1/2 as the
    matrix B diag(1/D) B^T, the sums as loops.  Returns (m, sigma, C, pc, ps)."""
    n, lam = m.size, z.shape[0]
    mu = lam // 2
    wp = [math.log((lam + 1) / 2) - math.log(i) for i in range(1, lam + 1)]
    mueff = sum(wp[:mu]) ** 2 / sum(v * v for v in wp[:mu])
    mueff_neg = sum(wp[mu:]) ** 2 / sum(v * v for v in wp[mu:])
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
    cs = (mueff + 2) / (n + mueff + 5)
    ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    chi = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
    neg_scale = min(1 + c1 / cmu, 1 + 2 * mueff_neg / (mueff + 2), (1 - c1 - cmu) / (n * cmu))
    w = [v / sum(wp[:mu]) for v in wp[:mu]]
    w += [neg_scale * v / sum(-u for u in wp[mu:]) if active else 0.0 for v in wp[mu:]]
    y = [B @ (D * z[k]) for k in range(lam)]
    order = sorted(range(lam), key=lambda k: (values[k], k))
    yw = sum(w[i] * y[order[i]] for i in range(mu))
    m_new = m + sigma * yw
    c_inv_sqrt = B @ np.diag(1 / D) @ B.T
    ps = (1 - cs) * ps + math.sqrt(cs * (2 - cs) * mueff) * (c_inv_sqrt @ yw)
    hs = np.linalg.norm(ps) / math.sqrt(1 - (1 - cs) ** (2 * (gen + 1))) < (
        1.4 + 2 / (n + 1)) * chi
    pc = (1 - cc) * pc + (math.sqrt(cc * (2 - cc) * mueff) * yw if hs else 0)
    rank_mu = np.zeros((n, n))
    for i in range(lam):
        yi = y[order[i]]
        wo = w[i] if w[i] >= 0 else w[i] * n / np.linalg.norm(c_inv_sqrt @ yi) ** 2
        rank_mu += wo * np.outer(yi, yi)
    delta = (1 - hs) * cc * (2 - cc)
    C = (1 + c1 * delta - c1 - cmu * sum(w)) * C + c1 * np.outer(pc, pc) + cmu * rank_mu
    sigma = sigma * math.exp(cs / ds * (np.linalg.norm(ps) / chi - 1))
    return m_new, sigma, C, pc, ps
