"""Benchmark ``grad``: one gradient estimate (BENCHMARKS.md, task "grad").

Sphere objective, float32, central differences, normal directions,
n_dirs = 128 (256 evaluations), sigma = 1e-3, against a hand-written NumPy
estimator that materializes the directions, and against evosax / EvoTorch
when installed.  Floors measured in the same run: NumPy's float32 normal rate
and the machine's copy bandwidth.  Peak memory per configuration in a fresh
subprocess.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from zoopt._bench import median_time, table

SIGMA = 1e-3


def sphere(X: np.ndarray) -> np.ndarray:
    return (X * X).sum(axis=1)


def numpy_estimate(x: np.ndarray, n: int, gen: np.random.Generator) -> np.ndarray:
    """The hand-written estimator people write: materialize U, evaluate, U^T w."""
    U = gen.standard_normal((n, x.size), dtype=np.float32)
    s = np.float32(SIGMA)
    fp = sphere(x + s * U)
    fm = sphere(x - s * U)
    return ((fp - fm) / (2 * SIGMA * n)).astype(np.float32) @ U


def zoopt_estimate(x: np.ndarray, n: int, step: int) -> np.ndarray:
    import zoopt

    return zoopt.grad(sphere, x, n_dirs=n, sigma=SIGMA, rng=0, step=step)


def _next_step_estimate(x: np.ndarray, n: int, steps: itertools.count) -> np.ndarray:
    return zoopt_estimate(x, n, next(steps))


def _floors(d: int, n: int, repeats: int) -> dict[str, float]:
    gen = np.random.default_rng(0)
    m = min(n * d, 32_000_000)
    buf = np.empty(m, dtype=np.float32)
    t_rng = median_time(lambda: gen.standard_normal(m, dtype=np.float32, out=buf),
                        repeats=repeats)
    src = np.ones(m, dtype=np.float32)
    t_copy = median_time(lambda: np.copyto(buf, src), repeats=repeats)
    from zoopt.random import _Stream, key_from_rng

    # the stream alone, into a preallocated buffer (no page faults in the timing)
    k = max(1, m // d)
    stream = _Stream(key_from_rng(0), 0, "normal", np.dtype(np.float32), d)
    dirs = np.empty((k, d), dtype=np.float32)
    no_scale = np.empty(0, dtype=np.float32)
    t_zo = median_time(lambda: stream.fill(0, dirs, no_scale), repeats=repeats)
    return {"numpy_normals_per_s": m / t_rng, "copy_bytes_per_s": 2 * 4 * m / t_copy,
            "zoopt_normals_per_s": k * d / t_zo}


def _make_evosax_step(jax: Any, jnp: Any, d: int, n: int) -> Callable[[], Any]:
    """One jitted OpenAI-ES ask/evaluate/tell step of evosax (0.3 API, else 0.1/0.2)."""
    key = jax.random.PRNGKey(0)
    try:
        from evosax.algorithms import Open_ES
    except ImportError:
        from evosax import OpenES  # older releases

        strategy = OpenES(popsize=2 * n, num_dims=d, opt_name="sgd")
        params = strategy.default_params
        state = strategy.initialize(key, params)

        @jax.jit
        def old_step(state: Any, key: Any) -> Any:
            pop, state = strategy.ask(key, state, params)
            return strategy.tell(pop, jnp.sum(pop * pop, axis=1), state, params)

        return lambda: old_step(state, key)
    strategy = Open_ES(population_size=2 * n, solution=jnp.zeros(d, dtype=jnp.float32))
    params = strategy.default_params
    state = strategy.init(key, jnp.ones(d, dtype=jnp.float32), params)

    @jax.jit
    def step(state: Any, key: Any) -> Any:
        k1, k2 = jax.random.split(key)
        pop, state = strategy.ask(k1, state, params)
        state, _ = strategy.tell(k2, pop, jnp.sum(pop * pop, axis=1), state, params)
        return state

    return lambda: step(state, key)


def _optional_anchors(x: np.ndarray, n: int, repeats: int) -> list[tuple[str, float | str]]:
    out: list[tuple[str, float | str]] = []
    try:
        import jax
        import jax.numpy as jnp

        _evosax_step = _make_evosax_step(jax, jnp, x.size, n)
    except ImportError:
        out.append(("evosax OpenAI-ES", "not installed (the bench extra: "
                                        "pip install '.[bench]')"))
    except Exception as exc:  # API drift between evosax releases
        out.append(("evosax OpenAI-ES", f"failed: {type(exc).__name__}: {exc}"[:70]))
    else:
        try:
            jax.block_until_ready(_evosax_step())  # compile outside the timing
            t = median_time(lambda: jax.block_until_ready(_evosax_step()), repeats=repeats)
            out.append(("evosax OpenAI-ES", t))
        except Exception as exc:
            out.append(("evosax OpenAI-ES", f"failed: {type(exc).__name__}: {exc}"[:70]))
    try:
        import torch
        from evotorch import Problem
        from evotorch.algorithms import PGPE, SNES
    except Exception:
        out.append(("EvoTorch SNES / PGPE", "not installed (the bench extra: "
                                            "pip install '.[bench]')"))
    else:
        for name, algo in (("EvoTorch SNES", SNES), ("EvoTorch PGPE", PGPE)):
            try:
                prob = Problem("min", lambda X: (X * X).sum(-1), solution_length=x.size,
                               initial_bounds=(-1, 1), vectorized=True, dtype=torch.float32)
                kw = {"popsize": 2 * n, "stdev_init": SIGMA}
                if algo is PGPE:
                    kw.update(center_learning_rate=0.1, stdev_learning_rate=0.1)
                searcher = algo(prob, **kw)
                t = median_time(searcher.step, repeats=repeats)
                out.append((name, t))
            except Exception as exc:
                out.append((name, f"failed: {type(exc).__name__}: {exc}"[:70]))
    return out


# ru_maxrss survives exec on Linux (a child starts with its parent's peak), so
# the peak is read from VmHWM, which belongs to the new address space; other
# systems fall back to ru_maxrss.
_MEM_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np

    def peak_kib():
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    which, d, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from zoopt._bench.grad import numpy_estimate, zoopt_estimate
    x = np.ones(d, dtype=np.float32)
    base = peak_kib()
    if which == "zoopt":
        g = zoopt_estimate(x, n, 0)
    else:
        g = numpy_estimate(x, n, np.random.default_rng(0))
    print(json.dumps({"base_kib": base, "peak_kib": peak_kib(),
                      "finite": bool(np.isfinite(g).all())}))
""")


def peak_memory(which: str, d: int, n: int) -> dict[str, float]:
    res = subprocess.run([sys.executable, "-c", _MEM_SCRIPT, which, str(d), str(n)],
                         capture_output=True, text=True, check=True)
    out: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str]) -> int:
    import zoopt

    p = argparse.ArgumentParser(prog="python -m zoopt bench grad", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI-sized run (d <= 1e5, 3 repeats)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    dims = [1_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    n = 128

    print(f"zoopt {zoopt.__version__}: bench grad -- sphere, float32, central, normal, "
          f"n_dirs={n} ({2 * n} evaluations), sigma={SIGMA}; {zoopt.get_num_threads()} "
          f"threads; median of {repeats} after a warm-up")
    fl = _floors(dims[-1], n, repeats)
    print(f"floors: NumPy float32 normals {fl['numpy_normals_per_s'] / 1e6:.0f} M/s; "
          f"copy bandwidth {fl['copy_bytes_per_s'] / 1e9:.1f} GB/s; zoopt stream "
          f"{fl['zoopt_normals_per_s'] / 1e6:.0f} M normals/s")
    rows = []
    for d in dims:
        x = np.ones(d, dtype=np.float32)
        gen = np.random.default_rng(0)
        t_np = median_time(partial(numpy_estimate, x, n, gen), repeats=repeats)
        # a new step each call: every repeat draws new directions, as NumPy does
        t_zo = median_time(partial(_next_step_estimate, x, n, itertools.count()),
                           repeats=repeats)
        t_rng_floor = n * d / fl["numpy_normals_per_s"]
        t_copy_floor = 2 * n * d * 4 / fl["copy_bytes_per_s"]
        entries: list[tuple[str, float | str]] = [("zoopt.grad", t_zo), ("NumPy (materialized U)",
                                                                         t_np)]
        if d == dims[-1] or args.quick:
            entries += _optional_anchors(x, n, repeats)
        for name, t in entries:
            if isinstance(t, str):
                rows.append([f"{d:.0e}", name, "-", t, "", ""])
            else:
                rows.append([f"{d:.0e}", name, f"{t * 1e3:.2f}", f"{t_np / t:.2f}x",
                             f"{t_rng_floor / t:.2f}", f"{t_copy_floor / t:.2f}"])
    print(table(rows, ["d", "estimator", "ms", "speed vs NumPy", "RNG floor / t",
                       "copy floor / t"]))
    print("RNG floor: time NumPy needs just to draw the n x d normals once; copy floor: time to "
          "write the 2n x d probes once. A ratio of 1 means as fast as that floor alone.")

    if not args.no_memory:
        cases = [(1_000_000, 128)] + ([] if args.quick else [(10_000_000, 1024)])
        mrows = []
        for d, nd in cases:
            for which in ("zoopt", "numpy"):
                if which == "numpy" and d * nd * 4 > 8 << 30:
                    u_gib = d * nd * 4 / 2**30
                    mrows.append([f"{d:.0e}", str(nd), which, "not run",
                                  f"U alone {u_gib:.0f} GiB, with probes ~{3 * u_gib:.0f}"])
                    continue
                m = peak_memory(which, d, nd)
                mrows.append([f"{d:.0e}", str(nd), which, f"{m['peak_kib'] / 1024:.0f}",
                              f"{(m['peak_kib'] - m['base_kib']) / 1024:.0f}"])
        print()
        print("peak memory (fresh subprocess; VmHWM, else ru_maxrss):")
        print(table(mrows, ["d", "n_dirs", "estimator", "peak MiB", "above import MiB"]))
    return 0
