"""The CUDA twins of :mod:`zoopt._cy.streams`: the same functions with the same
signatures, launching the kernels of ``streams.cu`` instead of running OpenMP
loops.  ``n_threads`` is accepted and ignored (the launch size is chosen here).

A ``launch(name, n_items, args)`` callable runs kernel ``name`` over
``n_items`` work items with ``args`` (device arrays and NumPy scalars of the
exact C types); :mod:`zoopt._gpu._cupy` provides it for CuPy, and the tests
provide one that runs the same ``.cu`` file on the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__: list[str] = []

Launch = Callable[[str, int, tuple[Any, ...]], None]

# Coordinates per thread (streams.cu): normal float32 4, normal float64 2, Rademacher 32.
_UNIT = {(0, 4): 4, (0, 8): 2, (1, 4): 32, (1, 8): 32}


def _suffix(arr: Any) -> str:
    return "f32" if arr.dtype == np.float32 else "f64"


def _units(length: int, dist: int, itemsize: int) -> int:
    u = _UNIT[(dist, itemsize)]
    return (length + u - 1) // u


def _span_units(j_first: int, length: int, dist: int, itemsize: int) -> int:
    if length <= 0:
        return 0
    u = _UNIT[(dist, itemsize)]
    return (j_first + length - 1) // u - j_first // u + 1


_u32, _i32, _i64 = np.uint32, np.int32, np.int64


class StreamKernels:
    """Stream kernels for one device array module ``xp``."""

    TILE = 1024

    def __init__(self, launch: Launch, xp: Any):
        self._launch = launch
        self.xp = xp

    @staticmethod
    def max_threads() -> int:
        return 1

    @staticmethod
    def has_openmp() -> bool:
        return False

    def team_size(self, n_threads: int) -> int:
        return 1

    def philox4x32(self, ctr: Any, key: Any, out: Any, rounds: int, n_threads: int) -> None:
        n = ctr.shape[0]
        self._launch("zo_philox", n, (ctr, key, out, _i64(n), _i32(rounds)))

    def fill(self, scale: Any, out: Any, dist: int, k0: int, k1: int, c2: int, c3: int,
             i0: int, n_threads: int) -> None:
        n, d = out.shape
        items = n * _units(d, dist, out.itemsize)
        self._launch(f"zo_fill_{_suffix(out)}", items,
                     (scale, _i32(scale.shape[0] > 0), out, _i64(n), _i64(d), _i32(dist),
                      _u32(k0), _u32(k1), _u32(c2), _u32(c3), _u32(i0)))

    def fill_sphere(self, out: Any, k0: int, k1: int, c2: int, c3: int, i0: int,
                    n_threads: int) -> None:
        n, d = out.shape
        sq = self.xp.empty(n, dtype=np.float64)
        self.sq_norms(out[:0, 0], sq, d, 0, k0, k1, c2, c3, i0, n_threads)
        scale = self.xp.empty(n, dtype=out.dtype)
        self._launch(f"zo_inv_norms_{_suffix(out)}", n, (sq, scale, _i64(n)))
        self.fill(scale, out, 0, k0, k1, c2, c3, i0, n_threads)

    def perturb(self, x: Any, sigma: Any, sigma_vec: Any, scale: Any, out: Any, dist: int,
                k0: int, k1: int, c2: int, c3: int, i0: int, antithetic: bool,
                n_threads: int) -> None:
        rows, d = out.shape
        n = rows // (2 if antithetic else 1)
        items = n * _units(d, dist, out.itemsize)
        self._launch(f"zo_perturb_{_suffix(out)}", items,
                     (x, out.dtype.type(sigma), sigma_vec, _i32(sigma_vec.shape[0] > 0),
                      scale, _i32(scale.shape[0] > 0), out, _i64(n), _i64(d), _i32(dist),
                      _u32(k0), _u32(k1), _u32(c2), _u32(c3), _u32(i0), _i32(antithetic)))

    def accumulate(self, w: Any, scale: Any, acc: Any, dist: int, k0: int, k1: int,
                   c2: int, c3: int, i0: int, square: bool, n_threads: int) -> None:
        self._accumulate(w, scale, acc, scale.dtype, dist, k0, k1, c2, c3, i0, 0, square)

    def accumulate_span(self, w: Any, acc: Any, dtype_of: Any, dist: int, k0: int, k1: int,
                        c2: int, c3: int, i0: int, j_first: int, n_threads: int) -> None:
        empty = dtype_of[:0]
        self._accumulate(w, empty, acc, dtype_of.dtype, dist, k0, k1, c2, c3, i0, j_first,
                         False)

    def _accumulate(self, w: Any, scale: Any, acc: Any, dtype: Any, dist: int, k0: int,
                    k1: int, c2: int, c3: int, i0: int, j_first: int, square: bool) -> None:
        n, length = w.shape[0], acc.shape[0]
        suffix = "f32" if dtype == np.float32 else "f64"
        items = _span_units(j_first, length, dist, np.dtype(dtype).itemsize)
        self._launch(f"zo_accumulate_{suffix}", items,
                     (w, _i64(n), scale, _i32(scale.shape[0] > 0), acc, _i64(j_first),
                      _i64(length), _i32(dist), _u32(k0), _u32(k1), _u32(c2), _u32(c3),
                      _u32(i0), _i32(square)))

    def fill_span(self, out: Any, dist: int, k0: int, k1: int, c2: int, c3: int,
                  direction: int, j_first: int, n_threads: int) -> None:
        length = out.shape[0]
        items = _span_units(j_first, length, dist, out.itemsize)
        self._launch(f"zo_fill_span_{_suffix(out)}", items,
                     (out, _i64(length), _i64(j_first), _i32(dist), _u32(k0), _u32(k1),
                      _u32(c2), _u32(c3), _u32(direction)))

    def shift_span(self, theta: Any, scale: Any, sign: int, lost: Any, orig: Any, dist: int,
                   k0: int, k1: int, c2: int, c3: int, direction: int, j_first: int,
                   n_threads: int) -> int:
        length = theta.shape[0]
        if lost.shape[0] < length or orig.shape[0] < length:
            raise ValueError("shift_span: 'lost' and 'orig' must cover 'theta'")
        items = _span_units(j_first, length, dist, theta.itemsize)
        # the kernel marks the coordinates and keeps every old value; packing them as
        # the CPU kernel returns them is one flatnonzero (its size is read back)
        xp = self.xp
        mask, old = xp.empty(length, dtype=np.uint8), xp.empty(length, dtype=theta.dtype)
        self._launch(f"zo_shift_span_{_suffix(theta)}", items,
                     (theta, theta.dtype.type(scale), _i32(sign), mask, old, _i64(length),
                      _i64(j_first), _i32(dist), _u32(k0), _u32(k1), _u32(c2), _u32(c3),
                      _u32(direction)))
        where = xp.flatnonzero(mask)
        n = int(where.shape[0])
        lost[:n] = where
        orig[:n] = old[where]
        return n

    def unshift_span(self, theta: Any, scale: Any, sign: int, dist: int, k0: int, k1: int,
                     c2: int, c3: int, direction: int, j_first: int, n_threads: int) -> None:
        length = theta.shape[0]
        items = _span_units(j_first, length, dist, theta.itemsize)
        self._launch(f"zo_unshift_span_{_suffix(theta)}", items,
                     (theta, theta.dtype.type(scale), _i32(sign), _i64(length),
                      _i64(j_first), _i32(dist), _u32(k0), _u32(k1), _u32(c2), _u32(c3),
                      _u32(direction)))

    @staticmethod
    def _check_lowrank_span(theta: Any, A: Any, B: Any, c0: int) -> None:
        n, (m, ra), (ncol, rb) = theta.shape[0], A.shape, B.shape
        if ra != rb or ra < 1:
            raise ValueError(f"lowrank span: 'A' ({m} x {ra}) and 'B' ({ncol} x {rb}) need "
                             "the same r >= 1 columns")
        if ncol < 1 or c0 < 0 or c0 + n > m * ncol:
            raise ValueError(f"lowrank span: coordinates {c0} .. {c0 + n} are outside the "
                             f"{m} x {ncol} matrix")

    def shift_lowrank(self, theta: Any, A: Any, B: Any, c0: int, inv: Any, scale: Any,
                      sign: int, lost: Any, orig: Any, n_threads: int) -> int:
        self._check_lowrank_span(theta, A, B, c0)
        length = theta.shape[0]
        if lost.shape[0] < length or orig.shape[0] < length:
            raise ValueError("shift_lowrank: 'lost' and 'orig' must cover 'theta'")
        xp, t = self.xp, theta.dtype.type
        mask, old = xp.empty(length, dtype=np.uint8), xp.empty(length, dtype=theta.dtype)
        self._launch(f"zo_shift_lowrank_{_suffix(theta)}", length,
                     (theta, A, B, _i64(c0), _i64(length), _i64(B.shape[0]), _i32(A.shape[1]),
                      t(inv), t(scale), _i32(sign), mask, old))
        where = xp.flatnonzero(mask)  # packed as the CPU kernel returns them
        n = int(where.shape[0])
        lost[:n] = where
        orig[:n] = old[where]
        return n

    def unshift_lowrank(self, theta: Any, A: Any, B: Any, c0: int, inv: Any, scale: Any,
                        sign: int, n_threads: int) -> None:
        self._check_lowrank_span(theta, A, B, c0)
        t = theta.dtype.type
        self._launch(f"zo_unshift_lowrank_{_suffix(theta)}", theta.shape[0],
                     (theta, A, B, _i64(c0), _i64(theta.shape[0]), _i64(B.shape[0]),
                      _i32(A.shape[1]), t(inv), t(scale), _i32(sign)))

    def sq_norms(self, dtype_of: Any, out: Any, d: int, dist: int, k0: int, k1: int,
                 c2: int, c3: int, i0: int, n_threads: int) -> None:
        n = out.shape[0]
        self._launch(f"zo_sq_norms_{_suffix(dtype_of)}", n,
                     (out, _i64(n), _i64(d), _i32(dist), _u32(k0), _u32(k1), _u32(c2),
                      _u32(c3), _u32(i0)))
