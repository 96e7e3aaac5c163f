"""Benchmark ``parallel``: evaluation on Dask (BENCHMARKS.md, task "parallel").

A 20 ms objective (a sleep of 20 ms per point, plus the sphere), method
``es`` with 40 evaluations per step, 2,000 evaluations, d = 100: in-process
against a Dask ``LocalCluster`` of 2 worker processes (start-up excluded).
Prints the speed-up and checks that both runs give the same result, bit for bit.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zoopt._bench import table


def slow_sphere(X: np.ndarray) -> np.ndarray:
    """20 ms per point, then the sphere."""
    time.sleep(0.02 * len(X))
    return (X * X).sum(axis=1)


def main(argv: list[str]) -> int:
    import zoopt

    p = argparse.ArgumentParser(prog="python -m zoopt bench parallel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--evals", type=int, default=2000, help="evaluation budget (default 2000)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="CI-sized: 200 evaluations")
    args = p.parse_args(argv)
    if args.quick:
        args.evals = 200
    try:
        import distributed
    except ImportError:
        print("Dask distributed is not installed (pip install 'dask[distributed]'): skipped")
        return 0
    kw = {"method": "es", "n_dirs": 40, "maxfev": args.evals, "rng": 0}
    x0 = np.ones(100)
    print(f"zoopt {zoopt.__version__}: bench parallel -- es, 40 evaluations per step, "
          f"{args.evals} evaluations of a 20 ms objective, d = 100")
    t0 = time.perf_counter()
    local = zoopt.minimize(slow_sphere, x0, **kw)
    t_local = time.perf_counter() - t0
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: None)  # workers up before the clock starts
        t0 = time.perf_counter()
        remote = zoopt.minimize(slow_sphere, x0, executor=client, **kw)
        t_remote = time.perf_counter() - t0
    same = all(np.array_equal(np.asarray(local[k]), np.asarray(remote[k]))
               for k in ("x", "fun", "x_mean", "nfev"))
    rows = [["in-process", f"{t_local:.2f}", "1.00x", f"{local.fun:.6g}", str(local.nfev)],
            [f"Dask LocalCluster, {args.workers} processes", f"{t_remote:.2f}",
             f"{t_local / t_remote:.2f}x", f"{remote.fun:.6g}", str(remote.nfev)]]
    print(table(rows, ["evaluation", "seconds", "speed-up", "best f", "evaluations"]))
    print(f"identical result (x, fun, x_mean, nfev): {same}")
    return 0 if same else 1
