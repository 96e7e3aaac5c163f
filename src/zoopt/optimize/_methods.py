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
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from zoopt import policy
from zoopt._backend import check_same_backend
from zoopt._validation import check_bool, check_choice, check_int, check_positive_float
from zoopt.estimators import grad
from zoopt.optimize._base import Optimizer, _Negated

__all__ = ["ES", "SNES", "SPSA", "ZOSGD", "ZOAdam"]


def _nonneg(value: Any, name: str, caller: str) -> float:
    v = float(value)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"The {name!r} parameter of {caller} must be a float >= 0. "
                         f"Got {value!r} instead.")
    return v


def _unit(value: Any, name: str, caller: str) -> float:
    v = float(value)
    if not (0 <= v < 1):
        raise ValueError(f"The {name!r} parameter of {caller} must be in [0, 1). "
                         f"Got {value!r} instead.")
    return v


class _GradMethod(Optimizer):
    """Shared by ZOSGD and ZOAdam: estimates with zoopt.grad."""

    def __init__(self, x0: Any, *, sigma: float, n_dirs: int, method: str, dist: str,
                 rng: Any):
        super().__init__(x0, rng=rng)
        caller = type(self).__name__
        self.sigma = check_positive_float(sigma, "sigma", caller)
        self.n_dirs = check_int(n_dirs, "n_dirs", caller, low=1)
        self.method = check_choice(method, "method", caller, ("central", "forward"))
        self.dist = check_choice(dist, "dist", caller, ("normal", "rademacher", "sphere"))

    def evals_per_step(self) -> int:
        return 2 * self.n_dirs if self.method == "central" else self.n_dirs + 1

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        g, info = grad(fun, self.x, method=self.method, dist=self.dist, sigma=self.sigma,
                       n_dirs=self.n_dirs, rng=self._rng, step=self.t, return_info=True, **kw)
        self._record(self.x, info.values, info.fx, self.dist, info.sigma,
                     self.method == "central", self.t)
        return g, info


class ZOSGD(_GradMethod):
    """Zeroth-order SGD with momentum (optionally Nesterov) and weight decay.

    ``b <- momentum b + g``; ``x <- x - lr (g + momentum b)`` (Nesterov) or
    ``x <- x - lr b``, with ``g`` the :func:`zoopt.grad` estimate plus
    ``weight_decay x`` (the convention of ``torch.optim.SGD``).

    Parameters
    ----------
    x0 : array_like, shape (d,)
    lr : float, optional
        Step size (default 1e-2).
    sigma, n_dirs, method, dist : optional
        Passed to :func:`zoopt.grad` (defaults 1e-2, 16, "central", "normal").
    momentum : float in [0, 1), optional
    nesterov : bool, optional
    weight_decay : float >= 0, optional
    rng : None, int, SeedSequence or Generator
    """

    name = "zo-sgd"
    _arrays = ("buf",)

    def __init__(self, x0: Any, *, lr: float = 1e-2, sigma: float = 1e-2, n_dirs: int = 16,
                 method: str = "central", dist: str = "normal", momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, rng: Any = None):
        super().__init__(x0, sigma=sigma, n_dirs=n_dirs, method=method, dist=dist, rng=rng)
        self.lr = check_positive_float(lr, "lr", "ZOSGD")
        self.momentum = _unit(momentum, "momentum", "ZOSGD")
        self.nesterov = check_bool(nesterov, "nesterov", "ZOSGD")
        self.weight_decay = _nonneg(weight_decay, "weight_decay", "ZOSGD")
        self.buf = self.xp.zeros(self.x.shape, dtype=np.float64)

    def _apply(self, g: np.ndarray) -> None:
        x = self.x.astype(np.float64)
        g = g.astype(np.float64) + self.weight_decay * x
        self.buf = self.momentum * self.buf + g
        upd = g + self.momentum * self.buf if self.nesterov else self.buf
        self.x = (x - self.lr * upd).astype(self.x.dtype)


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
    """ZO-AdaMM: Adam on zeroth-order gradient estimates.

    With ``amsgrad=True`` (default, as in ZO-AdaMM) the second moment used is
    the running maximum of the bias-corrected ``v``, which keeps the step from
    growing when the noisy estimates shrink.

    Parameters
    ----------
    x0 : array_like, shape (d,)
    lr : float, optional
        Step size (default 0.05); each coordinate moves by about ``lr`` per step,
        so set it to a fraction of the distance you expect to travel.
    sigma, n_dirs, method, dist : optional
        Passed to :func:`zoopt.grad` (defaults 1e-2, 16, "central", "normal").
    beta1, beta2, eps, amsgrad, weight_decay : optional
        Adam's (0.9, 0.999, 1e-8, True, 0).
    rng : None, int, SeedSequence or Generator
    """

    name = "zo-adam"
    _arrays = ("m", "v", "vmax")
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"v": (0.0, False), "vmax": (0.0, False)}

    def __init__(self, x0: Any, *, lr: float = 0.05, sigma: float = 1e-2, n_dirs: int = 16,
                 method: str = "central", dist: str = "normal", beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, amsgrad: bool = True,
                 weight_decay: float = 0.0, rng: Any = None):
        super().__init__(x0, sigma=sigma, n_dirs=n_dirs, method=method, dist=dist, rng=rng)
        self.lr = check_positive_float(lr, "lr", "ZOAdam")
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
    """OpenAI-ES: mirrored Gaussian samples, centered-rank utilities, Adam.

    The gradient is :func:`zoopt.policy.gaussian` with ``antithetic=True`` and
    ``shaping="centered_ranks"`` over all ``popsize`` evaluations, plus
    ``weight_decay x``; the update is Adam's (descending, for minimization).

    Parameters
    ----------
    x0 : array_like, shape (d,)
    lr : float, optional
        Adam's step size (default 0.05).
    sigma : float, optional
        Standard deviation of the perturbations (default 0.1).
    popsize : int, optional
        Evaluations per step, even (default :meth:`default_popsize`: the even
        number just above ``4 + 3 ln d``, at least 8).
    weight_decay : float >= 0, optional
        L2 coefficient (default 0.005, as in Salimans et al.).
    beta1, beta2, eps : optional
        Adam's (0.9, 0.999, 1e-8).
    rng : None, int, SeedSequence or Generator
    """

    name = "es"
    _arrays = ("m", "v", "vmax")
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"v": (0.0, False), "vmax": (0.0, False)}

    @staticmethod
    def default_popsize(d: int) -> int:
        """The even number just above ``4 + floor(3 ln d)``, at least 8."""
        return 2 * max(4, (4 + int(3 * math.log(d))) // 2 + 1)

    def __init__(self, x0: Any, *, lr: float = 0.05, sigma: float = 0.1,
                 popsize: int | None = None, weight_decay: float = 0.005,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 rng: Any = None):
        super().__init__(x0, rng=rng)
        self.lr = check_positive_float(lr, "lr", "ES")
        self.sigma = check_positive_float(sigma, "sigma", "ES")
        n = self.default_popsize(self.x.size) if popsize is None else popsize
        self.popsize = check_int(n, "popsize", "ES", low=2)
        if self.popsize % 2:
            raise ValueError(f"The 'popsize' parameter of ES must be even (mirrored pairs). "
                             f"Got {self.popsize}.")
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
                                  rng=self._rng, step=self.t, return_info=True, **kw)
        self._record(self.x, info.values, None, "normal", float(self.x.dtype.type(self.sigma)),
                     True, self.t)
        return g, info

    def _apply(self, g: np.ndarray) -> None:
        x = self.x.astype(np.float64)
        step = _Adam.update(self, g.astype(np.float64) + self.weight_decay * x, self.t)
        self.x = (x - step).astype(self.x.dtype)


class SPSA(Optimizer):
    """Simultaneous perturbation stochastic approximation (Spall).

    Step ``k``: ``c_k = c / (k + 1)^gamma``, ``a_k = a / (k + 1 + A)^alpha``,
    ``g_k`` the Rademacher central difference of :func:`zoopt.grad` with step
    ``c_k`` (``n_dirs`` directions averaged), ``x <- x - a_k g_k``.

    Gain calibration (``a=None``, the default), after Spall (1998): step 0
    averages ``calib_dirs`` directions instead of ``n_dirs``, and ``a`` is set
    so that the first update moves each coordinate by ``initial_step`` on
    average: ``a = initial_step (A + 1)^alpha / mean |g_0|``.  ``initial_step``
    defaults to ``0.1 max(1, mean |x0|)``; ``A`` to 10% of the expected number
    of steps (``minimize`` passes it), else 10.

    Parameters
    ----------
    x0 : array_like, shape (d,)
    a, c, A : float, optional
        Gains (``a`` calibrated if None; ``c`` default 0.1).
    alpha, gamma : float, optional
        Exponents (default 0.602 and 0.101, Spall's practical values).
    n_dirs : int, optional
        Directions per step (default 1, the classic SPSA).
    initial_step : float, optional
    calib_dirs : int, optional
        Directions of the calibration step (default 10).
    rng : None, int, SeedSequence or Generator
    """

    name = "spsa"
    _scalars = ("a", "A")
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"a": (0.0, True), "A": (0.0, False)}
    _optional = ("a",)  # None until the gains are calibrated

    def __init__(self, x0: Any, *, a: float | None = None, c: float = 0.1,
                 A: float | None = None, alpha: float = 0.602, gamma: float = 0.101,
                 n_dirs: int = 1, initial_step: float | None = None, calib_dirs: int = 10,
                 rng: Any = None):
        super().__init__(x0, rng=rng)
        self.a = None if a is None else check_positive_float(a, "a", "SPSA")
        self.c = check_positive_float(c, "c", "SPSA")
        self.A = 10.0 if A is None else _nonneg(A, "A", "SPSA")
        self.alpha = check_positive_float(alpha, "alpha", "SPSA")
        self.gamma = check_positive_float(gamma, "gamma", "SPSA")
        self.n_dirs = check_int(n_dirs, "n_dirs", "SPSA", low=1)
        self.calib_dirs = check_int(calib_dirs, "calib_dirs", "SPSA", low=1)
        scale = max(1.0, float(self.xp.abs(self.x).mean()))
        self.initial_step = (0.1 * scale if initial_step is None
                             else check_positive_float(initial_step, "initial_step", "SPSA"))

    def evals_per_step(self) -> int:
        return 2 * (self.calib_dirs if self.a is None else self.n_dirs)

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        ck = self.c / (self.t + 1) ** self.gamma
        n = self.calib_dirs if self.a is None else self.n_dirs
        g, info = grad(fun, self.x, method="central", dist="rademacher", sigma=ck, n_dirs=n,
                       rng=self._rng, step=self.t, return_info=True, **kw)
        self._record(self.x, info.values, None, "rademacher", info.sigma, True, self.t)
        return g, info

    def _apply(self, g: np.ndarray) -> None:
        g = g.astype(np.float64)
        if self.a is None:
            mag = float(self.xp.abs(g).mean())
            if mag == 0.0 or not np.isfinite(mag):
                return  # flat so far: calibrate on a later step, x unchanged
            self.a = self.initial_step * (self.A + 1) ** self.alpha / mag
        ak = self.a / (self.t + 1 + self.A) ** self.alpha
        self.x = (self.x.astype(np.float64) - ak * g).astype(self.x.dtype)


class SNES(Optimizer):
    """Separable natural evolution strategies: a mean and one step size per coordinate.

    With NES utilities ``w_k`` of the samples ``x + sigma * u_k`` (best first),
    ``x <- x + lr_mean sigma * sum_k w_k u_k`` and
    ``sigma <- sigma * exp(lr_sigma / 2 * sum_k w_k (u_k^2 - 1))``; both sums come
    from :func:`zoopt.policy.gaussian` (per-coordinate ``sigma``,
    ``shaping="nes"``, ``log_sigma_grad=True``).

    Parameters
    ----------
    x0 : array_like, shape (d,)
    sigma : float or array_like, optional
        Initial step sizes (default 1.0).
    popsize : int, optional
        Samples per step (default ``4 + floor(3 ln d)``).
    lr_mean : float, optional
        Default 1.0.
    lr_sigma : float, optional
        Default ``(3 + ln d) / (5 sqrt d)``.
    rng : None, int, SeedSequence or Generator
    """

    name = "snes"
    _arrays = ("sigma",)
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {"sigma": (0.0, True)}
    _like_x = ("sigma",)

    def __init__(self, x0: Any, *, sigma: Any = 1.0, popsize: int | None = None,
                 lr_mean: float = 1.0, lr_sigma: float | None = None, rng: Any = None):
        super().__init__(x0, rng=rng)
        d = self.x.size
        xp = self.xp
        if hasattr(sigma, "shape"):
            check_same_backend(self.backend, sigma, "sigma", "SNES")
        s = xp.broadcast_to(xp.asarray(sigma, dtype=np.float64), (d,)).astype(self.x.dtype)
        if not bool((xp.isfinite(s) & (s > 0)).all()):
            raise ValueError("The 'sigma' parameter of SNES must be finite and > 0.")
        self.sigma = s.copy()
        n = 4 + int(3 * math.log(d)) if popsize is None else popsize
        self.popsize = check_int(n, "popsize", "SNES", low=2)
        self.lr_mean = check_positive_float(lr_mean, "lr_mean", "SNES")
        self.lr_sigma = ((3 + math.log(d)) / (5 * math.sqrt(d)) if lr_sigma is None
                         else check_positive_float(lr_sigma, "lr_sigma", "SNES"))

    def evals_per_step(self) -> int:
        return self.popsize

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        g_mean, g_ls, info = policy.gaussian(
            _Negated(fun), self.x, sigma=self.sigma, n_samples=self.popsize, baseline="none",
            shaping="nes", log_sigma_grad=True, rng=self._rng, step=self.t,
            return_info=True, **kw)
        self._record(self.x, -info.values, None, "normal", self.sigma.copy(), False, self.t)
        return (g_mean, g_ls), info

    def _apply(self, est: Any) -> None:
        g_mean, g_ls = est
        n = self.popsize
        s = self.sigma.astype(np.float64)
        # policy.gaussian returns (1/n) sum w u / sigma and (1/n) sum w (u^2 - 1)
        self.x = (self.x.astype(np.float64) + self.lr_mean * n * s * s * g_mean
                  ).astype(self.x.dtype)
        self.sigma = (s * self.xp.exp(0.5 * self.lr_sigma * n * g_ls)).astype(self.x.dtype)
