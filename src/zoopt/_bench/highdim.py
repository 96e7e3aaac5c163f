"""Benchmark ``highdim``: large-dimension speed to target (BENCHMARKS.md, task "highdim").

Sphere and ellipsoid (condition 1e3) at d in {1e4, 1e5, 1e6}, x0 = ones,
float32; a run stops at f <= 1e-3 f(x0), at 200,000 evaluations, or at a
wall-clock cap (default 120 s per run).  zoopt's ``zo-adam`` and ``es`` with
their default settings next to evosax OpenAI-ES, EvoTorch SNES and PGPE and
pycma sep-CMA (d <= 1e5), each where installed.  Every run is a fresh
subprocess, so its peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np

from zoopt._bench import table
from zoopt._bench._problems import StopRun, Tracker, make_ellipsoid, sphere

ENTRIES = ["zoopt zo-adam", "zoopt es", "evosax OpenAI-ES", "EvoTorch SNES", "EvoTorch PGPE",
           "pycma sep-CMA"]
NEEDS = {"zoopt zo-adam": "zoopt", "zoopt es": "zoopt", "evosax OpenAI-ES": "evosax",
         "EvoTorch SNES": "evotorch", "EvoTorch PGPE": "evotorch", "pycma sep-CMA": "cma"}


def _run(entry: str, tr: Tracker, x0: np.ndarray, budget: int, target: float) -> None:
    d = x0.size
    if entry.startswith("zoopt"):
        import zoopt

        zoopt.minimize(tr, x0, method=entry.split()[1], maxfev=budget, target=target, rng=0)
    elif entry == "evosax OpenAI-ES":
        import jax
        import jax.numpy as jnp
        from evosax.algorithms import Open_ES

        strategy = Open_ES(population_size=64, solution=jnp.zeros(d, dtype=jnp.float32))
        params = strategy.default_params
        key = jax.random.PRNGKey(0)
        state = strategy.init(key, jnp.asarray(x0), params)
        ask, tell = jax.jit(strategy.ask), jax.jit(strategy.tell)
        while tr.best > target:
            key, k1, k2 = jax.random.split(key, 3)
            X, state = ask(k1, state, params)
            fit = tr(np.asarray(X))
            state, _ = tell(k2, X, jnp.asarray(fit, dtype=jnp.float32), state, params)
    elif entry.startswith("EvoTorch"):
        import torch
        from evotorch import Problem
        from evotorch.algorithms import PGPE, SNES

        def fn(X: Any) -> Any:
            return torch.from_numpy(tr(X.detach().numpy()).astype(np.float32))

        prob = Problem("min", fn, solution_length=d, initial_bounds=(-1, 1), vectorized=True,
                       dtype=torch.float32)
        center = torch.from_numpy(x0)
        if entry.endswith("SNES"):
            searcher: Any = SNES(prob, stdev_init=0.1, center_init=center)
        else:
            searcher = PGPE(prob, popsize=64, center_learning_rate=0.05,
                            stdev_learning_rate=0.1, stdev_init=0.1, center_init=center)
        while tr.best > target:
            searcher.step()
    elif entry == "pycma sep-CMA":
        import cma

        es = cma.CMAEvolutionStrategy(x0, 0.1, {"CMA_diagonal": True, "seed": 1,
                                                "verbose": -9, "maxfevals": budget})
        while not es.stop() and tr.best > target:
            X = es.ask()
            es.tell(X, tr(np.array(X, dtype=np.float32)).tolist())


_CHILD = textwrap.dedent("""
    import json, resource, sys
    from zoopt._bench.highdim import child
    print(json.dumps(child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                           float(sys.argv[5]))))
""")


def child(entry: str, problem: str, d: int, budget: int, cap: float) -> dict[str, Any]:
    import warnings

    fun = sphere if problem == "sphere" else make_ellipsoid(d, 1e3)
    x0 = np.ones(d, dtype=np.float32)
    f0 = float(fun(x0[None])[0])
    target = 1e-3 * f0
    tr = Tracker(fun, budget, cap_s=cap, target=target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(StopRun):
            _run(entry, tr, x0, budget, target)
    tr.finish()
    peak = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return {"ratio": tr.best / f0, "nfev": tr.n, "seconds": tr.seconds,
            "hit": tr.hit_time, "peak_mib": peak / 1024}


def main(argv: list[str]) -> int:
    import importlib.util

    import zoopt

    p = argparse.ArgumentParser(prog="python -m zoopt bench highdim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", default="1e4,1e5,1e6", help="comma-separated dimensions")
    p.add_argument("--cap", type=float, default=120.0, help="seconds per run (default 120)")
    p.add_argument("--budget", type=int, default=200_000)
    p.add_argument("--problems", default="sphere,ellipsoid")
    p.add_argument("--only", default=None, help="comma-separated substrings of entry names")
    p.add_argument("--quick", action="store_true",
                   help="CI-sized: d = 1e3, 5,000 evaluations, 20 s per run, zoopt only")
    args = p.parse_args(argv)
    if args.quick:
        args.dims, args.budget, args.cap = "1e3", 5000, 20.0
        args.only = args.only or "zoopt"
    dims = [int(float(s)) for s in args.dims.split(",")]
    print(f"zoopt {zoopt.__version__}: bench highdim -- x0 = ones, float32, target f <= 1e-3 "
          f"f(x0), budget {args.budget} evaluations, cap {args.cap:.0f} s per run; each run "
          "in a fresh process")
    for problem in args.problems.split(","):
        rows = []
        for d in dims:
            for entry in ENTRIES:
                if args.only and not any(s in entry for s in args.only.split(",")):
                    continue
                if importlib.util.find_spec(NEEDS[entry]) is None:
                    rows.append([f"{d:.0e}", entry, "not installed", "", "", "", ""])
                    continue
                if entry == "pycma sep-CMA" and d > 100_000:
                    continue
                res = subprocess.run([sys.executable, "-c", _CHILD, entry, problem, str(d),
                                      str(args.budget), str(args.cap)],
                                     capture_output=True, text=True, check=False)
                lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
                if res.returncode or not lines:
                    err = (res.stderr.strip().splitlines() or ["?"])[-1][:60]
                    rows.append([f"{d:.0e}", entry, f"failed: {err}", "", "", "", ""])
                    continue
                r = json.loads(lines[-1])
                hit = f"{r['hit']:.1f}" if r["hit"] is not None else "-"
                rows.append([f"{d:.0e}", entry, hit, f"{r['ratio']:.2e}", str(r["nfev"]),
                             f"{r['seconds']:.1f}", f"{r['peak_mib']:.0f}"])
        print(f"\n{problem}{' (condition 1e3)' if problem == 'ellipsoid' else ''}")
        print(table(rows, ["d", "optimizer", "s to target", "best f/f0", "evaluations",
                           "seconds", "peak MiB"]))
    return 0
