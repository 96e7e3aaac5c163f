r"""The CMA-ES family on zoopt's stream: ``CMA`` (full covariance) and ``SepCMA``
(diagonal covariance).

CMA-ES is a policy gradient.  Its search distribution is
:math:`N(m, \sigma^2 C)`; a generation draws :math:`z_k` from the counter stream
(``zoopt.random.directions`` at step ``t``), evaluates
:math:`x_k = m + \sigma y_k` with :math:`y_k = B D z_k` (:math:`C = B D^2 B^T`),
turns the values into rank-based weights :math:`w_i`, and sums weighted
directions: the mean moves by :math:`c_m\sigma\sum_i w_i y_{i:\lambda}`, the
natural gradient of the expected utility with respect to the mean, and the
covariance by :math:`c_\mu\sum_i w_i^\circ(y_{i:\lambda} y_{i:\lambda}^T - C)`,
the natural gradient with respect to ``C`` (Akimoto, Nagata, Ono and
Kobayashi, "Bidirectional relation between CMA evolution strategies and natural
evolution strategies", PPSN 2010; Ollivier, Arnold, Auger and Hansen,
"Information-geometric optimization algorithms", JMLR 18, 2017), plus the
cumulation paths that make it CMA: cumulative step-size adaptation and the
rank-one update.  The equations and every default are those of Hansen's
tutorial (N. Hansen, "The CMA evolution strategy: a tutorial",
arXiv:1604.00772, 2016, Table 1 and Algorithm), with the active update
(negative weights for the worst samples, Jastrebski and Arnold 2006, in the
tutorial's form).  ``SepCMA`` keeps a diagonal ``C`` with the learning rates
scaled by ``(d + 2) / 3`` (R. Ros and N. Hansen, "A simple modification in
CMA-ES achieving linear time and space complexity", PPSN 2008).

Restarts (``restarts=k``): when a run stops making progress (the termination
criteria of the tutorial and of pycma's defaults: ``tolfun``, ``tolx``,
``conditioncov``, ``noeffectaxis``, ``noeffectcoord``, ``stagnation``,
``tolupsigma``), the distribution starts again from ``x0``.  IPOP doubles the
population each time (A. Auger and N. Hansen, "A restart CMA evolution
strategy with increasing population size", CEC 2005); BIPOP alternates that
regime with runs of small populations and small step sizes, giving each
regime about the same number of evaluations (N. Hansen, "Benchmarking a
BI-population CMA-ES on the BBOB-2009 function testbed", GECCO 2009), with
pycma's accounting: the first run counts in the small regime, so the second
run is the first doubled one, and a small run gets at most half the
evaluations the large regime has spent.

Linear algebra (the eigendecomposition, every few generations as in the
tutorial, and the products with ``B D``) runs on the host in float64 with the
BLAS pool held to one thread (where threadpoolctl is installed), so that a run
gives the same bits whatever the machine's thread settings.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

from zoopt._backend import is_device_array
from zoopt._engine import make_probes, replace_nonfinite
from zoopt._threads import blas_threads
from zoopt._validation import check_bool, check_choice, check_float, check_int
from zoopt.optimize._base import Optimizer, _Field
from zoopt.random import directions

__all__ = ["CMA", "LMMAES", "SepCMA"]

_HIST = 1024  # generations of best and median values kept (the stagnation test)
# pycma's default termination thresholds
_TOLFUN, _TOLFUNHIST, _TOLX, _TOLUPSIGMA, _CONDITIONCOV = 1e-11, 1e-12, 1e-11, 1e20, 1e14


def _check_box(bounds: Any, d: int, caller: str) -> tuple[np.ndarray, np.ndarray] | None:
    if bounds is None:
        return None
    expected = (f"The 'bounds' parameter of {caller} must be (lows, highs), two arrays of "
                f"shape ({d},) with lows <= highs")
    try:
        lb, ub = (np.broadcast_to(np.asarray(b, dtype=np.float64), (d,)).copy()
                  for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{expected}. Got {repr(bounds)[:80]} instead.") from None
    if np.isnan(lb).any() or np.isnan(ub).any() or (lb > ub).any():
        raise ValueError(f"{expected}, no NaN. Got lows {lb[:3].tolist()}..., highs "
                         f"{ub[:3].tolist()}....")
    return lb, ub


def _check_integrality(integrality: Any, d: int, box: tuple[np.ndarray, np.ndarray] | None,
                       caller: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The integer coordinates (a mask) and the integers each may take (lo, hi)."""
    if integrality is None:
        return None
    expected = (f"The 'integrality' parameter of {caller} must be an array of {d} booleans "
                "(True: the coordinate takes integer values)")
    arr = np.asarray(integrality)
    if arr.shape != (d,) or arr.dtype.kind not in "biu" or (
            arr.dtype.kind in "iu" and not np.isin(arr, (0, 1)).all()):
        raise ValueError(f"{expected}. Got {repr(integrality)[:80]} instead.")
    mask = arr.astype(bool)
    if not mask.any():
        return None
    lo = np.full(d, -np.inf) if box is None else np.ceil(box[0])
    hi = np.full(d, np.inf) if box is None else np.floor(box[1])
    empty = np.flatnonzero(mask & (lo > hi))
    if empty.size:
        raise ValueError(f"{expected}, each with an integer within 'bounds'. Coordinates "
                         f"{empty[:5].tolist()} have none between their bounds.")
    return mask, lo[mask], hi[mask]


def _snap(X: Any, integers: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Any:
    """X (points as rows, or one point) with its integer coordinates rounded to the
    nearest integer their bounds allow."""
    mask, lo, hi = integers
    out = np.array(X, copy=True)
    out[..., mask] = np.clip(np.round(out[..., mask]), lo, hi)
    return out


class _BoxTransform:
    """A map of R^d onto the box: the identity inside, quadratic in a margin at each
    bound so that it is smooth (the margins of pycma's ``BoundTransform``, its
    ``BoxConstraintsLinQuadTransformation``: widths ``min(w / 2, (1 + |bound|) / 20)``,
    ``w`` the box's width), reaching the bound at a turning point that far beyond it,
    and flat past that, where the CMAs add a penalty (pycma folds the map periodically
    there instead, which makes mirrored copies of the landscape)."""

    def __init__(self, lb: np.ndarray, ub: np.ndarray):
        self.lb, self.ub = lb, ub
        fl, fu = np.isfinite(lb), np.isfinite(ub)
        free = lb < ub
        self.fixed = np.flatnonzero(~free)
        self.groups = [(np.flatnonzero(fl & fu & free), True, True),
                       (np.flatnonzero(fl & ~fu), True, False),
                       (np.flatnonzero(~fl & fu), False, True)]
        width = np.where(fl & fu, ub - lb, np.inf)
        self.al = np.where(fl, np.minimum(width / 2, (1 + np.abs(np.where(fl, lb, 0))) / 20),
                           0.0)
        self.au = np.where(fu, np.minimum(width / 2, (1 + np.abs(np.where(fu, ub, 0))) / 20),
                           0.0)

    def __call__(self, X: Any) -> np.ndarray:
        """The points the objective sees for X (rows, or one point), in the box."""
        Y = np.array(X, dtype=np.float64, copy=True)
        if self.fixed.size:
            Y[..., self.fixed] = self.lb[self.fixed]
        for idx, lower, upper in self.groups:
            if idx.size:
                Y[..., idx] = self._fold(Y[..., idx], idx, lower, upper)
        return Y

    def _fold(self, x: np.ndarray, idx: np.ndarray, lower: bool, upper: bool) -> np.ndarray:
        lb, ub, al, au = self.lb[idx], self.ub[idx], self.al[idx], self.au[idx]
        lo, hi = lb - al, ub + au  # the turning points
        if lower:  # flat beyond the turning points (where the CMAs add a penalty)
            x = np.maximum(x, lo)
        if upper:
            x = np.minimum(x, hi)
        y = x
        if lower:
            y = np.where(x < lb + al, lb + (x - lo) ** 2 / (4 * al), y)
        if upper:
            y = np.where(x > ub - au, ub - (x - hi) ** 2 / (4 * au), y)
        return np.clip(y, lb, ub)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """A point the map takes to y (y in the box): y itself inside the margins."""
        x = np.array(y, dtype=np.float64, copy=True)
        for idx, lower, upper in self.groups:
            if not idx.size:
                continue
            v, lb, ub, al, au = x[idx], self.lb[idx], self.ub[idx], self.al[idx], self.au[idx]
            out = v
            if lower:
                out = np.where(v < lb + al, lb - al + 2 * np.sqrt(al * np.maximum(v - lb, 0)),
                               out)
            if upper:
                out = np.where(v > ub - au, ub + au - 2 * np.sqrt(au * np.maximum(ub - v, 0)),
                               out)
            x[idx] = out
        return x


class _Feasible:
    """The objective seen through the box transform, integer coordinates rounded."""

    def __init__(self, fun: Any, box: _BoxTransform | None,
                 integers: tuple[np.ndarray, np.ndarray, np.ndarray] | None):
        self.fun, self.box, self.integers = fun, box, integers

    def point(self, X: Any) -> Any:
        dtype = np.asarray(X).dtype
        Y = X if self.box is None else self.box(X).astype(dtype, copy=False)
        return Y if self.integers is None else _snap(Y, self.integers)

    def __call__(self, X: np.ndarray) -> Any:
        return self.fun(self.point(X))


class _Params:
    """The strategy parameters of one population size (tutorial, Table 1)."""

    def __init__(self, d: int, lam: int, active: bool, sep: bool):
        self.lam = lam
        self.mu = mu = lam // 2
        i = np.arange(1, lam + 1, dtype=np.float64)
        wp = math.log((lam + 1) / 2) - np.log(i)  # w'_i, positive for i <= mu
        pos, neg = wp[:mu], wp[mu:]
        self.mueff = float(pos.sum() ** 2 / (pos * pos).sum())
        mueff = self.mueff
        self.cs = (mueff + 2) / (d + mueff + 5)
        self.ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (d + 1)) - 1) + self.cs
        self.cc = (4 + mueff / d) / (d + 4 + 2 * mueff / d)
        alpha = 2.0
        c1 = alpha / ((d + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, alpha * (mueff - 2 + 1 / mueff) / ((d + 2) ** 2 + alpha * mueff / 2))
        if sep:  # Ros and Hansen 2008: a diagonal C learns (d + 2) / 3 times faster
            c1 = min(1.0, c1 * (d + 2) / 3)
            cmu = min(1 - c1, cmu * (d + 2) / 3)
        self.c1, self.cmu = c1, cmu
        w = np.zeros(lam)
        w[:mu] = pos / pos.sum()
        if active and neg.size and cmu > 0:
            mueff_neg = float(neg.sum() ** 2 / (neg * neg).sum())
            a_mu = 1 + c1 / cmu
            a_mueff = 1 + 2 * mueff_neg / (mueff + 2)
            a_posdef = (1 - c1 - cmu) / (d * cmu)
            w[mu:] = min(a_mu, a_mueff, a_posdef) * neg / np.abs(neg).sum()
        self.w = w
        self.chi = math.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d))  # E||N(0, I)||
        # eigendecomposition every this many generations (tutorial, B.2: o(d^2) per sample)
        self.eig_every = 1 if sep else max(1, int(1 / (10 * d * (c1 + cmu))))
        self.hist = 10 + math.ceil(30 * d / lam)  # generations of the tolfun history


class CMA(Optimizer):
    r"""CMA-ES: weighted recombination, cumulative step-size adaptation, rank-one
    and rank-mu covariance updates, active update, restarts.

    Parameters
    ----------
    x0 : array_like, shape (d,)
        Initial mean (and the mean every restart starts from).
    sigma : float > 0, optional
        Initial step size.  None (default): ``0.3 * scale``, which puts about
        99.7% of the first samples of each coordinate within ``scale`` of
        ``x0``.
    popsize : int >= 2, optional
        Samples per generation (default ``4 + floor(3 ln d)``).
    active : bool, optional
        Negative weights for the worst half (default True).
    restarts : int >= 0, optional
        Restarts after a run stops making progress (default 0).  With BIPOP
        this counts the large regime's runs, as pycma's ``restarts`` does; the
        small runs between them come on top.
    restart_mode : {"ipop", "bipop"}, optional
        How restarts choose their population (default "ipop").
    popsize_factor : float > 1, optional
        IPOP's population growth per restart (default 2).
    scale : float > 0, optional
        Distance per coordinate expected to the minimum (default
        ``max(1, mean |x0|)``); used by the default ``sigma``.
    bounds : (lows, highs), optional
        A box (``-inf`` / ``inf`` for no bound): the search runs unbounded, the
        objective sees each sample through a smooth map onto the box, and
        samples far outside are ranked with a penalty (Notes).
        :func:`zoopt.minimize` passes its ``bounds`` here.
    integrality : array_like of d booleans, optional
        The coordinates that take integer values (as scipy's
        ``differential_evolution``): the objective sees them rounded to the
        nearest integer within ``bounds``, and their samples keep a margin
        (Notes).  :func:`zoopt.minimize` passes its ``integrality`` here.
    rng : None, int, SeedSequence or Generator

    Notes
    -----
    Bounds: the search itself is unbounded, and the objective sees each
    sample ``x`` at ``T(x)``, a map of R^d onto the box.  ``T`` is the
    identity inside the box except for a margin at each bound of width
    ``a = min(w / 2, (1 + |bound|) / 20)`` (``w`` the box's width; the
    margins of pycma's default ``BoundTransform``), where it is quadratic so
    that it is smooth and reaches the bound with slope 0 at the turning point
    ``a`` beyond it; past the turning points ``T`` is flat.  There a sample is
    ranked by ``f(T(x)) + p ||x - clip(x)||^2``, ``clip`` onto the box
    widened to the turning points, with ``p = 2 IQR(f) / (sigma^2
    mean(diag C))`` from the interquartile range of the generation's values
    (how pycma's ``BoundPenalty`` starts its weights): a step past them costs
    about the spread of a generation.  A minimum on a bound is then a smooth
    minimum at the turning point, which the step size converges to; with
    samples clipped onto the box and a penalty, CMA-ES's step size collapses
    where the minimum lies on many bounds at once (the linear slope, COCO's
    f5, at d = 40), and pycma's periodic fold beyond the margins makes
    mirrored copies of the landscape that slow the ill-conditioned problems
    (f10-f12 at d = 40).  ``x0`` starts from ``T^-1(x0)``, and
    :func:`zoopt.minimize` reports ``T`` of the mean.

    Integer coordinates: once the step size is below the spacing of the
    integers, every sample would round to the mean's integer and the coordinate
    would stop.  After each generation the samples of an integer coordinate
    ``j`` are widened by a factor ``A_j >= 1`` so that a sample reaches each
    neighbouring integer (within the bounds) with probability at least
    ``1 / (d popsize)``, the margin of Hamano, Saito, Nomura and Shirakawa
    (GECCO 2022); the mean moves by the widened samples, ``C`` and ``sigma``
    learn from the unwidened ones.

    A generation at step ``t`` takes ``z = directions(popsize, d, rng=rng,
    step=t)``; a restart does not reset ``t``, so every generation of a run
    draws from its own step.  ``evals_per_step()`` is the current population.

    ``status`` says what the current run is doing: ``"running"``, or after a
    restart the criterion that ended the previous run (``last_stop``).
    ``n_restarts`` counts the restarts made.
    """

    name = "cma"
    _sep: ClassVar[bool] = False

    def __init__(self, x0: Any, *, sigma: float | None = None, popsize: int | None = None,
                 active: bool = True, restarts: int = 0, restart_mode: str = "ipop",
                 popsize_factor: float = 2.0, scale: float | None = None,
                 bounds: Any = None, integrality: Any = None, rng: Any = None):
        super().__init__(x0, rng=rng)
        caller = type(self).__name__
        self.bounds = _check_box(bounds, self.x.size, caller)
        self.integers = _check_integrality(integrality, self.x.size, self.bounds, caller)
        if is_device_array(self.x):
            raise TypeError(f"{caller} runs on the host: pass x0 as a NumPy array (its "
                            "linear algebra is float64 on the CPU). Got a device array.")
        d = self.x.size
        from zoopt.optimize._methods import _scale

        self.scale = _scale(self.x, scale, caller)
        self.popsize0 = (4 + int(3 * math.log(d)) if popsize is None
                         else check_int(popsize, "popsize", caller, low=2))
        self.sigma0 = (0.3 * self.scale if sigma is None
                       else check_float(sigma, "sigma", caller, low=0.0, low_open=True))
        self.active = check_bool(active, "active", caller)
        self.restarts = check_int(restarts, "restarts", caller, low=0)
        self.restart_mode = check_choice(restart_mode, "restart_mode", caller,
                                         ("ipop", "bipop"))
        self.popsize_factor = check_float(popsize_factor, "popsize_factor", caller, low=1.0,
                                          low_open=True)
        self._box = None
        self.x0 = self.x.astype(np.float64)  # in the search space: mapped to x0
        if self.bounds is not None:
            lb, ub = self.bounds
            self._box = _BoxTransform(lb, ub)
            self.x0 = self._box.inverse(self.x0.clip(lb, ub))
        self.n_restarts = 0
        self.evals_large = 0.0  # BIPOP: evaluations spent in each regime
        self.evals_small = 0.0
        self.n_large = 0  # restarts of the large regime so far
        self.last_stop = ""
        self._params_cache: dict[int, Any] = {}
        self._new_run(self.popsize0, self.sigma0)

    # -- runs ------------------------------------------------------------------------
    def _params(self) -> Any:
        lam = self.popsize
        if lam not in self._params_cache:
            self._params_cache[lam] = self._make_params(lam)
        return self._params_cache[lam]

    def _make_params(self, lam: int) -> Any:
        return _Params(self.x.size, lam, self.active, self._sep)

    def _new_run(self, popsize: int, sigma: float) -> None:
        """A run from x0: what every member of the family resets, then its own shape."""
        self.popsize = int(popsize)
        self.sigma = float(sigma)
        self.run_sigma0 = float(sigma)
        self.x = self.x0.astype(self.x.dtype)
        self.ps = np.zeros(self.x.size)
        self.A = np.ones(self.x.size)  # the margin's scale of each coordinate's samples
        self.gen = 0  # generations of this run
        self.eig_gen = 0
        self.hist_best = np.full(_HIST, np.nan)  # ring buffers, by generation of the run
        self.hist_median = np.full(_HIST, np.nan)
        self.status = "running"
        self._new_shape()

    def _new_shape(self) -> None:
        d = self.x.size
        self.pc = np.zeros(d)
        if self._sep:
            self.C = np.ones(d)
        else:
            self.C = np.eye(d)
            self.B = np.eye(d)
        self.D = np.ones(d)

    def evals_per_step(self) -> int:
        return self.popsize

    # -- one generation -------------------------------------------------------------
    def _samples(self) -> tuple[np.ndarray, np.ndarray]:
        """z from the stream at step t, and y = B D z (rows)."""
        z = directions(self.popsize, self.x.size, dist="normal", rng=self._rng, step=self.t,
                       dtype=np.float64)
        if self._sep:
            return z, z * self.D
        with blas_threads(1):
            return z, (z * self.D) @ self.B.T

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        vectorized, batch_size = kw["vectorized"], kw["batch_size"]
        executor, nan_policy = kw["executor"], kw["nan_policy"]
        z, y = self._samples()
        view = _Feasible(fun, self._box, self.integers)
        probes = make_probes(view if self._box is not None or self.integers is not None
                             else fun, vectorized, nan_policy, self._caller, executor)
        mean = self.x
        ys = (y if self.integers is None else y * self.A).astype(mean.dtype)
        values = probes.matrix_values(mean, self.sigma, lambda i0, m: ys[i0 : i0 + m],
                                      self.popsize, False, batch_size)[:, 0]
        if nan_policy == "worst":
            values, _ = replace_nonfinite(values, None, self._caller)
        k = int(np.argmin(values))
        sig = mean.dtype.type(self.sigma)
        best_x = view.point(mean + sig * ys[k])  # the point evaluated, bit for bit
        self.last = {"best": (float(values[k]), best_x)}
        info = _GenerationInfo(values, probes.nfev, self.popsize, self.sigma)
        return (z, y, self._penalized(values, self._outside(mean, ys))), info

    def _outside(self, mean: np.ndarray, Y: np.ndarray) -> np.ndarray | None:
        """Squared distances of the samples mean + sigma Y beyond the box's turning
        points (None: no box)."""
        if self._box is None:
            return None
        X = mean.astype(np.float64) + self.sigma * Y.astype(np.float64)
        gap = X - X.clip(self._box.lb - self._box.al, self._box.ub + self._box.au)
        return np.einsum("ij,ij->i", gap, gap)

    def _penalized(self, values: np.ndarray, dist2: np.ndarray | None) -> np.ndarray:
        """The values the ranks are taken from: with a penalty beyond the box."""
        if dist2 is None or not (dist2 > 0).any():
            return values
        q75, q25 = np.percentile(values, [75, 25])
        spread = q75 - q25
        if not np.isfinite(spread) or spread <= 0:
            spread = max(float(np.abs(values).max()), 1.0) * 1e-3 if np.isfinite(
                values).all() else 1.0
        return values + (2 * spread / (self.sigma**2 * self._mean_variance())) * dist2

    def _mean_variance(self) -> float:
        """The mean of diag(C): the variance per coordinate, in units of sigma^2."""
        return float(np.mean(self.C if self._sep else np.diag(self.C)))

    def _feasible(self, x: Any) -> Any:
        """The point the objective sees for the point x of the search space: through
        the box's transform, integer coordinates rounded."""
        return _Feasible(None, self._box, self.integers).point(x)

    def best_probe(self) -> tuple[float, np.ndarray] | None:
        return self.last.get("best") if self.last else None

    def _apply(self, est: Any) -> None:
        z, y, values = est
        P = self._params()
        d = self.x.size
        order = np.argsort(values, kind="stable")  # ranks; ties by sample index
        zs, ys = z[order], y[order]
        w = P.w
        mu = P.mu
        wz = w[:mu] @ zs[:mu]  # sum_i w_i z_i:lambda = C^-1/2 <y>_w (in z's basis)
        wy = w[:mu] @ ys[:mu]  # <y>_w
        m_old = self.x.astype(np.float64)
        m = m_old + self.sigma * (wy * self.A)  # c_m = 1; A: the margin (integers)
        # cumulative step-size adaptation: p_s along C^-1/2 <y>_w = B <z>_w
        with blas_threads(1):
            cinv_y = wz if self._sep else self.B @ wz
        self.ps = (1 - P.cs) * self.ps + math.sqrt(P.cs * (2 - P.cs) * P.mueff) * cinv_y
        ps_norm = float(np.sqrt(self.ps @ self.ps))
        hs = ps_norm / math.sqrt(1 - (1 - P.cs) ** (2 * (self.gen + 1))) < (
            1.4 + 2 / (d + 1)) * P.chi
        self.pc = (1 - P.cc) * self.pc + (
            math.sqrt(P.cc * (2 - P.cc) * P.mueff) * wy if hs else 0.0)
        # the weights of the rank-mu term: negative ones rescaled by d / ||C^-1/2 y||^2
        zn2 = np.einsum("ij,ij->i", zs, zs)
        wo = np.where(w >= 0, w, w * d / np.maximum(zn2, 1e-300))
        delta = (1 - hs) * P.cc * (2 - P.cc)
        decay = 1 + P.c1 * delta - P.c1 - P.cmu * float(w.sum())
        if self._sep:
            self.C = (decay * self.C + P.c1 * self.pc * self.pc
                      + P.cmu * (wo @ (ys * ys)))
            self.C = np.maximum(self.C, 1e-300)
        else:
            with blas_threads(1):
                rank_mu = (ys * wo[:, None]).T @ ys
            C = decay * self.C + P.c1 * np.outer(self.pc, self.pc) + P.cmu * rank_mu
            self.C = (C + C.T) / 2
        self.sigma *= math.exp((P.cs / P.ds) * (ps_norm / P.chi - 1))
        self.x = m.astype(self.x.dtype)
        self.gen += 1
        self._decompose(P)
        self._margin()
        self._bookkeep(values)
        stop = self._stop(P, values) or self._small_budget()
        if stop:
            self._restart(stop)

    def _decompose(self, P: _Params) -> None:
        if self._sep:
            self.D = np.sqrt(self.C)
            return
        if self.gen - self.eig_gen < P.eig_every:
            return
        self.eig_gen = self.gen
        with blas_threads(1):
            ev, B = np.linalg.eigh(self.C)
        self.B, self.D = B, np.sqrt(np.maximum(ev, 1e-300))

    def _margin(self) -> None:
        """Integer coordinates: a sample leaves the integer nearest the mean, to each
        neighbour within the bounds, with probability alpha = 1 / (d popsize) at least:
        a margin in the spirit of Hamano, Saito, Nomura and Shirakawa ("CMA-ES with
        margin: lower-bounding marginal probability for mixed-integer black-box
        optimization", GECCO 2022), whose default alpha this is.  The samples of
        coordinate j are widened by A_j = max(1, r_j / (z sigma s_j)): r_j is the
        distance from m_j to the farther of the two half-integers around it (the
        nearer one where the other side is out of bounds), s_j the standard deviation
        of y_j and z the normal quantile at 1 - alpha.  Without it the distribution
        shrinks inside one integer's cell, where every sample rounds to the same value
        and the coordinate stops; with the nearer half-integer only, a mean that
        drifts to one edge of its cell sees just the neighbour on that side."""
        if self.integers is None:
            return
        mask, lo, hi = self.integers
        d = self.x.size
        z = NormalDist().inv_cdf(1 - 1 / (d * self.popsize))
        m = self.x[mask].astype(np.float64)
        k = np.clip(np.round(m), lo, hi)  # the mean's integer
        up = np.where(k < hi, k + 0.5 - m, 0.0)  # to the half-integer above, if any
        down = np.where(k > lo, m - (k - 0.5), 0.0)
        var = self.D**2 if self._sep else (self.B * self.B) @ (self.D * self.D)
        std = self.sigma * np.sqrt(var[mask])
        A = np.ones(d)
        A[mask] = np.maximum(1.0, np.maximum(up, down) / (z * np.maximum(std, 1e-300)))
        self.A = A

    def _bookkeep(self, values: np.ndarray) -> None:
        slot = (self.gen - 1) % _HIST
        self.hist_best[slot] = float(values.min())
        self.hist_median[slot] = float(np.median(values))

    def _recent(self, ring: np.ndarray, k: int, skip: int = 0) -> np.ndarray:
        """The values of generations gen - skip - k .. gen - skip - 1 of this run."""
        idx = (np.arange(self.gen - skip - k, self.gen - skip)) % _HIST
        return ring[idx]

    def _stop(self, P: _Params, values: np.ndarray) -> str:
        """The first termination criterion that holds for this run ('' for none)."""
        sigma = self.sigma
        diag = self.C if self._sep else np.diag(self.C)
        if not (np.isfinite(sigma) and np.isfinite(diag).all() and np.isfinite(self.x).all()):
            return "numerics"
        return self._stop_values(P.hist, P.lam, values) or self._stop_shape(diag)

    def _stop_values(self, hist: int, lam: int, values: np.ndarray) -> str:
        """The criteria on the values seen: tolfun, tolfunhist, stagnation."""
        d = self.x.size
        k = min(hist, self.gen, _HIST)
        recent = self._recent(self.hist_best, k)
        if self.gen >= hist and max(recent.max(), values.max()) - min(
                recent.min(), values.min()) < _TOLFUN:
            return "tolfun"
        if self.gen >= hist and recent.max() - recent.min() < _TOLFUNHIST:
            return "tolfunhist"
        n_stag = 120 + math.ceil(30 * d / lam)
        if self.gen > n_stag and self.gen >= 40:
            width = min(max(20, int(0.3 * self.gen)), _HIST)
            if width >= 40:
                new_b, old_b = self._recent(self.hist_best, 20), self._recent(
                    self.hist_best, 20, width - 20)
                new_m, old_m = self._recent(self.hist_median, 20), self._recent(
                    self.hist_median, 20, width - 20)
                if (np.median(new_b) >= np.median(old_b)
                        and np.median(new_m) >= np.median(old_m)):
                    return "stagnation"
        return ""

    def _stop_shape(self, diag: np.ndarray) -> str:
        """The criteria on the distribution: tolx, tolupsigma, conditioncov, noeffect*."""
        d, sigma = self.x.size, self.sigma
        if (sigma * np.sqrt(diag) < _TOLX * self.run_sigma0).all() and (
                np.abs(sigma * self.pc) < _TOLX * self.run_sigma0).all():
            return "tolx"
        if sigma * float(self.D.max()) > _TOLUPSIGMA * self.run_sigma0:
            return "tolupsigma"
        if (self.D.max() / self.D.min()) ** 2 > _CONDITIONCOV:
            return "conditioncov"
        m = self.x.astype(np.float64)
        i = self.gen % d
        axis = (0.1 * sigma * self.D[i]) * (np.eye(1, d, i)[0] if self._sep else self.B[:, i])
        if (m + axis == m).all():
            return "noeffectaxis"
        if (m + 0.2 * sigma * np.sqrt(diag) == m).any():
            return "noeffectcoord"
        return ""

    def _small_budget(self) -> str:
        """BIPOP: a small-regime run gets at most half the evaluations the large regime
        has spent so far (Hansen 2009; pycma's ``fmin``)."""
        if self.status == "small" and self.gen * self.popsize >= 0.5 * self.evals_large:
            return "maxfevals"
        return ""

    def _restart(self, why: str) -> None:
        used = float(self.gen * self.popsize)
        # BIPOP's accounting, as pycma's fmin: the first run and the small runs count in
        # the small regime, IPOP's doubled runs in the large one
        small_run = self.status == "small" or self.n_restarts == 0
        small = self.evals_small + (used if small_run else 0.0)
        large = self.evals_large + (0.0 if small_run else used)
        large_next = self.restart_mode == "ipop" or small >= max(1.0, large)
        # `restarts` counts the large regime's restarts; BIPOP's small runs come on top,
        # each within half the large regime's evaluations
        if large_next and self.n_large >= self.restarts:
            self.status = why  # the run goes on: no restarts left
            return
        self.evals_small, self.evals_large = small, large
        self.last_stop = why
        self.n_restarts += 1
        if large_next:
            self.n_large += 1
            lam = max(2, round(self.popsize0 * self.popsize_factor ** self.n_large))
            self._new_run(lam, self.sigma0)
            return
        # a small run: its size between popsize0 and the last large population, its
        # step size sigma0 * 10^(-2 u), both drawn from the stream
        u = self._uniforms(2)
        grow = self.popsize_factor ** (self.n_large * u[0] ** 2)
        self._new_run(max(2, int(self.popsize0 * grow)), self.sigma0 * 10 ** (-2 * u[1]))
        self.status = "small"

    def _uniforms(self, n: int) -> np.ndarray:
        """n uniforms in [0, 1) from the stream (direction words of this step)."""
        z = directions(1, n, dist="normal", rng=self._rng, step=self.t, dtype=np.float64,
                       start=self.popsize)[0]
        return 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))

    # -- state -------------------------------------------------------------------------
    _SCALARS: ClassVar[tuple[str, ...]] = (
        "sigma", "run_sigma0", "evals_large", "evals_small")
    _INTS: ClassVar[tuple[str, ...]] = ("popsize", "gen", "eig_gen", "n_restarts", "n_large")

    def state_dict(self) -> dict[str, np.ndarray]:
        out = super().state_dict()
        for k in self._SCALARS:
            out[k] = np.array(getattr(self, k), dtype=np.float64)
        for k in self._INTS:
            out[k] = np.array(getattr(self, k), dtype=np.int64)
        for k in self._matrices():
            out[k] = np.array(getattr(self, k), copy=True)
        out["status"] = np.array(self.status)
        out["last_stop"] = np.array(self.last_stop)
        return out

    def _matrices(self) -> dict[str, tuple[int, ...]]:
        d = self.x.size
        shapes: dict[str, tuple[int, ...]] = {"pc": (d,), "ps": (d,), "D": (d,), "A": (d,),
                                              "hist_best": (_HIST,),
                  "hist_median": (_HIST,)}
        shapes["C"] = (d,) if self._sep else (d, d)
        if not self._sep:
            shapes["B"] = (d, d)
        return shapes

    def _state_fields(self) -> dict[str, _Field]:
        fields = super()._state_fields()
        f64 = np.dtype(np.float64)
        for k in self._SCALARS:
            fields[k] = _Field((), f64, 0.0, k in ("sigma", "run_sigma0"))
        for k in self._INTS:
            fields[k] = _Field((), "int", 2 if k == "popsize" else 0, high=2**62)
        for k, shape in self._matrices().items():
            fields[k] = _Field(shape, f64, 0.0 if k in ("D", "A") else -math.inf,
                               nan=k.startswith("hist"))
        fields["status"] = _Field((), "str")
        fields["last_stop"] = _Field((), "str")
        return fields

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        super()._set_state(state)
        for k in self._SCALARS:
            setattr(self, k, float(state[k]))
        for k in self._INTS:
            setattr(self, k, int(state[k]))
        for k in self._matrices():
            setattr(self, k, np.array(state[k], dtype=np.float64, copy=True))
        self.status = str(state["status"])
        self.last_stop = str(state["last_stop"])

    def _snapshot(self) -> dict[str, Any]:
        # the update rebinds every array it changes, except the history rings: copied
        snap = super()._snapshot()
        for k in (*self._SCALARS, *self._INTS, *self._matrices(), "status", "last_stop"):
            v = getattr(self, k)
            snap[k] = v.copy() if k.startswith("hist") else v
        return snap


class SepCMA(CMA):
    r"""sep-CMA-ES: CMA-ES with a diagonal covariance (O(d) time and memory per sample).

    The same parameters as :class:`CMA`, with ``active=False`` by default (a
    diagonal ``C`` has no bound on its negative update that keeps every entry
    positive; the entries are floored at the smallest double).  The learning
    rates ``c1`` and ``c_mu`` are ``(d + 2) / 3`` times CMA's (Ros and Hansen
    2008).
    """

    name = "sep-cma"
    _sep = True

    def __init__(self, x0: Any, *, sigma: float | None = None, popsize: int | None = None,
                 active: bool = False, restarts: int = 0, restart_mode: str = "ipop",
                 popsize_factor: float = 2.0, scale: float | None = None,
                 bounds: Any = None, integrality: Any = None, rng: Any = None):
        super().__init__(x0, sigma=sigma, popsize=popsize, active=active, restarts=restarts,
                         restart_mode=restart_mode, popsize_factor=popsize_factor,
                         scale=scale, bounds=bounds, integrality=integrality, rng=rng)


class _LMParams:
    """LM-MA-ES's parameters for one population size (Loshchilov, Glasmachers and Beyer
    2019, Algorithm 1 and Section IV); the rates the paper gives for large d are capped
    where small d would take them to 1 or past it."""

    def __init__(self, d: int, lam: int, n_vectors: int):
        self.lam = lam
        self.mu = mu = lam // 2
        w = math.log(mu + 0.5) - np.log(np.arange(1, mu + 1, dtype=np.float64))
        self.w = w / w.sum()
        self.mueff = float(1 / (self.w * self.w).sum())
        self.cs = min(0.5, 2 * lam / d)
        j = np.arange(n_vectors, dtype=np.float64)
        self.cd = 1 / (1.5**j * d)  # how much each direction vector shapes the samples
        self.cc = np.minimum(1.0, lam / (4.0**j * d))  # how fast each one learns
        self.hist = 10 + math.ceil(30 * d / lam)


class LMMAES(CMA):
    r"""LM-MA-ES: limited-memory matrix adaptation, O(m d) memory and time per sample.

    A sample is :math:`x_k = m + \sigma d_k` with :math:`d_k = T z_k` and
    :math:`T = \prod_j ((1 - c_{d,j}) I + c_{d,j} M_j M_j^T)` over ``m``
    direction vectors :math:`M_j`, each an evolution path of the weighted sum
    :math:`\sum_i w_i z_{i:\lambda}` with its own rate.  Because ``T`` is
    linear, the mean's move :math:`\sigma\sum_i w_i d_{i:\lambda}` is
    :math:`\sigma T \sum_i w_i z_{i:\lambda}`: one weighted sum of stream
    directions (regenerated, never stored) and one product with ``T``
    (I. Loshchilov, T. Glasmachers and H.-G. Beyer, "Large scale black-box
    optimization by limited-memory matrix adaptation", IEEE TEC 23, 2019).
    Samples are built and evaluated in blocks, so memory is ``O(m d)`` plus
    one block.  The step size follows the squared norm of its path, as in the
    paper.  It is meant for large ``d`` (the paper's rates assume ``d`` of 100
    and more): below that, the m factors of ``T`` can stretch a step by orders
    of magnitude (on a 2-dimensional sphere in a box it wanders off), and
    :class:`CMA` is the method.

    Parameters
    ----------
    x0, sigma, popsize, restarts, restart_mode, popsize_factor, scale, bounds, rng
        As for :class:`CMA` (no ``active``: the weights are positive).
    n_vectors : int >= 1, optional
        The number ``m`` of direction vectors (default ``4 + floor(3 ln d)``).
    """

    name = "lm-ma-es"

    def __init__(self, x0: Any, *, sigma: float | None = None, popsize: int | None = None,
                 n_vectors: int | None = None, restarts: int = 0, restart_mode: str = "ipop",
                 popsize_factor: float = 2.0, scale: float | None = None,
                 bounds: Any = None, rng: Any = None):
        d = np.size(x0)
        self.n_vectors = (4 + int(3 * math.log(max(d, 1))) if n_vectors is None
                          else check_int(n_vectors, "n_vectors", "LMMAES", low=1))
        super().__init__(x0, sigma=sigma, popsize=popsize, active=False, restarts=restarts,
                         restart_mode=restart_mode, popsize_factor=popsize_factor,
                         scale=scale, bounds=bounds, rng=rng)

    def _make_params(self, lam: int) -> Any:
        return _LMParams(self.x.size, lam, self.n_vectors)

    def _new_shape(self) -> None:
        self.M = np.zeros((self.n_vectors, self.x.size))

    def _transform(self, Z: np.ndarray) -> np.ndarray:
        """T applied to the rows of Z: the vectors learned so far, in order.

        Each factor is a rank-one change, so the result is ``s Z + Q M`` with a scalar
        ``s`` and coefficients ``Q`` (rows x m) that follow the factors through the Gram
        matrix ``M M^T``: two matrix products of ``O(rows m d)`` in all."""
        P = self._params()
        k = min(self.gen, self.n_vectors)
        if k == 0:
            return Z.copy()
        M = self.M[:k]
        cached = getattr(self, "_gram", None)
        if cached is None or cached[0] is not self.M:  # M is rebound by each update
            with blas_threads(1):
                cached = self._gram = (self.M, M @ M.T)
        G = cached[1]
        with blas_threads(1):
            ZM = Z @ M.T
        scale = 1.0
        Q = np.zeros((Z.shape[0], k))
        for j in range(k):  # a loop over the m vectors, each O(rows m)
            proj = scale * ZM[:, j] + Q @ G[:, j]  # out @ M_j
            scale *= 1 - P.cd[j]
            Q *= 1 - P.cd[j]
            Q[:, j] += P.cd[j] * proj
        with blas_threads(1):
            return scale * Z + Q @ M

    def _estimate(self, fun: Any, **kw: Any) -> tuple[Any, Any]:
        view = _Feasible(fun, self._box, None)
        probes = make_probes(fun if self._box is None else view, kw["vectorized"],
                             kw["nan_policy"], self._caller, kw["executor"])
        d, lam, mean = self.x.size, self.popsize, self.x
        rows = max(1, min(lam, (16 << 20) // (8 * d)))  # a block of samples: 16 MiB
        values = np.empty(lam)
        dist2 = None if self._box is None else np.empty(lam)
        best: tuple[float, Any] = (math.inf, None)
        sig = mean.dtype.type(self.sigma)
        for i0 in range(0, lam, rows):
            m = min(rows, lam - i0)
            Z = directions(m, d, dist="normal", rng=self._rng, step=self.t, start=i0)
            Y = self._transform(Z).astype(mean.dtype)
            v = probes.matrix_values(mean, self.sigma, lambda a, b, Y=Y: Y[a : a + b], m,
                                     False, kw["batch_size"])[:, 0]
            if kw["nan_policy"] == "worst":
                v, _ = replace_nonfinite(v, None, self._caller)
            values[i0 : i0 + m] = v
            if dist2 is not None:
                dist2[i0 : i0 + m] = self._outside(mean, Y)
            k = int(np.argmin(v))
            if v[k] < best[0] or best[1] is None:
                best = (float(v[k]), view.point(mean + sig * Y[k]))
        self.last = {"best": best}
        return (self._penalized(values, dist2),
                _GenerationInfo(values, probes.nfev, lam, self.sigma))

    def _apply(self, est: Any) -> None:
        from zoopt._engine import weighted_sum
        from zoopt.random import _Stream

        values = est
        P = self._params()
        d, lam = self.x.size, self.popsize
        order = np.argsort(values, kind="stable")
        w = np.zeros(lam)
        w[order[: P.mu]] = P.w  # the weights by sample index
        stream = _Stream(self.key, self.t, "normal", np.dtype(np.float64), d)
        wz = weighted_sum(w, stream, stream.scales(0, lam))  # sum_i w_i z_i:lambda
        step = self._transform(wz[None])[0]  # T (sum w z) = sum w d
        self.ps = (1 - P.cs) * self.ps + math.sqrt(P.mueff * P.cs * (2 - P.cs)) * wz
        root = np.sqrt(P.mueff * P.cc * (2 - P.cc))
        self.M = (1 - P.cc)[:, None] * self.M + root[:, None] * wz
        m = self.x.astype(np.float64) + self.sigma * step
        self.sigma *= math.exp(P.cs / 2 * (float(self.ps @ self.ps) / d - 1))
        self.x = m.astype(self.x.dtype)
        self.gen += 1
        self._bookkeep(values)
        stop = ""
        if not (np.isfinite(self.sigma) and np.isfinite(self.x).all()):
            stop = "numerics"
        stop = stop or self._stop_values(P.hist, lam, values)
        if not stop and self.sigma < _TOLX * self.run_sigma0:
            stop = "tolx"
        if not stop and self.sigma > _TOLUPSIGMA * self.run_sigma0:
            stop = "tolupsigma"
        stop = stop or self._small_budget()
        if stop:
            self._restart(stop)

    def _mean_variance(self) -> float:
        # T's factors shrink or stretch along the m vectors only: about 1 per coordinate
        return 1.0

    def best_probe(self) -> tuple[float, np.ndarray] | None:
        best = self.last.get("best") if self.last else None
        return best if best is not None and best[1] is not None else None

    def _matrices(self) -> dict[str, tuple[int, ...]]:
        d = self.x.size
        return {"ps": (d,), "M": (self.n_vectors, d), "hist_best": (_HIST,),
                "hist_median": (_HIST,)}


class _GenerationInfo:
    """What a generation reports (as the other methods' estimate infos)."""

    def __init__(self, values: np.ndarray, nfev: int, popsize: int, sigma: float):
        self.values = values
        self.nfev = nfev
        self.popsize = popsize
        self.sigma = sigma

    def __repr__(self) -> str:
        return (f"GenerationInfo(nfev={self.nfev}, popsize={self.popsize}, "
                f"sigma={self.sigma:.4g}, best={float(self.values.min()):.6g})")
