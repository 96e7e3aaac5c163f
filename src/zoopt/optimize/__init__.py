"""Black-box optimizers: ask/tell classes, ``minimize`` and a scipy bridge.

* ``CMA``, ``SepCMA``, ``LMMAES``: the CMA-ES family (full, diagonal and
  limited-memory covariance), with IPOP and BIPOP restarts; ``minimize``'s
  default ``method="auto"`` runs CMA-ES with BIPOP restarts up to d = 100 and
  LM-MA-ES up to d = 1e4.
* ``ZOSGD``, ``ZOAdam``, ``ES``, ``SPSA``, ``SNES``: update rules over
  zoopt's gradient estimators, for large d and batched objectives.
"""

from typing import Any

from zoopt.optimize import _minimize
from zoopt.optimize._base import Optimizer, OptimizeResult
from zoopt.optimize._cma import CMA, LMMAES, SepCMA
from zoopt.optimize._methods import ES, SNES, SPSA, ZOSGD, ZOAdam
from zoopt.optimize._minimize import METHODS, minimize
from zoopt.optimize._scipy import scipy_method

__all__ = [
    "CMA",
    "ES",
    "LMMAES",
    "METHODS",
    "SNES",
    "SPSA",
    "ZOSGD",
    "OptimizeResult",
    "OptimizeWarning",
    "Optimizer",
    "SepCMA",
    "ZOAdam",
    "minimize",
    "scipy_method",
]


def __getattr__(name: str) -> Any:
    # OptimizeWarning subclasses scipy's where scipy is installed: made on first use, so
    # that importing zoopt does not import scipy.optimize
    if name == "OptimizeWarning":
        return _minimize._optimize_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
