"""Policy-gradient (score-function, REINFORCE) estimators.

The score-function identity [1]_: for a policy ``p_theta`` and any baseline
``b`` that does not depend on the sample,

    grad E_{y ~ p_theta}[r(y)] = E[(r(y) - b) grad log p_theta(y)].

:func:`gaussian` is this identity for the Gaussian policy ``mean + sigma u`` in
parameter space; it runs on the same engine as :func:`zoopt.grad` (the same
stream, the same probes, the same weighted-sum kernel) with a different weight
rule, and is equal to it sample by sample: ``baseline="fx"`` *is* the forward
difference and antithetic pairs with their pair mean as baseline *are* the
central difference.  :func:`categorical` and :func:`sequence`
are the discrete policies (labels, tokens); :func:`output_space` is the
Gaussian policy on a model's outputs; :func:`shape` is the fitness
shaping of evolution strategies [2]_.

References
----------
.. [1] R. J. Williams, "Simple statistical gradient-following algorithms for
   connectionist reinforcement learning", Machine Learning 8 (1992).
.. [2] T. Salimans, J. Ho, X. Chen, S. Sidor and I. Sutskever, "Evolution
   strategies as a scalable alternative to reinforcement learning",
   arXiv:1703.03864 (2017).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._backend import (
    Backend,
    array_module,
    backend_of,
    check_same_backend,
    is_device_array,
)
from zoopt._engine import (
    finite_estimate,
    finite_weights,
    make_probes,
    replace_nonfinite,
    weighted_sum,
)
from zoopt._result import PolicyInfo
from zoopt._threads import get_num_threads
from zoopt._validation import (
    called_as,
    caller_name,
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_point,
    check_positive_float,
)
from zoopt.random import (
    KIND_GUMBEL,
    _check_coordinates,
    _check_lowrank,
    _check_step,
    _counter_words,
    _LowRank,
    _Stream,
    key_from_rng,
)

__all__ = ["categorical", "chain_linear", "gaussian", "output_space", "sequence", "shape"]

SHAPES = ("centered_ranks", "nes", "zscore", "none")


# ---------------------------------------------------------------------------
# fitness shaping

def shape(values: Any, kind: str = "centered_ranks") -> np.ndarray:
    """Fitness shaping: utilities that depend on the values only through their order.

    Parameters
    ----------
    values : array_like of float
        Finite values (any shape; ranked over all entries).
    kind : {"centered_ranks", "nes", "zscore", "none"}, optional
        ``"centered_ranks"`` (default): the ``i``-th smallest of ``n`` values
        maps to ``(i - 1) / (n - 1) - 1/2`` (OpenAI ES, Salimans et al. 2017); ties share their
        average rank.  ``"nes"``: ``max(0, log(n/2 + 1) - log i)`` for the
        ``i``-th *largest*, normalized to sum 1, minus ``1/n`` (Wierstra et
        al. 2014).  ``"zscore"``: ``(v - mean) / std`` (zeros if all equal;
        not rank-based).  ``"none"``: the values as float64.

    Returns
    -------
    utilities : ndarray of float64, same shape as ``values``
        Increasing in the value; the rank-based kinds sum to 0 and are
        unchanged by any strictly increasing transform of the values.

    Examples
    --------
    >>> from zoopt.policy import shape
    >>> shape([3.0, 10.0, -1.0]).tolist()
    [0.0, 0.5, -0.5]
    """
    kind = check_choice(kind, "kind", "shape", SHAPES)
    v = np.asarray(values)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"The 'values' parameter of shape must be real. Got dtype {v.dtype}.")
    v = v.astype(np.float64)
    if v.size == 0:
        raise ValueError("The 'values' parameter of shape must not be empty.")
    if not np.isfinite(v).all():
        raise ValueError("The 'values' parameter of shape must be finite. Got NaN or inf.")
    flat = v.ravel()
    n = flat.size
    if kind == "none":
        return v
    if kind == "zscore":
        sd = flat.std()
        return np.zeros_like(v) if sd == 0 else (v - flat.mean()) / sd
    ranks = _average_ranks(flat)  # 1 .. n, ties averaged
    if kind == "centered_ranks":
        out = np.zeros(n) if n == 1 else (ranks - 1.0) / (n - 1) - 0.5
        return out.reshape(v.shape)
    # NES: rank from the top, 1 = largest
    top = n + 1 - ranks
    raw = np.maximum(0.0, np.log(n / 2 + 1) - np.log(top))
    out = raw / raw.sum() - 1.0 / n
    return out.reshape(v.shape)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    xs = x[order]
    # groups of equal values in sorted order
    new_group = np.empty(xs.size, dtype=bool)
    new_group[0] = True
    new_group[1:] = xs[1:] != xs[:-1]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    counts = np.diff(np.append(starts, xs.size))
    avg = starts + (counts + 1) / 2.0  # average of ranks start+1 .. start+count
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


# ---------------------------------------------------------------------------
# baselines

GAUSSIAN_BASELINES = ("none", "mean", "rloo", "fx", "mirror")
DISCRETE_BASELINES = ("none", "mean", "rloo", "greedy")


def _check_baseline(baseline: Any, caller: str, choices: tuple[str, ...]) -> str | float:
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool | np.bool_):
        b = float(baseline)
        if not np.isfinite(b):
            raise ValueError(
                f"The 'baseline' parameter of {caller} must be finite when it is a number. "
                f"Got {baseline!r} instead."
            )
        return b
    if not isinstance(baseline, str) or baseline not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"The 'baseline' parameter of {caller} must be a float or one of {options}. "
            f"Got {baseline!r} instead."
        )
    return baseline


def _leave_one_out(r: np.ndarray, axis: int) -> np.ndarray:
    """b_k = mean of the others along ``axis``."""
    K = r.shape[axis]
    return (r.sum(axis=axis, keepdims=True) - r) / (K - 1)


# ---------------------------------------------------------------------------
# Gaussian policy in parameter space

def gaussian(fun: Callable[..., Any], mean: Any, *, sigma: Any, n_samples: int,
             baseline: str | float = "mean", antithetic: bool = False,
             shaping: str | None = None, log_sigma_grad: bool = False,
             vectorized: bool = True, batch_size: int | None = None, rng: Any = None,
             step: int = 0, return_info: bool = False, nan_policy: str = "raise",
             executor: Any = None, dist: str = "normal",
             shape: tuple[int, int] | None = None, rank: int | None = None) -> Any:
    r"""Score-function gradient of ``E[fun(mean + sigma * u)]``, ``u ~ N(0, I)``.

    Parameters
    ----------
    fun : callable
        Vectorized (default) ``fun(X)``: ``(B, d)`` -> ``(B,)``; or a function
        of one point with ``vectorized=False``.
    mean : array_like, shape (d,)
        Mean of the Gaussian policy (float32 kept, integers become float64).
    sigma : float or array_like of shape (d,)
        Standard deviation, > 0: one for all coordinates, or one per
        coordinate (the separable NES policy).
    n_samples : int
        Samples drawn (evaluations), >= 1; even with ``antithetic``.
    baseline : {"mean", "rloo", "none", "fx", "mirror"} or float, optional
        Subtracted from each value (default ``"mean"``):

        * ``"mean"``: mean of all sampled values (includes the sample itself:
          the mean of the estimate is ``(n-1)/n`` times the gradient);
        * ``"rloo"``: mean of the *other* samples (unbiased);
        * ``"none"`` or a float: a constant (unbiased);
        * ``"fx"``: ``fun(mean)``, one more evaluation (unbiased); equals
          :func:`zoopt.grad` with ``method="forward"``;
        * ``"mirror"`` (needs ``antithetic``): the mean of each pair; equals
          :func:`zoopt.grad` with ``method="central"``.
    antithetic : bool, optional
        Draw pairs ``+u, -u`` (``n_samples / 2`` directions; default False).
    shaping : {"centered_ranks", "nes", "zscore", "none"}, optional
        Replace the values by :func:`shape` utilities (ranked over all samples)
        before the baseline; the result is then no longer an unbiased gradient
        of the expectation, but is invariant to increasing transforms of
        ``fun``.  Not with ``baseline="fx"``.
    log_sigma_grad : bool, optional
        Also return the gradient with respect to ``log sigma`` (the NES update
        of the step size; a float for scalar ``sigma``, an array for
        per-coordinate ``sigma``).  With ``"mirror"`` it uses the mean of all
        values as baseline, since the pair mean cancels it.
    vectorized, batch_size, rng, step, nan_policy, executor
        As in :func:`zoopt.grad`; the directions are those of
        ``zoopt.random.directions(..., dist=dist, rng=rng, step=step)``.
    dist : {"normal", "lowrank"}, optional
        ``"normal"`` (default): ``u ~ N(0, I)``.  ``"lowrank"`` (with
        ``shape=(m, n)`` and ``rank``, ``m * n == d``): ``u = vec(A B^T) /
        sqrt(rank)`` with normal factors, the perturbations of the low-rank
        evolution strategies (Notes).  With ``executor``, the workers
        regenerate the factors of their directions.
    shape, rank
        For ``dist="lowrank"``, as in :func:`zoopt.grad`.
    return_info : bool, optional
        Also return a :class:`~zoopt.PolicyInfo`.

    Returns
    -------
    g_mean : ndarray, shape (d,)
        Estimate of the gradient with respect to ``mean`` (dtype of ``mean``).
    g_log_sigma : float or ndarray
        Only with ``log_sigma_grad=True``.
    info : PolicyInfo
        Only with ``return_info=True``.

    Notes
    -----
    With samples :math:`\theta_i = \mu + \sigma u_i`, the score with respect
    to :math:`\mu` is :math:`u_i / \sigma` and with respect to
    :math:`\log\sigma` it is :math:`\|u_i\|^2 - d` (per coordinate
    :math:`u_{ij}^2 - 1`), so

    .. math::

        \hat g_\mu = \frac1n \sum_i (f(\theta_i) - b_i) \frac{u_i}{\sigma}.

    With :math:`b_i = f(\mu)` this is term by term the forward difference; the
    two terms of an antithetic pair with any baseline constant over the pair
    add up to the central difference.

    With ``dist="lowrank"`` the same sums use
    :math:`u_i = \mathrm{vec}(A_iB_i^\top)/\sqrt r`, as in the evolution
    strategies of Sarkar et al., "Evolution Strategies at the Hyperscale"
    (arXiv:2511.16652).  That law is not Gaussian, so :math:`u_i/\sigma` is
    not its score: the estimate is the ES estimate with directions of
    covariance :math:`I` (unbiased for the gradient of a quadratic, as the
    Gaussian's), whose fourth moments exceed the Gaussian's by :math:`O(1/r)`
    (see :func:`zoopt.grad`).  The sum over samples is taken over the
    factors, :math:`\sum_i w_i A_iB_i^\top`, a matrix of rank up to
    :math:`n r`.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt import policy
    >>> def sphere(X):
    ...     return (X * X).sum(axis=1)
    >>> g = policy.gaussian(sphere, np.ones(3), sigma=0.1, n_samples=4000, baseline="rloo",
    ...                     rng=0)
    >>> bool(np.allclose(g, 2.0, atol=0.5))
    True
    """
    caller = caller_name("gaussian")
    fun = check_callable(fun, "fun", caller)
    mean = check_point(mean, "mean", caller)
    backend = backend_of(mean)
    d, dtype = mean.size, mean.dtype
    dist = check_choice(dist, "dist", caller, ("normal", "lowrank"))
    lowrank = _check_lowrank(dist, shape, rank, d, caller, " of 'mean'")
    if lowrank is None:
        _check_coordinates(d, "The 'mean' parameter", caller, "normal", dtype, "coordinates")
    else:
        _check_coordinates((lowrank[0] + lowrank[1]) * lowrank[2],
                           "The factors (m + n) * rank", caller, "normal", dtype)
    sig, sigma_vec = _check_sigma(sigma, d, dtype, caller, backend)
    n_samples = check_int(n_samples, "n_samples", caller, low=1, high=(1 << 32) - 1)
    baseline = _check_baseline(baseline, caller, GAUSSIAN_BASELINES)
    antithetic = check_bool(antithetic, "antithetic", caller)
    if shaping is not None:
        shaping = check_choice(shaping, "shaping", caller, SHAPES)
        if baseline == "fx":
            raise ValueError("The 'shaping' parameter of gaussian cannot be used with "
                             "baseline='fx' (f(mean) is not one of the ranked samples).")
    log_sigma_grad = check_bool(log_sigma_grad, "log_sigma_grad", caller)
    vectorized = check_bool(vectorized, "vectorized", caller)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", caller, low=1)
    step = _check_step(step, caller)
    return_info = check_bool(return_info, "return_info", caller)
    nan_policy = check_choice(nan_policy, "nan_policy", caller, ("raise", "worst"))
    if antithetic and n_samples % 2:
        raise ValueError(f"The 'n_samples' parameter of gaussian must be even with "
                         f"antithetic=True (pairs +u, -u). Got {n_samples} instead.")
    if baseline == "mirror" and not antithetic:
        raise ValueError("baseline='mirror' of gaussian needs antithetic=True.")
    if baseline == "rloo" and n_samples < 2:
        raise ValueError(f"The 'n_samples' parameter of gaussian must be at least 2 with "
                         f"baseline='rloo'. Got {n_samples} instead.")

    if executor is not None and backend.xp is not np:
        raise ValueError(
            "The 'executor' parameter of gaussian must be None when 'mean' is a GPU array "
            f"(the probes are built and evaluated on the device). Got {type(executor).__name__}."
        )

    probes = make_probes(fun, vectorized, nan_policy, caller, executor)
    key = key_from_rng(rng, caller)
    n_dirs = n_samples // 2 if antithetic else n_samples
    fx = probes.center(mean) if baseline == "fx" else None
    if lowrank is None:
        stream = _Stream(key, step, "normal", dtype, d, backend=backend)
        no_scale = backend.xp.empty(0, dtype=dtype)
        values = probes.probe_values(mean, sig, stream, n_dirs, antithetic, batch_size,
                                     sigma_vec)

        def wsum(w: np.ndarray, square: bool = False) -> Any:
            return weighted_sum(w, stream, no_scale, square=square)
    else:
        low = _LowRank(key, step, *lowrank, dtype, backend)
        values = probes.lowrank_values(mean, sig, low, n_dirs, antithetic, batch_size,
                                       sigma_vec)

        def wsum(w: np.ndarray, square: bool = False) -> Any:
            return low.weighted_sum_sq(w) if square else low.weighted_sum(w)
    if nan_policy == "worst":
        values, fx = replace_nonfinite(values, fx, caller)
    util = values if shaping is None else _fitness_shape(values, shaping)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
        b = _gaussian_baseline(util, baseline, fx)

    # mean: the score u / sigma; the 1/sigma of a per-coordinate sigma is applied
    # after the sum (it is a factor per coordinate, not per sample)
    h = sig if sigma_vec is None else 1.0
    def mean_weights(util: np.ndarray, b: np.ndarray) -> np.ndarray:
        adv = util - b
        if antithetic:
            return (adv[:, 0] - adv[:, 1]) / (2.0 * h) * (1.0 / n_dirs)
        return adv[:, 0] / h * (1.0 / n_dirs)

    w = finite_weights(mean_weights, util, b, caller=caller)
    g = wsum(w)
    if sigma_vec is not None:
        with np.errstate(over="ignore"):
            g = g / sigma_vec.astype(np.float64)
    result: list[Any] = [finite_estimate(g, dtype, caller)]

    if log_sigma_grad:
        with np.errstate(over="ignore", invalid="ignore"):
            b2 = _gaussian_baseline(util, "mean", fx) if baseline == "mirror" else b
        w2 = finite_weights(lambda u, b2: ((u - b2).sum(axis=1) / u.shape[1]) * (1.0 / n_dirs),
                            util, b2, caller=caller)
        g2 = wsum(w2, square=True)
        result.append(float(g2.sum()) if sigma_vec is None else g2)
    if return_info:
        result.append(PolicyInfo(nfev=probes.nfev,
                                 values=values if antithetic else values[:, 0],
                                 baseline=b if antithetic else b[:, 0], n_samples=n_samples,
                                 step=step, fx=fx))
    return result[0] if len(result) == 1 else tuple(result)


def _check_sigma(sigma: Any, d: int, dtype: np.dtype[Any], caller: str,
                 backend: Backend | None = None):
    """(scalar sigma as float, or None; per-coordinate sigma array, or None), the array
    on the backend of the mean."""
    if isinstance(sigma, numbers.Real) and not isinstance(sigma, bool | np.bool_):
        s = check_positive_float(sigma, "sigma", caller)
        with np.errstate(over="ignore"):
            rounded = float(dtype.type(s))
        if rounded == 0.0 or not np.isfinite(rounded):
            raise ValueError(f"The 'sigma' parameter of {caller} must be representable in "
                             f"{dtype}; {sigma!r} rounds to {rounded!r}.")
        return rounded, None
    xp = np if backend is None else backend.xp
    if backend is not None:
        check_same_backend(backend, sigma, "sigma", caller)
    arr = sigma if xp is not np else np.asarray(sigma)
    if arr.dtype.kind not in "iuf" or arr.shape != (d,):
        raise ValueError(
            f"The 'sigma' parameter of {caller} must be a positive float or an array of "
            f"shape ({d},). Got {arr.dtype} of shape {arr.shape} instead."
        )
    arr = arr.astype(dtype)
    if not bool((xp.isfinite(arr) & (arr > 0)).all()):
        raise ValueError(f"The 'sigma' parameter of {caller} must be finite and > 0 in every "
                         "coordinate.")
    return 1.0, xp.ascontiguousarray(arr)


def _gaussian_baseline(util: np.ndarray, baseline: str | float, fx: float | None):
    if isinstance(baseline, float):
        return np.full_like(util, baseline)
    if baseline == "none":
        return np.zeros_like(util)
    if baseline == "mean":
        return np.full_like(util, util.mean())
    if baseline == "rloo":
        flat = util.ravel()
        return ((flat.sum() - flat) / (flat.size - 1)).reshape(util.shape)
    if baseline == "fx":
        assert fx is not None
        return np.full_like(util, fx)
    # mirror: the mean of each antithetic pair
    return np.repeat(util.mean(axis=1, keepdims=True), 2, axis=1)


_fitness_shape = shape  # for gaussian, whose parameter 'shape' hides the function


# ---------------------------------------------------------------------------
# output-space policy

def output_space(reward: Callable[..., Any], outputs: Any, *, sigma: float, n_samples: int,
                 baseline: str | float = "fx", antithetic: bool = False,
                 vectorized: bool = True, batch_size: int | None = None, rng: Any = None,
                 step: int = 0, return_info: bool = False) -> Any:
    r"""Gradient of a black-box reward with respect to a model's *outputs*.

    Estimates :math:`\hat g_z`, the gradient of
    :math:`E[R(z + \sigma u)]` at the model outputs ``z`` (e.g. logits of
    shape ``(N, k)``), by the Gaussian policy on the outputs.  The model's
    parameter gradient is then :math:`J_f^\top \hat g_z`: backpropagate the
    surrogate ``(stop_gradient(g_z) * f_theta(X)).sum()``, or, for a linear
    model ``z = X W``, use :func:`chain_linear`.  The variance grows with the
    number of outputs ``N k``, not with the number of parameters.

    Parameters
    ----------
    reward : callable
        ``reward(Z)`` maps a batch of outputs ``(B, *outputs.shape)`` to
        ``(B,)`` (or, with ``vectorized=False``, one output array to a number).
    outputs : array_like
        The model's outputs ``z``, any shape, finite.
    sigma, n_samples, baseline, antithetic, batch_size, rng, step
        As in :func:`gaussian` (default baseline ``"fx"``: the reward at ``z``).
    return_info : bool, optional
        Also return a :class:`~zoopt.PolicyInfo`.

    Returns
    -------
    g_z : ndarray, same shape as ``outputs``

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt import policy
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> W = np.zeros((3, 2))
    >>> def reward(Z):                        # batch (B, 50, 2) -> (B,)
    ...     return -((Z - 1.0) ** 2).sum(axis=(1, 2))
    >>> g_z = policy.output_space(reward, X @ W, sigma=0.1, n_samples=64, rng=0)
    >>> g_W = policy.chain_linear(X, g_z)     # = X.T @ g_z, shape (3, 2)
    >>> g_W.shape
    (3, 2)
    """
    caller = "output_space"
    reward = check_callable(reward, "reward", caller)
    z = outputs if is_device_array(outputs) else np.asarray(outputs)  # CuPy stays CuPy
    if z.dtype.kind in "biu":
        z = z.astype(np.float64)
    if z.ndim == 0 or z.size == 0:
        raise ValueError(f"The 'outputs' parameter of {caller} must be a non-empty array. "
                         f"Got shape {z.shape} instead.")
    _check_coordinates(z.size, "The 'outputs' parameter", caller, "normal", z.dtype,
                       "entries")
    flat = check_point(z.reshape(-1), "outputs", caller)
    shp = z.shape
    with called_as(caller_name(caller)):
        res = gaussian(_Reshaped(reward, shp, vectorized), flat, sigma=sigma,
                       n_samples=n_samples, baseline=baseline, antithetic=antithetic,
                       vectorized=vectorized, batch_size=batch_size, rng=rng, step=step,
                       return_info=return_info)
    if return_info:
        return res[0].reshape(shp), res[1]
    return res.reshape(shp)


class _Reshaped:
    """Calls ``fun`` on points reshaped from flat rows to the outputs' shape."""

    def __init__(self, fun: Callable[..., Any], shp: tuple[int, ...], vectorized: bool):
        self.fun, self.shp, self.vectorized = fun, shp, vectorized

    def __call__(self, X: np.ndarray) -> Any:
        if self.vectorized:
            return self.fun(X.reshape(X.shape[0], *self.shp))
        return self.fun(X.reshape(self.shp))


def chain_linear(X: Any, g_z: Any, *, intercept: bool = False) -> Any:
    """Chain an output-space gradient through a linear model ``z = X W (+ b)``.

    Parameters
    ----------
    X : array_like, shape (N, p)
        Inputs of the linear model.
    g_z : array_like, shape (N, k)
        Gradient with respect to the outputs (e.g. from :func:`output_space`
        or :func:`categorical`).
    intercept : bool, optional
        Also return the gradient with respect to the intercept ``b``.

    Returns
    -------
    g_W : ndarray, shape (p, k)
        ``X.T @ g_z``.
    g_b : ndarray, shape (k,)
        ``g_z.sum(axis=0)``, only with ``intercept=True``.
    """
    xp = array_module(g_z)  # CuPy for the GPU gradients of output_space / categorical
    check_same_backend(backend_of(g_z), X, "X", "chain_linear")
    Xa = X if xp is not np else np.asarray(X)
    G = g_z if xp is not np else np.asarray(g_z)
    for name, a in (("X", Xa), ("g_z", G)):
        if a.ndim != 2 or a.dtype.kind not in "biuf":
            raise ValueError(f"The {name!r} parameter of chain_linear must be a real 2-D "
                             f"array. Got {a.dtype} of shape {a.shape} instead.")
    if Xa.shape[0] != G.shape[0]:
        raise ValueError(f"The 'X' and 'g_z' parameters of chain_linear must have the same "
                         f"number of rows. Got {Xa.shape[0]} and {G.shape[0]}.")
    gW = Xa.T @ G
    return (gW, G.sum(axis=0)) if intercept else gW


# ---------------------------------------------------------------------------
# categorical policy over labels

def _softmax_rows(z: Any, tau: float, xp: Any) -> Any:
    """``softmax(z / tau)`` along the rows in float64 (NumPy's exp, or CuPy's), computed
    in one array: the logits' own size in float64, no temporaries of it."""
    p = z.astype(np.float64)
    p /= tau
    p -= p.max(axis=1, keepdims=True)
    xp.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def _check_logits(logits: Any, ndim: int, caller: str,
                  check_shape: Callable[[tuple[int, ...]], None] | None = None) -> Any:
    """Finite float logits of the given rank (a CuPy array stays one); ``check_shape``
    sees the shape before the values are read."""
    xp = array_module(logits)
    z = logits if xp is not np else np.asarray(logits)
    if z.dtype.kind in "biu":
        z = z.astype(np.float64)
    if z.dtype not in (np.float32, np.float64):
        raise TypeError(f"The 'logits' parameter of {caller} must be float32 or float64. "
                        f"Got dtype {z.dtype} instead.")
    if z.ndim != ndim or 0 in z.shape:
        want = "(N, C)" if ndim == 2 else "(S, T, V)"
        raise ValueError(f"The 'logits' parameter of {caller} must be a non-empty array of "
                         f"shape {want}. Got shape {z.shape} instead.")
    if check_shape is not None:
        check_shape(z.shape)
    finite = xp.isfinite(z)
    if not bool(finite.all()):
        where = xp.argwhere(~finite)[:3]
        raise ValueError(f"The 'logits' parameter of {caller} must be finite. Got NaN or inf "
                         f"at {(where if xp is np else where.get()).tolist()}.")
    return xp.ascontiguousarray(z)


def _check_rewards(raw: Any, shapes: tuple[tuple[int, ...], ...], what: str,
                   caller: str) -> np.ndarray:
    if is_device_array(raw):
        raw = raw.get()  # the rewards are the objective's values: they come to the host
    r = np.asarray(raw)
    if r.dtype.kind not in "biuf":
        raise TypeError(f"{what} of {caller} must be real numbers. Got dtype {r.dtype}.")
    if r.shape not in shapes:
        raise ValueError(f"{what} of {caller} must have shape "
                         f"{' or '.join(str(s) for s in shapes)}. Got shape {r.shape} instead.")
    r = r.astype(np.float64)
    if not np.isfinite(r).all():
        raise ValueError(f"{what} of {caller} must be finite. Got NaN or inf.")
    return r


def categorical(logits: Any, reward: Callable[..., Any], *, n_samples: int,
                baseline: str | float = "rloo", temperature: float = 1.0, rng: Any = None,
                step: int = 0, return_info: bool = False) -> Any:
    r"""REINFORCE gradient of ``E_{y ~ softmax(logits / T)}[reward(y)]`` w.r.t. the logits.

    Labels are sampled independently per example from the counter stream by
    the Gumbel-max trick, ``y_n = argmax_c (z_nc / T + G_nc)`` [3]_, computed
    in its exponential-race form ``argmin_c E_nc exp(-z_nc / T)`` (the same
    sample with ``G = -ln E``, at one logarithm per class) in a compiled
    kernel; the score sums run in a compiled kernel too.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Unnormalized log-probabilities of ``N`` examples over ``C`` classes.
    reward : callable
        ``reward(Y)`` for sampled labels ``Y`` (int32, shape ``(S, N)``)
        returns either ``(S,)`` -- one reward per sampled labeling of the
        whole batch, such as its F1 (non-decomposable) -- or ``(S, N)`` -- one
        reward per example, such as correctness.
    n_samples : int
        Labelings sampled, ``S >= 1`` (``>= 2`` for ``"rloo"``).
    baseline : {"rloo", "mean", "none", "greedy"} or float, optional
        ``"rloo"`` (default): the mean reward of the other samples
        (leave-one-out, unbiased); ``"mean"``: the mean including the sample
        (biased by the factor ``(S-1)/S``); ``"none"`` or a float: a
        constant; ``"greedy"``: the reward of the argmax labels
        (self-critical, unbiased; one more call of ``reward``).  Per-example
        rewards get per-example baselines.
    temperature : float, optional
        ``T > 0`` (default 1).
    rng, step
        Stream key and step, as in :func:`zoopt.grad` (kind 3 of
        :mod:`zoopt.random`).
    return_info : bool, optional
        Also return a :class:`~zoopt.PolicyInfo` (samples, rewards, baseline).

    Returns
    -------
    g : ndarray, shape (N, C)
        Estimate of the gradient (dtype of ``logits``):
        ``(1 / (S T)) sum_s A_s (onehot(y_s) - p)``, ``A`` the advantages.

    Notes
    -----
    With :math:`p = \mathrm{softmax}(z/T)`, :math:`\nabla_z \log p_y = (e_y - p)/T`,
    so the expectation of the estimate is :math:`\frac1T p \odot (r - \langle p, r\rangle)`
    for a per-example reward vector :math:`r`.  The noise comes
    from uniforms on a :math:`2^{-24}` grid, which bounds the total-variation
    error of the sampling law by about :math:`C\,2^{-24}`.

    References
    ----------
    .. [3] E. J. Gumbel, "Statistical theory of extreme values and some
       practical applications", NBS Applied Mathematics Series 33 (1954);
       see also C. J. Maddison, D. Tarlow and T. Minka, "A* sampling", NeurIPS 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt import policy
    >>> y_true = np.array([0, 1, 1, 2])
    >>> def accuracy(Y):                      # (S, N) -> (S, N): correct or not
    ...     return (Y == y_true).astype(float)
    >>> g = policy.categorical(np.zeros((4, 3)), accuracy, n_samples=256, rng=0)
    >>> g.argmax(axis=1).tolist()             # raise the true class of each example
    [0, 1, 1, 2]
    """
    caller = "categorical"
    z = _check_logits(logits, 2, caller, _categorical_shape)
    backend = backend_of(z)
    kernels, xp = backend.policy, backend.xp
    reward = check_callable(reward, "reward", caller)
    S = check_int(n_samples, "n_samples", caller, low=1, high=(1 << 32) - 1)
    baseline = _check_baseline(baseline, caller, DISCRETE_BASELINES)
    tau = check_positive_float(temperature, "temperature", caller)
    if not np.isfinite(1.0 / tau):
        raise ValueError(f"The 'temperature' parameter of {caller} must have a finite "
                         f"inverse (1 / temperature overflows). Got {temperature!r}.")
    step = _check_step(step, caller)
    return_info = check_bool(return_info, "return_info", caller)
    if baseline == "rloo" and S < 2:
        raise ValueError(f"The 'n_samples' parameter of categorical must be at least 2 with "
                         f"baseline='rloo' (leave-one-out needs another sample). Got {S}.")
    N = z.shape[0]
    key = key_from_rng(rng, caller)
    c2, c3 = _counter_words(step, KIND_GUMBEL)
    labels = xp.empty((S, N), dtype=np.int32)
    race = xp.empty(z.shape, dtype=np.float64)
    kernels.race_weights(z, 1.0 / tau, race, get_num_threads())
    kernels.gumbel_argmax(race, labels, int(key[0]), int(key[1]), c2, c3, get_num_threads())
    del race

    r = _check_rewards(reward(labels), ((S,), (S, N)), "The rewards returned by 'reward'",
                       caller)
    per_example = r.ndim == 2
    r2 = r if per_example else r[:, None]
    greedy_r = None
    if baseline == "greedy":
        greedy = z.argmax(axis=1).astype(np.int32)[None, :]
        greedy_r = _check_rewards(reward(greedy), ((1,), (1, N)),
                                  "The reward of the greedy labels returned by 'reward'", caller)
        if (greedy_r.ndim == 2) != per_example:
            raise ValueError("The 'reward' of categorical returned per-example rewards for "
                             "one call and per-sample rewards for the other.")
        b = greedy_r if per_example else greedy_r[:, None]
    elif baseline == "rloo":
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
            b = _leave_one_out(r2, axis=0)
    elif baseline == "mean":
        with np.errstate(over="ignore", invalid="ignore"):
            b = r2.mean(axis=0, keepdims=True)
    elif baseline == "none":
        b = np.zeros((1, 1))
    else:
        b = np.full((1, 1), float(baseline))
    # the advantages come from the rewards on the host: the one copy back to the device
    adv = xp.asarray(np.ascontiguousarray(
        finite_weights(np.subtract, r2, b, caller=caller, rewards=True), dtype=np.float64))
    probs = xp.ascontiguousarray(_softmax_rows(z, tau, xp))
    g = xp.empty_like(z)
    kernels.categorical_score(labels, adv, probs, 1.0 / (S * tau), g, get_num_threads())
    g = finite_estimate(g, g.dtype, caller)
    if not return_info:
        return g
    return g, PolicyInfo(nfev=S + (baseline == "greedy"), values=r,
                         baseline=b if per_example else b[:, 0], n_samples=S, step=step,
                         samples=labels, greedy=greedy_r)


def _categorical_shape(shape: tuple[int, ...]) -> None:
    """Refuse logits whose labels or noise the streams and kernels cannot represent."""
    N, C = shape
    if C > _MAX_CLASSES:
        raise ValueError(f"The 'logits' parameter of categorical must have at most 2**31 - 1 "
                         f"= {_MAX_CLASSES} classes (columns): the sampled labels are int32. "
                         f"Got {C} classes instead.")
    _check_coordinates(N * C, "The 'logits' parameter", "categorical", "exp1",
                       unit="entries (N * C)")


_MAX_CLASSES = (1 << 31) - 1


# ---------------------------------------------------------------------------
# sequences

def sequence(logits: Any, tokens: Any, rewards: Any, *, mask: Any = None,
             baseline: str | float = "rloo", greedy_rewards: Any = None,
             group_size: int | None = None) -> np.ndarray:
    r"""REINFORCE gradient for sampled sequences, with respect to their logits.

    For ``S`` sampled sequences with per-step logits ``z_{s,t}`` (shape
    ``(S, T, V)``), sampled tokens ``y_{s,t}`` and sequence rewards ``R_s``
    (for example sentence BLEU), returns the gradient of the surrogate

    .. math:: L = \frac1S \sum_s A_s \sum_t m_{s,t} \log \mathrm{softmax}(z_{s,t})_{y_{s,t}}

    with advantages :math:`A_s = R_s - b_s`, which is the policy-gradient
    estimate of :math:`\nabla E[R]` through the logits [4]_.

    Parameters
    ----------
    logits : array_like, shape (S, T, V)
        Logits of each sampled sequence at each step (float32 or float64).
    tokens : array_like of int, shape (S, T)
        The sampled tokens, in ``[0, V)``.
    rewards : array_like, shape (S,)
        Reward of each sequence, finite.
    mask : array_like of bool or {0, 1}, shape (S, T), optional
        Which steps count (``False`` after the end of a sequence); default all.
    baseline : {"rloo", "mean", "none", "greedy"} or float, optional
        ``"rloo"`` (default): mean reward of the other samples of the same
        group (Kool et al. 2019); ``"mean"``: mean including the sample
        (biased by ``(K-1)/K``); ``"greedy"``: ``greedy_rewards``, the rewards
        of greedy decodes of the same inputs (self-critical, Rennie et al. 2017).
    greedy_rewards : array_like, shape (S,) or (S / group_size,), optional
        Needed for ``baseline="greedy"``.
    group_size : int, optional
        Samples per input: consecutive groups of ``group_size`` sequences share
        an input and their baselines (default: all ``S`` form one group).

    Returns
    -------
    g : ndarray, shape (S, T, V)
        Gradient of ``L`` (dtype of ``logits``); masked steps are zero.

    References
    ----------
    .. [4] W. Kool, H. van Hoof and M. Welling, "Buy 4 REINFORCE samples, get a
       baseline for free!", ICLR workshop (2019); S. J. Rennie et al.,
       "Self-critical sequence training for image captioning", CVPR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt import policy
    >>> logits = np.zeros((2, 3, 4))
    >>> tokens = np.array([[1, 2, 3], [0, 0, 0]])
    >>> g = policy.sequence(logits, tokens, rewards=[1.0, 0.0])
    >>> g.shape
    (2, 3, 4)
    """
    caller = "sequence"
    z = _check_logits(logits, 3, caller)
    backend = backend_of(z)
    xp = backend.xp
    S, T, V = z.shape
    y = tokens if is_device_array(tokens) else np.asarray(tokens)
    check_same_backend(backend, y, "tokens", caller)
    if y.dtype.kind not in "iu":
        raise TypeError(f"The 'tokens' parameter of {caller} must hold integers. "
                        f"Got dtype {y.dtype} instead.")
    if y.shape != (S, T):
        raise ValueError(f"The 'tokens' parameter of {caller} must have shape (S, T) = "
                         f"({S}, {T}) like the logits. Got shape {y.shape} instead.")
    if y.size and (y.min() < 0 or y.max() >= V):
        raise ValueError(f"The 'tokens' parameter of {caller} must be in [0, {V}). "
                         f"Got values in [{y.min()}, {y.max()}].")
    R = _check_rewards(rewards, ((S,),), "The 'rewards' parameter", caller)
    if mask is None:
        m = xp.ones((S, T))
    else:
        m = mask if is_device_array(mask) else np.asarray(mask)
        check_same_backend(backend, m, "mask", caller)
        if m.shape != (S, T):
            raise ValueError(f"The 'mask' parameter of {caller} must have shape (S, T) = "
                             f"({S}, {T}). Got shape {m.shape} instead.")
        if m.dtype.kind not in "biuf" or not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"The 'mask' parameter of {caller} must hold booleans or 0/1.")
        m = m.astype(np.float64)
    adv = _sequence_advantages(R, baseline, greedy_rewards, group_size, caller)
    # the S advantages come from the rewards on the host: the one copy to the device
    coef = xp.ascontiguousarray((xp.asarray(adv)[:, None] * m / S).reshape(S * T))
    out = xp.empty((S * T, V), dtype=z.dtype)
    backend.policy.row_score(z.reshape(S * T, V), xp.ascontiguousarray(y.reshape(-1), np.int64),
                             coef, out, get_num_threads())
    return out.reshape(S, T, V)


def _sequence_advantages(R: np.ndarray, baseline: Any, greedy_rewards: Any,
                         group_size: Any, caller: str) -> np.ndarray:
    """``A_s = R_s - b_s`` for sequence rewards ``R`` (S,), baselines within groups."""
    S = R.shape[0]
    K = S if group_size is None else check_int(group_size, "group_size", caller, low=1)
    if S % K:
        raise ValueError(f"The 'group_size' parameter of {caller} must divide S = {S}. "
                         f"Got {K}.")
    baseline = _check_baseline(baseline, caller, DISCRETE_BASELINES)
    Rg = R.reshape(S // K, K)
    if baseline == "rloo":
        if K < 2:
            raise ValueError(f"baseline='rloo' of {caller} needs at least 2 samples per "
                             f"group. Got {K}.")
        b = _leave_one_out(Rg, axis=1)
    elif baseline == "mean":
        b = Rg.mean(axis=1, keepdims=True)
    elif baseline == "greedy":
        if greedy_rewards is None:
            raise ValueError(f"baseline='greedy' of {caller} needs 'greedy_rewards' (the "
                             "rewards of greedy decodes of the same inputs).")
        gr = _check_rewards(greedy_rewards, ((S,), (S // K,)), "The 'greedy_rewards' "
                            "parameter", caller)
        b = gr.reshape(S // K, K) if gr.shape == (S,) else gr[:, None]
    elif baseline == "none":
        b = np.zeros((1, 1))
    else:
        b = np.full((1, 1), float(baseline))
    return finite_weights(np.subtract, Rg, b, caller=caller, rewards=True).reshape(S)
