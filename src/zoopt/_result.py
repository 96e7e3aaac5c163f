"""Result containers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EstimateInfo", "PolicyInfo"]


@dataclass(frozen=True, eq=False)
class EstimateInfo:
    """What one gradient estimate evaluated.

    Attributes
    ----------
    nfev : int
        Number of objective evaluations (points, not calls).
    fx : float or None
        ``f(x)`` when the method evaluated it (``"forward"``), else None.
    values : ndarray
        The objective's values at the probes: ``(n_dirs,)`` for
        ``"forward"``; ``(n_dirs, 2)`` with columns ``f(x + s v_i)`` and
        ``f(x - s v_i)`` for ``"central"``; ``(d, 2)`` for ``"coordinate"``.
    method, dist : str
        Settings used (``dist`` is None for ``"coordinate"``).
    sigma : float
        The step actually taken (``sigma`` rounded to the dtype of ``x``).
    n_dirs : int
        Directions used (``d`` for ``"coordinate"``).
    step : int
        Step counter of the stream.
    """

    nfev: int
    fx: float | None
    values: np.ndarray
    method: str
    dist: str | None
    sigma: float
    n_dirs: int
    step: int

    def __repr__(self) -> str:
        shape = getattr(self.values, "shape", None)
        return (f"EstimateInfo(nfev={self.nfev}, fx={self.fx!r}, values=<array {shape}>, "
                f"method={self.method!r}, dist={self.dist!r}, sigma={self.sigma!r}, "
                f"n_dirs={self.n_dirs}, step={self.step})")

    def _asdict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class PolicyInfo:
    """What one policy-gradient estimate sampled and evaluated.

    Attributes
    ----------
    nfev : int
        Evaluations: objective points (:func:`~zoopt.policy.gaussian`) or
        calls of ``reward`` per sample (:func:`~zoopt.policy.categorical`).
    values : ndarray
        Rewards or objective values of the samples: ``(n,)``, ``(n/2, 2)``
        for antithetic pairs, ``(S,)`` or ``(S, N)`` for categorical.
    baseline : ndarray
        The baseline subtracted, broadcastable against ``values``.
    n_samples, step : int
        Samples drawn and step counter of the stream.
    fx : float or None
        ``fun(mean)`` when the baseline needed it.
    samples : ndarray or None
        Sampled labels ``(S, N)`` (categorical).
    greedy : ndarray or None
        Reward of the argmax labels (``baseline="greedy"``).
    """

    nfev: int
    values: np.ndarray
    baseline: np.ndarray
    n_samples: int
    step: int
    fx: float | None = None
    samples: np.ndarray | None = None
    greedy: np.ndarray | None = None

    def __repr__(self) -> str:
        shp = getattr(self.values, "shape", None)
        return (f"PolicyInfo(nfev={self.nfev}, values=<array {shp}>, "
                f"n_samples={self.n_samples}, step={self.step}, fx={self.fx!r})")
