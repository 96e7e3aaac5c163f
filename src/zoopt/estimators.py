"""Zeroth-order gradient estimators: random finite differences as weighted sums.

Every estimator here has one shape: draw directions ``v_1 .. v_n`` from the
counter-based stream (:mod:`zoopt.random`), evaluate the objective at probes
built from them, turn the values into weights ``w_i`` with a small rule, and
return ``sum_i w_i v_i`` through one kernel that regenerates each ``v_i``
instead of storing it.  The rules (``_WEIGHT_RULES``) are all that differ:

* forward   ``w_i = (f(x + s v_i) - f(x)) / (s n)``  (Nesterov and Spokoiny 2017)
* central   ``w_i = (f(x + s v_i) - f(x - s v_i)) / (2 s n)``; with Rademacher
  directions this is SPSA (Spall 1992)
* sphere    the same rules times ``d`` for unit directions (Flaxman, Kalai and
  McMahan 2005), unbiased for the gradient of the ball-smoothed function.

``method="coordinate"`` is deterministic central differences along the axes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._result import EstimateInfo
from zoopt._threads import get_num_threads
from zoopt._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_point,
    check_positive_float,
)
from zoopt.random import _DISTRIBUTIONS, _check_step, _Stream, key_from_rng

__all__ = ["grad"]

METHODS = ("forward", "central", "coordinate")
NAN_POLICIES = ("raise", "worst")

# Default bound on the probe buffer: rows of one call to ``fun``.  16 MiB keeps
# a batch in the last-level cache of common CPUs and the peak memory of an
# estimate near ``x`` plus a few copies of it, whatever ``n_dirs`` is.
_BATCH_BYTES = 16 << 20


def _weights_forward(values: np.ndarray, fx: float | None, h: float) -> np.ndarray:
    assert fx is not None
    return (values - fx) / h


def _weights_central(values: np.ndarray, fx: float | None, h: float) -> np.ndarray:
    return (values[:, 0] - values[:, 1]) / (2.0 * h)


# method -> (probes per direction, needs f(x), rule giving per-direction differences)
_WEIGHT_RULES: dict[str, tuple[int, bool, Callable[..., np.ndarray]]] = {
    "forward": (1, True, _weights_forward),
    "central": (2, False, _weights_central),
}


class _Evaluator:
    """Calls the objective on probe batches and checks what comes back."""

    def __init__(self, fun: Callable[..., Any], vectorized: bool, nan_policy: str,
                 caller: str):
        self.fun = fun
        self.vectorized = vectorized
        self.nan_policy = nan_policy
        self.caller = caller
        self.nfev = 0

    def __call__(self, X: np.ndarray, first: int) -> np.ndarray:
        """Values at the rows of X (probe indices ``first .. first + len(X) - 1``)."""
        B = X.shape[0]
        if self.vectorized:
            raw = self._call(X, first, B)
            vals = self._as_values(raw, B, first)
        else:
            vals = np.empty(B, dtype=np.float64)
            for r in range(B):
                vals[r] = self._as_scalar(self._call(X[r], first + r, 1), first + r)
        self.nfev += B
        if self.nan_policy == "raise" and not np.isfinite(vals).all():
            bad = first + np.flatnonzero(~np.isfinite(vals))
            raise ValueError(
                f"The objective passed to {self.caller} returned non-finite values "
                f"{vals[~np.isfinite(vals)][:3].tolist()} at probes {bad[:5].tolist()}. "
                "Pass nan_policy='worst' to treat them as the worst value seen instead."
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
        arr = np.asarray(raw)
        if arr.dtype.kind not in "biuf" or arr.size != 1:
            raise TypeError(
                f"The objective passed to {self.caller} with vectorized=False must return "
                f"one real number per point. Got {arr.dtype} of shape {arr.shape} at "
                f"probe {index}."
            )
        return float(arr.reshape(()))


def _replace_nonfinite(values: np.ndarray, fx: float | None, caller: str):
    """nan_policy='worst': non-finite values become the largest finite value
    evaluated in the same estimate (the worst point seen, for minimization)."""
    pool = values if fx is None else np.append(values.ravel(), fx)
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


def _rows_per_call(batch_size: int | None, d: int, itemsize: int, per: int) -> int:
    if batch_size is None:
        batch_size = max(1, _BATCH_BYTES // (d * itemsize))
    return max(per, batch_size - batch_size % per)


def grad(fun: Callable[..., Any], x: Any, *, method: str = "central", dist: str = "normal",
         sigma: float = 1e-3, n_dirs: int = 32, batch_size: int | None = None,
         vectorized: bool = True, rng: Any = None, step: int = 0,
         return_info: bool = False, nan_policy: str = "raise") -> Any:
    r"""Estimate the gradient of ``fun`` at ``x`` from function values only.

    Parameters
    ----------
    fun : callable
        The objective.  Vectorized (default): ``fun(X)`` maps probes ``X`` of
        shape ``(B, d)`` (same dtype as ``x``) to values of shape ``(B,)``.
        With ``vectorized=False``: ``fun(x)`` maps one point ``(d,)`` to a
        number.  ``fun`` must not keep a reference to ``X``: the buffer is
        reused for the next batch.
    x : array_like, shape (d,)
        Point, finite.  float32 and float64 are kept (float32 in, float32
        out); integers become float64.
    method : {"central", "forward", "coordinate"}, optional
        ``"central"`` (default): antithetic pairs, ``2 n_dirs`` evaluations;
        ``"forward"``: ``n_dirs + 1`` evaluations (``f(x)`` included);
        ``"coordinate"``: central differences along each axis, ``2 d``
        evaluations, deterministic (``dist``, ``n_dirs`` and ``rng`` unused).
    dist : {"normal", "rademacher", "sphere"}, optional
        Distribution of the directions (default ``"normal"``).
        ``"rademacher"`` with ``"central"`` is SPSA; ``"sphere"`` uses unit
        directions with the factor ``d``.
    sigma : float, optional
        Step of the finite differences, > 0 (default 1e-3), in the units of
        ``x``; rounded to the dtype of ``x``.
    n_dirs : int, optional
        Number of directions, >= 1 (default 32).
    batch_size : int, optional
        Most rows per call of ``fun`` (default: as many as fit in 16 MiB, at
        least 2 for ``"central"``, which keeps each pair in one call).  Memory
        is ``O(batch_size * d)`` whatever ``n_dirs`` is.
    vectorized : bool, optional
        Whether ``fun`` takes a batch (default True).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key (SPEC 7); see :func:`zoopt.random.key_from_rng`.
    step : int, optional
        Step counter of the stream (default 0): the same ``rng`` and ``step``
        give the same directions, those of :func:`zoopt.random.directions`.
    return_info : bool, optional
        Also return an :class:`~zoopt.EstimateInfo` (default False).
    nan_policy : {"raise", "worst"}, optional
        What a non-finite value of ``fun`` does: raise ``ValueError``
        (default), or count as the worst (largest) finite value evaluated in
        the same estimate, which keeps the estimate finite and pointing away
        from the failing probe.

    Returns
    -------
    g : ndarray, shape (d,)
        Estimate of the gradient of the Gaussian-smoothed ``fun`` (normal,
        Rademacher) or ball-smoothed ``fun`` (sphere); dtype of ``x``.
    info : EstimateInfo
        Only with ``return_info=True``: ``nfev``, ``fx`` (``f(x)`` or None),
        ``values`` (``(n_dirs,)`` for forward; ``(n_dirs, 2)`` with columns
        ``f(x + s v)``, ``f(x - s v)`` for central; ``(d, 2)`` for
        coordinate), ``method``, ``dist``, ``sigma``, ``n_dirs``, ``step``.

    Raises
    ------
    ValueError
        Bad parameter values; ``fun`` returning the wrong shape or, with
        ``nan_policy="raise"``, a non-finite value.
    TypeError
        Bad parameter types; ``fun`` returning non-real values.
    Exception
        Whatever ``fun`` raises propagates unchanged, with a note naming the
        probes being evaluated.

    See Also
    --------
    zoopt.random.directions : the directions used.

    Notes
    -----
    With directions :math:`v_i`, step :math:`s` and :math:`n` directions:

    .. math::

        \hat g = \frac{c}{n} \sum_{i=1}^{n} \frac{f(x + s v_i) - f(x - s v_i)}{2 s} v_i

    (central) or with :math:`f(x + s v_i) - f(x)` over :math:`s` (forward),
    where :math:`c = d` for sphere directions and 1 otherwise.  For Gaussian
    directions both are unbiased for :math:`\nabla f_s`, the gradient of
    :math:`f_s(x) = E f(x + s u)`, with :math:`E\|\hat g - a\|^2 = (d+1)\|a\|^2/n`
    for linear :math:`f = a^\top x` [1]_.  For quadratics the central term is
    exactly :math:`v v^\top \nabla f(x)`.  The weighted sum runs in float64.

    References
    ----------
    .. [1] Y. Nesterov and V. Spokoiny, "Random gradient-free minimization of
       convex functions", Found. Comput. Math. 17 (2017).

    Examples
    --------
    >>> import numpy as np
    >>> import zoopt
    >>> def sphere(X):
    ...     return (X * X).sum(axis=1)
    >>> g = zoopt.grad(sphere, np.ones(4), n_dirs=2000, rng=0)
    >>> bool(np.allclose(g, 2.0, atol=0.3))
    True
    """
    caller = "grad"
    fun = check_callable(fun, "fun", caller)
    x = check_point(x, "x", caller)
    method = check_choice(method, "method", caller, METHODS)
    dist = check_choice(dist, "dist", caller, _DISTRIBUTIONS)
    sigma = check_positive_float(sigma, "sigma", caller)
    n_dirs = check_int(n_dirs, "n_dirs", caller, low=1, high=(1 << 32) - 1)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", caller, low=1)
    vectorized = check_bool(vectorized, "vectorized", caller)
    step = _check_step(step, caller)
    return_info = check_bool(return_info, "return_info", caller)
    nan_policy = check_choice(nan_policy, "nan_policy", caller, NAN_POLICIES)

    dtype = x.dtype
    # the step actually taken: sigma rounded to the dtype of x
    h = float(dtype.type(sigma))
    if h == 0.0:
        raise ValueError(
            f"The 'sigma' parameter of grad must be representable in {dtype}; "
            f"{sigma!r} rounds to 0."
        )
    evaluate = _Evaluator(fun, vectorized, nan_policy, caller)

    if method == "coordinate":
        g, values, fx = _coordinate(evaluate, x, h, batch_size, nan_policy, caller)
        n_used = x.size
    else:
        key = key_from_rng(rng, caller)
        g, values, fx = _random(evaluate, x, h, method, dist, n_dirs, batch_size, key,
                                step, nan_policy, caller)
        n_used = n_dirs
    if not return_info:
        return g
    info = EstimateInfo(nfev=evaluate.nfev, fx=fx, values=values, method=method,
                        dist=None if method == "coordinate" else dist, sigma=h,
                        n_dirs=n_used, step=step)
    return g, info


def _random(evaluate: _Evaluator, x: np.ndarray, h: float, method: str, dist: str,
            n: int, batch_size: int | None, key: np.ndarray, step: int, nan_policy: str,
            caller: str):
    from zoopt._cy import streams

    d = x.size
    dtype = x.dtype
    per, needs_fx, rule = _WEIGHT_RULES[method]
    stream = _Stream(key, step, dist, dtype, d)
    scale = stream.scales(0, n)
    n_threads = get_num_threads()

    fx = float(evaluate(x[None, :], -1)[0]) if needs_fx else None
    rows = _rows_per_call(batch_size, d, dtype.itemsize, per)
    per_call = rows // per
    buf = np.empty((min(rows, n * per), d), dtype=dtype)
    values = np.empty((n, per), dtype=np.float64)
    sig = dtype.type(h)
    for i0 in range(0, n, per_call):
        m = min(per_call, n - i0)
        out = buf[: m * per]
        streams.perturb(x, sig, scale[i0 : i0 + m], out, stream.code, stream.k0, stream.k1,
                        stream.c2, stream.c3, i0, per == 2, n_threads)
        values[i0 : i0 + m] = evaluate(out, i0 * per).reshape(m, per)
    del buf

    if nan_policy == "worst":
        values, fx = _replace_nonfinite(values, fx, caller)
    diffs = rule(values[:, 0] if per == 1 else values, fx, h)
    w = diffs * ((d if dist == "sphere" else 1) / n)
    acc = np.zeros(d, dtype=np.float64)
    streams.accumulate(np.ascontiguousarray(w, dtype=np.float64), scale, acc, stream.code,
                       stream.k0, stream.k1, stream.c2, stream.c3, 0, n_threads)
    return acc.astype(dtype), (values[:, 0] if per == 1 else values), fx


def _coordinate(evaluate: _Evaluator, x: np.ndarray, h: float, batch_size: int | None,
                nan_policy: str, caller: str):
    d = x.size
    dtype = x.dtype
    rows = _rows_per_call(batch_size, d, dtype.itemsize, 2)
    per_call = rows // 2
    values = np.empty((d, 2), dtype=np.float64)
    # the actual distance between the two probes of axis j, as evaluated
    span = ((x + dtype.type(h)).astype(np.float64) - (x - dtype.type(h)).astype(np.float64))
    buf = np.empty((min(rows, 2 * d), d), dtype=dtype)
    for j0 in range(0, d, per_call):
        m = min(per_call, d - j0)
        out = buf[: 2 * m]
        out[:] = x
        idx = np.arange(m)
        out[2 * idx, j0 + idx] += dtype.type(h)
        out[2 * idx + 1, j0 + idx] -= dtype.type(h)
        values[j0 : j0 + m] = evaluate(out, 2 * j0).reshape(m, 2)
    if nan_policy == "worst":
        values, _ = _replace_nonfinite(values, None, caller)
    g = (values[:, 0] - values[:, 1]) / span
    return g.astype(dtype), values, None
