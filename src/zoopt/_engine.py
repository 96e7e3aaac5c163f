"""The one shape of every estimator: probe, evaluate, weigh, sum.

``probe_values`` builds probes ``x +- sigma * v_i`` chunk by chunk from the
counter stream and evaluates them; a weight rule (in ``estimators`` or
``policy``) turns the values into weights; ``weighted_sum`` returns
``sum_i w_i v_i`` through the kernel that regenerates each ``v_i``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._backend import array_module, is_device_array
from zoopt._threads import threads_for
from zoopt.random import _Stream

__all__: list[str] = []

# Default bound on the probe buffer: rows of one call to ``fun``.  16 MiB keeps
# a batch in the last-level cache of common CPUs and the peak memory of an
# estimate near ``x`` plus a few copies of it, whatever the number of directions.
_BATCH_BYTES = 16 << 20
# On a GPU, calls are expensive and memory is wide: batches of up to 1 GiB.
_DEVICE_BATCH_BYTES = 1 << 30


class Evaluator:
    """Calls the objective on probe batches and checks what comes back."""

    def __init__(self, fun: Callable[..., Any], vectorized: bool, nan_policy: str,
                 caller: str, shape: tuple[int, ...] | None = None):
        self.fun = fun
        self.vectorized = vectorized
        self.nan_policy = nan_policy
        self.caller = caller
        self.shape = shape  # points are reshaped to this before the call
        self.nfev = 0

    def __call__(self, X: np.ndarray, first: int) -> np.ndarray:
        """Values at the rows of X (probe indices ``first .. first + len(X) - 1``;
        ``first < 0`` means the center point)."""
        B = X.shape[0]
        if self.vectorized:
            arg = X if self.shape is None else X.reshape(B, *self.shape)
            vals = self._as_values(self._call(arg, first, B), B, first)
        else:
            vals = np.empty(B, dtype=np.float64)
            for r in range(B):
                arg = X[r] if self.shape is None else X[r].reshape(self.shape)
                vals[r] = self._as_scalar(self._call(arg, first + r, 1), first + r)
        self.nfev += B
        if self.nan_policy == "raise" and not np.isfinite(vals).all():
            bad = np.flatnonzero(~np.isfinite(vals))
            where = "f(x)" if first < 0 else f"probes {(first + bad)[:5].tolist()}"
            raise ValueError(
                f"The objective passed to {self.caller} returned non-finite values "
                f"{vals[bad][:3].tolist()} at {where}. Pass nan_policy='worst' to treat "
                "them as the worst value seen instead."
            )
        return vals

    def _call(self, X: np.ndarray, first: int, B: int) -> Any:
        try:
            return self.fun(X)
        except Exception as exc:
            if hasattr(exc, "add_note"):
                where = "f(x)" if first < 0 else f"probes {first}..{first + B - 1}"
                exc.add_note(f"(raised while {self.caller} evaluated {where})")
            raise

    def _as_values(self, raw: Any, B: int, first: int) -> np.ndarray:
        if is_device_array(raw):
            raw = raw.get()  # B values of a GPU objective: the copy the estimate needs
        arr = np.asarray(raw)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"The objective passed to {self.caller} must return real numbers. "
                f"Got dtype {arr.dtype} for probes {first}..{first + B - 1}."
            )
        if arr.shape != (B,):
            raise ValueError(
                f"The objective passed to {self.caller} must map a batch X of shape (B, d) "
                f"to values of shape (B,) = ({B},). Got shape {arr.shape} instead "
                "(for a function of one point, pass vectorized=False)."
            )
        return arr.astype(np.float64)

    def _as_scalar(self, raw: Any, index: int) -> float:
        if is_device_array(raw):
            raw = raw.get()
        arr = np.asarray(raw)
        if arr.dtype.kind not in "biuf" or arr.size != 1:
            raise TypeError(
                f"The objective passed to {self.caller} with vectorized=False must return "
                f"one real number per point. Got {arr.dtype} of shape {arr.shape} at "
                f"probe {index}."
            )
        return float(arr.reshape(()))

    def center(self, x: np.ndarray) -> float:
        return float(self(x[None, :], -1)[0])


def replace_nonfinite(values: np.ndarray, fx: float | None, caller: str):
    """nan_policy='worst': non-finite values become the largest finite value
    evaluated in the same estimate (the worst point seen, for minimization)."""
    pool = values.ravel() if fx is None else np.append(values.ravel(), fx)
    finite = np.isfinite(pool)
    if finite.all():
        return values, fx
    if not finite.any():
        raise ValueError(
            f"The objective passed to {caller} returned no finite value at any probe; "
            "nan_policy='worst' needs at least one."
        )
    worst = float(pool[finite].max())
    values = np.where(np.isfinite(values), values, worst)
    if fx is not None and not np.isfinite(fx):
        fx = worst
    return values, fx


def finite_weights(rule: Callable[..., Any], *args: Any, caller: str,
                   rewards: bool = False) -> Any:
    """``rule(*args)``, refused when finite values give non-finite weights.

    Values each representable in float64 can still differ by more than float64
    holds (``1e308 - (-1e308)``), or overflow once divided by a small sigma: the
    estimate would be inf or NaN.  Under either ``nan_policy`` that is an error,
    not a result.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        w = rule(*args)
    if not np.isfinite(w).all():
        if rewards:
            raise FloatingPointError(
                f"The rewards passed to {caller} are finite, but their advantages (reward "
                "minus baseline) overflow float64: the estimate would not be finite. "
                "Rescale the rewards (for example divide them by their typical magnitude)."
            )
        raise FloatingPointError(
            f"The objective values passed to {caller} are finite, but the weights built "
            "from them (differences of values, divided by sigma) overflow float64: the "
            "estimate would not be finite. Rescale the objective (for example divide it "
            "by its typical magnitude) or use a larger sigma."
        )
    return w


def finite_estimate(g: Any, dtype: Any, caller: str, what: str = "gradient estimate") -> Any:
    """``g`` cast to ``dtype``, refused when the cast (or the sum) overflows."""
    xp = array_module(g)
    with np.errstate(over="ignore", invalid="ignore"):
        out = g.astype(dtype, copy=False)
    if not bool(xp.isfinite(out).all()):
        raise FloatingPointError(
            f"The {what} of {caller} overflows {np.dtype(dtype)}: the objective's "
            "differences over sigma are too large for it. Rescale the objective, use a "
            "larger sigma, or pass float64."
        )
    return out


def rows_per_call(batch_size: int | None, d: int, itemsize: int, per: int,
                  device: bool = False) -> int:
    if batch_size is None:
        budget = _DEVICE_BATCH_BYTES if device else _BATCH_BYTES
        batch_size = max(1, budget // (d * itemsize))
    return max(per, batch_size - batch_size % per)


def probe_values(evaluate: Evaluator, x: np.ndarray, sigma: float, stream: _Stream,
                 scale: np.ndarray, n: int, antithetic: bool, batch_size: int | None,
                 sigma_vec: np.ndarray | None = None) -> np.ndarray:
    """Values at ``x + sigma v_i`` (column 0) and, if antithetic, ``x - sigma v_i``
    (column 1) for directions ``i = 0 .. n - 1``: shape ``(n, 1 or 2)``."""
    streams, xp = stream.backend.streams, stream.backend.xp
    d, dtype = x.size, x.dtype
    per = 2 if antithetic else 1
    rows = rows_per_call(batch_size, d, dtype.itemsize, per, device=xp is not np)
    per_call = rows // per
    buf = xp.empty((min(rows, n * per), d), dtype=dtype)
    values = np.empty((n, per), dtype=np.float64)  # values live on the host
    sig = dtype.type(sigma)
    svec = xp.empty(0, dtype=dtype) if sigma_vec is None else sigma_vec
    n_threads = threads_for(min(n, per_call) * per * d)
    for i0 in range(0, n, per_call):
        m = min(per_call, n - i0)
        out = buf[: m * per]
        streams.perturb(x, sig, svec, scale[i0 : i0 + m], out, stream.code, stream.k0,
                        stream.k1, stream.c2, stream.c3, i0, antithetic, n_threads)
        values[i0 : i0 + m] = evaluate(out, i0 * per).reshape(m, per)
    return values


class LocalProbes:
    """The in-process path: chunks of probes built and evaluated here."""

    def __init__(self, fun: Callable[..., Any], vectorized: bool, nan_policy: str,
                 caller: str):
        self.evaluate = Evaluator(fun, vectorized, nan_policy, caller)

    @property
    def nfev(self) -> int:
        return self.evaluate.nfev

    def center(self, x: np.ndarray) -> float:
        return self.evaluate.center(x)

    def probe_values(self, x: np.ndarray, sigma: float, stream: _Stream, n: int,
                     antithetic: bool, batch_size: int | None,
                     sigma_vec: np.ndarray | None = None) -> np.ndarray:
        return probe_values(self.evaluate, x, sigma, stream, stream.scales(0, n), n,
                            antithetic, batch_size, sigma_vec)

    def matrix_values(self, x: np.ndarray, sigma: float,
                      directions: Callable[[int, int], np.ndarray], n: int, antithetic: bool,
                      batch_size: int | None,
                      sigma_vec: np.ndarray | None = None) -> np.ndarray:
        return matrix_probe_values(self.evaluate, x, sigma, directions, n, antithetic,
                                   batch_size, sigma_vec)

    def lowrank_values(self, x: np.ndarray, sigma: float, low: Any, n: int,
                       antithetic: bool, batch_size: int | None,
                       sigma_vec: np.ndarray | None = None) -> np.ndarray:
        """``matrix_values`` of the ``"lowrank"`` directions ``low``
        (:class:`zoopt.random._LowRank`)."""
        return self.matrix_values(x, sigma, low.chunk, n, antithetic, batch_size, sigma_vec)


def matrix_probe_values(evaluate: Evaluator, x: np.ndarray, sigma: float,
                        directions: Callable[[int, int], np.ndarray], n: int,
                        antithetic: bool, batch_size: int | None,
                        sigma_vec: np.ndarray | None = None, offset: int = 0) -> np.ndarray:
    """``probe_values`` for directions given as arrays by ``directions(i0, m)``
    (rows ``i0 .. i0 + m - 1``), for those the kernels cannot regenerate; with
    ``sigma_vec`` the probes are ``x +- sigma_vec * (sigma v_i)``.  ``offset``: the
    index of direction 0 among all (for the objective's error messages)."""
    xp = array_module(x)
    d, dtype = x.size, x.dtype
    per = 2 if antithetic else 1
    rows = rows_per_call(batch_size, d, dtype.itemsize, per, device=xp is not np)
    per_call = rows // per
    buf = xp.empty((min(rows, n * per), d), dtype=dtype)
    values = np.empty((n, per), dtype=np.float64)  # values live on the host
    sig = dtype.type(sigma)
    for i0 in range(0, n, per_call):
        m = min(per_call, n - i0)
        out = buf[: m * per].reshape(m, per, d)
        V = directions(i0, m)
        xp.multiply(V, sig, out=out[:, 0])
        if sigma_vec is not None:
            xp.multiply(out[:, 0], sigma_vec, out=out[:, 0])
        if antithetic:
            xp.subtract(x, out[:, 0], out=out[:, 1])
        xp.add(x, out[:, 0], out=out[:, 0])
        values[i0 : i0 + m] = evaluate(buf[: m * per], (offset + i0) * per).reshape(m, per)
    return values


def make_probes(fun: Callable[..., Any], vectorized: bool, nan_policy: str, caller: str,
                executor: Any = None) -> Any:
    """Local evaluation, or through ``executor`` (see :mod:`zoopt.parallel`)."""
    if executor is None:
        return LocalProbes(fun, vectorized, nan_policy, caller)
    from zoopt.parallel import RemoteProbes, check_executor

    return RemoteProbes(check_executor(executor, caller), fun, vectorized, nan_policy, caller)


def weighted_sum(w: np.ndarray, stream: _Stream, scale: np.ndarray, *,
                 square: bool = False) -> np.ndarray:
    """``sum_i w_i v_i`` (or ``sum_i w_i (v_i^2 - 1)``) in float64, shape (d,)."""
    be = stream.backend
    acc = be.xp.zeros(stream.d, dtype=np.float64)
    # the n weights come from the objective's values on the host: the one copy to the device
    weights = be.xp.asarray(np.ascontiguousarray(w, dtype=np.float64))
    be.streams.accumulate(weights, scale, acc, stream.code, stream.k0, stream.k1, stream.c2,
                          stream.c3, 0, square, threads_for(w.size * stream.d))
    return acc
