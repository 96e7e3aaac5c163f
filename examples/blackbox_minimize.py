"""zoopt.minimize next to scipy, pycma and nevergrad on two classic test functions.

What: Rosenbrock (d = 10, start drawn uniformly in [-2, 2]^10) and Rastrigin
(d = 10, start drawn uniformly in [-5.12, 5.12]^10), 20,000 evaluations per
run, seeds 0, 1, 2 (each seed is a different start, the same for every
method).  Entries:

* zoopt.minimize with methods "es", "snes", "zo-adam" and "spsa", all with
  their default settings (vectorized objective: a whole population per call);
* scipy.optimize.minimize: Nelder-Mead (adaptive), Powell, and L-BFGS-B with
  2-point finite-difference gradients (each gradient costs d + 1 evaluations);
* pycma (``cma.CMAEvolutionStrategy``, sigma0 = 1) and nevergrad's CMA, when
  installed (nevergrad on seed 0 only: its per-evaluation overhead makes a
  20,000-evaluation run take about 15 s).

Every run sees the objective through a counter that keeps the best value of
the first 20,000 evaluations and stops the run after them, so all entries get
the same budget.  Nothing restarts: methods that converge early (L-BFGS-B,
Powell, pycma on its tolerances) report the evaluations they used.

Why: a fair sense of where zoopt's methods stand on small, hard, cheap
problems -- they are built for high dimensions and expensive batched
objectives, and here the classic local and CMA methods are strong.

How to run:  python examples/blackbox_minimize.py [--budget N] [--png PATH] [--quick]
Needs scipy; pycma (pip install cma) and nevergrad are used when installed;
matplotlib for the PNG of the best value so far against evaluations.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
from scipy.optimize import minimize as scipy_minimize

import zoopt


def rosenbrock(X):
    return (100.0 * (X[..., 1:] - X[..., :-1] ** 2) ** 2 + (1.0 - X[..., :-1]) ** 2).sum(-1)


def rastrigin(X):
    return 10.0 * X.shape[-1] + (X * X - 10.0 * np.cos(2 * np.pi * X)).sum(-1)


PROBLEMS = [("Rosenbrock d=10", rosenbrock, 10, 2.0),
            ("Rastrigin d=10", rastrigin, 10, 5.12)]  # name, function, d, start box half-width


class BudgetExhausted(Exception):
    """Raised by the counter when a run asks for more than its budget."""


class Counter:
    """The objective as every optimizer sees it: counts evaluations, keeps the
    best value among the first ``budget`` of them, then stops the run."""

    def __init__(self, fun, budget):
        self.fun, self.budget = fun, budget
        self.n, self.best = 0, np.inf
        self.trace_n, self.trace_f = [], []

    def __call__(self, X):  # (B, d) -> (B,), or (d,) -> float
        X = np.asarray(X, dtype=np.float64)
        single = X.ndim == 1
        X2 = X[None] if single else X
        if self.n >= self.budget:
            raise BudgetExhausted
        values = self.fun(X2)
        counted = values[: self.budget - self.n]  # evaluations past the budget do not count
        k = int(np.argmin(counted))
        self.n += len(counted)
        if counted[k] < self.best:
            self.best = float(counted[k])
            self.trace_n.append(self.n - len(counted) + k + 1)
            self.trace_f.append(self.best)
        return float(values[0]) if single else values

    def best_at(self, grid):
        """Best value so far after each number of evaluations in ``grid``."""
        idx = np.searchsorted(np.asarray(self.trace_n), grid, side="right") - 1
        f = np.asarray([*self.trace_f, np.inf])[idx]  # index -1 (nothing yet) -> inf
        return np.where(idx >= 0, f, np.inf)


class ForeignRandomState:
    """pycma (through its ``seed`` option) and nevergrad seed NumPy's global random
    state; save it and put it back, so that running them leaves no trace."""

    def __enter__(self):
        self.state = np.random.get_state()  # noqa: NPY002
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")  # their own deprecation chatter
        return self

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        np.random.set_state(self.state)  # noqa: NPY002
        return False


def run_zoopt(method):
    def run(f, x0, budget, seed):
        zoopt.minimize(f, x0, method=method, maxfev=budget, rng=seed)
    return run


def run_scipy(method):
    def run(f, x0, budget, seed):
        cap = 2 * budget  # scipy's own limits above the budget: the counter stops the run
        if method == "Nelder-Mead":
            opts = {"maxfev": cap, "maxiter": cap, "adaptive": True,
                    "xatol": 1e-14, "fatol": 1e-15}
        elif method == "Powell":
            opts = {"maxfev": cap, "xtol": 1e-14, "ftol": 1e-15}
        else:  # L-BFGS-B, jac=None: 2-point finite differences
            opts = {"maxfun": cap, "maxiter": cap, "ftol": 1e-15, "gtol": 1e-12}
        scipy_minimize(f, x0, method=method, options=opts)
    return run


def run_pycma(f, x0, budget, seed):
    with ForeignRandomState():
        import cma

        es = cma.CMAEvolutionStrategy(x0, 1.0, {"seed": seed + 1, "verbose": -9,
                                                "maxfevals": budget})
        while not es.stop():
            X = es.ask()
            es.tell(X, f(np.array(X)).tolist())


def run_nevergrad(f, x0, budget, seed):
    with ForeignRandomState():
        import nevergrad as ng

        param = ng.p.Array(init=x0)
        param.random_state = np.random.RandomState(seed)  # nevergrad's own seeding API
        ng.optimizers.CMA(parametrization=param, budget=budget).minimize(f)


def entries(seeds):
    """(name, runner, seeds) of every entry whose library is installed."""
    out = [(f"zoopt {m}", run_zoopt(m), seeds) for m in ("es", "snes", "zo-adam", "spsa")]
    out += [(f"scipy {m}", run_scipy(m), seeds) for m in ("Nelder-Mead", "Powell", "L-BFGS-B")]
    missing = []
    if importlib.util.find_spec("cma") is not None:
        out.append(("pycma CMA-ES (sigma0=1)", run_pycma, seeds))
    else:
        missing.append("cma")
    if importlib.util.find_spec("nevergrad") is not None:
        out.append(("nevergrad CMA (seed 0 only)", run_nevergrad, seeds[:1]))
    else:
        missing.append("nevergrad")
    return out, missing


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def plot(curves, budget, path):
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        print("best-so-far curves: not drawn (matplotlib is not installed)")
        return
    from zoopt.plot import learning_curves

    fig, axes = plt.subplots(1, len(curves), figsize=(12, 4.5))
    for ax, (pname, runs) in zip(np.atleast_1d(axes), curves.items(), strict=True):
        learning_curves(runs, ax=ax, logy=True, title=f"{pname}, median over seeds",
                        xlabel="evaluations", ylabel="best f so far (floored at 1e-12)")
        ax.set_xlim(0, budget)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"best-so-far curves: {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=20_000, help="evaluations per run")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    ap.add_argument("--png", default=os.path.join(tempfile.gettempdir(),
                                                  "zoopt-blackbox-minimize.png"),
                    help="where to write the curves (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="2,000 evaluations, seed 0 (for tests)")
    args = ap.parse_args(argv)
    budget = 2000 if args.quick else args.budget
    seeds = [0] if args.quick else list(range(args.seeds))
    runners, missing = entries(seeds)
    print(f"zoopt {zoopt.__version__}: {budget} evaluations per run, seeds {seeds}; "
          "every method with its default settings")
    if missing:
        print(f"not installed (skipped): {', '.join(missing)}")

    grid = np.unique(np.geomspace(1, budget, 200).astype(int))
    curves = {}
    for pname, fun, d, half in PROBLEMS:
        rows, curves[pname] = [], {}
        for name, run, run_seeds in runners:
            bests, evals, secs, at_grid = [], [], [], []
            for seed in run_seeds:
                x0 = np.random.default_rng(seed).uniform(-half, half, d)
                f = Counter(fun, budget)
                t0 = time.perf_counter()
                with contextlib.suppress(BudgetExhausted):
                    run(f, x0, budget, seed)
                secs.append(time.perf_counter() - t0)
                bests.append(f.best)
                evals.append(min(f.n, budget))
                at_grid.append(f.best_at(grid))
            rows.append([name, f"{statistics.median(bests):.3g}",
                         f"{statistics.median(evals):.0f}", f"{statistics.median(secs):.2f}"])
            curves[pname][name] = (grid, np.maximum(np.median(at_grid, axis=0), 1e-12))
        print(f"\n{pname} (start uniform in [-{half:g}, {half:g}]^{d}, minimum 0)")
        print(table(rows, ["method", "median best f", "evaluations", "seconds"]))
    print("\nbest f: the best value among a run's first evaluations (up to the budget); "
          "evaluations: those a run used (medians over seeds)")
    plot(curves, budget, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
