"""Black-box optimizers: ask/tell classes, ``minimize`` and a scipy bridge."""

from zoopt.optimize._base import Optimizer, OptimizeResult
from zoopt.optimize._methods import ES, SNES, SPSA, ZOSGD, ZOAdam
from zoopt.optimize._minimize import METHODS, OptimizeWarning, minimize
from zoopt.optimize._scipy import scipy_method

__all__ = [
    "ES",
    "METHODS",
    "SNES",
    "SPSA",
    "ZOSGD",
    "OptimizeResult",
    "OptimizeWarning",
    "Optimizer",
    "ZOAdam",
    "minimize",
    "scipy_method",
]
