"""Command line: ``python -m zoopt {demo,info,bench}`` and ``python -m zoopt --version``.

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
    for line in _gpu_lines():
        print(line)
    optional = ["scipy", "sklearn", "matplotlib", "sacrebleu", "torch", "jax", "dask", "evosax",
                "evotorch", "cma", "nevergrad"]
    have = [m for m in optional if importlib.util.find_spec(m) is not None]
    print(f"optional libraries present: {', '.join(have) if have else 'none'}")
    return 0


def _gpu_lines() -> list[str]:
    """What `info` says of the GPU backend: CuPy, the device, NVRTC, each kernel source."""
    import importlib.util

    lines = []
    cc = None  # compute capability of device 0, when there is one
    if importlib.util.find_spec("cupy") is None:
        lines.append("GPU: CuPy not installed (pip install cupy-cuda13x nvidia-cuda-nvrtc, "
                     "the gpu extra); CuPy arrays are needed to compute on a GPU")
    else:
        try:
            import cupy

            n = cupy.cuda.runtime.getDeviceCount()
            props = cupy.cuda.runtime.getDeviceProperties(0)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            cc = int(cupy.cuda.Device(0).compute_capability)
            lines.append(f"GPU: CuPy {cupy.__version__}; {n} device(s), device 0: {name} "
                         f"(compute capability {cc})")
        except Exception as exc:  # no driver or no device: still report the rest
            lines.append(f"GPU: CuPy installed, no usable device ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:80] if str(exc) else ''})")
    from zoopt._gpu import _nvrtc

    try:
        lines.append(f"NVRTC: {'.'.join(map(str, _nvrtc.version()))} "
                     f"(archs {_nvrtc.supported_archs()[0]}-{_nvrtc.supported_archs()[-1]})")
    except _nvrtc.NVRTCError as exc:
        lines.append(f"NVRTC: not found ({str(exc).splitlines()[0][:100]})")
        return lines
    for src in sorted(_nvrtc.GPU_DIR.glob("*.cu")):
        try:
            if cc is not None:
                from zoopt._gpu._cupy import binary_path

                what = f"compiled for this device ({binary_path(src.stem, cc).name})"
            else:
                _nvrtc.compile_source(src.stem, "compute_80", output="ptx")
                what = "compiles (PTX for compute_80; no device to load it)"
        except Exception as exc:
            what = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
        lines.append(f"  kernels {src.name}: {what}")
    return lines


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
    p.add_argument("--version", action="store_true", help="print the version and exit")
    if argv == ["--version"]:
        from zoopt._version import __version__

        print(f"zoopt (zoopt-pg) {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        p.print_help()
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        p.parse_args(argv[:1])  # prints the usage error and exits with 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
