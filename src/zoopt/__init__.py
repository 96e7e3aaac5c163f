"""zoopt: gradients of what has no gradient.

Zeroth-order estimation (random finite differences) and policy-gradient
estimation (REINFORCE) as one family over counter-based random streams and
compiled kernels.
"""

from zoopt import metrics, optimize, parallel, policy, projection, random, sphere
from zoopt._result import EstimateInfo, PolicyInfo
from zoopt._threads import get_num_threads, set_num_threads
from zoopt._version import __version__
from zoopt.estimators import grad
from zoopt.optimize import OptimizeResult, minimize

__all__ = [
    "EstimateInfo",
    "OptimizeResult",
    "PolicyInfo",
    "__version__",
    "get_num_threads",
    "grad",
    "metrics",
    "minimize",
    "optimize",
    "parallel",
    "policy",
    "projection",
    "random",
    "set_num_threads",
    "sphere",
]
