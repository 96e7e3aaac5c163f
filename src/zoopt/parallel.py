"""Evaluation where the work is: probes evaluated through an executor.

Seeds, not vectors, cross the wire.  A task carries the point ``x``, the stream
key, the step and a range of direction indices; the worker regenerates its
probes with the same kernel the local path uses, evaluates them and sends back
the values only.  The result is therefore the same, bit for bit, as evaluating
in-process (for an objective whose value at a point does not depend on the
other points of its batch).

Executors: any :class:`concurrent.futures.Executor` (``ProcessPoolExecutor``,
``ThreadPoolExecutor``, ...) and a Dask ``distributed.Client``.  An exception
raised by the objective on a worker is re-raised here with the worker's
traceback (as its ``__cause__`` for process pools, as Dask does it for Dask)
before any optimizer state changes; the outstanding tasks are cancelled.  Dask
reschedules the tasks of a lost worker on the others by itself; a process pool
whose worker dies raises ``BrokenProcessPool``.

The objective and its arguments must be picklable for process-based executors
(a module-level function, not a lambda).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._engine import Evaluator, rows_per_call
from zoopt.random import _Stream

__all__: list[str] = []


def _evaluate_block(fun: Callable[..., Any], x: np.ndarray, sigma: float,
                   sigma_vec: np.ndarray | None, key: np.ndarray, step: int, dist: str,
                   i0: int, m: int, antithetic: bool, vectorized: bool, nan_policy: str,
                   caller: str, batch_size: int | None = None) -> np.ndarray:
    """Evaluate the probes of directions ``i0 .. i0 + m - 1`` (on a worker).

    Returns the values, shape ``(m, 2 if antithetic else 1)``, exactly as the
    in-process estimator computes them.
    """
    from zoopt._cy import streams

    d, dtype = x.size, x.dtype
    stream = _Stream(key, step, dist, dtype, d)
    scale = stream.scales(i0, m, n_threads=1)
    evaluate = Evaluator(fun, vectorized, nan_policy, caller)
    per = 2 if antithetic else 1
    rows = rows_per_call(batch_size, d, dtype.itemsize, per)
    per_call = rows // per
    buf = np.empty((min(rows, m * per), d), dtype=dtype)
    values = np.empty((m, per), dtype=np.float64)
    svec = np.empty(0, dtype=dtype) if sigma_vec is None else sigma_vec
    for j0 in range(0, m, per_call):
        k = min(per_call, m - j0)
        out = buf[: k * per]
        # one kernel thread per task: the executor is the parallelism (and OpenMP
        # thread pools inherited through fork() must not be touched)
        streams.perturb(x, dtype.type(sigma), svec, scale[j0 : j0 + k], out, stream.code,
                        stream.k0, stream.k1, stream.c2, stream.c3, i0 + j0, antithetic, 1)
        values[j0 : j0 + k] = evaluate(out, (i0 + j0) * per).reshape(k, per)
    return values


def _evaluate_lowrank_block(fun: Callable[..., Any], x: np.ndarray, sigma: float,
                           sigma_vec: np.ndarray | None, spec: tuple[Any, ...], i0: int, m: int,
                           antithetic: bool, vectorized: bool, nan_policy: str, caller: str,
                           batch_size: int | None = None) -> np.ndarray:
    """The probes of the ``"lowrank"`` directions ``i0 .. i0 + m - 1`` (on a worker):
    their factors regenerated from ``spec`` (key, step, m, n, r), the probes built as
    in-process."""
    from zoopt._engine import matrix_probe_values
    from zoopt.random import _LowRank

    key, step, rows, cols, r = spec
    low = _LowRank(np.array(key, dtype=np.uint32), step, rows, cols, r, x.dtype)
    evaluate = Evaluator(fun, vectorized, nan_policy, caller)
    # one kernel thread per task, as in _evaluate_block
    return matrix_probe_values(evaluate, x, sigma, lambda j0, k: low.chunk(i0 + j0, k, 1), m,
                               antithetic, batch_size, sigma_vec, offset=i0)


def _evaluate_points(fun: Callable[..., Any], X: np.ndarray, first: int, vectorized: bool,
                     nan_policy: str, caller: str, batch_size: int | None) -> np.ndarray:
    """Evaluate given probe points ``first .. first + len(X) - 1`` (on a worker)."""
    evaluate = Evaluator(fun, vectorized, nan_policy, caller)
    rows = rows_per_call(batch_size, X.shape[1], X.dtype.itemsize, 1)
    return np.concatenate([evaluate(X[j : j + rows], first + j)
                           for j in range(0, len(X), rows)])


def _evaluate_center(fun: Callable[..., Any], x: np.ndarray, vectorized: bool,
                     nan_policy: str, caller: str) -> float:
    return Evaluator(fun, vectorized, nan_policy, caller).center(x)


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _n_workers(executor: Any) -> int | None:
    if _is_dask_client(executor):
        try:
            return max(1, len(executor.scheduler_info()["workers"]))
        except Exception:  # scheduler unreachable: fall back to a fixed split
            return None
    n = getattr(executor, "_max_workers", None)
    return int(n) if isinstance(n, int) and n > 0 else None


def check_executor(executor: Any, caller: str) -> Any:
    if executor is None:
        return None
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"The 'executor' parameter of {caller} must be a concurrent.futures.Executor or a "
            f"dask.distributed.Client (an object with submit()). Got {executor!r} instead."
        )
    return executor


class RemoteProbes:
    """The executor path of the engine: submits blocks of directions."""

    def __init__(self, executor: Any, fun: Callable[..., Any], vectorized: bool,
                 nan_policy: str, caller: str):
        self.executor = executor
        self.fun = fun
        self.vectorized = vectorized
        self.nan_policy = nan_policy
        self.caller = caller
        self.nfev = 0
        self.dask = _is_dask_client(executor)

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.dask:
            return self.executor.submit(fn, *args, pure=False)
        return self.executor.submit(fn, *args)

    def center(self, x: np.ndarray) -> float:
        fut = self._submit(_evaluate_center, self.fun, x, self.vectorized, self.nan_policy,
                           self.caller)
        value = float(fut.result())
        self.nfev += 1
        return value

    def probe_values(self, x: np.ndarray, sigma: float, stream: _Stream, n: int,
                     antithetic: bool, batch_size: int | None,
                     sigma_vec: np.ndarray | None = None) -> np.ndarray:
        workers = _n_workers(self.executor)
        n_tasks = 2 * workers if workers else 8
        size = max(1, -(-n // n_tasks))
        key = np.array([stream.k0, stream.k1], dtype=np.uint32)
        futures = []
        for i0 in range(0, n, size):
            m = min(size, n - i0)
            futures.append((i0, m, self._submit(
                _evaluate_block, self.fun, x, sigma, sigma_vec, key, stream.step, stream.dist,
                i0, m, antithetic, self.vectorized, self.nan_policy, self.caller,
                batch_size)))
        return self._gather(futures, n, 2 if antithetic else 1)

    def _gather(self, futures: list[tuple[int, int, Any]], n: int, per: int) -> np.ndarray:
        """The values of the blocks submitted, in order (all cancelled if one fails)."""
        values = np.empty((n, per), dtype=np.float64)
        try:
            for i0, m, fut in futures:
                values[i0 : i0 + m] = np.asarray(fut.result()).reshape(m, per)
        except BaseException:
            for _, _, fut in futures:
                fut.cancel()
            raise
        self.nfev += n * per
        return values

    def lowrank_values(self, x: np.ndarray, sigma: float, low: Any, n: int,
                       antithetic: bool, batch_size: int | None,
                       sigma_vec: np.ndarray | None = None) -> np.ndarray:
        """The ``"lowrank"`` directions ``low``: seeds cross the wire, each worker
        regenerates the factors of its block."""
        workers = _n_workers(self.executor)
        n_tasks = 2 * workers if workers else 8
        size = max(1, -(-n // n_tasks))
        futures = []
        for i0 in range(0, n, size):
            m = min(size, n - i0)
            futures.append((i0, m, self._submit(
                _evaluate_lowrank_block, self.fun, x, sigma, sigma_vec, low.spec, i0, m,
                antithetic, self.vectorized, self.nan_policy, self.caller, batch_size)))
        return self._gather(futures, n, 2 if antithetic else 1)

    def matrix_values(self, x: np.ndarray, sigma: float,
                      directions: Callable[[int, int], np.ndarray], n: int, antithetic: bool,
                      batch_size: int | None) -> np.ndarray:
        """Probes of directions given as arrays: built here (as the in-process path
        builds them), evaluated on the workers in blocks."""
        workers = _n_workers(self.executor)
        n_tasks = 2 * workers if workers else 8
        size = max(1, -(-n // n_tasks))
        per = 2 if antithetic else 1
        sig = x.dtype.type(sigma)
        futures = []
        for i0 in range(0, n, size):
            m = min(size, n - i0)
            step = directions(i0, m) * sig
            X = np.stack([x + step, x - step], axis=1) if antithetic else (x + step)[:, None]
            futures.append((i0, m, self._submit(
                _evaluate_points, self.fun, X.reshape(m * per, -1), i0 * per, self.vectorized,
                self.nan_policy, self.caller, batch_size)))
        return self._gather(futures, n, per)
