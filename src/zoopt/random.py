"""Counter-based random streams: Philox4x32-10 and the directions of zoopt's estimators.

Every random number zoopt uses is a pure function of a 64-bit *key* (derived
from the ``rng`` argument) and a 128-bit *counter*: nothing is stored, and any
direction of any step can be regenerated on its own, on any thread, process,
machine or backend.

Generator
---------
Philox4x32-10 of Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as
easy as 1, 2, 3" (SC'11), bit for bit as in the Random123 reference
implementation (the tests check its published known-answer vectors).
:func:`philox4x32` exposes it.

Counter layout
--------------
One Philox call maps ``counter = (c0, c1, c2, c3)`` (four uint32 words) and
``key = (k0, k1)`` to four uint32 words.  zoopt's directions use

====  ===================================================================
word  meaning
====  ===================================================================
c0    block index inside one direction (which coordinates, see below),
      bits 0..31
c1    direction index ``i`` (0-based)
c2    step ``t``, bits 0..31
c3    block index bits 32..35 in bits 28..31; kind of draw in bits
      24..27; step bits 32..55 in bits 0..23
====  ===================================================================

The block index has 36 bits, and its bits 32..35 are zero below block
``2**32``: there the layout is that of a 32-bit block index in c0 and the kind
in bits 24..31 of c3.  One direction therefore has ``2**38`` distinct float32
normal coordinates, ``2**37`` float64 ones and ``2**43`` Rademacher signs
(``2**38`` Exp(1) values per sampled labeling); every entry point refuses
longer directions, whose coordinates would repeat.

Kinds of draw: ``1`` normal (also the source of ``"sphere"`` and
``"orthogonal"`` directions), ``2`` Rademacher, ``3`` Exp(1) noise for sampled
labels (:func:`zoopt.policy.categorical`: c0 is the block of the flattened index
``n C + c`` of example ``n`` and class ``c``, c1 the sample), ``4`` projections
(:mod:`zoopt.projection` and the random subspaces of :func:`zoopt.grad`; c1 is
the row of a Gaussian matrix, or ``0`` for the random signs and ``1`` for the
sampled rows of an SRHT), ``5`` angles (:func:`zoopt.sphere.sample_angles`), ``6`` the factors of
``"lowrank"`` directions (below).
The other kinds, up to 15, are reserved so that no two uses share numbers.

Transforms (words -> values)
----------------------------
*normal, float32* -- 4 coordinates per block, 1 word each: coordinates
``4 c0 .. 4 c0 + 3`` come from Box-Muller on the word pairs (w0, w1) and
(w2, w3).  A word ``w`` gives the open uniform ``u = (2 (w >> 9) + 1) 2^-24``;
``(u, t)`` give ``sqrt(-2 ln u) cos(2 pi t)`` and ``sqrt(-2 ln u) sin(2 pi t)``.
*normal, float64* -- 2 coordinates per block, 2 words each: coordinates
``2 c0, 2 c0 + 1`` from Box-Muller on ``u = (2 k + 1) 2^-53`` with ``k`` the
top 52 bits of ``(w0 << 32 | w1)`` and ``t`` likewise from (w2, w3).
*rademacher* -- 128 coordinates per block, 1 bit each: coordinate
``128 c0 + r`` is ``+1`` if bit ``r % 32`` of word ``r // 32`` is 0, else ``-1``
(identical in float32 and float64).
*exp1* (labels) -- 4 values per block, 1 word each: ``e = -ln u`` with the
float32 open uniform ``u`` above; the label is ``argmin_c e_c exp(-z_c / T)``,
the Gumbel-max sample with Gumbel noise ``-ln e_c``.
*sphere* -- the normal direction divided by its norm:
``v = u * (1 / sqrt(sum_j u_j^2))``, the sum of squares taken in float64 in
coordinate order, the inverse norm rounded to the dtype before multiplying.
*orthogonal* -- the normal directions ``g_i``, in blocks of ``d`` (directions
``b d .. b d + d - 1``), made orthonormal by a QR decomposition in float64
with the signs fixed so that ``diag(R) > 0`` (so ``v_i`` is Haar-distributed,
and ``v_0 = g_0 / ||g_0||``), then given back their own norms:
``u_i = ||g_i|| v_i``.  By the Bartlett decomposition the norms (``chi_d``)
are independent of the ``v_i``, so ``E u_i u_i^T = I`` as for Gaussian
directions.  The QR needs the whole block: these directions are materialized.
The QR runs in LAPACK: its last bits may depend on the
BLAS library and its thread count (everything else here does not).
*lowrank* -- for ``d = m n`` seen as an ``m x n`` matrix (row-major) and a
rank ``r``: direction ``i`` is ``vec(A_i B_i^T) / sqrt(r)`` with the factors
``A_i`` (``m x r``) and ``B_i`` (``n x r``) read row-major, in that order, from
the ``(m + n) r`` normal coordinates of counter row ``i`` of kind ``6``.  The
product sums the ``r`` outer products ``A_i[:, k] B_i[:, k]^T`` in the order
``k = 0 .. r - 1`` (one rounding per product and per sum, no fused
multiply-add), then multiplies by ``1 / sqrt(r)`` rounded to the dtype.
``E v v^T = I`` at every rank (the Gaussian's covariance); only a matrix of
factors, ``(m + n) r`` numbers, is drawn per direction.

``ln``, ``cos`` and ``sin`` are computed by fixed sequences of IEEE additions,
multiplications and divisions (reduction plus truncated Taylor series, see
``src_cy/zoopt_streams.h``), not by the C library, so every backend and
instruction set produces the same bits.  float32 and float64 streams are
different streams (not roundings of each other), as in NumPy.

Keys
----
``rng`` follows SPEC 7 of the Scientific Python project: ``None`` (fresh OS
entropy), an ``int`` or a :class:`numpy.random.SeedSequence` (the key is
``SeedSequence(...).generate_state(2)``, so the same seed gives the same key),
or a :class:`numpy.random.Generator` (two words are drawn from it, which
advances it).  ``numpy.random.RandomState`` is refused.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from zoopt import _backend
from zoopt._threads import get_num_threads, threads_for
from zoopt._validation import check_choice, check_float_dtype, check_int

__all__ = ["KIND_ANGLE", "KIND_GUMBEL", "KIND_LOWRANK", "KIND_NORMAL", "KIND_PROJECTION",
           "KIND_RADEMACHER", "directions", "key_from_rng", "philox4x32"]

KIND_NORMAL = 1
KIND_RADEMACHER = 2
KIND_GUMBEL = 3
KIND_PROJECTION = 4
KIND_ANGLE = 5
KIND_LOWRANK = 6

_MAX_STEP = (1 << 56) - 1
_DIST_CODES = {"normal": 0, "rademacher": 1, "sphere": 0}  # kernel transform ids
_DIST_KINDS = {"normal": KIND_NORMAL, "rademacher": KIND_RADEMACHER, "sphere": KIND_NORMAL}
_STREAM_DISTRIBUTIONS = ("normal", "rademacher", "sphere")  # regenerated by the kernels
_DISTRIBUTIONS = (*_STREAM_DISTRIBUTIONS, "orthogonal", "lowrank")


class _StreamKey:
    """A stream key passed as ``rng`` by zoopt's own optimizers (used as is)."""

    __slots__ = ("key",)

    def __init__(self, key: np.ndarray):
        self.key = np.asarray(key, dtype=np.uint32).reshape(2)


def key_from_rng(rng: Any, caller: str = "key_from_rng") -> np.ndarray:
    """The stream key ``(k0, k1)`` (uint32) that ``rng`` stands for (SPEC 7).

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` draws fresh entropy; an int or a SeedSequence always gives the
        same key; a Generator gives two draws from it (and advances it).

    Returns
    -------
    key : ndarray of uint32, shape (2,)

    Examples
    --------
    >>> from zoopt.random import key_from_rng
    >>> key_from_rng(0).tolist() == key_from_rng(0).tolist()
    True
    """
    if isinstance(rng, np.random.RandomState):
        raise TypeError(
            f"The 'rng' parameter of {caller} does not accept numpy.random.RandomState "
            "(its global-state semantics cannot give reproducible streams). Pass an int, a "
            "numpy.random.SeedSequence or a numpy.random.Generator (np.random.default_rng(...))."
        )
    if isinstance(rng, _StreamKey):
        return rng.key.copy()
    if rng is None:
        seq = np.random.SeedSequence()
    elif isinstance(rng, np.random.SeedSequence):
        seq = rng
    elif isinstance(rng, np.random.Generator):
        return rng.integers(0, 1 << 32, size=2, dtype=np.uint32)
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        if int(rng) < 0:
            raise ValueError(
                f"The 'rng' parameter of {caller} must be a non-negative int when it is an "
                f"int. Got {int(rng)} instead."
            )
        seq = np.random.SeedSequence(int(rng))
    else:
        raise TypeError(
            f"The 'rng' parameter of {caller} must be None, an int, a "
            f"numpy.random.SeedSequence or a numpy.random.Generator. Got {rng!r} instead."
        )
    return seq.generate_state(2, dtype=np.uint32)


def _counter_words(step: int, kind: int) -> tuple[int, int]:
    """(c2, c3) for a step and a kind of draw."""
    return step & 0xFFFFFFFF, (kind << 24) | ((step >> 32) & 0xFFFFFF)


# Blocks of one direction: bits 0..31 of the index in c0, bits 32..35 in bits 28..31 of
# c3 (zo_ctr3 in zoopt_streams.h).
_BLOCK_BITS = 36
_STREAM_VALUES = {  # what one counter row holds, for the errors
    "normal": "one direction of zoopt's streams has {} distinct {}normal coordinates",
    "rademacher": "one direction of zoopt's streams has {} distinct {}Rademacher signs",
    "words": "one row of zoopt's streams has {} distinct {}32-bit words",
    "exp1": "the noise of one sampled labeling has {} distinct {}Exp(1) values",
}


def _max_coordinates(dist: str, dtype: Any = np.float64) -> int:
    """How many distinct values one direction (counter row) of a stream has: ``dist``
    is a direction distribution, ``"words"`` (raw words) or ``"exp1"`` (the noise of
    sampled labels); float32 normal coordinates take 1 word, float64 ones 2."""
    if dist == "rademacher":
        per = 128
    elif dist in ("words", "exp1") or np.dtype(dtype).itemsize == 4:
        per = 4
    else:
        per = 2
    return per << _BLOCK_BITS


def _check_coordinates(n: int, what: str, caller: str, dist: str, dtype: Any = np.float64,
                       unit: str | None = None) -> int:
    """``n`` if one direction of the stream has that many distinct values; else a
    ValueError naming ``what`` ("The 'd' parameter"; with ``unit``, an array that has
    ``n`` of them: "The 'x' parameter", "coordinates")."""
    limit = _max_coordinates(dist, dtype)
    if n > limit:
        kind = "normal" if dist in ("sphere", "orthogonal") else dist
        bound = f"2**{limit.bit_length() - 1} = {limit}"
        need = f"must be at most {bound}" if unit is None else f"must have at most {bound} {unit}"
        why = _STREAM_VALUES[kind].format(
            f"2**{limit.bit_length() - 1}", f"{np.dtype(dtype)} " if kind == "normal" else "")
        raise ValueError(f"{what} of {caller} {need}: {why} (more would repeat them). "
                         f"Got {n} instead.")
    return n


def _check_array_size(shape: tuple[int, ...], dtype: Any, what: str, caller: str) -> None:
    """A ValueError naming ``what`` if an array of ``shape`` cannot exist (more bytes
    than an index of the platform addresses), before anything is allocated."""
    limit = int(np.iinfo(np.intp).max)
    nbytes = np.dtype(dtype).itemsize
    for n in shape:
        nbytes *= int(n)
    if nbytes > limit:
        dims = " x ".join(str(n) for n in shape)
        raise ValueError(
            f"{what} of {caller} would make a {dims} array of {np.dtype(dtype)} "
            f"({nbytes / 2.0**60:.3g} EiB), more than one array can address "
            f"({limit / 2.0**60:.3g} EiB)."
        )


def _block_counters(first: int, n_blocks: int, c1: int, c2: int, c3: int) -> np.ndarray:
    """Counters ``(n_blocks, 4)`` of the blocks ``first ..`` of counter row ``c1``."""
    b = np.arange(first, first + n_blocks, dtype=np.uint64)
    ctr = np.empty((n_blocks, 4), dtype=np.uint32)
    ctr[:, 0] = b & np.uint64(0xFFFFFFFF)
    ctr[:, 1] = c1
    ctr[:, 2] = c2
    ctr[:, 3] = np.uint32(c3) | ((b >> np.uint64(32)) << np.uint64(28)).astype(np.uint32)
    return ctr


def _check_step(step: Any, caller: str) -> int:
    return check_int(step, "step", caller, low=0, high=_MAX_STEP)


def philox4x32(counter: Any, key: Any, *, rounds: int = 10) -> np.ndarray:
    """Philox4x32 block function, as in Random123.

    Parameters
    ----------
    counter : array_like of uint32, shape (..., 4)
        Counters, one per output block.
    key : array_like of uint32, shape (..., 2) or (2,)
        Keys, broadcast against the counters' leading axes.
    rounds : int, optional
        Number of rounds, 1 to 16 (default 10, the Philox4x32-10 that zoopt
        uses; Random123 also publishes answers for 7).

    Returns
    -------
    out : ndarray of uint32, shape (..., 4)

    Examples
    --------
    Random123's first known-answer vector (counter and key all zero):

    >>> import numpy as np
    >>> from zoopt.random import philox4x32
    >>> [f"{w:08x}" for w in philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32))]
    ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    """
    from zoopt._cy import streams

    rounds = check_int(rounds, "rounds", "philox4x32", low=1, high=16)
    ctr = _as_uint32(counter, "counter")
    k = _as_uint32(key, "key")
    if ctr.ndim == 0 or ctr.shape[-1] != 4:
        raise ValueError(
            "The 'counter' parameter of philox4x32 must have shape (..., 4). "
            f"Got shape {ctr.shape} instead."
        )
    if k.ndim == 0 or k.shape[-1] != 2:
        raise ValueError(
            "The 'key' parameter of philox4x32 must have shape (..., 2) or (2,). "
            f"Got shape {k.shape} instead."
        )
    try:
        lead = np.broadcast_shapes(ctr.shape[:-1], k.shape[:-1])
    except ValueError:
        raise ValueError(
            "The 'counter' and 'key' parameters of philox4x32 must broadcast over their "
            f"leading axes. Got shapes {ctr.shape} and {k.shape}."
        ) from None
    c2 = np.ascontiguousarray(np.broadcast_to(ctr, (*lead, 4)).reshape(-1, 4))
    k2 = np.ascontiguousarray(np.broadcast_to(k, (*lead, 2)).reshape(-1, 2))
    out = np.empty_like(c2)
    streams.philox4x32(c2, k2, out, rounds, get_num_threads())
    return out.reshape(*lead, 4)


def _as_uint32(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == np.uint32:
        return arr
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"The {name!r} parameter of philox4x32 must hold uint32 words. "
            f"Got dtype {arr.dtype} instead."
        )
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        raise ValueError(
            f"The {name!r} parameter of philox4x32 must hold values in [0, 2**32 - 1]."
        )
    return arr.astype(np.uint32)


class _Stream:
    """The directions of one (key, step, dist, dtype): what the kernels need."""

    __slots__ = ("backend", "c2", "c3", "code", "d", "dist", "dtype", "k0", "k1", "step")

    def __init__(self, key: np.ndarray, step: int, dist: str, dtype: np.dtype[Any], d: int,
                 kind: int | None = None, backend: _backend.Backend | None = None):
        self.backend = _backend.cpu() if backend is None else backend
        self.k0, self.k1 = int(key[0]), int(key[1])
        self.step = step
        self.dist = dist
        self.code = _DIST_CODES[dist]
        self.c2, self.c3 = _counter_words(step, _DIST_KINDS[dist] if kind is None else kind)
        self.dtype = dtype
        # the entry points refuse longer directions with their own names; this is the net
        self.d = _check_coordinates(d, "The direction", "a stream", dist, dtype,
                                    "coordinates")

    def scales(self, start: int, n: int, n_threads: int | None = None) -> np.ndarray:
        """Per-direction factors: ``1 / ||u_i||`` (in the dtype) for "sphere",
        an empty array (no scaling) otherwise."""
        xp = self.backend.xp
        if self.dist != "sphere":
            return xp.empty(0, dtype=self.dtype)
        sq = xp.empty(n, dtype=np.float64)
        self.backend.streams.sq_norms(
            xp.empty(0, self.dtype), sq, self.d, self.code, self.k0, self.k1, self.c2,
            self.c3, start, threads_for(n * self.d) if n_threads is None else n_threads)
        # float64 division and square root are correctly rounded on every backend
        return (1.0 / xp.sqrt(sq)).astype(self.dtype)

    def fill(self, start: int, out: Any, scale: Any, n_threads: int | None = None) -> None:
        self.backend.streams.fill(scale, out, self.code, self.k0, self.k1, self.c2, self.c3,
                                  start, threads_for(out.size) if n_threads is None
                                  else n_threads)


def _orthonormal_rows(G: Any, xp: Any = np) -> Any:
    """Rows of ``G`` (float64, ``(n, d)``), in blocks of ``d``, made orthonormal by QR
    with ``diag(R) > 0``: the Haar-distributed frames of Gaussian blocks."""
    n, d = G.shape
    V = xp.empty_like(G)
    for b0 in range(0, n, d):  # ceil(n / d) blocks, each one LAPACK (cuSOLVER) call
        Q, R = xp.linalg.qr(G[b0 : b0 + d].T)
        Q *= xp.where(xp.diagonal(R) < 0, -1.0, 1.0)
        V[b0 : b0 + d] = Q.T
    return V


def _orthogonal(key: np.ndarray, step: int, n: int, d: int, dtype: np.dtype[Any],
                backend: _backend.Backend | None = None) -> Any:
    """The ``"orthogonal"`` directions ``u_i = ||g_i|| v_i`` (see the module notes), on
    ``backend`` (the Gaussian blocks are the same bits on every backend; the QR is the
    linear-algebra library's: LAPACK on the CPU, cuSOLVER on a GPU)."""
    stream = _Stream(key, step, "normal", dtype, d, backend=backend)
    xp = stream.backend.xp
    G = xp.empty((n, d), dtype=dtype)
    stream.fill(0, G, xp.empty(0, dtype=dtype))
    G64 = G.astype(np.float64, copy=False)
    norms = xp.sqrt((G64 * G64).sum(axis=1)) if xp is not np else np.sqrt(
        np.einsum("ij,ij->i", G64, G64))
    U = _orthonormal_rows(G64, xp)
    U *= norms[:, None]
    return U.astype(dtype, copy=False)


def _check_lowrank(dist: str, shape: Any, rank: Any, d: int, caller: str,
                   of: str = " of 'x'") -> tuple[int, int, int] | None:
    """``(m, n, r)`` for ``dist="lowrank"`` (``shape`` and ``rank`` checked against the
    dimension ``d``); None for the other distributions, which take neither."""
    if dist != "lowrank":
        if shape is not None or rank is not None:
            given = "shape" if shape is not None else "rank"
            raise ValueError(f"The {given!r} parameter of {caller} is for dist='lowrank' only. "
                             f"Got dist={dist!r} with {given}="
                             f"{shape if shape is not None else rank!r}.")
        return None
    if shape is None or rank is None:
        missing = "shape" if shape is None else "rank"
        raise ValueError(f"dist='lowrank' of {caller} needs the {missing!r} parameter: "
                         "shape=(m, n), the matrix that the d = m n coordinates form "
                         "(row-major), and rank=r, the rank of each direction.")
    if (not isinstance(shape, tuple | list) or len(shape) != 2
            or not all(isinstance(k, numbers.Integral) and not isinstance(k, bool | np.bool_)
                       and int(k) >= 1 for k in shape)):
        raise ValueError(f"The 'shape' parameter of {caller} must be a pair (m, n) of ints "
                         f">= 1. Got {shape!r} instead.")
    m, n = int(shape[0]), int(shape[1])
    if m * n != d:
        raise ValueError(f"The 'shape' parameter of {caller} must hold the d = {d} "
                         f"coordinates{of} (m * n == {d}). Got shape=({m}, {n}), which "
                         f"holds {m * n}.")
    r = check_int(rank, "rank", caller, low=1)
    if r > min(m, n):
        raise ValueError(f"The 'rank' parameter of {caller} must be at most min(m, n) = "
                         f"{min(m, n)} for shape ({m}, {n}) (a higher rank draws more "
                         f"numbers than a full direction). Got {r} instead.")
    return m, n, r


class _LowRank:
    """The ``"lowrank"`` directions of one (key, step, shape, rank, dtype)."""

    __slots__ = ("inv", "m", "n", "r", "stream")

    def __init__(self, key: np.ndarray, step: int, m: int, n: int, r: int,
                 dtype: np.dtype[Any], backend: _backend.Backend | None = None):
        self.m, self.n, self.r = m, n, r
        self.stream = _Stream(key, step, "normal", dtype, (m + n) * r, kind=KIND_LOWRANK,
                              backend=backend)
        self.inv = dtype.type(1.0 / np.sqrt(r))  # float64 division, rounded to the dtype

    @property
    def xp(self) -> Any:
        return self.stream.backend.xp

    @property
    def spec(self) -> tuple[list[int], int, int, int, int]:
        """What rebuilds these directions elsewhere: the key, the step, m, n, r."""
        st = self.stream
        return [st.k0, st.k1], st.step, self.m, self.n, self.r

    def factors(self, start: int, k: int,
                n_threads: int | None = None) -> tuple[Any, Any]:
        """``A`` ``(k, m, r)`` and ``B`` ``(k, n, r)`` of directions ``start ..``."""
        st, m, n, r = self.stream, self.m, self.n, self.r
        F = self.xp.empty((k, (m + n) * r), dtype=st.dtype)
        st.fill(start, F, self.xp.empty(0, dtype=st.dtype), n_threads)
        return F[:, : m * r].reshape(k, m, r), F[:, m * r :].reshape(k, n, r)

    def chunk(self, start: int, k: int, n_threads: int | None = None) -> Any:
        """Directions ``start .. start + k - 1`` materialized, ``(k, m n)``."""
        xp, m, n, r = self.xp, self.m, self.n, self.r
        A, B = self.factors(start, k, n_threads)
        V = xp.empty((k, m, n), dtype=self.stream.dtype)
        xp.multiply(A[:, :, 0, None], B[:, None, :, 0], out=V)
        if r > 1:
            term = xp.empty_like(V)
            for j in range(1, r):  # the r outer products, in a fixed order
                xp.multiply(A[:, :, j, None], B[:, None, :, j], out=term)
                xp.add(V, term, out=V)
        xp.multiply(V, self.inv, out=V)
        return V.reshape(k, m * n)

    def _rows(self, per_row: int) -> int:
        """Directions per chunk of the sums: a fixed number for the shape (so the sums do
        not depend on any batch size), about 16 MiB of float64 work arrays."""
        return max(1, (16 << 20) // (8 * per_row))

    def weighted_sum(self, w: np.ndarray) -> Any:
        """``sum_i w_i v_i`` in float64, ``(m n,)``: per chunk of directions one product
        ``(A diag(w) / sqrt(r)) B^T`` of the factors, in a fixed summation order (no BLAS),
        so the bits do not depend on threads or libraries."""
        xp, m, n, r = self.xp, self.m, self.n, self.r
        N = int(w.size)
        G = xp.zeros((m, n), dtype=np.float64)
        wd = xp.asarray(np.ascontiguousarray(w, dtype=np.float64)) * (1.0 / np.sqrt(r))
        step = self._rows((m + n) * r)
        for i0 in range(0, N, step):
            k = min(step, N - i0)
            A, B = (f.astype(np.float64) for f in self.factors(i0, k))
            A *= wd[i0 : i0 + k, None, None]
            G += _einsum(xp, "iak,ibk->ab", A, B)
        return G.reshape(m * n)

    def weighted_sum_sq(self, w: np.ndarray) -> Any:
        """``sum_i w_i (v_i^2 - 1)`` in float64, ``(m n,)``, from materialized chunks."""
        xp = self.xp
        N = int(w.size)
        acc = xp.zeros(self.m * self.n, dtype=np.float64)
        wd = xp.asarray(np.ascontiguousarray(w, dtype=np.float64))
        step = self._rows(self.m * self.n)
        for i0 in range(0, N, step):
            k = min(step, N - i0)
            V = self.chunk(i0, k).astype(np.float64)
            acc += _einsum(xp, "i,ij->j", wd[i0 : i0 + k], V * V)
        acc -= float(np.sum(w, dtype=np.float64))
        return acc


def _einsum(xp: Any, spec: str, *ops: Any) -> Any:
    """einsum in its own loops on the CPU (a fixed summation order, not BLAS's)."""
    return np.einsum(spec, *ops, optimize=False) if xp is np else xp.einsum(spec, *ops)


def directions(n_dirs: int, d: int, *, dist: str = "normal", rng: Any = None, step: int = 0,
               dtype: Any = np.float64, start: int = 0, like: Any = None,
               shape: tuple[int, int] | None = None, rank: int | None = None) -> Any:
    """The directions zoopt's estimators draw, materialized.

    Row ``r`` is direction ``start + r`` of step ``step``: exactly the vector
    that :func:`zoopt.grad` with the same ``rng``, ``step``, ``dist`` and dtype
    uses as its direction ``start + r``.  The estimators themselves never build
    this matrix; it is here for inspection, tests and custom estimators.

    Parameters
    ----------
    n_dirs : int
        Number of directions (rows), at least 1.
    d : int
        Dimension (columns), at least 1 and at most the distinct coordinates of
        a stream direction: ``2**38`` (float32 normal or sphere), ``2**37``
        (float64), ``2**43`` (rademacher).
    dist : {"normal", "rademacher", "sphere", "orthogonal", "lowrank"}, optional
        Standard normal coordinates (default), random signs, unit vectors
        uniform on the sphere (normal directions divided by their norms), the
        normal directions made orthogonal in blocks of ``d`` while keeping
        their norms (``start`` must then be 0: they are defined as a set), or
        low-rank matrices ``vec(A_i B_i^T) / sqrt(rank)`` with normal factors
        (``shape`` and ``rank`` required; see the module notes).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key (see :func:`key_from_rng`).
    step : int, optional
        Step counter, 0 to 2**56 - 1 (default 0).
    dtype : {numpy.float64, numpy.float32}, optional
        float32 and float64 are different streams (default float64).
    start : int, optional
        Index of the first direction (default 0).
    like : array, optional
        Make ``U`` an array of the same kind (NEP 35): a CuPy array here makes
        ``U`` a CuPy array on the current device, computed there with the same
        bits (default None: a NumPy array).
    shape : (int, int), optional
        For ``dist="lowrank"`` only: ``(m, n)`` with ``m * n == d``, the matrix
        that a direction's coordinates form (row-major).
    rank : int, optional
        For ``dist="lowrank"`` only: the rank ``r`` of each direction,
        ``1 <= r <= min(m, n)``.

    Returns
    -------
    U : ndarray or cupy.ndarray, shape (n_dirs, d)

    See Also
    --------
    zoopt.grad : the estimator that uses these directions.

    Notes
    -----
    The counter layout and the transforms are documented in :mod:`zoopt.random`.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.random import directions
    >>> U = directions(1000, 3, rng=0)
    >>> U.shape
    (1000, 3)
    >>> bool(np.allclose(directions(2, 3, rng=0, start=5), U[5:7]))
    True
    """
    caller = "directions"
    n_dirs = check_int(n_dirs, "n_dirs", caller, low=1, high=(1 << 32) - 1)
    d = check_int(d, "d", caller, low=1)
    dist = check_choice(dist, "dist", caller, _DISTRIBUTIONS)
    step = _check_step(step, caller)
    dt = check_float_dtype(dtype, "dtype", caller)
    start = check_int(start, "start", caller, low=0)
    if start + n_dirs > (1 << 32):
        raise ValueError(
            "The 'start' and 'n_dirs' parameters of directions must satisfy "
            f"start + n_dirs <= 2**32. Got start={start}, n_dirs={n_dirs}."
        )
    lowrank = _check_lowrank(dist, shape, rank, d, caller, "")
    if lowrank is None:
        _check_coordinates(d, "The 'd' parameter", caller, dist, dt)
    else:
        _check_coordinates((lowrank[0] + lowrank[1]) * lowrank[2],
                           "The factors (m + n) * rank", caller, "normal", dt)
    _check_array_size((n_dirs, d), dt, "The 'n_dirs' and 'd' parameters", caller)
    be = _backend.cpu() if like is None else _backend.backend_of(like)
    if lowrank is not None:
        return _LowRank(key_from_rng(rng, caller), step, *lowrank, dt, be).chunk(start, n_dirs)
    if dist == "orthogonal":
        if start != 0:
            raise ValueError(
                "The 'start' parameter of directions must be 0 with dist='orthogonal' (the "
                f"directions of a block are orthogonalized together). Got start={start}."
            )
        return _orthogonal(key_from_rng(rng, caller), step, n_dirs, d, dt, be)
    stream = _Stream(key_from_rng(rng, caller), step, dist, dt, d, backend=be)
    out = be.xp.empty((n_dirs, d), dtype=dt)
    n_threads = get_num_threads()
    if dist == "sphere" and n_dirs >= 4 * n_threads:
        # enough rows to share out: one pass, the same bits as the two passes below
        be.streams.fill_sphere(out, stream.k0, stream.k1, stream.c2, stream.c3, start,
                               n_threads)
        return out
    stream.fill(start, out, stream.scales(start, n_dirs))
    return out
