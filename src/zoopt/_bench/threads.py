"""Benchmark ``threads``: zoopt on a machine whose cores are shared (BENCHMARKS.md).

Three workloads, each timed in a fresh process so that the thread settings take
effect before any pool starts:

* ``demo``: ``python -m zoopt demo`` (its ``main()``, imports excluded; the
  ``--quick`` size with ``--quick``);
* ``zooptimizer``: ``zoopt.torch.ZOOptimizer`` steps on an MLP (1024 -> 2048 ->
  1024 -> 10, 4.2 M parameters, batch 64, 4 directions per step), the median
  step;
* ``grad``: ``zoopt.grad`` at d = 1e6 with 128 normal directions in float32 on a
  quadratic, the median call.

Each under four conditions: the default threads; single threads
(``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` set to 1,
which zoopt's kernels, NumPy's BLAS and torch all read); and both again with one
busy process beside it (a Python loop that never sleeps, standing for the other
work of a shared machine).  The table gives the median over ``--repeats`` runs
and the two ratios the targets name: default / single threads on the quiet
machine (target: at most 1.2) and busy / quiet with the default threads (target:
at most 2).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from zoopt._bench import table

WORKLOADS = ("demo", "zooptimizer", "grad")
SINGLE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
POOL_VARS = (*SINGLE, "OMP_WAIT_POLICY", "GOTO_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS")


def _time_demo(quick: bool) -> float:
    from zoopt import _demo

    argv = ["--no-progress", "--png", os.path.join(tempfile.mkdtemp(), "demo.png")]
    if quick:
        argv.append("--quick")
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        rc = _demo.main(argv)
    secs = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"the demo failed: {out.getvalue()}")
    return secs


def _time_zooptimizer(quick: bool) -> float:
    import torch

    from zoopt.torch import ZOOptimizer

    torch.manual_seed(0)
    width = 256 if quick else 2048
    model = torch.nn.Sequential(torch.nn.Linear(1024, width), torch.nn.ReLU(),
                                torch.nn.Linear(width, width // 2), torch.nn.ReLU(),
                                torch.nn.Linear(width // 2, 10))
    X, y = torch.randn(64, 1024), torch.arange(64) % 10
    opt = ZOOptimizer(model.parameters(), lr=1e-4, sigma=1e-3, n_dirs=4, rng=0)

    def closure() -> Any:
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(X), y)

    opt.step(closure)  # warm-up: first-touch of scratch buffers, torch's lazy init
    times = []
    for _ in range(3 if quick else 10):
        t0 = time.perf_counter()
        opt.step(closure)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _time_grad(quick: bool) -> float:
    import numpy as np

    import zoopt

    d = 10**5 if quick else 10**6
    x = np.linspace(-1, 1, d, dtype=np.float32)

    def f(X: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", X, X)

    zoopt.grad(f, x, n_dirs=128, rng=0)
    times = []
    for step in range(3 if quick else 7):
        t0 = time.perf_counter()
        zoopt.grad(f, x, n_dirs=128, rng=0, step=step)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


TIMERS = {"demo": _time_demo, "zooptimizer": _time_zooptimizer, "grad": _time_grad}


@contextlib.contextmanager
def _busy(n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``n`` processes that spin on a core each while the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(n)]
    try:
        time.sleep(0.2)  # let them get onto the cores
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _run_worker(workload: str, single: bool, quick: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in POOL_VARS}
    if single:
        env.update(SINGLE)
    cmd = [sys.executable, "-m", "zoopt._bench.threads", "--worker", workload]
    if quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the {workload} worker failed:\n{out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def _available(workload: str) -> str | None:
    """Why a workload cannot run here, or None."""
    import importlib.util

    needs = {"demo": "sklearn", "zooptimizer": "torch"}.get(workload)
    if needs and importlib.util.find_spec(needs) is None:
        return f"needs {'scikit-learn' if needs == 'sklearn' else needs}"
    return None


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt bench threads", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (for tests)")
    p.add_argument("--repeats", type=int, default=3,
                   help="fresh processes per workload and condition (default 3)")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help=f"comma-separated, from {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("--busy", type=int, default=1,
                   help="busy processes beside the busy runs (default 1)")
    p.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps({"seconds": TIMERS[args.worker](args.quick)}))
        return 0
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in workloads if w not in WORKLOADS]
    if bad or not workloads:
        p.error(f"--workloads takes names from {', '.join(WORKLOADS)}; got {args.workloads!r}")
    if args.repeats < 1 or args.busy < 1:
        p.error("--repeats and --busy must be at least 1")

    print(f"threads: {os.cpu_count()} logical cores; medians of {args.repeats} fresh "
          f"processes; busy: {args.busy} spinning process(es) beside the run")
    rows, missing = [], 0
    for w in workloads:
        why = _available(w)
        if why:
            rows.append([w, "-", "-", "-", "-", "-", "-", f"not run: {why}"])
            missing += 1
            continue
        med = {}
        for busy in (False, True):
            for single in (False, True):
                with _busy(args.busy) if busy else contextlib.nullcontext():
                    ts = [_run_worker(w, single, args.quick) for _ in range(args.repeats)]
                med[busy, single] = statistics.median(ts)
        r_single = med[False, False] / med[False, True]
        r_busy = med[True, False] / med[False, False]
        ok = r_single <= 1.2 and r_busy <= 2.0
        rows.append([w, f"{med[False, False]:.3f}", f"{med[False, True]:.3f}",
                     f"{med[True, False]:.3f}", f"{med[True, True]:.3f}",
                     f"{r_single:.2f}", f"{r_busy:.2f}", "met" if ok else "missed"])
    print(table(rows, ["workload", "default s", "single s", "busy default s",
                       "busy single s", "default/single", "busy/quiet", "targets"]))
    print("targets: default/single <= 1.2 (quiet machine), busy/quiet <= 2 (default threads)")
    return 0 if missing < len(workloads) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
