"""Benchmark ``projection``: random projections and sphere sampling (BENCHMARKS.md).

Projections: X float64 of shape (2000, 16384), standard normal, to k = 512
components.  zoopt's SRHT, Gaussian and sparse projections against
scikit-learn's GaussianRandomProjection and SparseRandomProjection
(density "auto"): fit plus transform time (median), peak memory allocated
during the call (tracemalloc, which sees NumPy's allocations) and the largest
relative distortion of squared distances over 500 random pairs of rows.
Sphere: 10,000 unit vectors in d = 1000 against NumPy (normal, then divided by
the norms) and ``scipy.stats.uniform_direction``.
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._bench import median_time, table


def _peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _distortion(X: np.ndarray, Y: np.ndarray, pairs: np.ndarray) -> float:
    i, j = pairs
    ratio = np.sum((Y[i] - Y[j]) ** 2, axis=1) / np.sum((X[i] - X[j]) ** 2, axis=1)
    return float(np.abs(ratio - 1.0).max())


def projection_rows(n: int, m: int, k: int, repeats: int) -> list[list[str]]:
    from zoopt import projection

    X = np.random.default_rng(0).standard_normal((n, m))
    gen = np.random.default_rng(1)
    pairs = gen.integers(0, n, (2, 600))
    pairs = pairs[:, pairs[0] != pairs[1]][:, :500]
    cands: list[tuple[str, Callable[[], Any]]] = [
        ("zoopt SRHT", lambda: projection.SRHT(k, rng=0).fit_transform(X)),
        ("zoopt GaussianRandomProjection",
         lambda: projection.GaussianRandomProjection(k, rng=0).fit_transform(X)),
        ("zoopt SparseRandomProjection",
         lambda: projection.SparseRandomProjection(k, rng=0).fit_transform(X)),
    ]
    try:
        from sklearn import random_projection as skrp
    except ImportError:
        sk = None
    else:
        sk = skrp
        cands += [
            ("scikit-learn GaussianRandomProjection",
             lambda: sk.GaussianRandomProjection(k, random_state=0).fit_transform(X)),
            ("scikit-learn SparseRandomProjection",
             lambda: sk.SparseRandomProjection(k, random_state=0).fit_transform(X)),
        ]
    rows, times = [], {}
    for name, fn in cands:
        Y = fn()
        Y = np.asarray(Y.todense()) if hasattr(Y, "todense") else Y
        t = median_time(fn, repeats=repeats)
        times[name] = t
        rows.append([name, f"{t * 1e3:.1f}", "", f"{_peak_mib(fn):.0f}",
                     f"{_distortion(X, Y, pairs):.3f}"])
    ref = times.get("scikit-learn SparseRandomProjection")
    for r in rows:
        r[2] = f"{ref / times[r[0]]:.2f}x" if ref else "n/a"
    if sk is None:
        rows.append(["scikit-learn", "not installed", "", "", ""])
    return rows


def sphere_rows(n: int, d: int, repeats: int) -> list[list[str]]:
    from zoopt import sphere

    def numpy_sphere(dtype: Any) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            G = np.random.default_rng(0).standard_normal((n, d), dtype=dtype)
            G /= np.linalg.norm(G, axis=1, keepdims=True)
            return G
        return run

    cands: list[tuple[str, Callable[[], Any]]] = [
        ("zoopt sphere.uniform float64", lambda: sphere.uniform(n, d, rng=0)),
        ("zoopt sphere.uniform float32",
         lambda: sphere.uniform(n, d, rng=0, dtype=np.float32)),
        ("NumPy normal / norm float64", numpy_sphere(np.float64)),
        ("NumPy normal / norm float32", numpy_sphere(np.float32)),
    ]
    try:
        from scipy.stats import uniform_direction
    except ImportError:
        pass
    else:
        cands.append(("scipy.stats.uniform_direction",
                      lambda: uniform_direction(d).rvs(n, random_state=np.random.default_rng(0))))
    times = {name: median_time(fn, repeats=repeats) for name, fn in cands}
    ref = {"float64": times["NumPy normal / norm float64"],
           "float32": times["NumPy normal / norm float32"]}
    rows = []
    for name, t in times.items():
        base = ref["float32"] if "float32" in name else ref["float64"]
        rows.append([name, f"{t * 1e3:.1f}", f"{n / t / 1e3:.0f}k", f"{base / t:.2f}x"])
    return rows


def main(argv: list[str]) -> int:
    import zoopt

    p = argparse.ArgumentParser(prog="python -m zoopt bench projection", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="X of shape (200, 2048) to k = 128; "
                   "1,000 unit vectors")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    n, m, k = (200, 2048, 128) if args.quick else (2000, 16384, 512)
    print(f"zoopt {zoopt.__version__}: bench projection -- X float64 ({n}, {m}) to k = {k}; "
          f"fit + transform, median of {repeats} after a warm-up; "
          f"{zoopt.get_num_threads()} kernel threads")
    print(table(projection_rows(n, m, k, repeats),
                ["projection", "ms", "speed vs sklearn sparse", "peak MiB",
                 "max distortion (500 pairs)"]))
    print()
    ns, d = (1000, 1000) if args.quick else (10_000, 1000)
    print(f"sphere: {ns} unit vectors in d = {d}")
    print(table(sphere_rows(ns, d, repeats),
                ["sampler", "ms", "vectors/s", "speed vs NumPy (same dtype)"]))
    return 0
