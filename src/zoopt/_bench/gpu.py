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

import numpy as np

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


def _timed(sync: Any, fn: Any, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth(xp: Any, sync: Any, nbytes: int = 1 << 30) -> float:
    """Copy bandwidth in bytes/s, counting bytes read and written."""
    a = xp.ones(nbytes // 4, dtype=np.float32)
    b = xp.empty_like(a)
    t = _timed(sync, lambda: xp.copyto(b, a), repeats=5)
    return 2 * nbytes / t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt bench gpu", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--d", type=float, default=1e8, help="dimension (default 1e8)")
    p.add_argument("--n-dirs", type=int, default=1024, help="directions (default 1024)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs, median (default 3)")
    p.add_argument("--params", type=float, default=1e9,
                   help="bf16 parameters of the ZOOptimizer comparison (default 1e9)")
    p.add_argument("--chunk", type=int, default=8,
                   help="directions per chunk of the materialized references (default 8)")
    args = p.parse_args(argv)
    dev = _device()
    if dev is None:
        print("zoopt bench gpu: no CUDA device (or no CuPy) on this machine; nothing to "
              "measure.")
        return 0
    cp, name = dev
    run(cp, lambda: cp.cuda.Device().synchronize(), "cuda", name, args)
    return 0


def run(cp: Any, sync: Any, torch_device: str, name: str, args: Any) -> None:
    """The whole task on array module ``cp`` (CuPy; NumPy in the tests' small smoke run)."""
    import zoopt

    d, n = int(args.d), args.n_dirs
    print(f"zoopt {zoopt.__version__}: bench gpu on {name} -- one central estimate, sphere, "
          f"d={d:.3g}, n_dirs={n}, float32; median of {args.repeats} after a warm-up")
    bw = copy_bandwidth(cp, sync, nbytes=min(1 << 30, 64 * d))
    x = cp.linspace(-1, 1, d, dtype=np.float32)

    def sphere(X: Any) -> Any:
        return (X * X).sum(axis=1)

    steps = iter(range(1 << 30))
    t_zoopt = _timed(sync, lambda: zoopt.grad(sphere, x, n_dirs=n, sigma=SIGMA, rng=0,
                                            step=next(steps)), args.repeats)
    # bytes moved: per direction x read once, two probes written and read by the objective;
    # then the weighted sum writes (and reads) the float64 accumulator once
    nbytes = n * (4 * d + 2 * (2 * 4 * d)) + 2 * 8 * d
    t_floor = nbytes / bw

    gen = cp.random.default_rng(0)

    def materialized() -> Any:
        g = cp.zeros(d, dtype=np.float32)
        for i0 in range(0, n, args.chunk):
            m = min(args.chunk, n - i0)
            U = gen.standard_normal((m, d), dtype=np.float32)
            s = np.float32(SIGMA)
            w = (sphere(x + s * U) - sphere(x - s * U)) / np.float32(2 * SIGMA * n)
            g += w @ U
        return g

    t_mat = _timed(sync, materialized, args.repeats)
    rows = [["zoopt.grad (directions regenerated)", f"{t_zoopt * 1e3:.0f}",
             f"{t_zoopt / t_floor:.2f}x", "1x"],
            [f"CuPy, directions materialized ({args.chunk} per chunk)", f"{t_mat * 1e3:.0f}",
             f"{t_mat / t_floor:.2f}x", f"{t_mat / t_zoopt:.2f}x slower"]]
    try:
        import torch

        if torch_device == "cpu" or torch.cuda.is_available():
            xt = torch.as_tensor(x, device=torch_device)
            tg = torch.Generator(device=torch_device).manual_seed(0)

            def torch_estimate() -> Any:
                g = torch.zeros(d, device=torch_device)
                for i0 in range(0, n, args.chunk):
                    m = min(args.chunk, n - i0)
                    U = torch.randn((m, d), device=torch_device, generator=tg)
                    w = (((xt + SIGMA * U) ** 2).sum(1) - ((xt - SIGMA * U) ** 2).sum(1)) / (
                        2 * SIGMA * n)
                    g += w @ U
                return g

            t_torch = _timed(sync, torch_estimate, args.repeats)
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
    _zooptimizer_vs_mezo(sync, torch_device, args)


def _zooptimizer_vs_mezo(sync: Any, device: str, args: Any) -> None:
    """ZOOptimizer.step on bf16 parameters against a MeZO loop (Malladi et al. 2023:
    seed, perturb, two forwards, restore and update by regenerating the noise)."""
    try:
        import torch
    except ImportError:
        print("ZOOptimizer: PyTorch not installed; skipped.")
        return
    if device == "cuda" and not torch.cuda.is_available():
        print("ZOOptimizer: PyTorch sees no CUDA device; skipped.")
        return
    from zoopt.torch import ZOOptimizer

    total = int(args.params)
    n_tensors = 8
    per = total // n_tensors
    gen = torch.Generator(device=device).manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(per, device=device, generator=gen,
                                             dtype=torch.bfloat16))
              for _ in range(n_tensors)]

    def closure() -> Any:  # a forward that reads every parameter once
        return sum(p.float().square().mean() for p in params)

    sigma, lr = 1e-3, 1e-6
    opt = ZOOptimizer(params, lr=lr, sigma=sigma, n_dirs=1, rng=0)
    before = [p.detach().clone() for p in params]
    opt.accumulate(closure)
    exact = all(torch.equal(a.view(torch.int16), p.detach().view(torch.int16))
                for a, p in zip(before, params, strict=True))
    opt._diffs = []
    del before

    def zoopt_step() -> None:
        opt.step(closure)

    def mezo_step() -> None:
        seed = 1234

        def perturb(scale: float) -> None:
            torch.manual_seed(seed)
            for p in params:
                z = torch.normal(0.0, 1.0, size=p.shape, device=p.device, dtype=p.dtype)
                p.data.add_(z, alpha=scale)

        with torch.no_grad():
            perturb(sigma)
            lp = float(closure())
            perturb(-2 * sigma)
            lm = float(closure())
            perturb(sigma)  # restore (not exact in bf16)
            g = (lp - lm) / (2 * sigma)
            perturb(-lr * g)

    t_zo = _timed(sync, zoopt_step, args.repeats)
    t_mezo = _timed(sync, mezo_step, args.repeats)
    print(f"\nZOOptimizer step on {total:.3g} bf16 parameters ({n_tensors} tensors), one "
          f"direction, two forwards; exact restore on the device: {exact}")
    print(table([["zoopt.torch.ZOOptimizer", f"{t_zo * 1e3:.0f}", "1x"],
                 ["MeZO loop (manual_seed + normal, 4 regenerations)", f"{t_mezo * 1e3:.0f}",
                  f"{t_mezo / t_zo:.2f}x slower"]], ["step", "ms", "vs zoopt"]))
