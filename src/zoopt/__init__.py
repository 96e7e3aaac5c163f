"""zoopt: gradients of what has no gradient.

Zeroth-order estimation (random finite differences) and policy-gradient
estimation (REINFORCE) as one family over counter-based random streams and
compiled kernels.
"""

from zoopt import random
from zoopt._result import EstimateInfo
from zoopt._threads import get_num_threads, set_num_threads
from zoopt._version import __version__
from zoopt.estimators import grad

__all__ = [
    "EstimateInfo",
    "__version__",
    "get_num_threads",
    "grad",
    "random",
    "set_num_threads",
]
