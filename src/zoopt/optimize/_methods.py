"""The optimization methods: each an update rule over one zoopt estimator.

* ``ZOSGD`` -- SGD with momentum / Nesterov on :func:`zoopt.grad`.
* ``ZOAdam`` -- ZO-AdaMM: Adam with the AMSGrad maximum on :func:`zoopt.grad`
  (X. Chen et al., "ZO-AdaMM: zeroth-order adaptive momentum method for
  black-box optimization", NeurIPS 2019).
* ``ES`` -- OpenAI-ES: antithetic pairs, centered ranks, Adam, weight decay,
  on :func:`zoopt.policy.gaussian` (Salimans et al., arXiv:1703.03864).
* ``SPSA`` -- Spall's simultaneous perturbation with gain sequences
  ``a_k = a / (k + 1 + A)^0.602`` and ``c_k = c / (k + 1)^0.101`` (J. C. Spall,
  "Implementation of the simultaneous perturbation algorithm for stochastic
  optimization", IEEE TAES 34, 1998), on Rademacher central differences.
* ``SNES`` -- separable natural evolution strategies adapting one step size
  per coordinate (T. Schaul, T. Glasmachers and J. Schmidhuber, "High
  dimensions and heavy tails for natural evolution strategies", GECCO 2011),
  on :func:`zoopt.policy.gaussian` with the log-sigma gradient.

Defaults that follow the dimension.  A zeroth-order estimate from ``n``
directions in ``d`` dimensions carries a fraction of order ``n / d`` of the
gradient's information (its squared norm is about ``(d + n) / n`` times the
gradient's), so a step size that suits ``d = 10`` diverges at ``d = 1e5``.  Each
default step size (``lr``; SPSA's ``a``; SNES's ``sigma``) is derived from the
variance of its estimator for a quadratic whose minimum lies at the distance
``scale * sqrt(d)`` from ``x0``, ``scale`` (default ``max(1, mean |x0|)``) being
the distance per coordinate one expects to travel, and is set to a fraction of
the largest step that still decreases such a quadratic; each class's Notes give
its rule.  ZOSGD and SPSA read the gradient's magnitude from their first
estimate, so that their steps do not depend on the units of ``f``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from zoopt import policy
from zoopt._backend import check_same_backend
from zoopt._engine import make_probes
from zoopt._validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive_float,
)
from zoopt.estimators import grad
from zoopt.optimize._base import Optimizer, _Negated
from zoopt.random import _check_lowrank

__all__ = ["ES", "SNES", "SPSA", "ZOSGD", "ZOAdam"]


def _nonneg(value: Any, name: str, caller: str) -> float:
    return check_float(value, name, caller, low=0.0)


def _unit(value: Any, name: str, caller: str) -> float:
    return check_float(value, name, caller, low=0.0, high=1.0, high_open=True)


def _scale(x: Any, scale: Any, caller: str) -> float:
    """The distance per coordinate expected to the minimum: ``scale``, else
    ``max(1, mean |x0|)``."""
    if scale is not None:
        return check_positive_float(scale, "scale", caller)
    return max(1.0, float(abs(x).mean()))


def _trace(values: Any, fx: float, sigma: float, d: int, dist: str) -> float | None:
    """tr(H) from central differences and f(x): the mean of (f+ + f- - 2 f(x)) / sigma^2
    is E v'Hv = tr H for directions of squared norm d on average (normal, Rademacher),
    tr H / d for unit ones; None unless positive and finite (no curvature to go by)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    with np.errstate(all="ignore"):
        t = float(((v[:, 0] + v[:, 1] - 2.0 * fx) / (sigma * sigma)).mean())
    t *= d if dist == "sphere" else 1
    return t if np.isfinite(t) and t > 0 else None


def _inverse_curvature(g_norm: float, var_factor: float, scale: float, d: int,
                       trace: float | None) -> float:
    """1 / L for the first step's gain: the distance scale sqrt(d) over the gradient's norm
    (|g|^2 read as |g_hat|^2 / var_factor), or d / tr H when that is smaller."""
    inv = scale * math.sqrt(d) / (g_norm / math.sqrt(var_factor))
    return min(inv, d / trace) if trace is not None else inv


# fractions of the largest step that still decreases the quadratic of the module's
# docstring: measured on the README's objective (a sphere plus |round(x)|) and the
# sphere at d = 10, 1e3, 1e5 (tests/test_optimize.py)
_RHO_SGD = 0.25  # ZOSGD: of the best step n / ((d + n + 1) L); stable below 2
_RHO_ADAM = 0.5  # ES: of the best per-coordinate step; stable below 2
# ZOAdam: of the best step, growing with d (measured, Notes)


def _rho_zoadam(d: int) -> float:
    return min(1.5, max(0.5, 0.25 * math.log10(d)))
_RHO_SPSA = 1.0  # SPSA: of the best first gain a_0 (the gains then decay, 4x over a run)
# ES: rank utilities do not shrink near the minimum, so Adam's steps stay about lr and lr
# is the final precision: at most 5% of the expected distance per coordinate (sphere at
# d = 10: 0.0063 with 0.05, 0.78 with the noise bound's 0.31)
_ES_LR_MAX = 0.05


def _lowrank_kw(lowrank: tuple[int, int, int] | None) -> dict[str, Any]:
    """The ``shape`` and ``rank`` arguments of the estimators for ``dist="lowrank"``."""
    return {} if lowrank is None else {"shape": lowrank[:2], "rank": lowrank[2]}


class _GradMethod(Optimizer):
    """Shared by ZOSGD and ZOAdam: estimates with zoopt.grad."""

    def __init__(self, x0: Any, *, sigma: float, n_dirs: int, method: str, dist: str,
                 scale: Any, rng: Any, shape: Any = None, rank: Any = None):
        super().__init__(x0, rng=rng)
        caller = type(self).__name__
        self.scale = _scale(self.x, scale, caller)
        self.sigma = check_positive_float(sigma, "sigma", caller)
        self.n_dirs = check_int(n_dirs, "n_dirs", caller, low=1)
        self.method = check_choice(method, "method", caller, ("central", "forward"))
        self.dist = check_choice(dist, "dist", caller,
                                 ("normal", "rademacher", "sphere", "lowrank"))
        self._lowrank = _check_lowrank(self.dist, shape, rank, self.x.size, caller, " of 'x0'")
        self._trace: float | None = None  # tr H read by a calibrating step

    def _calibrating(self) -> bool:
        """Whether the next step also evaluates f(x) to read the curvature (ZOSGD's lr)."""
        return False

    def evals_per_step(self) -> int:
        central = self.method == "central"
        extra = int(central and self._calibrating())
        return (2 * self.n_dirs if central else self.n_dirs + 1) + extra

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        g, info = grad(fun, self.x, method=self.method, dist=self.dist, sigma=self.sigma,
                       n_dirs=self.n_dirs, rng=self._rng, step=self.t, return_info=True,
                       **_lowrank_kw(self._lowrank), **kw)
        self._trace = None
        if self.method == "central" and self._calibrating():
            fx = make_probes(fun, kw["vectorized"], kw["nan_policy"], self._caller,
                             kw["executor"]).center(self.x)
            info = dataclasses.replace(info, nfev=info.nfev + 1, fx=fx)
            self._trace = _trace(info.values, fx, info.sigma, self.x.size, self.dist)
        self._record(self.x, info.values, info.fx, self.dist, info.sigma,
                     self.method == "central", self.t)
        return g, info


class ZOSGD(_GradMethod):
    r"""Zeroth-order SGD with momentum (optionally Nesterov) and weight decay.

    ``b <- momentum b + g``; ``x <- x - lr (g + momentum b)`` (Nesterov) or
    ``x <- x - lr b``, with ``g`` the :func:`zoopt.grad` estimate plus
    ``weight_decay x`` (the convention of ``torch.optim.SGD``).

    Parameters
    ----------
    x0 : array_like, shape (d,)
    lr : float, optional
        Step size.  None (default): calibrated on the first step (Notes).
    sigma, n_dirs, method, dist : optional
        Passed to :func:`zoopt.grad` (defaults 0.1, 16, "central", "normal").
    momentum : float in [0, 1), optional
    nesterov : bool, optional
    weight_decay : float >= 0, optional
    scale : float > 0, optional
        Distance per coordinate expected to the minimum (default
        ``max(1, mean |x0|)``); used by the default ``lr``.
    rng : None, int, SeedSequence or Generator
    shape, rank : optional
        For ``dist="lowrank"``: ``(m, n)`` with ``m * n == d`` and the rank of the
        directions, passed to :func:`zoopt.grad` (default None).

    Notes
    -----
    For a quadratic of Hessian ``H``, the estimate from ``n`` Gaussian central
    differences has :math:`E\|\hat g\|^2 = \frac{d+n+1}{n}\|g\|^2` and
    :math:`E\,\hat g^\top H\hat g \approx \|g\|^2(\mathrm{tr}H + (n+1)L)/n`
    with ``L = tr H / d`` for a Hessian without a preferred direction,
    so the step that decreases ``f`` most is :math:`\eta^* = \frac{n}{(d+n+1)L}`
    and every step below :math:`2\eta^*` decreases it.  The first
    step reads ``1 / L`` two ways and keeps the smaller: the distance to the
    minimum over the gradient's norm, with the distance taken as
    ``scale * sqrt(d)`` and :math:`\|g\|` read as
    :math:`\|\hat g_0\|\sqrt{n/(d+n+1)}`; and ``d / tr H``, with ``tr H`` the
    mean of :math:`(f(x+\sigma u)+f(x-\sigma u)-2f(x))/\sigma^2` over its
    directions (one more evaluation, at ``x``; central differences only).  The
    default is a quarter of the resulting :math:`\eta^*`:

    .. math:: \mathrm{lr} = \frac14\,\frac{n}{d+n+1}\,\min\Big(
              \frac{\mathrm{scale}\sqrt d\,\sqrt{(d+n+1)/n}}{\|\hat g_0\|},
              \frac{d}{\widehat{\mathrm{tr}H}}\Big)

    so the run stays stable unless the curvature grows 8 times beyond what the
    first step read (the gradient rule alone diverged on Rosenbrock's function
    from 0, whose gradient is small where its curvature is large).  ``lr`` is
    then fixed (it is part of the state), independent of the units of ``f``.
    A step whose estimate is 0 leaves ``x`` as it is and calibrates later.
    ``sigma = 0.1`` smooths features of the objective smaller than that (steps
    such as ``round``) and is exact for quadratics; see :class:`ZOAdam` for its
    bias on strongly curved objectives.
    """

    name = "zo-sgd"
    _arrays = ("buf",)
    _scalars = ("lr",)
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"lr": (0.0, True)}
    _optional = ("lr",)  # None until calibrated

    def __init__(self, x0: Any, *, lr: float | None = None, sigma: float = 0.1,
                 n_dirs: int = 16, method: str = "central", dist: str = "normal",
                 momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 scale: float | None = None, rng: Any = None,
                 shape: tuple[int, int] | None = None, rank: int | None = None):
        super().__init__(x0, sigma=sigma, n_dirs=n_dirs, method=method, dist=dist,
                         scale=scale, rng=rng, shape=shape, rank=rank)
        self.lr: float | None = None if lr is None else check_positive_float(lr, "lr", "ZOSGD")
        self.momentum = _unit(momentum, "momentum", "ZOSGD")
        self.nesterov = check_bool(nesterov, "nesterov", "ZOSGD")
        self.weight_decay = _nonneg(weight_decay, "weight_decay", "ZOSGD")
        self.buf = self.xp.zeros(self.x.shape, dtype=np.float64)

    def _calibrating(self) -> bool:
        return self.lr is None

    def _apply(self, g: np.ndarray) -> None:
        x = self.x.astype(np.float64)
        g = g.astype(np.float64)
        lr = self.lr
        if lr is None:
            norm = float(self.xp.linalg.norm(g))
            if norm == 0.0 or not np.isfinite(norm):
                return  # flat so far: calibrate on a later step, x unchanged
            d, n = self.x.size, self.n_dirs
            k = n / (d + n + 1)
            lr = self.lr = _RHO_SGD * k * _inverse_curvature(norm, 1 / k, self.scale, d,
                                                             self._trace)
        g = g + self.weight_decay * x
        self.buf = self.momentum * self.buf + g
        upd = g + self.momentum * self.buf if self.nesterov else self.buf
        with np.errstate(over="ignore"):  # a diverging x: minimize stops on it (status 5)
            self.x = (x - lr * upd).astype(self.x.dtype)


class _Adam:
    """Adam moments on float64 arrays (Kingma and Ba 2015), AMSGrad optional."""

    @staticmethod
    def update(opt: Any, g: np.ndarray, t: int) -> np.ndarray:
        opt.m = opt.beta1 * opt.m + (1 - opt.beta1) * g
        opt.v = opt.beta2 * opt.v + (1 - opt.beta2) * g * g
        mhat = opt.m / (1 - opt.beta1 ** (t + 1))
        vhat = opt.v / (1 - opt.beta2 ** (t + 1))
        if opt.amsgrad:
            opt.vmax = opt.xp.maximum(opt.vmax, vhat)
            vhat = opt.vmax
        return opt.lr * mhat / (opt.xp.sqrt(vhat) + opt.eps)


class ZOAdam(_GradMethod):
    r"""ZO-AdaMM: Adam on zeroth-order gradient estimates.

    With ``amsgrad=True`` (default, as in ZO-AdaMM) the second moment used is
    the running maximum of the bias-corrected ``v``, which keeps the step from
    growing when the noisy estimates shrink.

    Parameters
    ----------
    x0 : array_like, shape (d,)
    lr : float, optional
        Step size; each coordinate moves by about ``lr`` per step.  None
        (default): ``rho * scale * sqrt(n_dirs / (d + n_dirs))`` with
        ``rho = 0.25 log10(d)`` within [0.5, 1.5] (Notes).
    sigma, n_dirs, method, dist : optional
        Passed to :func:`zoopt.grad` (defaults 0.1, 16, "central", "normal").
    beta1, beta2, eps, amsgrad, weight_decay : optional
        Adam's (0.9, 0.999, 1e-8, True, 0).
    scale : float > 0, optional
        Distance per coordinate expected to the minimum (default
        ``max(1, mean |x0|)``); used by the default ``lr``.
    rng : None, int, SeedSequence or Generator
    shape, rank : optional
        For ``dist="lowrank"``: ``(m, n)`` with ``m * n == d`` and the rank of the
        directions, passed to :func:`zoopt.grad` (default None).

    Notes
    -----
    Each coordinate of an estimate from ``n`` directions is the gradient's plus
    noise of standard deviation about :math:`\|g\|/\sqrt n`, which
    dominates when ``d >> n``; Adam divides by it, so every coordinate moves by
    about ``lr`` per step, of which a drift :math:`\mathrm{lr}\sqrt n` along
    :math:`-g/\|g\|` and a noise that adds :math:`\mathrm{lr}^2 d` to the
    squared distance ``r**2`` to the minimum.  On a quadratic the step
    decreases ``f`` while :math:`\mathrm{lr} < 2r\sqrt n/d`, best at half that;
    with ``r = scale * sqrt(d)`` the default takes ``rho / 2`` of the bound,
    ``rho * scale * sqrt(n / (d + n))`` (``d + n`` keeps it below ``scale``
    when ``d < n``).  The bound falls with ``r`` as the run converges, and so
    does the step: AMSGrad's running maximum of ``v`` keeps the scale of the
    first estimates, whose norm is proportional to ``r`` on a quadratic.  The
    best ``rho`` grows with ``d``, measured on the sphere from ones with 16
    directions (evaluations to ``1e-8``; at ``d = 1e4`` to ``1e-3 f(x0)``):
    about 0.5 at ``d = 100`` (11,485 against 13,894 with 1.0), 1.0 to 1.4 at
    ``d = 1000`` (63,097 against 114,643 with 0.5), at least 1.0 at
    ``d = 1e4`` (162,526; 0.5 ends at ``4.1e-3 f(x0)`` after 200,000); hence
    ``0.25 log10(d)`` within [0.5, 1.5].

    ``sigma = 0.1``, as in ES and SPSA, smooths features smaller than that
    (steps such as ``round``, which ``sigma = 0.01`` resolves into spikes of
    the estimate: 640 against 2.8 on the README's objective at ``d = 1000``); it biases the
    estimate by about :math:`\frac{\sigma^2}2\nabla\Delta f`, which matters on strongly
    curved objectives (Rosenbrock's function from 0 at ``d = 10``: 8.0 against
    0.12 with ``sigma=0.01, lr=0.05``).
    """

    name = "zo-adam"
    _arrays = ("m", "v", "vmax")
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"v": (0.0, False), "vmax": (0.0, False)}

    def __init__(self, x0: Any, *, lr: float | None = None, sigma: float = 0.1,
                 n_dirs: int = 16, method: str = "central", dist: str = "normal",
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 amsgrad: bool = True, weight_decay: float = 0.0, scale: float | None = None,
                 rng: Any = None, shape: tuple[int, int] | None = None,
                 rank: int | None = None):
        super().__init__(x0, sigma=sigma, n_dirs=n_dirs, method=method, dist=dist,
                         scale=scale, rng=rng, shape=shape, rank=rank)
        d, n = self.x.size, self.n_dirs
        self.lr = (_rho_zoadam(d) * self.scale * math.sqrt(n / (d + n)) if lr is None
                   else check_positive_float(lr, "lr", "ZOAdam"))
        self.beta1 = _unit(beta1, "beta1", "ZOAdam")
        self.beta2 = _unit(beta2, "beta2", "ZOAdam")
        self.eps = check_positive_float(eps, "eps", "ZOAdam")
        self.amsgrad = check_bool(amsgrad, "amsgrad", "ZOAdam")
        self.weight_decay = _nonneg(weight_decay, "weight_decay", "ZOAdam")
        self.m = self.xp.zeros(self.x.shape, dtype=np.float64)
        self.v = self.xp.zeros_like(self.m)
        self.vmax = self.xp.zeros_like(self.m)

    def _apply(self, g: np.ndarray) -> None:
        x = self.x.astype(np.float64)
        step = _Adam.update(self, g.astype(np.float64) + self.weight_decay * x, self.t)
        self.x = (x - step).astype(self.x.dtype)


class ES(Optimizer):
    r"""OpenAI-ES: mirrored Gaussian samples, centered-rank utilities, Adam.

    The gradient is :func:`zoopt.policy.gaussian` with ``antithetic=True`` and
    ``shaping="centered_ranks"`` over all ``popsize`` evaluations, plus
    ``weight_decay x``; the update is Adam's (descending, for minimization).

    Parameters
    ----------
    x0 : array_like, shape (d,)
    lr : float, optional
        Adam's step size.  None (default):
        ``scale * min(0.05, 0.5 * sqrt(q / (d + q)))`` with ``q = popsize / 2``
        (Notes).
    sigma : float, optional
        Standard deviation of the perturbations (default 0.1).
    popsize : int, optional
        Evaluations per step, even (default :meth:`default_popsize`: the even
        number just above ``4 + 3 ln d``, at least 8).
    weight_decay : float >= 0, optional
        L2 coefficient (default 0.005, as in Salimans et al.).
    beta1, beta2, eps : optional
        Adam's (0.9, 0.999, 1e-8).
    scale : float > 0, optional
        Distance per coordinate expected to the minimum (default
        ``max(1, mean |x0|)``); used by the default ``lr``.
    rng : None, int, SeedSequence or Generator
    dist : {"normal", "lowrank"}, optional
        The perturbations (default ``"normal"``); ``"lowrank"`` draws
        ``vec(A B^T) / sqrt(rank)`` with normal factors for ``x`` seen as an
        ``m x n`` matrix (see :func:`zoopt.policy.gaussian`).
    shape, rank : optional
        For ``dist="lowrank"``: ``(m, n)`` with ``m * n == d``, and the rank.

    Notes
    -----
    The rule of :class:`ZOAdam` with ``q = popsize / 2`` mirrored directions
    (centered ranks keep about 0.9 of their information on a linear function,
    measured), so ``lr`` falls like :math:`\sqrt{q/d}` in high dimension.  Rank
    utilities do not shrink near the minimum, so Adam's steps stay about ``lr``
    and ``lr`` also bounds the final precision: at most ``0.05 * scale``.
    """

    name = "es"
    _arrays = ("m", "v", "vmax")
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"v": (0.0, False), "vmax": (0.0, False)}

    @staticmethod
    def default_popsize(d: int) -> int:
        """The even number just above ``4 + floor(3 ln d)``, at least 8."""
        return 2 * max(4, (4 + int(3 * math.log(d))) // 2 + 1)

    def __init__(self, x0: Any, *, lr: float | None = None, sigma: float = 0.1,
                 popsize: int | None = None, weight_decay: float = 0.005,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 scale: float | None = None, rng: Any = None, dist: str = "normal",
                 shape: tuple[int, int] | None = None, rank: int | None = None):
        super().__init__(x0, rng=rng)
        self.sigma = check_positive_float(sigma, "sigma", "ES")
        self.dist = check_choice(dist, "dist", "ES", ("normal", "lowrank"))
        self._lowrank = _check_lowrank(self.dist, shape, rank, self.x.size, "ES", " of 'x0'")
        n = self.default_popsize(self.x.size) if popsize is None else popsize
        self.popsize = check_int(n, "popsize", "ES", low=2)
        if self.popsize % 2:
            raise ValueError(f"The 'popsize' parameter of ES must be even (mirrored pairs). "
                             f"Got {self.popsize}.")
        self.scale = _scale(self.x, scale, "ES")
        d, q = self.x.size, self.popsize // 2
        self.lr = (self.scale * min(_ES_LR_MAX, _RHO_ADAM * math.sqrt(q / (d + q)))
                   if lr is None else check_positive_float(lr, "lr", "ES"))
        self.weight_decay = _nonneg(weight_decay, "weight_decay", "ES")
        self.beta1 = _unit(beta1, "beta1", "ES")
        self.beta2 = _unit(beta2, "beta2", "ES")
        self.eps = check_positive_float(eps, "eps", "ES")
        self.amsgrad = False
        self.m = self.xp.zeros(self.x.shape, dtype=np.float64)
        self.v = self.xp.zeros_like(self.m)
        self.vmax = self.xp.zeros_like(self.m)

    def evals_per_step(self) -> int:
        return self.popsize

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        g, info = policy.gaussian(fun, self.x, sigma=self.sigma, n_samples=self.popsize,
                                  antithetic=True, shaping="centered_ranks", baseline="none",
                                  rng=self._rng, step=self.t, return_info=True,
                                  dist=self.dist, **_lowrank_kw(self._lowrank), **kw)
        self._record(self.x, info.values, None, self.dist, float(self.x.dtype.type(self.sigma)),
                     True, self.t)
        return g, info

    def _apply(self, g: np.ndarray) -> None:
        x = self.x.astype(np.float64)
        step = _Adam.update(self, g.astype(np.float64) + self.weight_decay * x, self.t)
        self.x = (x - step).astype(self.x.dtype)


class SPSA(Optimizer):
    r"""Simultaneous perturbation stochastic approximation (Spall).

    Step ``k``: ``c_k = c / (k + 1)^gamma``, ``a_k = a / (k + 1 + A)^alpha``,
    ``g_k`` the Rademacher central difference of :func:`zoopt.grad` with step
    ``c_k`` (``n_dirs`` directions averaged), ``x <- x - a_k g_k``.

    Gain calibration (``a=None``, the default), after Spall (1998): step 0
    averages ``calib_dirs`` directions instead of ``n_dirs`` and sets ``a`` from
    their estimate's norm, scaled for the dimension (Notes).  ``A`` defaults to
    10% of the expected number of steps (``minimize`` passes it), else 10.

    Parameters
    ----------
    x0 : array_like, shape (d,)
    a, c, A : float, optional
        Gains (``a`` calibrated if None; ``c`` default 0.1).
    alpha, gamma : float, optional
        Exponents (default 0.602 and 0.101, Spall's practical values).
    n_dirs : int, optional
        Directions per step (default 1, the classic SPSA).
    scale : float > 0, optional
        Distance per coordinate expected to the minimum (default
        ``max(1, mean |x0|)``); used by the calibration of ``a``.
    calib_dirs : int, optional
        Directions of the calibration step (default 10).
    rng : None, int, SeedSequence or Generator

    Notes
    -----
    An estimate from ``n`` Rademacher directions has
    :math:`E\|\hat g\|^2 = \frac{d+n-1}{n}\|g\|^2`, so on a quadratic
    of curvature ``L`` the gain that decreases ``f`` most is
    :math:`n/((d+n-1)L)`, and the gains below twice that decrease it.  As in
    :class:`ZOSGD`, ``1 / L`` is the smaller of ``scale * sqrt(d)`` over the
    gradient's norm, read from the calibration estimate (``n_c = calib_dirs``
    directions) as :math:`\|\hat g_0\|\sqrt{n_c/(d+n_c-1)}`, and ``d / tr H``,
    read from its differences and ``f(x)`` (one more evaluation); the first
    gain is the best one for that curvature,

    .. math:: a_0 = \frac{a}{(1+A)^\alpha} = \frac{n}{d+n-1}\,\min\Big(
              \frac{\mathrm{scale}\sqrt d\,\sqrt{(d+n_c-1)/n_c}}{\|\hat g_0\|},
              \frac{d}{\widehat{\mathrm{tr}H}}\Big)

    and the later gains decay from it (by about 4 over a run whose ``A`` is 10%
    of its steps), so the run is stable unless the minimum is more than twice
    nearer than ``scale * sqrt(d)``.  A rule that moves each coordinate by a
    fixed amount on the first step instead diverges in high dimension (the
    step's squared length grows like ``d`` while the stable one does not).

    The gain schedule is fixed when the run starts: ``A`` (from the budget,
    under :func:`zoopt.minimize`) and the calibrated ``a`` are part of the
    state, so a run resumed from a checkpoint with a larger budget continues
    the schedule it started with and differs from a run given that budget from
    the start; pass ``A`` (``options={"A": ...}``) to make the schedule
    independent of the budget.
    """

    name = "spsa"
    _scalars = ("a", "A")
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"a": (0.0, True), "A": (0.0, False)}
    _optional = ("a",)  # None until the gains are calibrated

    def __init__(self, x0: Any, *, a: float | None = None, c: float = 0.1,
                 A: float | None = None, alpha: float = 0.602, gamma: float = 0.101,
                 n_dirs: int = 1, scale: float | None = None, calib_dirs: int = 10,
                 rng: Any = None):
        super().__init__(x0, rng=rng)
        self.a = None if a is None else check_positive_float(a, "a", "SPSA")
        self.c = check_positive_float(c, "c", "SPSA")
        self.A = 10.0 if A is None else _nonneg(A, "A", "SPSA")
        self.alpha = check_positive_float(alpha, "alpha", "SPSA")
        self.gamma = check_positive_float(gamma, "gamma", "SPSA")
        self.n_dirs = check_int(n_dirs, "n_dirs", "SPSA", low=1)
        self.calib_dirs = check_int(calib_dirs, "calib_dirs", "SPSA", low=1)
        self.scale = _scale(self.x, scale, "SPSA")
        self._trace: float | None = None  # tr H read by the calibration step

    def evals_per_step(self) -> int:
        return 2 * self.calib_dirs + 1 if self.a is None else 2 * self.n_dirs

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        ck = self.c / (self.t + 1) ** self.gamma
        n = self.calib_dirs if self.a is None else self.n_dirs
        g, info = grad(fun, self.x, method="central", dist="rademacher", sigma=ck, n_dirs=n,
                       rng=self._rng, step=self.t, return_info=True, **kw)
        self._trace = None
        if self.a is None:  # calibration: f(x) too, for the curvature
            fx = make_probes(fun, kw["vectorized"], kw["nan_policy"], self._caller,
                             kw["executor"]).center(self.x)
            info = dataclasses.replace(info, nfev=info.nfev + 1, fx=fx)
            self._trace = _trace(info.values, fx, info.sigma, self.x.size, "rademacher")
        self._record(self.x, info.values, info.fx, "rademacher", info.sigma, True, self.t)
        return g, info

    def _apply(self, g: np.ndarray) -> None:
        g = g.astype(np.float64)
        if self.a is None:
            norm = float(self.xp.linalg.norm(g))
            if norm == 0.0 or not np.isfinite(norm):
                return  # flat so far: calibrate on a later step, x unchanged
            d, n, nc = self.x.size, self.n_dirs, self.calib_dirs
            a0 = _RHO_SPSA * n / (d + n - 1) * _inverse_curvature(
                norm, (d + nc - 1) / nc, self.scale, d, self._trace)
            self.a = a0 * (self.A + 1) ** self.alpha
        ak = self.a / (self.t + 1 + self.A) ** self.alpha
        with np.errstate(over="ignore"):  # a diverging x: minimize stops on it (status 5)
            self.x = (self.x.astype(np.float64) - ak * g).astype(self.x.dtype)


class SNES(Optimizer):
    r"""Separable natural evolution strategies: a mean and one step size per coordinate.

    With NES utilities ``w_k`` of the samples ``x + sigma * u_k`` (best first),
    ``x <- x + lr_mean sigma * sum_k w_k u_k`` and
    ``sigma <- sigma * exp(lr_sigma / 2 * sum_k w_k (u_k^2 - 1))``; both sums come
    from :func:`zoopt.policy.gaussian` (per-coordinate ``sigma``,
    ``shaping="nes"``, ``log_sigma_grad=True``).

    Parameters
    ----------
    x0 : array_like, shape (d,)
    sigma : float or array_like of shape (d,), optional
        Initial step sizes.  None (default):
        ``scale * min(1, popsize / (4 sqrt d))`` (Notes).
    popsize : int, optional
        Samples per step (default ``4 + floor(3 ln d)``).
    lr_mean : float, optional
        Default 1.0.
    lr_sigma : float, optional
        Default ``(3 + ln d) / (5 sqrt d)``.
    scale : float > 0, optional
        Distance per coordinate expected to the minimum (default
        ``max(1, mean |x0|)``); used by the default ``sigma``.
    rng : None, int, SeedSequence or Generator
    dist : {"normal", "lowrank"}, optional
        The perturbations (default ``"normal"``); ``"lowrank"`` draws
        ``vec(A B^T) / sqrt(rank)`` with normal factors for ``x`` seen as an
        ``m x n`` matrix (see :func:`zoopt.policy.gaussian`).
    shape, rank : optional
        For ``dist="lowrank"``: ``(m, n)`` with ``m * n == d``, and the rank.

    Notes
    -----
    The mean moves by :math:`\sigma\sum_k w_ku_k`: by :math:`\sigma c` towards
    the minimum, with :math:`c = E\sum_k w_kz_{(k)}` (1.1 to 1.3 for the NES
    utilities at ``d`` from 10 to 1e5, measured), and across by
    :math:`\sigma\|w\|\sqrt d` (:math:`\|w\|^2` from 0.19 to 0.064).  On a
    sphere of radius ``r`` that decreases ``f`` while
    :math:`\sigma < 2rc/(\|w\|^2d) \approx n r/d` (:math:`c/\|w\|^2` is
    about ``n / 2``), and ``sigma`` adapts slowly in high dimension
    (``lr_sigma`` falls like :math:`1/\sqrt d`), so the starting value matters:
    with ``r = scale * sqrt(d)`` the default is a quarter of that bound, at
    most ``scale``.
    """

    name = "snes"
    _arrays = ("sigma",)
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"sigma": (0.0, True)}
    _like_x = ("sigma",)

    def __init__(self, x0: Any, *, sigma: Any = None, popsize: int | None = None,
                 lr_mean: float = 1.0, lr_sigma: float | None = None,
                 scale: float | None = None, rng: Any = None, dist: str = "normal",
                 shape: tuple[int, int] | None = None, rank: int | None = None):
        super().__init__(x0, rng=rng)
        d = self.x.size
        self.dist = check_choice(dist, "dist", "SNES", ("normal", "lowrank"))
        self._lowrank = _check_lowrank(self.dist, shape, rank, d, "SNES", " of 'x0'")
        xp = self.xp
        n = 4 + int(3 * math.log(d)) if popsize is None else popsize
        self.popsize = check_int(n, "popsize", "SNES", low=2)
        self.scale = _scale(self.x, scale, "SNES")
        if sigma is None:
            sigma = self.scale * min(1.0, self.popsize / (4 * math.sqrt(d)))
        if hasattr(sigma, "shape"):
            check_same_backend(self.backend, sigma, "sigma", "SNES")
        expected = (f"The 'sigma' parameter of SNES must be a float or an array of shape "
                    f"({d},), finite and > 0 in the dtype of x0 ({self.x.dtype})")
        if isinstance(sigma, str | bytes | bool | np.bool_):
            raise TypeError(f"{expected}. Got {sigma!r} instead.")
        try:
            s = xp.asarray(sigma, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{expected}. Got {repr(sigma)[:80]} instead.") from None
        if s.ndim > 1 or (s.ndim == 1 and s.shape != (d,)):
            raise ValueError(f"{expected}. Got shape {s.shape} instead.")
        s = xp.broadcast_to(s, (d,))
        with np.errstate(over="ignore"):
            s = s.astype(self.x.dtype)
        bad = ~(xp.isfinite(s) & (s > 0))
        if bool(bad.any()):
            idx = np.flatnonzero(self.backend.to_host(bad))
            raise ValueError(f"{expected}. Got non-finite or non-positive values at indices "
                             f"{idx[:5].tolist()}.")
        self.sigma = s.copy()
        self.lr_mean = check_positive_float(lr_mean, "lr_mean", "SNES")
        self.lr_sigma = ((3 + math.log(d)) / (5 * math.sqrt(d)) if lr_sigma is None
                         else check_positive_float(lr_sigma, "lr_sigma", "SNES"))

    def evals_per_step(self) -> int:
        return self.popsize

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        g_mean, g_ls, info = policy.gaussian(
            _Negated(fun), self.x, sigma=self.sigma, n_samples=self.popsize, baseline="none",
            shaping="nes", log_sigma_grad=True, rng=self._rng, step=self.t,
            return_info=True, dist=self.dist, **_lowrank_kw(self._lowrank), **kw)
        self._record(self.x, -info.values, None, self.dist, self.sigma.copy(), False, self.t)
        return (g_mean, g_ls), info

    def _apply(self, est: Any) -> None:
        g_mean, g_ls = est
        n = self.popsize
        s = self.sigma.astype(np.float64)
        # policy.gaussian returns (1/n) sum w u / sigma and (1/n) sum w (u^2 - 1)
        self.x = (self.x.astype(np.float64) + self.lr_mean * n * s * s * g_mean
                  ).astype(self.x.dtype)
        self.sigma = (s * self.xp.exp(0.5 * self.lr_sigma * n * g_ls)).astype(self.x.dtype)
