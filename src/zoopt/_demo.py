"""``python -m zoopt demo``: gradients of an objective whose gradient is zero
almost everywhere, and plain descent steps on them.

The objective is a staircase: ``f(x) = || floor(8 x) / 8 - t ||^2``, flat
between steps of width 1/8, so autodiff and tiny finite differences see a
zero gradient.  Random finite differences with ``sigma`` near the step width
estimate the gradient of the smoothed objective, which points the right way.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import zoopt
from zoopt._bench import table

LEVELS = 8.0


def make_objective(t: np.ndarray):
    def f(X: np.ndarray) -> np.ndarray:
        return ((np.floor(X * LEVELS) / LEVELS - t) ** 2).sum(axis=-1)

    return f


def descend(f, x0, *, steps, lr, **kw):
    """Plain steps x <- x - lr * g with a fresh step counter each time."""
    x = x0.copy()
    nfev = 0
    for t in range(steps):
        g, info = zoopt.grad(f, x, step=t, return_info=True, **kw)
        x = x - lr * g
        nfev += info.nfev
    return x, nfev


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=50, help="dimension (default 50)")
    p.add_argument("--steps", type=int, default=300, help="descent steps (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of target and streams")
    p.add_argument("--quick", action="store_true", help="a few steps only (for tests)")
    args = p.parse_args(argv)
    steps = 10 if args.quick else args.steps
    d = args.dim
    if d < 1 or steps < 1:
        p.error("--dim and --steps must be at least 1")

    target = np.random.default_rng(args.seed).uniform(-1, 1, d)
    f = make_objective(target)
    x0 = np.full(d, 0.01)  # inside a flat step, not on an edge
    f0 = float(f(x0[None])[0])
    # the lowest value: the grid point k/8 nearest to t, coordinate by coordinate
    fbest = float((((np.round(target * LEVELS)) / LEVELS - target) ** 2).sum())
    print(f"zoopt {zoopt.__version__} demo: minimize f(x) = ||floor(8x)/8 - t||^2, d = {d}")
    print("f is piecewise constant: its gradient is 0 almost everywhere.\n")

    # the gradient at x0 as autodiff would see it, and as ZO sees it
    g_tiny = zoopt.grad(f, x0, sigma=1e-6, n_dirs=64, rng=args.seed)
    g_zo = zoopt.grad(f, x0, sigma=0.1, n_dirs=2000, rng=args.seed)
    smooth = 2 * (x0 - target)
    cos = float(g_zo @ smooth / np.linalg.norm(g_zo) / np.linalg.norm(smooth))
    print(f"||grad|| with sigma=1e-6: {np.linalg.norm(g_tiny):.3g} (flat steps: no signal)")
    print(f"cosine(ZO estimate with sigma=0.1, 2000 directions; 2(x - t)) = {cos:.3f}\n")

    rows = []
    runs = [
        ("central, normal", {"method": "central", "dist": "normal"}, 0.1),
        ("central, rademacher (SPSA)", {"method": "central", "dist": "rademacher"}, 0.1),
        ("forward, sphere", {"method": "forward", "dist": "sphere"}, 0.1 * np.sqrt(d)),
        ("central, normal, tiny sigma", {"method": "central", "dist": "normal"}, 1e-6),
    ]
    for name, kw, sigma in runs:
        t0 = time.perf_counter()
        x, nfev = descend(f, x0, steps=steps, lr=0.05, sigma=sigma, n_dirs=16,
                          rng=args.seed, **kw)
        secs = time.perf_counter() - t0
        fx = float(f(x[None])[0])
        rows.append([name, f"{sigma:.3g}", f"{f0:.3f}", f"{fx:.4f}", str(nfev), f"{secs:.2f}"])
    print(table(rows, ["estimator (16 directions/step)", "sigma", "f(x0)", "f(final)",
                       "evaluations", "seconds"]))
    print(f"\nlowest value of f: {fbest:.4f}. {steps} plain steps x <- x - 0.05 g from "
          "x0 = 0.01.")
    return 0
