"""``zoopt.minimize``: the loop around the ask/tell optimizers."""

from __future__ import annotations

import inspect
import math
import os
import re
import socket
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from zoopt._backend import backend_of, is_device_array
from zoopt._engine import make_probes
from zoopt._validation import (
    _fmt,
    check_bool,
    check_callable,
    check_choice,
    check_float,
    check_int,
    check_point,
    check_positive_float,
)
from zoopt.optimize._base import (
    Optimizer,
    OptimizeResult,
    _Field,
    _read_field,
    _read_header,
    _result_class,
    _zip_members,
)
from zoopt.optimize._cma import CMA, LMMAES, SepCMA, _check_integrality, _snap
from zoopt.optimize._methods import ES, SNES, SPSA, ZOSGD, ZOAdam
from zoopt.random import _MAX_STEP

__all__ = ["METHODS", "minimize"]  # and OptimizeWarning, made on first use (__getattr__)


_WARNING_CLASS: list[type[UserWarning]] = []  # made on first use


def _optimize_warning() -> type[UserWarning]:
    """zoopt's OptimizeWarning: a subclass of ``scipy.optimize.OptimizeWarning`` where
    scipy is installed (so that code catching scipy's catches zoopt's), made on first
    use: importing scipy.optimize takes longer than importing zoopt."""
    if not _WARNING_CLASS:
        try:
            from scipy.optimize import OptimizeWarning as base
        except ImportError:
            base = UserWarning
        doc = ("What :func:`zoopt.minimize` warns about: an option that is not understood "
               "(it is ignored), an x0 outside the bounds (it is clipped), a run whose mean "
               "diverged.  A subclass of ``scipy.optimize.OptimizeWarning`` where scipy is "
               "installed.")
        _WARNING_CLASS.append(type("OptimizeWarning", (base,),
                                   {"__module__": "zoopt.optimize", "__doc__": doc}))
    return _WARNING_CLASS[0]


def __getattr__(name: str) -> Any:
    if name == "OptimizeWarning":
        return _optimize_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# method name -> (class, how minimize's common arguments map to the class's)
METHODS: dict[str, type[Optimizer]] = {
    "zo-sgd": ZOSGD,
    "zo-adam": ZOAdam,
    "es": ES,
    "spsa": SPSA,
    "snes": SNES,
    "cma": CMA,
    "sep-cma": SepCMA,
    "lm-ma-es": LMMAES,
}

_COMMON = {  # minimize(sigma=, n_dirs=, lr=) -> constructor keyword, per method
    "zo-sgd": {"sigma": "sigma", "n_dirs": "n_dirs", "lr": "lr"},
    "zo-adam": {"sigma": "sigma", "n_dirs": "n_dirs", "lr": "lr"},
    "es": {"sigma": "sigma", "n_dirs": "popsize", "lr": "lr"},
    "spsa": {"sigma": "c", "n_dirs": "n_dirs", "lr": "a"},
    "snes": {"sigma": "sigma", "n_dirs": "popsize", "lr": "lr_mean"},
    "cma": {"sigma": "sigma", "n_dirs": "popsize"},
    "sep-cma": {"sigma": "sigma", "n_dirs": "popsize"},
    "lm-ma-es": {"sigma": "sigma", "n_dirs": "popsize"},
}
# methods whose best sample stands in for the mean: the mean is not evaluated after each
# step unless eval_mean=True is passed
_NO_MEAN = ("cma", "sep-cma", "lm-ma-es")

STATUS = {
    0: "target reached",
    1: "maximum number of function evaluations reached",
    2: "maximum number of iterations reached",
    3: "the best value improved by less than `tol` over the last iterations",
    4: "interrupted by the user (KeyboardInterrupt); the run is returned as of its last "
       "whole step",
    5: "the optimizer's mean diverged; the best point evaluated is returned",
    99: "`callback` raised `StopIteration`.",
}


# method="auto": full CMA-ES up to this dimension, LM-MA-ES up to _AUTO_LM, zo-adam above
_AUTO_CMA, _AUTO_LM = 100, 10_000


def _auto(d: int, on_device: bool, options: Any, integral: bool = False) -> tuple[str, str]:
    """The method ``method="auto"`` runs, and the sentence that says why.

    Comparison-based methods with covariance learning solve small, ill-conditioned,
    multimodal problems in the fewest evaluations: CMA-ES with BIPOP restarts while its
    O(d^2) work per sample is small; LM-MA-ES (O(m d) memory) above; beyond 1e4
    dimensions the gradient estimator with Adam, whose probes are regenerated from the
    stream and evaluate fastest there.  On a GPU only the gradient methods run."""
    if on_device:
        return "zo-adam", "auto: zo-adam, the x0 is on a GPU, where the CMAs do not run"
    if integral and d > _AUTO_CMA:
        return "sep-cma", (f"auto: sep-cma with IPOP restarts, d = {d} > {_AUTO_CMA} with "
                           "integer coordinates (LM-MA-ES has no margin for them)")
    if d <= _AUTO_CMA:
        if options is None or "restarts" not in options:
            return "cma", (f"auto: cma with BIPOP restarts, d = {d} <= {_AUTO_CMA}")
        return "cma", f"auto: cma, d = {d} <= {_AUTO_CMA}"
    if d <= _AUTO_LM:
        return "lm-ma-es", (f"auto: lm-ma-es with IPOP restarts, {_AUTO_CMA} < d = {d} <= "
                            f"{_AUTO_LM}, where a full covariance costs too much per sample")
    return "zo-adam", f"auto: zo-adam, d = {d} > {_AUTO_LM}"


def _check_bounds(bounds: Any, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    if bounds is None:
        return None
    if is_device_array(bounds):  # d pairs of numbers: read here, then put beside x0
        bounds = bounds.get()
    expected = (f"a scipy Bounds, a sequence of d = {d} (low, high) pairs (None for no "
                "bound), or (lows, highs)")
    try:
        if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
            lb, ub = np.asarray(bounds.lb, float), np.asarray(bounds.ub, float)
            np.broadcast_to(lb, (d,))
            np.broadcast_to(ub, (d,))
            arr = None
        else:
            arr = _bounds_array(bounds, d)
    except (TypeError, ValueError):
        raise TypeError(f"The 'bounds' parameter of minimize must be {expected} of real "
                        f"numbers. Got {_fmt(bounds)} instead.") from None
    if arr is not None:
        if arr.ndim == 2 and arr.shape == (d, 2):
            lb, ub = arr[:, 0], arr[:, 1]
        elif arr.ndim == 2 and arr.shape == (2, d):
            lb, ub = arr[0], arr[1]
        else:
            raise ValueError(f"The 'bounds' parameter of minimize must be {expected}. "
                             f"Got shape {arr.shape} instead.")
    lb = np.broadcast_to(lb, (d,)).astype(float)
    ub = np.broadcast_to(ub, (d,)).astype(float)
    if np.isnan(lb).any() or np.isnan(ub).any():
        bad = np.flatnonzero(np.isnan(lb) | np.isnan(ub))
        raise ValueError(f"The 'bounds' parameter of minimize must not contain NaN. Got NaN "
                         f"at coordinates {bad[:5].tolist()}.")
    bad = np.flatnonzero(lb > ub)
    if bad.size:
        raise ValueError(f"The 'bounds' parameter of minimize has low > high at coordinates "
                         f"{bad[:5].tolist()}.")
    return lb, ub


def _bounds_array(bounds: Any, d: int) -> np.ndarray:
    """Pairs or (lows, highs) as a float array; None (as scipy takes it) is no bound."""
    if hasattr(bounds, "dtype"):  # an array: no None in it
        return np.asarray(bounds, dtype=float)
    if isinstance(bounds, str | bytes):
        raise TypeError("a string")
    rows = [list(r) for r in bounds]  # a Python sequence: the Nones are mapped one by one
    if len(rows) == d and all(len(r) == 2 for r in rows):
        rows = [[-np.inf if lo is None else lo, np.inf if hi is None else hi]
                for lo, hi in rows]
    elif len(rows) == 2:
        rows = [[-np.inf if v is None else v for v in rows[0]],
                [np.inf if v is None else v for v in rows[1]]]
    return np.asarray(rows, dtype=float)


class _WithArgs:
    """``fun(X, *args)`` (picklable, for executors)."""

    def __init__(self, fun: Callable[..., Any], args: tuple[Any, ...]):
        self.fun, self.args = fun, args

    def __call__(self, X: Any) -> Any:
        return self.fun(X, *self.args)


class _Clipped:
    """The objective seen through the box: probes are clipped before evaluation."""

    def __init__(self, fun: Callable[..., Any], lb: np.ndarray, ub: np.ndarray,
                 vectorized: bool):
        self.fun, self.lb, self.ub, self.vectorized = fun, lb, ub, vectorized

    def __call__(self, X: np.ndarray) -> Any:
        return self.fun(X.clip(self.lb, self.ub).astype(X.dtype, copy=False))


def _wants_result(callback: Callable[..., Any]) -> bool:
    """scipy >= 1.11 (``_wrap_callback``): a callback whose parameters are exactly one
    named 'intermediate_result' (positional or keyword-only) gets an OptimizeResult,
    passed by keyword; any other gets the current point."""
    try:
        params = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        return False
    return params == {"intermediate_result"}


# a mean whose value grew this many times the objective's scale has diverged
_DIVERGED = 1e6


def _diverged(fm: float, ref: float | None, best: float) -> bool:
    """The mean's value ``fm`` is not finite, or exceeds the reference ``ref`` (f(x0))
    by more than 1e6 times the scale of the values seen (|f(x0)|, or f(x0) - best)."""
    if not np.isfinite(fm):
        return True
    if ref is None or not np.isfinite(ref):
        return False
    scale = max(abs(ref), ref - best if np.isfinite(best) else 0.0) or 1.0
    return fm - ref > _DIVERGED * scale


def _converged(history: list[tuple[int, int, float, float]], tol: float, w: int) -> bool:
    """The best value improved by at most ``tol * max(|old|, |new|, 1)`` over ``w`` rows."""
    if len(history) <= w:
        return False
    old, new = history[-1 - w][2], history[-1][2]
    return bool(old - new <= tol * max(abs(old), abs(new), 1.0))


def _advance(bar: Any, count: int) -> None:
    """Move the bar to ``count``, never past its total."""
    bar.update(max(0, min(count, bar.total) - bar.n))


def _check_checkpoint_path(path: Any) -> None:
    """Fail before the run, not after it, when the checkpoint cannot be written."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"The 'checkpoint' parameter of minimize must be a path (str or "
                        f"os.PathLike). Got {type(path).__name__} instead.")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"The 'checkpoint' parameter of minimize must name a file; "
                         f"{os.fspath(path)!r} is a directory.")
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise ValueError(f"The 'checkpoint' parameter of minimize names a file in {folder!r}, "
                         "which does not exist or cannot be written.")


# a checkpoint's temporary file: ".<name>.zoopt-tmp-<host>-<pid>-<random>" beside it
_TMP_MARK = ".zoopt-tmp-"
_TMP_REST = re.compile(r"([A-Za-z0-9_]+)-([0-9]+)-[A-Za-z0-9_]+")
# a writer refreshes its file's mtime with every write: one untouched this long is dead
_TMP_STALE_S = 3600.0


def _tmp_prefix(path: str) -> str:
    # the name is cut so that the temporary one stays within the 255 bytes of a file name
    return "." + os.path.basename(path)[:150] + _TMP_MARK


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:32] or "host"


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # no signal 0 there (os.kill would end the process)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_stale_temps(path: str) -> None:
    """Remove the temporary files a killed writer of this checkpoint left: those of a
    process of this host that is gone, and any not written to for an hour."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix, host, now = _tmp_prefix(path), _host(), time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = (_TMP_REST.fullmatch(entry.name[len(prefix):])
                 if entry.name.startswith(prefix) else None)
        if match is None:
            continue
        try:
            dead = (match[1] == host and not _pid_alive(int(match[2]))) or (
                now - entry.stat(follow_symlinks=False).st_mtime > _TMP_STALE_S)
            if dead and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:  # removed meanwhile by another run, or not ours to remove
            continue


def _save_atomic(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``:
    a crash while writing leaves the previous checkpoint whole (and the temporary
    file, named after the checkpoint, for the next run to remove)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f"{_tmp_prefix(path)}{_host()}-{os.getpid()}-",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def minimize(fun: Callable[..., Any], x0: Any, *, args: Any = (), method: str = "auto",
             sigma: float | None = None, n_dirs: int | None = None, lr: float | None = None,
             maxfev: int | None = None, maxiter: int | None = None, target: float | None = None,
             tol: float | None = None, bounds: Any = None, integrality: Any = None,
             callback: Callable[..., Any] | None = None,
             progress: bool = False, executor: Any = None, rng: Any = None,
             options: dict[str, Any] | None = None, checkpoint: str | None = None,
             checkpoint_every: int = 10, vectorized: bool = True,
             batch_size: int | None = None, nan_policy: str = "raise",
             eval_mean: bool | None = None) -> OptimizeResult:
    """Minimize a function from its values only.

    Parameters
    ----------
    fun : callable
        Vectorized objective ``fun(X, *args)``: ``(B, d)`` -> ``(B,)`` (default),
        or ``fun(x, *args)`` -> float with ``vectorized=False``.
    x0 : array_like, shape (d,)
        Starting point; float32 is kept.  One outside ``bounds`` is clipped into
        them with an :class:`~zoopt.optimize.OptimizeWarning`, as scipy does.
    args : tuple, optional
        Extra arguments of ``fun`` (anything but a tuple is the one extra
        argument, as in :func:`scipy.optimize.minimize`).
    method : {"auto", "cma", "sep-cma", "lm-ma-es", "zo-adam", "zo-sgd", "es", "spsa", \
"snes"}, optional
        The optimizer; see :mod:`zoopt.optimize` for each.  "auto" (default)
        chooses by dimension and says what it chose in ``message``: CMA-ES
        with BIPOP restarts (9, as ``cma.fmin2(..., restarts=9, bipop=True)``)
        for ``d <= 100``, LM-MA-ES with IPOP restarts for ``d <= 1e4``,
        zo-adam above (and for an ``x0`` on a GPU).
    sigma, n_dirs, lr : optional
        The method's perturbation size, directions or population per step, and
        step size (for ``"spsa"``: ``c``, ``n_dirs`` and ``a``; for ``"es"``,
        ``"snes"``, ``"cma"`` and ``"sep-cma"``, ``n_dirs`` is the population
        size; the CMAs take no ``lr``).  None keeps the method's
        default, which scales with the dimension (see each class).
    maxfev, maxiter : int, optional
        Budget in evaluations and in steps; the run stops when either is
        reached (default: ``maxiter=1000`` if neither is given).
    target : float, optional
        Stop as soon as a value ``<= target`` has been evaluated.
    tol : float >= 0, optional
        Stop (status 3, ``success=True``) when the best value improved by no more
        than ``tol * max(|f_old|, |f_new|, 1)`` over the last ``w`` iterations,
        ``f_old`` and ``f_new`` the best values ``w`` iterations apart (scipy's
        relative reduction, as in L-BFGS-B's ``ftol``).  ``w`` is
        ``max(10, ceil(d / e))`` with ``e`` the evaluations per iteration: at
        least ``d`` evaluations, the work of one finite-difference gradient, so
        that a run progressing at the rate of a zeroth-order method in high
        dimension (a fraction ``n/d`` per step) is not stopped.  None
        (default): no such test.
    bounds : scipy.optimize.Bounds or sequence of (low, high), optional
        Box constraints; the objective never sees a point outside.  The
        gradient methods and the ES clip their probes into the box and project
        their point back after each step; the CMAs search unbounded and see
        their samples through a smooth map onto the box (see
        :class:`~zoopt.optimize.CMA`), which finds minima on the bounds.  A
        finite box sets the CMAs' default ``sigma``: a fifth of its mean width.
    integrality : array_like of d booleans, optional
        The coordinates that take integer values, as in
        :func:`scipy.optimize.differential_evolution`: the objective sees them
        rounded to the nearest integer within ``bounds``, and so do ``x`` and
        ``x_mean``.  For ``"cma"`` and ``"sep-cma"`` (and ``"auto"``, which
        then runs CMA-ES up to d = 100 and sep-CMA-ES above): their samples
        keep a margin, a chance of at least ``1 / (d popsize)`` per sample of
        leaving the current integer (see :class:`~zoopt.optimize.CMA`).
    callback : callable, optional
        Called after each step.  As in scipy >= 1.11, a callback whose only
        parameter is named ``intermediate_result`` (positional or keyword-only)
        gets ``callback(intermediate_result=res)``, an :class:`OptimizeResult`
        with ``x``, ``fun``, ``nit``, ``nfev``, ``x_mean``; any other gets
        ``callback(x_mean)``.  Raising ``StopIteration`` ends the run (status 99).
    progress : bool, optional
        Draw a tqdm progress bar (best value, value at the mean, evaluations/s).
        It counts iterations up to ``maxiter``, or evaluations up to ``maxfev``
        when that budget ends the run first.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate the probes there (see :mod:`zoopt.parallel`); same result.
    rng : None, int, SeedSequence or Generator
        Source of the stream key (SPEC 7).
    options : dict, optional
        Further keyword arguments of the method's class; unknown ones are
        ignored with an :class:`~zoopt.optimize.OptimizeWarning`.
    checkpoint : str, optional
        Path of an ``.npz`` checkpoint.  If it exists, the run resumes from it
        (same method and dimension required); it is rewritten atomically every
        ``checkpoint_every`` steps and at the end.  A run stopped and resumed
        equals the uninterrupted run, bit for bit; so does one interrupted by
        Ctrl-C (``KeyboardInterrupt``) in any phase of a step, which returns and
        saves the run as of its last whole step.  Every field of the file is
        checked before the run (its size in the zip directory before it is
        read): a file that is not such a checkpoint is refused with a
        ``ValueError`` naming the field.  What a method fixes at its first step
        stays fixed: SPSA's gain schedule (``A``, set from the budget of the run
        that started, and the calibrated ``a``) and ZOSGD's calibrated ``lr`` are
        part of the state, so a run resumed with another budget continues the
        schedule it started with (pass ``options={"A": ...}`` to make SPSA's
        independent of the budget).
    checkpoint_every : int, optional
        Steps between checkpoints (default 10).
    vectorized, batch_size, nan_policy
        As in :func:`zoopt.grad`.
    eval_mean : bool, optional
        Evaluate ``x0`` before the first step and the optimizer's point after
        each step (one evaluation each): they are candidates for the best
        point, so ``res.fun`` is never worse than ``f(x0)``, and give
        ``fun_mean``.  None (default): True, except that ``"cma"`` and
        ``"sep-cma"`` evaluate ``x0`` and, at the end of the run, the final
        mean (their best sample of each generation is the candidate between).

    Returns
    -------
    res : OptimizeResult
        Also a ``scipy.optimize.OptimizeResult`` where scipy is installed.
        ``x``, ``fun``: the best point evaluated and its value; ``x_mean``,
        ``fun_mean``: the optimizer's final point and its last evaluated value;
        ``nit``, ``nfev``, ``success`` (True when ``target`` or ``tol`` ended the
        run), ``status`` (0 target, 1 maxfev, 2 maxiter, 3 tol, 4 interrupted,
        5 diverged, 99 callback), ``message``, ``method``, ``state`` (the optimizer's
        ``state_dict``), ``history`` (per iteration: ``nit``, ``nfev``, ``fun``
        the best value so far, ``fun_mean``; arrays, kept across a resume; what
        :func:`zoopt.plot.learning_curves` draws; in the final result only).

    Warns
    -----
    OptimizeWarning
        For an unknown option, an ``x0`` outside ``bounds``, and a run whose mean
        diverged: its point is not finite, or its value exceeds ``f(x0)`` by more
        than ``1e6`` times the scale of the values (``|f(x0)|``, or
        ``f(x0) - fun`` when larger; 1 when both are 0).  Such a run stops at
        once (status 5; ``message`` says so) and returns the best point
        evaluated.

    Examples
    --------
    >>> import numpy as np
    >>> import zoopt
    >>> def sphere(X):
    ...     return (X * X).sum(axis=1)
    >>> res = zoopt.minimize(sphere, np.ones(10), method="zo-adam", lr=0.05, maxiter=300,
    ...                      rng=0)
    >>> bool(res.fun < 1e-2), res.nit
    (True, 300)
    """
    caller = "minimize"
    fun = check_callable(fun, "fun", caller)
    method = check_choice(method, "method", caller, ("auto", *METHODS))
    x0a = check_point(x0, "x0", caller)
    d = x0a.size
    chosen = ""
    box = _check_bounds(bounds, d)
    integers = _check_integrality(integrality, d, box, caller)
    if method == "auto":
        method, chosen = _auto(d, is_device_array(x0a), options, integers is not None)
    if integers is not None and method not in ("cma", "sep-cma"):
        how = " (chosen by method='auto')" if chosen else ""
        raise ValueError(f"The 'integrality' parameter of minimize applies to methods 'cma' "
                         f"and 'sep-cma' (and 'auto' for an x0 on the host). Got method "
                         f"{method!r}{how}.")
    if maxfev is not None:
        maxfev = check_int(maxfev, "maxfev", caller, low=1)
    if maxiter is not None:
        maxiter = check_int(maxiter, "maxiter", caller, low=0)
    if maxfev is None and maxiter is None:
        maxiter = 1000
    if not isinstance(args, tuple):  # as scipy: anything else is the one extra argument
        args = (args,)
    if target is not None:
        target = check_float(target, "target", caller, finite=False)
    if tol is not None:
        tol = check_float(tol, "tol", caller, low=0.0)
    if lr is not None:
        lr = check_positive_float(lr, "lr", caller)
    if n_dirs is not None:
        n_dirs = check_int(n_dirs, "n_dirs", caller, low=1)
    if sigma is not None and np.ndim(sigma) == 0:  # an array: per coordinate (snes)
        sigma = check_positive_float(sigma, "sigma", caller)
    if options is not None and not isinstance(options, Mapping):
        raise TypeError("The 'options' parameter of minimize must be a dict of keyword "
                        f"arguments of the method's class. Got {_fmt(options)} instead.")
    vectorized = check_bool(vectorized, "vectorized", caller)
    progress = check_bool(progress, "progress", caller)
    eval_x0 = True if eval_mean is None else check_bool(eval_mean, "eval_mean", caller)
    # the CMAs by default: x0 first, the final mean last (kept within the budget)
    final_mean = eval_mean is None and method in _NO_MEAN
    eval_mean = (method not in _NO_MEAN) if eval_mean is None else eval_x0
    nan_policy = check_choice(nan_policy, "nan_policy", caller, ("raise", "worst"))
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", caller, low=1)
    if checkpoint is not None:
        _check_checkpoint_path(checkpoint)
    if callback is not None:
        callback = check_callable(callback, "callback", caller)
    backend = backend_of(x0a)
    if box is not None:  # on the backend of x0 (for a GPU x0: copied there once)
        box = (backend.xp.asarray(box[0]), backend.xp.asarray(box[1]))
    if box is not None and bool(((x0a < box[0]) | (x0a > box[1])).any()):
        # as scipy.optimize.minimize: clipped into the box, with a warning
        outside = (x0a < box[0]) | (x0a > box[1])
        bad = np.flatnonzero(backend.to_host(outside))
        warnings.warn(f"The 'x0' parameter of minimize is not within 'bounds' (coordinates "
                      f"{bad[:5].tolist()}{' ...' if bad.size > 5 else ''}); it is clipped "
                      "into them.", _optimize_warning(), stacklevel=2)
        x0a = x0a.clip(box[0], box[1]).astype(x0a.dtype)
    if args:
        fun = _WithArgs(fun, args)

    cls = METHODS[method]
    kwargs: dict[str, Any] = {}
    for common, value in (("sigma", sigma), ("n_dirs", n_dirs), ("lr", lr)):
        if value is not None:
            if common not in _COMMON[method]:
                how = " (chosen by method='auto'; pass a method with a step size)" if (
                    chosen) else ""
                raise ValueError(f"The '{common}' parameter of minimize does not apply to "
                                 f"method {method!r}{how}: it has no step size to set. Got "
                                 f"{common}={value!r}.")
            kwargs[_COMMON[method][common]] = value
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "x0", "rng"}
    for k, v in (options or {}).items():
        if k in accepted:
            kwargs[k] = v
        else:
            warnings.warn(f"Unknown option {k!r} of method {method!r} is ignored "
                          f"(known: {sorted(accepted)}).", _optimize_warning(), stacklevel=2)
    if method == "spsa" and "A" not in kwargs:
        # Spall (1998): A about 10% of the expected number of steps, the fewer of the two
        # budgets (a bad n_dirs is left to SPSA's own check)
        n = kwargs.get("n_dirs", 1)
        per_step = 2 * (n if isinstance(n, int) and n >= 1 else 1) + int(eval_mean)
        steps = [s for s in (maxiter, None if maxfev is None else maxfev // per_step)
                 if s is not None]
        kwargs["A"] = 0.1 * max(1, min(steps))
    if method in _NO_MEAN and sigma is None and "sigma" not in kwargs and box is not None:
        width = backend.to_host(box[1] - box[0])
        if np.isfinite(width).all() and (width > 0).all():
            # a box says how far to search: a fifth of its mean width (pycma's advice
            # is a quarter to a fifth of the domain)
            kwargs["sigma"] = 0.2 * float(np.mean(width))
    if method in _NO_MEAN and box is not None:  # they search through a map onto the box
        kwargs["bounds"] = (backend.to_host(box[0]), backend.to_host(box[1]))
    if integers is not None:
        kwargs["integrality"] = integers[0]
    if chosen and method in ("cma", "lm-ma-es"):  # pycma's fmin2(restarts=9, bipop=True)
        kwargs.setdefault("restarts", 9)
        kwargs.setdefault("restart_mode", "bipop" if method == "cma" else "ipop")
    opt = cls(x0a, rng=rng, **kwargs)
    opt._caller = f"minimize(method={method!r})"

    objective = fun if box is None else _Clipped(fun, box[0], box[1], vectorized)
    center = make_probes(objective, vectorized, nan_policy, opt._caller, executor)
    loop = {"nit": 0, "nfev": 0, "best_f": np.inf, "best_x": _mean_point(opt),
            "x0": backend.to_host(x0a).copy(),
            "fun_mean": np.nan, "history": []}
    if checkpoint is not None:
        _remove_stale_temps(checkpoint)
        if os.path.exists(checkpoint):
            _resume(checkpoint, opt, loop, method, d,
                    None if rng is None else opt.key.copy(), backend.to_host(x0a))

    if loop["nit"] or loop["nfev"]:  # resumed: f(x0) stands in for the scale of the values
        loop["f0"] = loop["history"][0][2] if loop["history"] else loop["fun_mean"]
    bar = None
    # the bar counts what ends the run: iterations up to maxiter, or evaluations up to
    # maxfev when that budget is the smaller one
    by_fev = maxfev is not None and (
        maxiter is None
        or int(eval_x0) + maxiter * (opt.evals_per_step() + int(eval_mean)) > maxfev)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=maxfev if by_fev else maxiter, unit="fev" if by_fev else "it",
                   desc=f"zoopt {method}")
        _advance(bar, loop["nfev"] if by_fev else loop["nit"])
    wants_result = callback is not None and _wants_result(callback)
    t_start = time.perf_counter()
    status = 2

    def improve(f: float, x: np.ndarray) -> None:
        if np.isfinite(f) and f < loop["best_f"]:
            loop["best_f"] = f
            x = x if box is None else x.clip(box[0], box[1]).astype(x.dtype)
            loop["best_x"] = x if integers is None else _snap(x, integers)

    # the run as of its last whole step (one assignment replaces it): what a Ctrl-C
    # in any phase of a step (its probes, the mean's value, a checkpoint's write) goes
    # back to, so that the checkpoint written then resumes into the uninterrupted run
    committed = _commit(opt, loop)
    saved = False  # the checkpoint of the run's end is written
    try:
        if eval_x0 and loop["nit"] == 0 and loop["nfev"] == 0:
            # x0 is a candidate too: the result is never worse than the start
            start = x0a if integers is None else _snap(x0a, integers)
            f0 = center.center(start)
            loop["nfev"] += 1
            loop["fun_mean"] = loop["f0"] = f0
            improve(f0, start.copy())
            committed = _commit(opt, loop)
            if bar is not None and by_fev:
                _advance(bar, loop["nfev"])
        while True:
            if target is not None and loop["best_f"] <= target:
                status = 0
                break
            if maxiter is not None and loop["nit"] >= maxiter:
                status = 2
                break
            # a budget is a budget: a step that would pass it is not started
            if maxfev is not None and (
                    loop["nfev"] + opt.evals_per_step() + int(eval_mean or final_mean)
                    > maxfev):
                status = 1
                break
            info = opt.step(objective, vectorized=vectorized, batch_size=batch_size,
                            executor=executor, nan_policy=nan_policy)
            if box is not None and method not in _NO_MEAN:  # the CMAs map into the box
                opt.x = opt.x.clip(box[0], box[1]).astype(opt.x.dtype)
            loop["nit"] += 1
            loop["nfev"] += info.nfev
            best = opt.best_probe()
            if best is not None:
                improve(*best)
            finite_x = bool(opt.xp.isfinite(opt.x).all())  # a diverged mean is not evaluated
            if not finite_x:
                loop["fun_mean"] = np.nan
            elif eval_mean:
                point = _mean_point(opt)
                fm = center.center(point)
                loop["nfev"] += 1
                loop["fun_mean"] = fm
                improve(fm, point)
            else:  # the mean moved and was not evaluated
                loop["fun_mean"] = np.nan
            loop["history"].append((loop["nit"], loop["nfev"], loop["best_f"], loop["fun_mean"]))
            committed = _commit(opt, loop)
            if bar is not None:
                rate = loop["nfev"] / max(time.perf_counter() - t_start, 1e-9)
                bar.set_postfix(best=f"{loop['best_f']:.4g}", mean=f"{loop['fun_mean']:.4g}",
                                fev_s=f"{rate:.0f}")
                _advance(bar, loop["nfev"] if by_fev else loop["nit"])
            if not finite_x or (eval_mean and _diverged(loop["fun_mean"], loop.get("f0"),
                                                        loop["best_f"])):
                status = 5
                break
            if tol is not None and _converged(loop["history"], tol, max(10, math.ceil(
                    d / max(1, opt.evals_per_step() + int(eval_mean))))):
                status = 3
                break
            if checkpoint is not None and loop["nit"] % checkpoint_every == 0:
                _save(checkpoint, opt, loop)
            if callback is not None:
                try:
                    if wants_result:  # by keyword, as scipy (so a keyword-only one works)
                        callback(intermediate_result=_result(opt, loop, method, None, "",
                                                             False))
                    else:
                        callback(_mean_point(opt))
                except StopIteration:
                    status = 99
                    break
        if checkpoint is not None:
            _save(checkpoint, opt, loop)
            saved = True
        if final_mean and loop["nit"] and bool(opt.xp.isfinite(opt.x).all()):
            # after the checkpoint: a run resumed from it goes on as if uninterrupted
            point = _mean_point(opt)
            fm = center.center(point)
            loop["nfev"] += 1
            loop["fun_mean"] = fm
            improve(fm, point)
            if loop["history"]:
                loop["history"][-1] = (*loop["history"][-1][:2], loop["best_f"], fm)
            if bar is not None and by_fev:
                _advance(bar, loop["nfev"])
    except KeyboardInterrupt:
        _rollback(opt, loop, committed)
        status = 4
    finally:
        if bar is not None:
            bar.close()
    if checkpoint is not None and not saved:
        _save(checkpoint, opt, loop)
    message = STATUS[status]
    if chosen:
        message = f"{message} ({chosen})"
    if status == 5:
        knob = "sigma" if method in ("snes", *_NO_MEAN) else "lr"
        message = (f"{message}: after {loop['nit']} iterations f at the mean is "
                   f"{loop['fun_mean']:.6g} against {loop.get('f0', float('nan')):.6g} at "
                   f"x0; a smaller {knob!r} may converge")
        warnings.warn(f"minimize(method={method!r}): {message}.", _optimize_warning(),
                      stacklevel=2)
    return _result(opt, loop, method, status, message, status in (0, 3))


_COMMITTED = ("nit", "nfev", "best_f", "best_x", "fun_mean")


def _commit(opt: Optimizer, loop: dict[str, Any]) -> tuple[Any, ...]:
    """The optimizer's and the loop's state now, by reference (the history by length)."""
    return opt._snapshot(), {k: loop[k] for k in _COMMITTED}, len(loop["history"])


def _rollback(opt: Optimizer, loop: dict[str, Any], committed: tuple[Any, ...]) -> None:
    snapshot, values, n_rows = committed
    opt._restore(snapshot)
    loop.update(values)
    del loop["history"][n_rows:]


def _mean_point(opt: Optimizer) -> Any:
    """The mean as the objective sees it (a copy): for the CMAs through their box
    transform, integer coordinates rounded."""
    feasible = getattr(opt, "_feasible", None)
    return opt.x.copy() if feasible is None else feasible(opt.x)


def _result(opt: Optimizer, loop: dict[str, Any], method: str, status: int | None,
            message: str, success: bool) -> OptimizeResult:
    best_ok = np.isfinite(loop["best_f"])
    res = _result_class()(
        x=loop["best_x"].copy() if best_ok else _mean_point(opt),
        fun=float(loop["best_f"]) if best_ok else float("nan"),
        nit=int(loop["nit"]), nfev=int(loop["nfev"]), success=bool(success),
        message=message, x_mean=_mean_point(opt), fun_mean=float(loop["fun_mean"]),
        method=method,
    )
    if status is not None:  # the final result (not the callback's intermediate ones)
        res["status"] = int(status)
        res["state"] = opt.state_dict()
        res["history"] = _history(loop["history"])
    return res


def _history(rows: list[tuple[int, int, float, float]]) -> dict[str, np.ndarray]:
    h = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return {"nit": h[:, 0].astype(np.int64), "nfev": h[:, 1].astype(np.int64),
            "fun": h[:, 2], "fun_mean": h[:, 3]}


def _save(path: str, opt: Optimizer, loop: dict[str, Any]) -> None:
    arrays = {f"opt_{k}": v for k, v in opt.state_dict().items()}
    arrays.update(loop_nit=np.array(loop["nit"]), loop_nfev=np.array(loop["nfev"]),
                  loop_best_f=np.array(loop["best_f"], dtype=np.float64),
                  loop_best_x=np.asarray(opt.backend.to_host(loop["best_x"])),
                  loop_fun_mean=np.array(loop["fun_mean"], dtype=np.float64),
                  loop_x0=np.asarray(loop["x0"]),
                  loop_history=np.array(loop["history"], dtype=np.float64).reshape(-1, 4))
    _save_atomic(path, arrays)


def _loop_fields(d: int, xd: np.dtype) -> dict[str, _Field]:
    """What the loop's fields of a checkpoint must be (the history's rows follow nit)."""
    f64 = np.dtype(np.float64)
    return {
        "loop_nit": _Field((), "int", 0, high=_MAX_STEP + 1),
        "loop_nfev": _Field((), "int", 0, high=_MAX_COUNT),
        # +inf: nothing finite evaluated yet; -inf is never a best value (improve)
        "loop_best_f": _Field((), f64, -math.inf, True, finite=False),
        "loop_best_x": _Field((d,), xd),
        "loop_fun_mean": _Field((), f64, finite=False, nan=True),  # what fun returned
        "loop_x0": _Field((d,), xd),
    }


# counts are kept exactly in the history's float64 columns
_MAX_COUNT = 1 << 53


def _resume(path: str, opt: Optimizer, loop: dict[str, Any], method: str, d: int,
            key: np.ndarray | None, x0: np.ndarray) -> None:
    where = f"The 'checkpoint' {os.fspath(path)!r} of minimize"
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where} could not be read as a zoopt checkpoint: {exc}") from exc
    with zf:
        state, files = _read_checkpoint(zf, where, opt, method, d)
    # a checkpoint continues one run: another seed or start is another run (a seed sweep
    # over one path would otherwise repeat the first run)
    if key is not None and not np.array_equal(state["key"].astype(np.uint32), key):
        raise ValueError(f"{where} was made with another 'rng' (its stream key, field "
                         "'opt_key', differs from this call's). Pass the rng of that run, "
                         "rng=None to continue it whatever it was, or another path.")
    if not np.array_equal(files["loop_x0"], x0):
        raise ValueError(f"{where} was made from another 'x0' (field 'loop_x0'). Pass the "
                         "x0 of that run or another path.")
    opt._set_state(state)
    loop["nit"] = int(files["loop_nit"])
    loop["nfev"] = int(files["loop_nfev"])
    loop["best_f"] = float(files["loop_best_f"])
    loop["best_x"] = opt.xp.array(files["loop_best_x"], copy=True)
    loop["fun_mean"] = float(files["loop_fun_mean"])
    loop["history"] = [(int(a), int(b), float(c), float(e))
                       for a, b, c, e in files["loop_history"].tolist()]


def _read_checkpoint(zf: zipfile.ZipFile, where: str, opt: Optimizer, method: str,
                     d: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The optimizer's and the loop's fields of a checkpoint, each checked; only the
    fields a checkpoint of this method holds are read, each after its declared size."""
    members = _zip_members(zf, where)
    fields = {f"opt_{k}": spec for k, spec in opt._state_fields().items()}
    fields.update(_loop_fields(d, opt.x.dtype))
    if "opt_method" not in members:
        raise ValueError(f"{where} is not a zoopt checkpoint: it has no field 'opt_method'.")
    saved = str(_read_field(zf, members["opt_method"], fields["opt_method"], where,
                            "opt_method"))
    if saved != method:
        raise ValueError(f"{where} is of method {saved!r}; this run uses {method!r} (field "
                         "'opt_method'). Remove it or use another path.")
    if "opt_x" in members:
        shape = _read_header(zf, members["opt_x"], where, "opt_x")[0]
        if len(shape) == 1 and shape[0] != d:
            raise ValueError(f"{where} is for dimension {shape[0]}; this run has d = {d} "
                             "(field 'opt_x').")
    unknown = sorted(set(members) - set(fields) - {"loop_history"})
    if unknown:  # refused before anything of them is read
        raise ValueError(f"{where} holds {unknown[:5]}, which are no fields of a "
                         f"{method!r} checkpoint of minimize.")
    missing = [k for k in (*fields, "loop_history") if k not in members]
    if missing:
        raise ValueError(f"{where} lacks the fields {missing}.")
    files = {k: _read_field(zf, members[k], spec, where, k) for k, spec in fields.items()}
    nit, nfev, t = int(files["loop_nit"]), int(files["loop_nfev"]), int(files["opt_t"])
    if nit != t:  # each step of minimize is one step of the optimizer
        raise ValueError(f"{where}: field 'loop_nit' ({nit}) must equal field 'opt_t' ({t}).")
    # one row per step: its size follows nit, which the history's own size cannot raise
    spec = _Field((nit, 4), np.dtype(np.float64), finite=False, nan=True)
    h = _read_field(zf, members["loop_history"], spec, where, "loop_history", stored=True)
    _check_history(h, files, where)
    files["loop_history"] = h
    if nit == 0 and nfev > 1:
        raise ValueError(f"{where}: field 'loop_nfev' must be 0 or 1 (x0) before the first "
                         f"step. Got {nfev} instead.")
    state = {k[4:]: v for k, v in files.items() if k.startswith("opt_")}
    return state, files


def _check_history(h: np.ndarray, files: dict[str, np.ndarray], where: str) -> None:
    """The history's rows (nit, nfev, best value, value at the mean) are those a run
    writes, and its last row is the loop's state."""
    nit, nfev, best = h[:, 0], h[:, 1], h[:, 2]
    rules = (
        (np.array_equal(nit, np.arange(1, len(h) + 1)), "column 0 (nit) must count 1, 2, ..."),
        (bool(np.all((nfev >= 1) & (nfev <= _MAX_COUNT) & (nfev == np.floor(nfev))))
         and bool(np.all(np.diff(nfev) > 0)),
         "column 1 (nfev) must hold increasing counts"),
        (not bool(np.isnan(best).any() | (best == -np.inf).any())
         and bool(np.all(np.diff(best) <= 0)),
         "column 2 (the best value) must not increase, be NaN or -inf"),
    )
    for ok, rule in rules:
        if not ok:
            raise ValueError(f"{where}: field 'loop_history' {rule}.")
    if not len(h):
        return
    last = {"loop_nfev": h[-1, 1], "loop_best_f": h[-1, 2], "loop_fun_mean": h[-1, 3]}
    for k, v in last.items():
        mine = np.float64(files[k])
        if mine.tobytes() != np.float64(v).tobytes() and not (np.isnan(mine) and np.isnan(v)):
            raise ValueError(f"{where}: field {k!r} ({mine!r}) must equal the last row of "
                             f"field 'loop_history' ({np.float64(v)!r}).")
