"""The CUDA twins of :mod:`zoopt._cy.projection` (``projection.cu``): the same functions
with the same signatures; ``n_threads`` is accepted and ignored."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoopt._gpu._streams import Launch

__all__: list[str] = []

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
           np.dtype(np.int64): "i64"}
# rows of padded scratch per pass of the SRHT: bounds its memory to about 256 MiB
_SCRATCH_BYTES = 256 << 20

_i64 = np.int64


class ProjectionKernels:
    def __init__(self, launch: Launch, xp: Any):
        self._launch = launch
        self.xp = xp

    def _stages(self, a: Any, rows: int, n: int) -> None:
        name = f"zo_fwht_stage_{_SUFFIX[a.dtype]}"
        h = 1
        while h < n:
            self._launch(name, rows * (n // 2), (a, _i64(rows), _i64(n), _i64(h)))
            h *= 2

    def fwht_rows(self, a: Any, n_threads: int) -> None:
        rows, n = a.shape
        if rows and n:
            self._stages(a, rows, n)

    def _chunks(self, n_rows: int, padded: int, itemsize: int) -> range:
        step = max(1, _SCRATCH_BYTES // max(1, padded * itemsize))
        return range(0, n_rows, step)

    def srht_rows(self, X: Any, signs: Any, rows: Any, scale: float, padded: int, out: Any,
                  n_threads: int) -> None:
        n_rows, m = X.shape
        k = rows.shape[0]
        suf, dt = _SUFFIX[X.dtype], X.dtype.type
        chunks = self._chunks(n_rows, padded, X.itemsize)
        buf = self.xp.empty((min(n_rows, chunks.step), padded), dtype=X.dtype)
        for r0 in chunks:
            nr = min(chunks.step, n_rows - r0)
            b = buf[:nr]
            self._launch(f"zo_srht_load_{suf}", nr * padded,
                         (X[r0 : r0 + nr], signs, b, _i64(nr), _i64(m), _i64(padded)))
            self._stages(b, nr, padded)
            self._launch(f"zo_srht_gather_{suf}", nr * k,
                         (b, rows, dt(scale), out[r0 : r0 + nr], _i64(nr), _i64(padded),
                          _i64(k)))

    def srht_lift_rows(self, Z: Any, signs: Any, rows: Any, scale: float, padded: int,
                       out: Any, n_threads: int) -> None:
        n_rows, k = Z.shape
        d = out.shape[1]
        suf, dt = _SUFFIX[Z.dtype], Z.dtype.type
        chunks = self._chunks(n_rows, padded, Z.itemsize)
        buf = self.xp.empty((min(n_rows, chunks.step), padded), dtype=Z.dtype)
        for r0 in chunks:
            nr = min(chunks.step, n_rows - r0)
            b = buf[:nr]
            b[...] = 0
            self._launch(f"zo_srht_scatter_{suf}", nr * k,
                         (Z[r0 : r0 + nr], rows, b, _i64(nr), _i64(k), _i64(padded)))
            self._stages(b, nr, padded)
            self._launch(f"zo_srht_unload_{suf}", nr * d,
                         (b, signs, dt(scale), out[r0 : r0 + nr], _i64(nr), _i64(padded),
                          _i64(d)))

    def sparse_signs(self, k0: int, k1: int, c2: int, c3: int, n_rows: int, m: int,
                     half: int, n_threads: int) -> tuple[Any, Any, Any]:
        xp = self.xp
        words = (np.uint32(k0), np.uint32(k1), np.uint32(c2), np.uint32(c3), _i64(n_rows),
                 _i64(m), np.uint32(half))
        counts = xp.zeros(n_rows + 1, dtype=np.int64)
        self._launch("zo_sparse_count", n_rows, (*words, counts[1:]))
        indptr = xp.cumsum(counts)  # integers: exact in any order
        total = int(indptr[-1])
        indices = xp.empty(total, dtype=np.int32)
        signs = xp.empty(total, dtype=np.int8)
        self._launch("zo_sparse_fill", n_rows, (*words, indptr, indices, signs))
        return indptr, indices, signs

    def sparse_rows(self, X: Any, indptr: Any, indices: Any, signs: Any, scale: float,
                    out: Any, n_threads: int) -> None:
        n_rows, m = X.shape
        k = out.shape[1]
        if n_rows:
            self._launch(f"zo_sparse_rows_{_SUFFIX[X.dtype]}", n_rows * k,
                         (X, indptr, indices, signs, np.float64(scale), out, _i64(n_rows),
                          _i64(m), _i64(k)))
