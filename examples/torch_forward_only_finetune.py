"""Fine-tune an MLP on digits with forward passes only (zoopt.torch.ZOOptimizer).

An MLP (64 -> 128 -> 128 -> 10) is first trained by backprop on the digits 0-4
only, then fine-tuned on all ten digits: once with ZOOptimizer (central
differences along directions regenerated from the stream, parameters
perturbed in place and restored bit for bit: no gradient, no activation
memory for a backward pass), once with its low-rank LOZO form
(perturbation="lowrank": each weight matrix moves along a rank-2 matrix whose
right factor stays for 50 steps) and once with backprop Adam, from the same
start, for the same number of mini-batch steps.  The table gives test
accuracy, loss evaluations (forward passes; backprop adds one backward pass to
each) and time: forward-only training needs many more evaluations, and pays
them back in memory (no gradients, no stored activations).

Run:  python examples/torch_forward_only_finetune.py [--steps N] [--quick]
Needs PyTorch and scikit-learn.
"""

from __future__ import annotations

import argparse
import time

# zoopt first: its default OMP_WAIT_POLICY=PASSIVE then reaches torch's OpenMP pool too
import zoopt  # noqa: F401  # isort: skip
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from zoopt.torch import ZOOptimizer


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10))


def accuracy(model, X, y):
    with torch.no_grad():
        return (model(X).argmax(1) == y).float().mean().item()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--quick", action="store_true", help="100 steps (for tests)")
    args = p.parse_args(argv)
    steps = 100 if args.quick else args.steps
    digits = load_digits()
    X, Xt, y, yt = train_test_split(digits.data / 16.0, digits.target, test_size=0.3,
                                    random_state=0, stratify=digits.target)
    X, Xt = torch.tensor(X, dtype=torch.float32), torch.tensor(Xt, dtype=torch.float32)
    y, yt = torch.tensor(y), torch.tensor(yt)
    ce = torch.nn.functional.cross_entropy

    # the starting point: backprop on the digits 0-4 only
    model = make_model()
    half = y < 5
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        ce(model(X[half]), y[half]).backward()
        opt.step()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    print(f"MLP 64-128-128-10 ({sum(p.numel() for p in model.parameters())} parameters), "
          f"pretrained on digits 0-4, fine-tuned on 0-9 ({len(X)} training images)")
    rows = [("start (pretrained on 0-4)", accuracy(model, Xt, yt), 0, 0.0)]

    gen = np.random.default_rng(0)
    model.load_state_dict(start)
    zo = ZOOptimizer(model.parameters(), lr=1e-2, sigma=1e-2, n_dirs=8, rule="adam", rng=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.from_numpy(gen.choice(len(X), 256, replace=False))
        zo.step(lambda idx=idx: ce(model(X[idx]), y[idx]))
    rows.append((f"ZOOptimizer, {steps} steps (forward only)", accuracy(model, Xt, yt),
                 steps * 2 * zo.n_dirs, time.perf_counter() - t0))

    # the LOZO form: the weight matrices move along rank-2 matrices whose right factors
    # stay for 50 steps (the same mini-batches as above)
    gen_lozo = np.random.default_rng(0)
    model.load_state_dict(start)
    zo = ZOOptimizer(model.parameters(), lr=1e-2, sigma=1e-2, n_dirs=8, rule="adam", rng=0,
                     perturbation="lowrank", rank=2, lazy=50)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.from_numpy(gen_lozo.choice(len(X), 256, replace=False))
        zo.step(lambda idx=idx: ce(model(X[idx]), y[idx]))
    rows.append((f"ZOOptimizer lowrank (LOZO), {steps} steps", accuracy(model, Xt, yt),
                 steps * 2 * zo.n_dirs, time.perf_counter() - t0))

    model.load_state_dict(start)
    bp = torch.optim.Adam(model.parameters(), lr=2e-3)
    bp_steps = steps  # the same number of mini-batch steps, with gradients
    t0 = time.perf_counter()
    for _ in range(bp_steps):
        idx = torch.from_numpy(gen.choice(len(X), 256, replace=False))
        bp.zero_grad()
        ce(model(X[idx]), y[idx]).backward()
        bp.step()
    rows.append((f"backprop Adam, {bp_steps} steps", accuracy(model, Xt, yt), bp_steps,
                 time.perf_counter() - t0))
    print(f"{'method':>40}  {'test acc':>8}  {'loss evals':>10}  {'seconds':>7}")
    for name, acc, evals, sec in rows:
        print(f"{name:>40}  {acc:8.3f}  {evals:10d}  {sec:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
