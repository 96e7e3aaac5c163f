"""Benchmark ``bbob``: the COCO suites (``coco-experiment``, ``import cocoex``).

``bbob``: functions 1-24, d in {10, 40}, instances 1-5, a budget of 1,000 d
evaluations per problem; ``--largescale``: ``bbob-largescale`` at d = 320 on
functions 1, 2, 8, 10, 11 and 12 with 100 d.  Side by side in one run: zoopt's
methods with their defaults (given the suite's box [-5, 5]^d as ``bounds``),
pycma plain and with BIPOP restarts (``cma.fmin2(..., restarts=9,
bipop=True)``, sigma0 = 2 as in COCO's example experiment), cmaes (sigma 2, the
box), nevergrad NGOpt (d = 10), scipy Powell (the box) and uniform random search
in the box.  A run stops at f - f_opt <= 1e-8 or at its budget.

Printed per method and dimension: the fraction of (function, instance) pairs
that reach f - f_opt <= 1e2, 1, 1e-2, 1e-5 and 1e-8 within the budget, the mean
over COCO's 51 targets 10^2 ... 10^-8 (the height of the ECDF at the budget),
the fraction at 1e-8 per function group, and the CPU seconds of the method's
runs (CPU time, not wall time: it does not grow when other work shares the
machine; the worker processes run one thread each).  ``--png`` writes
the ECDFs (fraction of (problem, target) pairs against evaluations / d).  Runs
go to ``--jobs`` worker processes; evaluations are counted point by point.

``--save PATH`` writes every run as JSON there, rewritten as each run finishes, so
an interrupted run keeps what it did.  ``--load PATH[,PATH...]`` reads such files:
runs already there (same method, problem and budget) are not run again, and the
tables cover them with the new ones.  The full size can so be run in parts
(``--only``, ``--dims``, ``--functions``) and printed as one table, and
``--load X --save X`` resumes an interrupted run.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

from zoopt._bench import table
from zoopt._bench._problems import StopRun

TARGETS = 10.0 ** np.linspace(2, -8, 51)  # COCO's targets, f - f_opt
SHOWN = (1e2, 1.0, 1e-2, 1e-5, 1e-8)
GROUPS = {"separable f1-5": range(1, 6), "moderate f6-9": range(6, 10),
          "ill-conditioned f10-14": range(10, 15), "multimodal f15-19": range(15, 20),
          "weak structure f20-24": range(20, 25)}
ZOOPT = ["auto", "cma", "sep-cma", "lm-ma-es", "snes", "es", "zo-adam", "spsa", "zo-sgd"]
ANCHORS = ["pycma", "pycma BIPOP", "cmaes", "nevergrad NGOpt", "scipy Powell",
           "random search"]
# method, problem id, hits, seconds, evaluations, and the error that ended an anchor's run
# inside its library ("" for none)
Run = tuple[str, str, list[int], float, int, str]
NEEDS = {"pycma": "cma", "pycma BIPOP": "cma", "cmaes": "cmaes",
         "nevergrad NGOpt": "nevergrad", "scipy Powell": "scipy"}


class Recorder:
    """The objective a method sees: batches or points of one COCO problem, with the
    first evaluation at which each target was reached, counted point by point."""

    def __init__(self, problem: Any, f_opt: float, budget: int):
        self.problem, self.f_opt, self.budget = problem, f_opt, budget
        self.n = 0
        self.best = math.inf
        self.hits = np.full(TARGETS.size, -1, dtype=np.int64)

    def point(self, x: Any) -> float:
        if self.n >= self.budget or self.best <= TARGETS[-1]:
            raise StopRun
        value = float(self.problem(np.asarray(x, dtype=np.float64)))
        self.n += 1
        prec = value - self.f_opt
        if prec < self.best:
            self.best = prec
            self.hits[(self.hits < 0) & (TARGETS >= prec)] = self.n
        return value

    def batch(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self.n >= self.budget or self.best <= TARGETS[-1]:
            raise StopRun
        return np.array([self.point(x) if self.n < self.budget else math.inf for x in X])


def _optimum(problem: Any) -> float:
    """f_opt: the value at the optimum cocoex writes (its ``_best_parameter``)."""
    with tempfile.TemporaryDirectory() as tmp:
        old = os.getcwd()
        os.chdir(tmp)
        try:
            problem._best_parameter("print")
            x = np.loadtxt("._bbob_problem_best_parameter.txt")
        finally:
            os.chdir(old)
    return float(problem(np.atleast_1d(x)))


def _run_zoopt(method: str, rec: Recorder, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray,
               seed: int) -> None:
    import zoopt

    zoopt.minimize(rec.batch, x0, method=method, maxfev=rec.budget, target=rec.f_opt + 1e-8,
                   bounds=list(zip(lb, ub, strict=True)), rng=seed)  # (low, high) pairs


def _run_anchor(name: str, rec: Recorder, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                seed: int) -> None:
    d = x0.size
    if name.startswith("pycma"):
        import cma

        opts = {"maxfevals": rec.budget, "ftarget": rec.f_opt + 1e-8, "verbose": -9,
                "seed": seed + 1}
        kw = {"restarts": 9, "bipop": True} if name.endswith("BIPOP") else {}
        cma.fmin2(rec.point, x0, 2.0, opts, **kw)
    elif name == "cmaes":
        from cmaes import CMA as CyberCMA

        es = CyberCMA(mean=x0.copy(), sigma=2.0, bounds=np.stack([lb, ub], axis=1), seed=seed)
        while True:
            sols = [(x, rec.point(x)) for x in (es.ask() for _ in range(es.population_size))]
            es.tell(sols)
    elif name == "nevergrad NGOpt":
        import nevergrad as ng

        param = ng.p.Array(init=x0).set_bounds(lb, ub)
        param.random_state = np.random.RandomState(seed)
        opt = ng.optimizers.NGOpt(parametrization=param, budget=rec.budget)
        while True:
            cand = opt.ask()
            opt.tell(cand, rec.point(cand.value))
    elif name == "scipy Powell":
        from scipy.optimize import minimize

        minimize(rec.point, x0, method="Powell", bounds=list(zip(lb, ub, strict=True)),
                 options={"maxfev": rec.budget, "xtol": 1e-12, "ftol": 1e-15})
    elif name == "random search":
        gen = np.random.default_rng(seed)
        while True:
            rec.batch(gen.uniform(lb, ub, size=(max(1, min(1000, rec.budget // 10)), d)))
    else:  # pragma: no cover
        raise ValueError(name)


def run_one(job: tuple[str, str, str, int]) -> Run:
    """One method on one problem: (method, problem id, hits per target, seconds, evals,
    the error that ended a compared library's run or "")."""
    import warnings

    import cocoex

    method, suite_name, pid, budget_factor = job
    suite = cocoex.Suite(suite_name, "", "")
    problem = suite.get_problem(pid)
    try:
        f_opt = _optimum(problem)
        d = problem.dimension
        rec = Recorder(problem, f_opt, budget_factor * d)
        x0 = np.array(problem.initial_solution, dtype=np.float64)
        lb, ub = np.array(problem.lower_bounds), np.array(problem.upper_bounds)
        seed = int(problem.id_instance)
        t0 = time.process_time()  # this run's CPU time (OMP_NUM_THREADS=1 in the workers)
        error = ""
        with warnings.catch_warnings(), contextlib.suppress(StopRun):
            warnings.simplefilter("ignore")
            if method.startswith("zoopt "):
                _run_zoopt(method.split(" ", 1)[1], rec, x0, lb, ub, seed)
            else:
                try:
                    _run_anchor(method, rec, x0, lb, ub, seed)
                except StopRun:
                    raise
                except Exception as exc:  # a failure inside a compared library: the run
                    # keeps what it reached, and the table says how many runs ended so
                    error = f"{type(exc).__name__}: {exc}"[:200]
        return method, pid, rec.hits.tolist(), time.process_time() - t0, rec.n, error
    finally:
        problem.free()
        suite.free()


def _problem_ids(suite_name: str, dims: list[int], functions: list[int],
                 instances: list[int]) -> list[tuple[str, int, int]]:
    import cocoex

    opts = (f"dimensions:{','.join(map(str, dims))} "
            f"function_indices:{','.join(map(str, functions))} "
            f"instance_indices:{','.join(map(str, instances))}")
    suite = cocoex.Suite(suite_name, "", opts)
    out = [(p.id, p.dimension, p.id_function) for p in suite]
    suite.free()
    return out


def _ints(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def summarize(results: list[Run],
              problems: list[tuple[str, int, int]], methods: list[str],
              budget_factor: int) -> list[str]:
    """The tables: per dimension, per method, fractions reached and per group."""
    info = {pid: (d, f) for pid, d, f in problems}
    lines = []
    for d in sorted({d for _, d, _ in problems}):
        rows, group_rows = [], []
        for m in methods:
            mine = [(pid, np.array(h), s) for mm, pid, h, s, *_ in results
                    if mm == m and info[pid][0] == d]
            if not mine:
                continue
            hits = np.array([h for _, h, _ in mine])
            reached = hits >= 0
            shown = [float(reached[:, int(np.argmin(np.abs(TARGETS - t)))].mean())
                     for t in SHOWN]
            secs = sum(s for _, _, s in mine)
            rows.append([m, *[f"{v:.2f}" for v in shown], f"{reached.mean():.3f}",
                         f"{secs:.1f}"])
            grp = []
            for rng_f in GROUPS.values():
                sel = [i for i, (pid, _, _) in enumerate(mine) if info[pid][1] in rng_f]
                grp.append(f"{reached[sel, -1].mean():.2f}" if sel else "")
            group_rows.append([m, *grp])
        n_pairs = len({pid for _, pid, *_ in results if info[pid][0] == d})
        lines.append(f"\nd = {d}: fraction of {n_pairs} (function, instance) pairs reaching "
                     f"f - f_opt <= target within {budget_factor} d evaluations")
        lines.append(table(rows, ["method", *[f"{t:g}" for t in SHOWN], "mean 51 targets",
                                  "CPU s"]))
        lines.append(f"\nd = {d}: fraction reaching 1e-8, by function group")
        lines.append(table(group_rows, ["method", *GROUPS]))
        for m in methods:
            errors = [err for mm, pid, _, _, _, err in results
                      if mm == m and err and info[pid][0] == d]
            if errors:
                lines.append(f"  {m}: {len(errors)} run(s) ended by an error inside the "
                             f"library (counted with what they reached), e.g. {errors[0]}")
    return lines


def plot_ecdf(results: list[Run],
              problems: list[tuple[str, int, int]], methods: list[str], budget_factor: int,
              path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = {pid: d for pid, d, _ in problems}
    dims = sorted(set(info.values()))
    fig, axes = plt.subplots(1, len(dims), figsize=(6 * len(dims), 4.5), squeeze=False)
    grid = np.logspace(0, math.log10(budget_factor), 200)
    colors = [plt.get_cmap("tab20")(k) for k in range(20)]
    for ax, d in zip(axes[0], dims, strict=True):
        for i, m in enumerate(methods):
            hits = np.array([h for mm, pid, h, *_ in results if mm == m and info[pid] == d])
            if hits.size == 0:
                continue
            scaled = np.where(hits >= 0, hits / d, np.inf).ravel()
            # zoopt's methods solid, the compared libraries dashed
            ax.step(grid, [(scaled <= g).mean() for g in grid], where="post", label=m,
                    color=colors[i % len(colors)], ls="-" if m.startswith("zoopt") else "--",
                    lw=2.4 if m.startswith("zoopt auto") else 1.3)
        ax.set_xscale("log")
        ax.set_xlabel("evaluations / d")
        ax.set_ylabel("fraction of (problem, target) pairs")
        ax.set_ylim(0, 1)
        ax.set_title(f"d = {d}")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt bench bbob", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="CI-sized: d = 2 and 5, functions 1, 2, 8, 10, 15, instance 1, "
                        "100 d evaluations, zoopt auto and the installed CMAs")
    p.add_argument("--largescale", action="store_true",
                   help="bbob-largescale at d = 320, functions 1, 2, 8, 10-12, 100 d")
    p.add_argument("--dims", default=None, help="comma-separated dimensions")
    p.add_argument("--functions", default=None, help="e.g. 1-24 or 1,2,10-14")
    p.add_argument("--instances", default=None, help="e.g. 1-5")
    p.add_argument("--budget", type=int, default=None, help="evaluations per dimension")
    p.add_argument("--only", default=None, help="comma-separated substrings of method names")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--png", default=None, help="write the ECDF plot there")
    p.add_argument("--save", default=None,
                   help="write every run (method, problem, evaluations at which each of "
                        "the 51 targets was first reached or -1, seconds) as JSON there, "
                        "as runs finish")
    p.add_argument("--load", default=None,
                   help="comma-separated JSON files written by --save: their runs are "
                        "not run again and count in the tables")
    args = p.parse_args(argv)
    if not _available("cocoex"):
        print("bench bbob: the COCO suite is not installed (pip install coco-experiment)")
        return 1
    suite = "bbob-largescale" if args.largescale else "bbob"
    if args.quick:
        dims, functions, instances, budget = [2, 5], [1, 2, 8, 10, 15], [1], 100
    elif args.largescale:
        dims, functions, instances, budget = [320], [1, 2, 8, 10, 11, 12], [1, 2, 3, 4, 5], 100
    else:
        dims, functions, instances, budget = [10, 40], list(range(1, 25)), [1, 2, 3, 4, 5], 1000
    dims = _ints(args.dims) if args.dims else dims
    functions = _ints(args.functions) if args.functions else functions
    instances = _ints(args.instances) if args.instances else instances
    budget = args.budget or budget
    methods = [f"zoopt {m}" for m in ZOOPT] + ANCHORS
    if args.quick:
        methods = ["zoopt auto", "pycma BIPOP", "cmaes"]
    if args.only:
        keys = args.only.split(",")
        methods = [m for m in methods if any(k in m for k in keys)]
    skipped = [m for m in methods if m in NEEDS and not _available(NEEDS[m])]
    methods = [m for m in methods if m not in skipped]
    problems = _problem_ids(suite, dims, functions, instances)
    jobs = [(m, suite, pid, budget) for m in methods for pid, d, _ in problems
            if not (m == "nevergrad NGOpt" and d > 10)]
    try:
        loaded = _load(args.load.split(",") if args.load else [], suite, budget, args.save)
    except ValueError as exc:
        print(f"bench bbob: {exc}")
        return 2
    wanted = {(m, pid) for m, _, pid, _ in jobs}
    done = {(r[0], r[1]): r for r in loaded if (r[0], r[1]) in wanted}
    jobs = [j for j in jobs if (j[0], j[2]) not in done]
    import zoopt

    print(f"zoopt {zoopt.__version__}: bench bbob -- suite {suite}, d {dims}, functions "
          f"{functions[0]}-{functions[-1]} ({len(functions)}), instances {instances}, budget "
          f"{budget} d, target f - f_opt <= 1e-8; {len(jobs)} runs on {args.jobs} processes"
          + (f", {len(done)} loaded from {args.load}" if args.load else ""))
    for m in skipped:
        print(f"  {m}: not installed, skipped")
    t0 = time.perf_counter()
    results = list(done.values())
    # the saved file keeps the loaded runs that this run does not cover
    others = [r for r in loaded if (r[0], r[1]) not in done]
    keep = (lambda rs: _save(args.save, suite, budget, others + rs)) if args.save else None
    results += _run_all(jobs, args.jobs, results, keep)
    if keep is not None:
        keep(results)
    for line in summarize(results, problems, methods, budget):
        print(line)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    if args.png:
        plot_ecdf(results, problems, methods, budget, args.png)
        print(f"ECDF plot written to {args.png}")
    if args.save:
        print(f"runs written to {args.save}")
    return 0


def _save(path: str, suite: str, budget: int, runs: list[Run]) -> None:
    """Write the runs as JSON, through a temporary file, so that ``path`` is always whole."""
    import json

    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump({"suite": suite, "budget_per_d": budget, "targets": TARGETS.tolist(),
                   "runs": [{"method": m, "problem": pid, "hits": h, "seconds": sec,
                             "evaluations": n, "error": err}
                            for m, pid, h, sec, n, err in runs]}, fh)
    os.replace(tmp, path)


def _load(paths: list[str], suite: str, budget: int, save: str | None) -> list[Run]:
    """The runs in files written by ``--save``, checked against this run's suite and budget.
    The file that this run saves to may be missing: then there is nothing to resume yet."""
    import json

    out: list[Run] = []
    for path in paths:
        try:
            with open(path) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            if save is not None and os.path.abspath(path) == os.path.abspath(save):
                continue
            raise ValueError(f"--load: no file {path!r}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"--load: {path!r} is not JSON written by --save ({exc})") from None
        if not isinstance(data, dict) or "runs" not in data:
            raise ValueError(f"--load: {path!r} is not JSON written by --save (no 'runs')")
        if data.get("suite") != suite or data.get("budget_per_d") != budget:
            raise ValueError(f"--load: {path!r} holds suite {data.get('suite')!r} with budget "
                             f"{data.get('budget_per_d')} d; this run is suite {suite!r} with "
                             f"budget {budget} d")
        if len(data.get("targets", [])) != TARGETS.size:
            raise ValueError(f"--load: {path!r} has {len(data.get('targets', []))} targets, "
                             f"expected {TARGETS.size}")
        for k, r in enumerate(data["runs"]):
            try:
                out.append((str(r["method"]), str(r["problem"]), [int(h) for h in r["hits"]],
                            float(r["seconds"]), int(r["evaluations"]),
                            str(r.get("error", ""))))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"--load: run {k} of {path!r} is not a run written by --save "
                                 f"({type(exc).__name__}: {exc})") from None
            if len(out[-1][2]) != TARGETS.size:
                raise ValueError(f"--load: run {k} of {path!r} has {len(out[-1][2])} target "
                                 f"hits, expected {TARGETS.size}")
    return out


def _one_blas_thread() -> Any:
    """threadpoolctl's limit of the BLAS and OpenMP pools to one thread, where it is
    installed (scikit-learn, in the bench extra, brings it); else nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _run_all(jobs: list[tuple[str, str, str, int]], n_jobs: int, before: list[Run],
             keep: Any = None) -> list[Run]:
    """Run the jobs; ``keep(before + finished)`` is called as each run finishes."""
    if n_jobs <= 1 or not jobs:
        out = []
        # one BLAS thread, as in the worker processes (OMP_NUM_THREADS=1 there), so that
        # the seconds of a run do not depend on --jobs
        with _one_blas_thread():
            for j in jobs:
                out.append(run_one(j))
                if keep is not None:
                    keep(before + out)
        return out
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # fresh interpreters: no inherited thread pools
    env_before = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    try:
        with ctx.Pool(n_jobs) as pool:
            # the longest runs (many dimensions) first, so the pool ends together
            order = sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i]))
            out = []
            step = max(1, len(jobs) // 20)
            for res in pool.imap(run_one, [jobs[i] for i in order], chunksize=1):
                out.append(res)
                if keep is not None:
                    keep(before + out)
                if len(out) % step == 0 or len(out) == len(jobs):  # progress, on stderr
                    print(f"  {len(out)}/{len(jobs)} runs done (last: {res[0]})",
                          file=sys.stderr, flush=True)
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def _cost(job: tuple[str, str, str, int]) -> float:
    d = int(job[2].rsplit("_d", 1)[1])
    return d * d * (4 if "NGOpt" in job[0] else 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
