"""Benchmark ``torch``: forward-only training steps (BENCHMARKS.md).

A 12.6-million-parameter MLP (1024 -> 4096 -> 2048 -> 10, float32, batch 64),
one central-difference direction per step: ``zoopt.torch.ZOOptimizer``
against a hand-written MeZO loop (Malladi et al. 2023, Algorithm 1: reseed,
perturb each tensor with ``torch.normal``, ``+s``, ``-2s``, ``+s``, then the
update from the regenerated noise).  Each variant runs in a fresh process:
median step time over the timed steps, and the peak resident memory during
the steps above the memory after the model, the data and one forward pass.
The MeZO loop does not give the parameters back exactly; the line says by how
much they drift.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from zoopt._bench import rss_mib, table


def _worker(kind: str, steps: int, hidden: int) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1024, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, hidden // 2), torch.nn.ReLU(),
                                torch.nn.Linear(hidden // 2, 10))
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    X = torch.randn(64, 1024)
    y = torch.arange(64) % 10

    def loss() -> Any:
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(X), y)

    # both variants pay for the imports before the baseline (a torch optimizer's first
    # construction imports some 800 modules)
    import zoopt.torch  # noqa: F401

    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)

    loss()
    base = rss_mib("VmRSS")
    sigma, lr = 1e-3, 1e-4
    if kind == "zoopt":
        from zoopt.torch import ZOOptimizer

        opt = ZOOptimizer(params, lr=lr, sigma=sigma, n_dirs=1, rng=0)

        def step() -> None:
            opt.step(loss)
    else:
        gen = np.random.default_rng(0)

        def perturb(seed: int, scale: float) -> None:
            g = torch.Generator().manual_seed(seed)
            for p in params:
                z = torch.normal(0.0, 1.0, size=p.shape, generator=g)
                p.data.add_(z, alpha=scale)

        def step() -> None:
            seed = int(gen.integers(2**62))
            perturb(seed, sigma)
            lp = float(loss())
            perturb(seed, -2 * sigma)
            lm = float(loss())
            perturb(seed, sigma)
            perturb(seed, -lr * (lp - lm) / (2 * sigma))

        if kind == "drift":
            return {"drift": _mezo_drift(perturb, params, sigma)}
    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    out = {"ms": 1e3 * float(np.median(times)), "peak_extra": rss_mib("VmHWM") - base,
           "params_mib": n_params * 4 / 2**20, "n_params": n_params}
    if kind == "zoopt":
        out["exceptions"] = opt.exception_fraction
    return out


def _mezo_drift(perturb: Any, params: list[Any], sigma: float) -> float:
    """Fraction of parameter values that +s, -2s, +s does not give back (measured on a
    copy of the model's state, in a child process of its own)."""
    import torch

    saved = [p.detach().clone() for p in params]
    perturb(12345, sigma)
    perturb(12345, -2 * sigma)
    perturb(12345, sigma)
    changed = sum(int((p.detach() != s).sum()) for p, s in zip(params, saved, strict=True))
    with torch.no_grad():
        for p, s in zip(params, saved, strict=True):
            p.copy_(s)
    return changed / sum(p.numel() for p in params)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt bench torch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a 0.8-million-parameter model")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--worker", choices=["zoopt", "mezo", "drift"], help=argparse.SUPPRESS)
    p.add_argument("--hidden", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    hidden = args.hidden or (512 if args.quick else 4096)
    steps = args.steps or (3 if args.quick else 10)
    if args.worker:
        print(json.dumps(_worker(args.worker, steps, hidden)))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("bench torch: PyTorch is not installed (pip install torch)")
        return 1
    import zoopt

    res = {}
    for kind in ("zoopt", "mezo", "drift"):
        cmd = [sys.executable, "-m", "zoopt", "bench", "torch", "--worker", kind,
               "--hidden", str(hidden), "--steps", str(steps)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    z, m = res["zoopt"], res["mezo"]
    print(f"zoopt {zoopt.__version__}: bench torch -- MLP of {z['n_params'] / 1e6:.1f} M "
          f"parameters ({z['params_mib']:.0f} MiB float32), batch 64, 1 direction per step, "
          f"median of {steps} steps, fresh process each")
    rows = [
        ["zoopt ZOOptimizer", f"{z['ms']:.1f}", f"{m['ms'] / z['ms']:.2f}x",
         f"{z['peak_extra']:.0f}", f"exact (kept {100 * z['exceptions']:.1f}% of values)"],
        ["MeZO loop (torch.normal)", f"{m['ms']:.1f}", "1x", f"{m['peak_extra']:.0f}",
         f"{100 * res['drift']['drift']:.1f}% of values changed"],
    ]
    print(table(rows, ["optimizer", "ms/step", "speed vs MeZO", "peak extra MiB",
                       "parameters after +s -2s +s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
