"""Command line: ``python -m zoopt {demo,info,bench}``.

Exit codes: 0 success, 1 a task failed, 2 bad command line.
"""

from __future__ import annotations

import argparse
import os
import sys


def _info(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="python -m zoopt info",
                            description="Version, compiled kernels, threads, GPU.").parse_args(argv)
    import importlib.util
    import platform

    import numpy as np

    import zoopt
    from zoopt._cy import streams

    print(f"zoopt (zoopt-pg) {zoopt.__version__}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    from zoopt import _cy

    names = ", ".join(f"zoopt._cy.{m}" for m in _cy.__all__)
    print(f"compiled kernels: {names} (in {os.path.dirname(streams.__file__)})")
    print(f"OpenMP: {'yes' if streams.has_openmp() else 'no'}; threads: {zoopt.get_num_threads()}")
    gpu = "CuPy not installed"
    if importlib.util.find_spec("cupy") is not None:
        try:
            import cupy

            gpu = (f"CuPy {cupy.__version__}, device available: {cupy.is_available()}; "
                   "zoopt's GPU kernels are not part of this build")
        except Exception as exc:  # a broken CUDA install should not break `info`
            gpu = f"CuPy present but failed to import ({type(exc).__name__})"
    print(f"GPU: {gpu}")
    optional = ["scipy", "sklearn", "matplotlib", "sacrebleu", "torch", "jax", "dask", "evosax",
                "evotorch", "cma", "nevergrad"]
    have = [m for m in optional if importlib.util.find_spec(m) is not None]
    print(f"optional libraries present: {', '.join(have) if have else 'none'}")
    return 0


def _bench(argv: list[str]) -> int:
    from zoopt._bench import TASKS, run_task

    if argv and argv[0] in TASKS:  # the task parses its own options (and --help)
        return run_task(argv[0], argv[1:])
    p = argparse.ArgumentParser(prog="python -m zoopt bench",
                                description="Benchmark tasks of BENCHMARKS.md; each prints "
                                            "ratios against its reference. "
                                            "`python -m zoopt bench TASK --help` for a task's "
                                            "options.")
    p.add_argument("task", nargs="?", choices=sorted(TASKS), default=None,
                   help="task to run (default: all, in turn)")
    args = p.parse_args(argv)
    status = 0
    for t in [args.task] if args.task else sorted(TASKS):
        status |= run_task(t, [])
    return status


def _demo(argv: list[str]) -> int:
    from zoopt._demo import main as demo_main

    return demo_main(argv)


COMMANDS = {"demo": _demo, "info": _info, "bench": _bench}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m zoopt",
                                description="zoopt: gradients of what has no gradient.")
    p.add_argument("command", choices=sorted(COMMANDS), help="demo, info or bench")
    if not argv or argv[0] in ("-h", "--help"):
        p.print_help()
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        p.parse_args(argv[:1])  # prints the usage error and exits with 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
