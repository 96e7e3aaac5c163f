"""zoopt: gradients of what has no gradient.

Zeroth-order estimation (random finite differences) and policy-gradient
estimation (REINFORCE) as one family over counter-based random streams and
compiled kernels.
"""

import os as _os

# OpenMP threads that finish a parallel region sleep instead of spinning, unless the user
# chose otherwise.  Spinning threads take the cores from whatever else runs: on shared cores
# a ZOOptimizer step (torch's pool and zoopt's) takes many times longer with spinning
# threads than with sleeping ones (`python -m zoopt bench threads` measures it).  Set at
# import, before any kernel runs, it reaches every OpenMP runtime loaded after zoopt
# (torch's too, when zoopt is imported first); runtimes loaded earlier keep theirs.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from zoopt import metrics, optimize, parallel, plot, policy, projection, random, sphere
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
    "plot",
    "policy",
    "projection",
    "random",
    "set_num_threads",
    "sphere",
]
