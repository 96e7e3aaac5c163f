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

from zoopt._backend import Backend, backend_of
from zoopt._engine import (
    Evaluator,
    finite_estimate,
    finite_weights,
    make_probes,
    replace_nonfinite,
    rows_per_call,
    weighted_sum,
)
from zoopt._result import EstimateInfo
from zoopt._validation import (
    caller_name,
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_point,
    check_positive_float,
)
from zoopt.random import (
    _DISTRIBUTIONS,
    _check_coordinates,
    _check_lowrank,
    _check_step,
    _LowRank,
    _orthogonal,
    _Stream,
    key_from_rng,
)

__all__ = ["grad"]

METHODS = ("forward", "central", "coordinate")
NAN_POLICIES = ("raise", "worst")


def _weights_forward(values: np.ndarray, fx: float | None, h: float) -> np.ndarray:
    assert fx is not None
    return (values[:, 0] - fx) / h


def _weights_central(values: np.ndarray, fx: float | None, h: float) -> np.ndarray:
    return (values[:, 0] - values[:, 1]) / (2.0 * h)


# method -> (antithetic probes, needs f(x), rule giving per-direction differences)
_WEIGHT_RULES: dict[str, tuple[bool, bool, Callable[..., np.ndarray]]] = {
    "forward": (False, True, _weights_forward),
    "central": (True, False, _weights_central),
}


def grad(fun: Callable[..., Any], x: Any, *, method: str = "central", dist: str = "normal",
         sigma: float = 1e-3, n_dirs: int = 32, batch_size: int | None = None,
         vectorized: bool = True, rng: Any = None, step: int = 0,
         return_info: bool = False, nan_policy: str = "raise", executor: Any = None,
         subspace: int | None = None, shape: tuple[int, int] | None = None,
         rank: int | None = None) -> Any:
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
    dist : {"normal", "rademacher", "sphere", "orthogonal", "lowrank"}, optional
        Distribution of the directions (default ``"normal"``).
        ``"rademacher"`` with ``"central"`` is SPSA; ``"sphere"`` uses unit
        directions with the factor ``d``; ``"orthogonal"`` uses normal
        directions made orthogonal in blocks of ``d`` that keep their
        (``chi_d``) norms: still unbiased for the Gaussian smoothing, with
        less variance (Notes).  Orthogonal directions are materialized:
        ``n_dirs * d`` numbers of the dtype of ``x`` plus a float64 copy for
        the QR decomposition (``16 n_dirs d`` bytes for float64).
        ``"lowrank"`` (with ``shape`` and ``rank``) uses the matrices
        ``vec(A_i B_i^T) / sqrt(rank)`` with normal factors, whose covariance
        is the identity as for normal directions (Notes); the sum is taken
        over the factors, ``(m + n) rank`` numbers per direction.
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
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate the probes there (see :mod:`zoopt.parallel`): workers get
        ``x``, the stream key, the step and a range of directions and return
        values only.  Same result, bit for bit.  Not used by ``"coordinate"``;
        not available with ``dist="orthogonal"`` or ``subspace``.
    subspace : int, optional
        Estimate in a random ``subspace``-dimensional subspace (default None:
        the whole space): probes ``x +- s P v_i`` with ``v_i`` drawn in
        ``R^k`` and ``P = D H^T R^T / sqrt(k)`` the transpose of an SRHT drawn
        from the stream at ``step`` (random signs ``D``, Walsh-Hadamard ``H``,
        ``k`` sampled rows ``R``; see :class:`zoopt.projection.SRHT`), and
        ``g = P g_k``.  ``E P P^T = I``, so the estimate stays unbiased for
        linear and quadratic ``fun``; each probe costs one ``O(d log d)``
        transform and no ``d x k`` matrix is kept.  ``1 <= subspace <= d``.
    shape : (int, int), optional
        For ``dist="lowrank"``: ``(m, n)`` with ``m * n == d``, the matrix that
        ``x`` holds row-major (a weight matrix flattened by ``W.ravel()``).
    rank : int, optional
        For ``dist="lowrank"``: the rank of each direction,
        ``1 <= rank <= min(m, n)``.

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
    where :math:`c = d` for sphere directions and 1 otherwise (``k`` for
    sphere directions in a ``subspace`` of dimension ``k``).  For Gaussian
    directions both are unbiased for :math:`\nabla f_s`, the gradient of
    :math:`f_s(x) = E f(x + s u)`, with :math:`E\|\hat g - a\|^2 = (d+1)\|a\|^2/n`
    for linear :math:`f = a^\top x` [1]_.  For quadratics the central term is
    exactly :math:`v v^\top \nabla f(x)`.  The weighted sum runs in float64.
    Orthogonal directions with :math:`\chi_d` norms lower the error for linear
    :math:`f` to :math:`(d + 2 - n)\|a\|^2/n` (for :math:`n \le d`).
    Low-rank directions :math:`v = \mathrm{vec}(AB^\top)/\sqrt r` have
    :math:`E vv^\top = I`, so the central estimate of a quadratic is unbiased
    at every rank; for linear :math:`f` the error is
    :math:`(mn + 1 + (2m + 2n + 2)/r)\|a\|^2/n`, the Gaussian's plus
    :math:`(2m + 2n + 2)/r` (a fourth moment :math:`E v_j^4 = 3 + 6/r`), which
    also changes the :math:`O(s^2)` smoothing bias of non-quadratic ``fun``.

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
    caller = caller_name("grad")
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
    if subspace is not None:
        subspace = check_int(subspace, "subspace", caller, low=1, high=x.size)
    lowrank = _check_lowrank(dist, shape, rank, x.size, caller)
    if lowrank is not None:
        if subspace is not None:
            raise ValueError("The 'subspace' parameter of grad cannot be used with "
                             "dist='lowrank' (the directions are matrices of x's shape).")
        _check_coordinates((lowrank[0] + lowrank[1]) * lowrank[2],
                           "The factors (m + n) * rank", caller, "normal", x.dtype)
    elif method != "coordinate" and subspace is None:
        _check_coordinates(x.size, "The 'x' parameter", caller, dist, x.dtype, "coordinates")
    elif method != "coordinate":
        from zoopt.projection import _check_srht_length

        _check_srht_length(x.size, "The 'x' parameter", caller, "coordinates with subspace=...")
    backend = backend_of(x)
    if backend.xp is not np and executor is not None:
        raise ValueError(
            "The 'executor' parameter of grad must be None when 'x' is a GPU array "
            "(the probes are built and evaluated on the device). Got "
            f"{type(executor).__name__}."
        )
    if executor is not None and (dist == "orthogonal" or subspace is not None):
        raise ValueError(
            f"The 'executor' parameter of grad cannot be used with dist={dist!r} or "
            "subspace=...: their directions are built in this process. Pass executor=None."
        )

    dtype = x.dtype
    # the step actually taken: sigma rounded to the dtype of x
    with np.errstate(over="ignore"):
        h = float(dtype.type(sigma))
    if h == 0.0 or not np.isfinite(h):
        raise ValueError(
            f"The 'sigma' parameter of grad must be representable in {dtype}; "
            f"{sigma!r} rounds to {h!r}."
        )
    if method == "coordinate":
        evaluate = Evaluator(fun, vectorized, nan_policy, caller)
        g, values, fx = _coordinate(evaluate, x, h, batch_size, nan_policy, caller)
        n_used, nfev = x.size, evaluate.nfev
    else:
        key = key_from_rng(rng, caller)
        probes = make_probes(fun, vectorized, nan_policy, caller, executor)
        if dist in ("orthogonal", "lowrank") or subspace is not None:
            g, values, fx = _materialized(probes, x, h, method, dist, n_dirs, batch_size, key,
                                          step, nan_policy, caller, subspace, backend, lowrank)
        else:
            g, values, fx = _random(probes, x, h, method, dist, n_dirs, batch_size, key,
                                    step, nan_policy, caller, backend)
        n_used, nfev = n_dirs, probes.nfev
    if not return_info:
        return g
    info = EstimateInfo(nfev=nfev, fx=fx, values=values, method=method,
                        dist=None if method == "coordinate" else dist, sigma=h,
                        n_dirs=n_used, step=step)
    return g, info


def _random(probes: Any, x: np.ndarray, h: float, method: str, dist: str,
            n: int, batch_size: int | None, key: np.ndarray, step: int, nan_policy: str,
            caller: str, backend: Backend):
    antithetic, needs_fx, rule = _WEIGHT_RULES[method]
    stream = _Stream(key, step, dist, x.dtype, x.size, backend=backend)
    scale = stream.scales(0, n)
    fx = probes.center(x) if needs_fx else None
    values = probes.probe_values(x, h, stream, n, antithetic, batch_size)
    if nan_policy == "worst":
        values, fx = replace_nonfinite(values, fx, caller)
    w = finite_weights(rule, values, fx, h, caller=caller) * (
        (x.size if dist == "sphere" else 1) / n)
    g = weighted_sum(w, stream, scale)
    return finite_estimate(g, x.dtype, caller), (values if antithetic else values[:, 0]), fx


def _materialized(probes: Any, x: np.ndarray, h: float, method: str, dist: str, n: int,
                  batch_size: int | None, key: np.ndarray, step: int, nan_policy: str,
                  caller: str, subspace: int | None, backend: Backend,
                  lowrank: tuple[int, int, int] | None = None):
    """Directions built chunk by chunk in Python-visible arrays: orthogonal blocks, low-rank
    matrices (summed over their factors), or any distribution drawn in ``R^k`` and lifted
    to ``R^d`` by a random subspace map."""
    antithetic, needs_fx, rule = _WEIGHT_RULES[method]
    dtype, xp = x.dtype, backend.xp
    k = x.size if subspace is None else subspace
    lift = None
    if subspace is not None:
        from zoopt.projection import _Subspace

        lift = _Subspace(key, step, x.size, k, backend)
    low = None
    if dist == "orthogonal":
        U = _orthogonal(key, step, n, k, dtype, backend)
        stream, scale = None, None

        def chunk(i0: int, m: int) -> Any:
            return U[i0 : i0 + m]
    elif lowrank is not None:
        low = _LowRank(key, step, *lowrank, dtype, backend)
        stream, scale = None, None

        def chunk(i0: int, m: int) -> Any:
            assert low is not None
            return low.chunk(i0, m)
    else:
        stream = _Stream(key, step, dist, dtype, k, backend=backend)
        scale = stream.scales(0, n)

        def chunk(i0: int, m: int) -> Any:
            out = xp.empty((m, k), dtype=dtype)
            stream.fill(i0, out, scale[i0 : i0 + m] if scale.size else scale)
            return out

    def directions(i0: int, m: int) -> np.ndarray:
        V = chunk(i0, m)
        return V if lift is None else lift.lift(V)

    fx = probes.center(x) if needs_fx else None
    if low is not None:  # the workers of an executor regenerate the factors
        values = probes.lowrank_values(x, h, low, n, antithetic, batch_size)
    else:
        values = probes.matrix_values(x, h, directions, n, antithetic, batch_size)
    if nan_policy == "worst":
        values, fx = replace_nonfinite(values, fx, caller)
    w = finite_weights(rule, values, fx, h, caller=caller) * (
        (k if dist == "sphere" else 1) / n)
    if low is not None:
        gk = low.weighted_sum(w)
    elif stream is None and xp is np:
        # a fixed summation order (no BLAS), so the result does not depend on BLAS threads
        gk = np.einsum("i,ij->j", w, U.astype(np.float64), optimize=False)
    elif stream is None:  # on a GPU: the weights to the device, the sum by cuBLAS
        gk = xp.asarray(w) @ U.astype(np.float64)
    else:
        assert scale is not None
        gk = weighted_sum(w, stream, scale)
    g = gk if lift is None else lift.lift(gk[None, :])[0]
    return finite_estimate(g, dtype, caller), (values if antithetic else values[:, 0]), fx


def _coordinate(evaluate: Evaluator, x: np.ndarray, h: float, batch_size: int | None,
                nan_policy: str, caller: str):
    xp = backend_of(x).xp
    d = x.size
    dtype = x.dtype
    rows = rows_per_call(batch_size, d, dtype.itemsize, 2)
    per_call = rows // 2
    values = np.empty((d, 2), dtype=np.float64)
    # the actual distance between the two probes of axis j, as evaluated
    span = ((x + dtype.type(h)).astype(np.float64) - (x - dtype.type(h)).astype(np.float64))
    buf = xp.empty((min(rows, 2 * d), d), dtype=dtype)
    for j0 in range(0, d, per_call):
        m = min(per_call, d - j0)
        out = buf[: 2 * m]
        out[:] = x
        idx = xp.arange(m)
        out[2 * idx, j0 + idx] += dtype.type(h)
        out[2 * idx + 1, j0 + idx] -= dtype.type(h)
        values[j0 : j0 + m] = evaluate(out, 2 * j0).reshape(m, 2)
    if nan_policy == "worst":
        values, _ = replace_nonfinite(values, None, caller)
    diff = finite_weights(lambda v: v[:, 0] - v[:, 1], values, caller=caller)
    with np.errstate(over="ignore"):
        g = (diff if xp is np else xp.asarray(diff)) / span
    return finite_estimate(g, dtype, caller), values, None
