"""Test functions and the evaluation tracker shared by the optimization benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def sphere(X: np.ndarray) -> np.ndarray:
    return (X * X).sum(axis=-1)


def make_ellipsoid(d: int, cond: float) -> Callable[[np.ndarray], np.ndarray]:
    scale = (cond ** (np.arange(d) / max(d - 1, 1))).astype(np.float64)

    def ellipsoid(X: np.ndarray) -> np.ndarray:
        return (X * X * scale.astype(X.dtype)).sum(axis=-1)

    return ellipsoid


def rosenbrock(X: np.ndarray) -> np.ndarray:
    return (100.0 * (X[..., 1:] - X[..., :-1] ** 2) ** 2 + (1.0 - X[..., :-1]) ** 2).sum(-1)


def rastrigin(X: np.ndarray) -> np.ndarray:
    return 10.0 * X.shape[-1] + (X * X - 10.0 * np.cos(2 * np.pi * X)).sum(axis=-1)


class StopRun(Exception):
    """Raised by the tracker to stop a foreign optimizer at the budget or time cap."""


class Tracker:
    """Counts evaluations (points), keeps the best value and its trace, and stops
    the run at ``budget`` evaluations or ``cap_s`` seconds."""

    def __init__(self, fun: Callable[[np.ndarray], np.ndarray], budget: int,
                 cap_s: float = float("inf"), target: float | None = None):
        self.fun, self.budget, self.cap_s, self.target = fun, budget, cap_s, target
        self.n = 0
        self.best = np.inf
        self.trace: list[tuple[int, float]] = []
        self.t0 = time.perf_counter()
        self.t_end: float | None = None
        self.hit_time: float | None = None

    def __call__(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64) if not isinstance(X, np.ndarray) else X
        single = X.ndim == 1
        X2 = X[None] if single else X
        if self.n >= self.budget or time.perf_counter() - self.t0 > self.cap_s:
            raise StopRun
        vals = np.asarray(self.fun(X2), dtype=np.float64)
        k = int(np.argmin(vals))
        self.n += len(X2)
        if vals[k] < self.best:
            self.best = float(vals[k])
            self.trace.append((self.n, self.best))
            if self.target is not None and self.best <= self.target and self.hit_time is None:
                self.hit_time = time.perf_counter() - self.t0
        return vals[0] if single else vals

    def scalar(self, x: Any) -> float:
        return float(self(np.asarray(x, dtype=np.float64).reshape(-1)))

    def evals_to(self, threshold: float) -> int | None:
        for n, b in self.trace:
            if b <= threshold:
                return n
        return None

    def finish(self) -> None:
        """Freeze the run's wall time."""
        self.t_end = time.perf_counter()

    @property
    def seconds(self) -> float:
        end = time.perf_counter() if self.t_end is None else self.t_end
        return end - self.t0
