"""Evolution strategies on a Dask cluster: the same result bit for bit, in less time.

What: tune the four gains of a linear controller that balances a pole on a
cart (u = k . (x, v, theta, omega), force clipped to +-10 N).  One evaluation
simulates the closed loop from 8 starting states for 20 s each (Euler,
dt = 10 ms, 16,000 steps of pure-Python arithmetic: about 10-20 ms of CPU) and
returns the mean quadratic cost.  ``zoopt.minimize(method="es")`` runs with
the same seed in-process, then with ``executor=`` a Dask ``Client`` of a
``LocalCluster`` with 2 worker processes (1 thread each), and, for scale, on a
plain ``concurrent.futures.ProcessPoolExecutor`` with 2 processes.

Why: when one evaluation is expensive, the population of each ES step is the
natural unit of parallel work.  zoopt sends each worker the point, the stream
key and a range of direction indices; the worker regenerates its perturbations
from the counter-based stream and sends back values only.  So the run on the
cluster is the in-process run, bit for bit (``np.array_equal`` on ``x`` and
``x_mean``, equal ``fun`` and ``nfev``), only faster.  The speed-up is below
the number of workers: the evaluation at the mean after each step is serial,
every task is a round trip through the scheduler, and on a 2-core machine the
scheduler and this process share the cores with the workers.

How to run:  python examples/distributed_es.py [--iters N] [--popsize P] [--quick]
Needs dask[distributed].  Start-up of the cluster and of the pool is not timed.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import zoopt

# (x, v, theta, omega) at the start of each simulated episode
STARTS = [(0.0, 0.0, a, 0.0) for a in (-0.3, -0.2, -0.1, 0.1, 0.2, 0.3)] + [
    (-1.0, 0.0, 0.1, 0.0), (1.0, 0.0, -0.1, 0.0)]


def cartpole_cost(gains, steps=2000):
    """Mean cost of the controller over the starting states (cart-pole of Barto,
    Sutton and Anderson 1983; cart clamped to [-3, 3] m, no termination)."""
    g, m_cart, m_pole, half_len, dt = 9.8, 1.0, 0.1, 0.5, 0.01
    m_all = m_cart + m_pole
    k0, k1, k2, k3 = (float(k) for k in gains)
    total = 0.0
    for x, v, th, om in STARTS:
        cost = 0.0
        for _ in range(steps):
            u = min(10.0, max(-10.0, k0 * x + k1 * v + k2 * th + k3 * om))
            s, c = math.sin(th), math.cos(th)
            tmp = (u + m_pole * half_len * om * om * s) / m_all
            alpha = (g * s - c * tmp) / (half_len * (4.0 / 3.0 - m_pole * c * c / m_all))
            acc = tmp - m_pole * half_len * alpha * c / m_all
            x, v = min(3.0, max(-3.0, x + dt * v)), v + dt * acc
            th, om = th + dt * om, om + dt * alpha
            cost += 0.1 * x * x + (1.0 - c) + 0.001 * u * u
        total += cost * dt
    return total / len(STARTS)


def objective(K):
    """Vectorized for zoopt: (B, 4) gains -> (B,) costs, one simulation per row."""
    return np.array([cartpole_cost(k) for k in K])


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=40, help="ES iterations (default 40)")
    ap.add_argument("--popsize", type=int, default=32,
                    help="evaluations per step, even (default 32)")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="3 iterations (for tests)")
    args = ap.parse_args(argv)
    iters = 3 if args.quick else args.iters
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("this example needs Dask: pip install 'dask[distributed]'")
        return 1

    kw = {"method": "es", "maxiter": iters, "sigma": 2.0, "lr": 1.0, "rng": args.seed,
          "options": {"popsize": args.popsize}}
    x0 = np.zeros(4)
    cartpole_cost(x0)  # warm-up
    t0 = time.perf_counter()
    cartpole_cost(x0)
    one_eval = time.perf_counter() - t0
    print(f"cart-pole controller, 4 gains; one evaluation = {len(STARTS)} x 2000 simulation "
          f"steps ({one_eval * 1e3:.0f} ms here); es, population {args.popsize}, "
          f"{iters} iterations")

    t0 = time.perf_counter()
    res_local = zoopt.minimize(objective, x0, **kw)
    t_local = time.perf_counter() - t0

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(lambda: None)  # workers up before the clock starts
        t0 = time.perf_counter()
        res_dask = zoopt.minimize(objective, x0, executor=client, **kw)
        t_dask = time.perf_counter() - t0

    # for scale: the same run on a plain process pool, without a scheduler
    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(abs, range(args.workers)))  # workers up before the clock starts
        t0 = time.perf_counter()
        res_pool = zoopt.minimize(objective, x0, executor=pool, **kw)
        t_pool = time.perf_counter() - t0

    def identical(a, b):
        return (np.array_equal(a.x, b.x) and a.fun == b.fun
                and np.array_equal(a.x_mean, b.x_mean) and a.nfev == b.nfev)

    same = identical(res_local, res_dask)
    rows = []
    for name, res, secs in [
            ("in-process", res_local, t_local),
            (f"Dask LocalCluster, {args.workers} worker processes", res_dask, t_dask),
            (f"ProcessPoolExecutor({args.workers}), for scale", res_pool, t_pool)]:
        rows.append([name, f"{secs:.2f}", f"{t_local / secs:.2f}x", f"{res.fun:.6g}",
                     str(res.nfev)])
    print(table(rows, ["evaluation", "seconds", "speed-up", "best cost", "evaluations"]))
    print(f"cost at the start (gains 0): {objective(x0[None])[0]:.4g}; gains found: "
          f"{np.array2string(res_dask.x, precision=3)}")
    print(f"identical results, Dask vs in-process (x, fun, x_mean, nfev): {same}; "
          f"np.array_equal(res_local.x, res_dask.x) = {np.array_equal(res_local.x, res_dask.x)}")
    print(f"identical results, process pool vs in-process: {identical(res_local, res_pool)}")
    return 0 if same and identical(res_local, res_pool) else 1


if __name__ == "__main__":
    raise SystemExit(main())
