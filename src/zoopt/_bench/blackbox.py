"""Benchmark ``blackbox``: small-dimension quality (BENCHMARKS.md, task "blackbox").

Sphere d=100, ellipsoid (condition 1e6) d=100, Rosenbrock d=30 (x0 = 0) and
Rastrigin d=10 (x0 = 3); 20,000 evaluations; seeds 0, 1, 2; medians.  zoopt's
methods with their default settings next to pycma (sigma0 = 1), nevergrad
NGOpt, evosax OpenAI-ES and SNES, and scipy Powell and Nelder-Mead, each where
installed.  Prints the best value, the evaluations to reach 1e-8 (sphere,
ellipsoid) or the best anchor's median value (Rosenbrock, Rastrigin), and
seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from zoopt._bench import table
from zoopt._bench._problems import StopRun, Tracker, make_ellipsoid, rastrigin, rosenbrock, sphere


def problems(quick: bool) -> list[tuple[str, Callable[..., Any], np.ndarray, float | None]]:
    out = [
        ("sphere d=100", sphere, np.ones(100), 1e-8),
        ("ellipsoid 1e6 d=100", make_ellipsoid(100, 1e6), np.ones(100), 1e-8),
        ("rosenbrock d=30", rosenbrock, np.zeros(30), None),
        ("rastrigin d=10", rastrigin, np.full(10, 3.0), None),
    ]
    return out[:2] if quick else out


# -- runners: each drives its library until the budget (the tracker stops it) --

def _zoopt(method: str) -> Callable[..., None]:
    def run(tr: Tracker, x0: np.ndarray, budget: int, seed: int) -> None:
        import zoopt

        zoopt.minimize(tr, x0, method=method, maxfev=budget, rng=seed)

    return run


def _pycma(tr: Tracker, x0: np.ndarray, budget: int, seed: int) -> None:
    import cma

    es = cma.CMAEvolutionStrategy(x0, 1.0, {"seed": seed + 1, "verbose": -9,
                                            "maxfevals": budget})
    while not es.stop():
        X = es.ask()
        es.tell(X, tr(np.array(X)).tolist())


def _ngopt(tr: Tracker, x0: np.ndarray, budget: int, seed: int) -> None:
    import nevergrad as ng

    param = ng.p.Array(init=x0)
    param.random_state = np.random.RandomState(seed)  # nevergrad's own seeding API
    opt = ng.optimizers.NGOpt(parametrization=param, budget=budget)
    opt.minimize(tr.scalar)


def _evosax(name: str) -> Callable[..., None]:
    def run(tr: Tracker, x0: np.ndarray, budget: int, seed: int) -> None:
        import jax
        import jax.numpy as jnp
        from evosax import algorithms

        d = x0.size
        pop = 100 if name == "Open_ES" else 4 + int(3 * np.log(d))
        strategy = getattr(algorithms, name)(population_size=pop,
                                             solution=jnp.zeros(d, dtype=jnp.float32))
        params = strategy.default_params
        key = jax.random.PRNGKey(seed)
        state = strategy.init(key, jnp.asarray(x0, dtype=jnp.float32), params)
        ask, tell = jax.jit(strategy.ask), jax.jit(strategy.tell)
        while True:
            key, k1, k2 = jax.random.split(key, 3)
            X, state = ask(k1, state, params)
            fit = tr(np.asarray(X, dtype=np.float64))
            state, _ = tell(k2, X, jnp.asarray(fit, dtype=jnp.float32), state, params)

    return run


def _scipy(method: str) -> Callable[..., None]:
    def run(tr: Tracker, x0: np.ndarray, budget: int, seed: int) -> None:
        from scipy.optimize import minimize

        opts: dict[str, Any] = {"maxfev": budget}
        if method == "Powell":
            opts.update(xtol=1e-14, ftol=1e-15)
        else:
            opts.update(xatol=1e-14, fatol=1e-15, adaptive=True, maxiter=budget)
        minimize(tr.scalar, x0, method=method, options=opts)

    return run


def entries() -> list[tuple[str, str, Callable[..., None]]]:
    """(name, module needed, runner)."""
    out = [(f"zoopt {m}", "zoopt", _zoopt(m)) for m in (
        "auto", "cma", "sep-cma", "lm-ma-es", "zo-adam", "zo-sgd", "es", "spsa", "snes")]
    out += [("pycma (sigma0=1)", "cma", _pycma), ("nevergrad NGOpt", "nevergrad", _ngopt),
            ("evosax OpenAI-ES", "evosax", _evosax("Open_ES")),
            ("evosax SNES", "evosax", _evosax("SNES")),
            ("scipy Powell", "scipy", _scipy("Powell")),
            ("scipy Nelder-Mead", "scipy", _scipy("Nelder-Mead"))]
    return out


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: list[str]) -> int:
    import zoopt

    p = argparse.ArgumentParser(prog="python -m zoopt bench blackbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="CI-sized: sphere and ellipsoid, 2,000 evaluations, seed 0")
    p.add_argument("--budget", type=int, default=None)
    p.add_argument("--only", default=None, help="comma-separated substrings of entry names")
    p.add_argument("--problems", default=None,
                   help="comma-separated substrings of problem names")
    args = p.parse_args(argv)
    budget = args.budget or (2000 if args.quick else 20_000)
    seeds = [0] if args.quick else [0, 1, 2]
    runners = [e for e in entries()
               if args.only is None or any(s in e[0] for s in args.only.split(","))]
    print(f"zoopt {zoopt.__version__}: bench blackbox -- {budget} evaluations, seeds {seeds}, "
          "medians; zoopt methods with default settings")
    missing = sorted({mod for _, mod, _ in runners if not _available(mod)})
    if missing:
        print(f"not installed (skipped): {', '.join(missing)} (the bench extra: "
              "pip install '.[bench]' in zoopt's source tree)")
    for pname, fun, x0, thr in problems(args.quick):
        if args.problems and not any(s in pname for s in args.problems.split(",")):
            continue
        results: dict[str, list[Tracker]] = {}
        failures: dict[str, str] = {}
        for name, mod, run in runners:
            if not _available(mod):
                continue
            results[name] = []
            for seed in seeds:
                tr = Tracker(fun, budget)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        with contextlib.suppress(StopRun):
                            run(tr, x0.copy(), budget, seed)
                    except Exception as exc:  # a library's own failure is reported, not fatal
                        failures[name] = f"{type(exc).__name__}: {exc}"[:50]
                tr.finish()
                results[name].append(tr)
        anchors = [statistics.median(t.best for t in trs) for n, trs in results.items()
                   if not n.startswith("zoopt")]
        threshold = thr if thr is not None else (min(anchors) if anchors else None)
        rows = []
        for name, trs in results.items():
            best = statistics.median(t.best for t in trs)
            hits = [t.evals_to(threshold) for t in trs] if threshold is not None else []
            reached = [h for h in hits if h is not None]
            to_t = (f"{statistics.median(reached):.0f} ({len(reached)}/{len(trs)})"
                    if reached else f"- (0/{len(trs)})")
            secs = statistics.median(t.seconds for t in trs)
            note = f"  (a run failed: {failures[name]})" if name in failures else ""
            rows.append([name + note, f"{best:.3g}", to_t, f"{secs:.2f}"])
        label = ("1e-8" if thr is not None else f"best anchor {threshold:.3g}"
                 if threshold is not None else "the best anchor: no anchor ran")
        print(f"\n{pname}  (x0 = {x0[0]:g}; evaluations to reach {label})")
        print(table(rows, ["optimizer", "median best f", "evals to target (runs)", "seconds"]))
    return 0
