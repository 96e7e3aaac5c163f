"""What the torch and JAX bridges share: the zeroth-order vector-Jacobian product.

For a black box ``y = fun(z)`` and a cotangent ``v`` (the gradient of the loss
with respect to ``y``), the backward pass needs ``J^T v``, the gradient of
``phi(z) = <v, fun(z)>``.  It is estimated from values of ``phi`` only:

* ``batched=True`` (a layer: row ``b`` of the output depends on row ``b`` of
  the input only): every row gets its own direction, all rows are perturbed
  together, and row ``b``'s estimate uses ``phi_b = <v_b, fun(z)_b>`` only, so
  the variance grows with the size of one row, not of the batch (the
  output-space policy gradient).  Direction ``i`` is the stream
  direction ``i`` of length ``B * k`` (``k`` the size of one row) reshaped to
  ``(B, k)``; ``fun`` sees a chunk of probes stacked along the batch axis.
* ``batched=False``: ``phi`` of the whole input, through :func:`zoopt.grad`
  (the same directions, weights and result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._backend import backend_of, is_device_array
from zoopt._validation import check_bool, check_choice, check_int, check_positive_float
from zoopt.random import _check_coordinates, _check_step, _Stream, key_from_rng

__all__: list[str] = []

METHODS = ("central", "forward")
DISTS = ("normal", "rademacher", "sphere", "orthogonal")
_PROBE_BYTES = 16 << 20


class VJPEstimator:
    """Validated options and the stream of one bridged function."""

    def __init__(self, method: str, dist: str, sigma: float, n_dirs: int, rng: Any,
                 batched: bool, batch_size: int | None, caller: str):
        self.caller = caller
        self.method = check_choice(method, "method", caller, METHODS)
        self.dist = check_choice(dist, "dist", caller, DISTS)
        self.sigma = check_positive_float(sigma, "sigma", caller)
        self.n_dirs = check_int(n_dirs, "n_dirs", caller, low=1, high=(1 << 32) - 1)
        self.batched = check_bool(batched, "batched", caller)
        if self.batched and self.dist in ("sphere", "orthogonal"):
            raise ValueError(
                f"The 'dist' parameter of {caller} must be 'normal' or 'rademacher' with "
                f"batched=True (per-row estimates); got {dist!r}. Pass batched=False to "
                "perturb the whole input as one vector."
            )
        self.batch_size = None if batch_size is None else check_int(
            batch_size, "batch_size", caller, low=1)
        self.key = key_from_rng(rng, caller)

    def estimate(self, call: Callable[[np.ndarray], np.ndarray], z: np.ndarray,
                 v: np.ndarray, y: np.ndarray, step: int) -> np.ndarray:
        """The estimate of ``J^T v`` at ``z`` (shape and dtype of ``z``); ``y = fun(z)``."""
        step = _check_step(step, self.caller)
        # batched or not, one direction covers the whole input
        _check_coordinates(z.size, "The input", self.caller, self.dist, z.dtype, "elements")
        xp = backend_of(z).xp  # NumPy, or CuPy for CUDA tensors (seen through DLPack)
        v = xp.asarray(v, dtype=np.float64)
        if not bool(xp.isfinite(v).all()):
            raise ValueError(f"{self.caller}: the incoming gradient has non-finite values.")
        if self.batched:
            return self._batched(call, z, v, y, step)
        return self._whole(call, z, v, step)

    # -- one vector --------------------------------------------------------------

    def _whole(self, call: Callable[[np.ndarray], np.ndarray], z: np.ndarray, v: np.ndarray,
               step: int) -> np.ndarray:
        from zoopt.estimators import grad

        shape = z.shape

        def phi(x: Any) -> float:
            out = self._checked(call(x.reshape(shape)), v.shape, None)
            return float((v * out).sum())

        g = grad(phi, z.reshape(-1), method=self.method, dist=self.dist, sigma=self.sigma,
                 n_dirs=self.n_dirs, vectorized=False, rng=_key(self.key), step=step)
        return g.reshape(shape)

    # -- rows ----------------------------------------------------------------------

    def _batched(self, call: Callable[[np.ndarray], np.ndarray], z: np.ndarray,
                 v: np.ndarray, y: np.ndarray, step: int) -> np.ndarray:
        backend = backend_of(z)
        xp = backend.xp
        B = z.shape[0]
        row = z.shape[1:]
        k = int(np.prod(row, dtype=np.int64))
        D = B * k
        n, dtype = self.n_dirs, z.dtype
        with np.errstate(over="ignore"):
            h = float(dtype.type(self.sigma))
        if not (np.isfinite(h) and h > 0.0):
            raise ValueError(f"The 'sigma' parameter of {self.caller} must be representable "
                             f"in {dtype}; {self.sigma!r} rounds to {h!r}.")
        sig = dtype.type(self.sigma)
        stream = _Stream(self.key, step, self.dist, dtype, D, backend=backend)
        per = 2 if self.method == "central" else 1
        # batch_size counts rows of fun's input: B rows per probe of the whole batch
        rows_cap = self.batch_size or max(1, _PROBE_BYTES // max(1, k * dtype.itemsize))
        m_max = max(1, rows_cap // (per * B))
        vb = v.reshape(B, -1)
        phi0 = None
        if self.method == "forward":
            y64 = xp.asarray(y, dtype=np.float64)
            if not bool(xp.isfinite(y64).all()):
                raise ValueError(f"The function passed to {self.caller} returned non-finite "
                                 "values at the input point (needed by method='forward').")
            phi0 = (vb * y64.reshape(B, -1)).sum(axis=1)
        g = xp.zeros((B, k), dtype=np.float64)
        zf = z.reshape(1, B, k)
        for i0 in range(0, n, m_max):
            m = min(m_max, n - i0)
            U = xp.empty((m, D), dtype=dtype)
            stream.fill(i0, U, xp.empty(0, dtype=dtype))
            U3 = U.reshape(m, B, k)
            step_ = U3 * sig
            probes = xp.empty((m, per, B, k), dtype=dtype)
            xp.add(zf, step_, out=probes[:, 0])
            if per == 2:
                xp.subtract(zf, step_, out=probes[:, 1])
            out = self._checked(call(probes.reshape(m * per * B, *row)),
                                (m * per * B, *v.shape[1:]), None)
            phi = (out.reshape(m, per, B, -1) * vb[None, None]).sum(axis=3)
            if per == 2:
                w = (phi[:, 0] - phi[:, 1]) / (2.0 * h)
            else:
                assert phi0 is not None
                w = (phi[:, 0] - phi0[None, :]) / h
            U64 = U3.astype(np.float64, copy=False)
            for i in range(m):  # directions in index order: the same sums for any chunking
                g += w[i][:, None] * U64[i]
        g *= 1.0 / n
        return g.reshape(z.shape).astype(dtype)

    def _checked(self, out: Any, shape: tuple[int, ...], _: Any) -> Any:
        arr = out if is_device_array(out) else np.asarray(out)
        xp = backend_of(arr).xp
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"The function passed to {self.caller} must return real numbers. "
                            f"Got dtype {arr.dtype}.")
        if arr.shape != tuple(shape):
            raise ValueError(
                f"The function passed to {self.caller} returned shape {arr.shape} on probes "
                f"where {tuple(shape)} was expected (the shape of its output on the input, "
                "with the batch axis scaled by the number of stacked probes when batched)."
            )
        arr = arr.astype(np.float64, copy=False)
        if not bool(xp.isfinite(arr).all()):
            raise ValueError(f"The function passed to {self.caller} returned non-finite values "
                             "at a probe.")
        return arr


def _key(key: np.ndarray) -> Any:
    from zoopt.random import _StreamKey

    return _StreamKey(key)
