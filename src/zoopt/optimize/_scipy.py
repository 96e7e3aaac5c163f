"""``scipy.optimize.minimize(fun, x0, method=zoopt.optimize.scipy_method(name))``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._validation import check_choice
from zoopt.optimize._minimize import METHODS, minimize

__all__ = ["scipy_method"]

# options that go to zoopt.minimize itself; the rest are the method's options
_MINIMIZE_KEYS = ("sigma", "n_dirs", "lr", "maxfev", "maxiter", "target", "tol", "progress",
                  "executor", "rng", "checkpoint", "checkpoint_every", "nan_policy",
                  "eval_mean", "batch_size")


class _ScalarWithArgs:
    def __init__(self, fun: Callable[..., Any], args: tuple[Any, ...]):
        self.fun, self.args = fun, args

    def __call__(self, x: np.ndarray) -> Any:
        return self.fun(x, *self.args)


def scipy_method(name: str) -> Callable[..., Any]:
    """A zoopt method as a custom method of :func:`scipy.optimize.minimize`.

    Parameters
    ----------
    name : {"auto", "cma", "sep-cma", "lm-ma-es", "zo-adam", "zo-sgd", "es", "spsa", \
"snes"}

    Returns
    -------
    method : callable
        Pass it as ``method=``; scipy's ``options`` go to :func:`zoopt.minimize`
        (``maxiter``, ``maxfev``, ``sigma``, ``n_dirs``, ``lr``, ``rng``, ...)
        or to the method's class.  ``fun`` is called on one point at a time
        (``vectorized=False``) with scipy's ``args``; ``tol``, ``bounds`` and
        ``callback`` (either of scipy's forms) are honoured as by
        :func:`zoopt.minimize`; ``jac``, ``hess`` and constraints are not used
        (constraints raise).  The result is a ``scipy.optimize.OptimizeResult``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> from zoopt.optimize import scipy_method
    >>> res = minimize(lambda x: float(x @ x), np.ones(5), method=scipy_method("zo-adam"),
    ...                options={"maxiter": 300, "lr": 0.05, "rng": 0})
    >>> bool(res.fun < 1e-2)
    True
    """
    name = check_choice(name, "name", "scipy_method", ("auto", *METHODS))

    def method(fun: Callable[..., Any], x0: Any, args: tuple[Any, ...] = (), jac: Any = None,
               hess: Any = None, hessp: Any = None, bounds: Any = None, constraints: Any = (),
               callback: Callable[..., Any] | None = None, **options: Any) -> Any:
        if constraints:
            raise ValueError(f"zoopt's {name!r} does not handle constraints other than bounds.")
        kw = {k: options.pop(k) for k in list(options) if k in _MINIMIZE_KEYS}
        if bounds is not None and not hasattr(bounds, "lb"):
            bounds = [(-np.inf if lo is None else lo, np.inf if hi is None else hi)
                      for lo, hi in bounds]
        return minimize(fun, x0, args=args, method=name, vectorized=False, bounds=bounds,
                        callback=callback, options=options or None, **kw)

    method.__name__ = f"zoopt_{name.replace('-', '_')}"
    method.__doc__ = f"zoopt's {name!r} as a scipy.optimize.minimize method."
    return method
