"""Benchmark on a GPU (BENCHMARKS.md, task "gpu").

One central-difference gradient estimate of the sphere at d = 1e8, n_dirs = 1024,
float32, on the device, against:

* the bandwidth floor: the bytes the estimate must move (per direction: read x,
  write the two probes, the objective reads them; then the weighted sum writes the
  float64 accumulator), at the device-to-device copy bandwidth measured in the
  same run;
* a hand-written CuPy estimator that materializes its directions in chunks
  (``cupy.random`` normals, probes, values, ``w @ U``);
* PyTorch (``torch.randn`` in chunks and the same estimate), when it sees a GPU.

On a machine without a device it says so and exits 0.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from zoopt._bench import table

SIGMA = 1e-3


def _device() -> tuple[Any, str] | None:
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return cupy, name
    except Exception:  # no CuPy, no driver, no device
        return None


def _timed(cp: Any, fn: Any, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        cp.cuda.Device().synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth(cp: Any, nbytes: int = 1 << 30) -> float:
    """Device-to-device copy bandwidth in bytes/s, counting bytes read and written."""
    a = cp.ones(nbytes // 4, dtype=cp.float32)
    b = cp.empty_like(a)
    t = _timed(cp, lambda: cp.copyto(b, a), repeats=5)
    return 2 * nbytes / t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt bench gpu", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--d", type=float, default=1e8, help="dimension (default 1e8)")
    p.add_argument("--n-dirs", type=int, default=1024, help="directions (default 1024)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs, median (default 3)")
    p.add_argument("--chunk", type=int, default=8,
                   help="directions per chunk of the materialized references (default 8)")
    args = p.parse_args(argv)
    dev = _device()
    if dev is None:
        print("zoopt bench gpu: no CUDA device (or no CuPy) on this machine; nothing to "
              "measure.")
        return 0
    cp, name = dev
    import numpy as np

    import zoopt

    d, n = int(args.d), args.n_dirs
    print(f"zoopt {zoopt.__version__}: bench gpu on {name} -- one central estimate, sphere, "
          f"d={d:.3g}, n_dirs={n}, float32; median of {args.repeats} after a warm-up")
    bw = copy_bandwidth(cp)
    x = cp.linspace(-1, 1, d, dtype=cp.float32)

    def sphere(X: Any) -> Any:
        return (X * X).sum(axis=1)

    steps = iter(range(1 << 30))
    t_zoopt = _timed(cp, lambda: zoopt.grad(sphere, x, n_dirs=n, sigma=SIGMA, rng=0,
                                            step=next(steps)), args.repeats)
    # bytes moved: per direction x read once, two probes written and read by the objective;
    # then the weighted sum writes (and reads) the float64 accumulator once
    nbytes = n * (4 * d + 2 * (2 * 4 * d)) + 2 * 8 * d
    t_floor = nbytes / bw

    gen = cp.random.default_rng(0)

    def materialized() -> Any:
        g = cp.zeros(d, dtype=cp.float32)
        for i0 in range(0, n, args.chunk):
            m = min(args.chunk, n - i0)
            U = gen.standard_normal((m, d), dtype=cp.float32)
            s = cp.float32(SIGMA)
            w = (sphere(x + s * U) - sphere(x - s * U)) / cp.float32(2 * SIGMA * n)
            g += w @ U
        return g

    t_mat = _timed(cp, materialized, args.repeats)
    rows = [["zoopt.grad (directions regenerated)", f"{t_zoopt * 1e3:.0f}",
             f"{t_zoopt / t_floor:.2f}x", "1x"],
            [f"CuPy, directions materialized ({args.chunk} per chunk)", f"{t_mat * 1e3:.0f}",
             f"{t_mat / t_floor:.2f}x", f"{t_mat / t_zoopt:.2f}x slower"]]
    try:
        import torch

        if torch.cuda.is_available():
            xt = torch.as_tensor(x, device="cuda")
            tg = torch.Generator(device="cuda").manual_seed(0)

            def torch_estimate() -> Any:
                g = torch.zeros(d, device="cuda")
                for i0 in range(0, n, args.chunk):
                    m = min(args.chunk, n - i0)
                    U = torch.randn((m, d), device="cuda", generator=tg)
                    w = (((xt + SIGMA * U) ** 2).sum(1) - ((xt - SIGMA * U) ** 2).sum(1)) / (
                        2 * SIGMA * n)
                    g += w @ U
                return g

            t_torch = _timed(cp, torch_estimate, args.repeats)
            rows.append([f"PyTorch randn ({args.chunk} per chunk)", f"{t_torch * 1e3:.0f}",
                         f"{t_torch / t_floor:.2f}x", f"{t_torch / t_zoopt:.2f}x slower"])
        else:
            print("PyTorch sees no CUDA device: its row is skipped.")
    except ImportError:
        print("PyTorch not installed: its row is skipped.")
    print(f"copy bandwidth (read + write): {bw / 1e12:.2f} TB/s; bytes the estimate must move: "
          f"{nbytes / 1e12:.2f} TB; floor {t_floor * 1e3:.0f} ms")
    print(table(rows, ["estimate", "ms", "vs floor", "vs zoopt"]))
    g = zoopt.grad(sphere, x, n_dirs=n, sigma=SIGMA, rng=0)
    cos = float((g @ (2 * x)) / (cp.linalg.norm(g) * cp.linalg.norm(2 * x)))
    print(f"check: cosine(estimate, true gradient) = {cos:.4f} "
          f"(expected about sqrt(n/d) = {np.sqrt(n / d):.4f})")
    print("ZOOptimizer on CUDA tensors: not measured (the torch bridge does not take CUDA "
          "tensors yet).")
    return 0
