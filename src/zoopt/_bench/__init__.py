"""Benchmark tasks of ``python -m zoopt bench`` (see BENCHMARKS.md)."""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__: list[str] = []

TASKS = {
    "grad": "zoopt._bench.grad",
    "policy": "zoopt._bench.policy",
    "blackbox": "zoopt._bench.blackbox",
    "bbob": "zoopt._bench.bbob",
    "highdim": "zoopt._bench.highdim",
    "parallel": "zoopt._bench.parallel",
    "metrics": "zoopt._bench.metrics",
    "projection": "zoopt._bench.projection",
    "torch": "zoopt._bench.torch",
    "lowrank": "zoopt._bench.lowrank",
    "gpu": "zoopt._bench.gpu",
    "threads": "zoopt._bench.threads",
}


def run_task(name: str, argv: list[str]) -> int:
    module = importlib.import_module(TASKS[name])
    return int(module.main(argv))


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rss_mib(field: str) -> float:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB; NaN elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
