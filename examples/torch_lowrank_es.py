"""Train an MLP on digits with a low-rank evolution strategy (zoopt.torch.LowRankPopulation).

Each step evaluates a whole population of perturbed copies of the model in one
batched forward: member i perturbs every weight matrix W by sigma A_i B_i^T /
sqrt(r) (A_i, B_i regenerated from zoopt's counter stream, never an m x n matrix
per member) and the biases by normal vectors.  The members' losses, shaped into
centered ranks, give the ES gradient, written into .grad, and a torch optimizer
(Adam here) applies it.  No backward pass and no gradient of the loss: the loss
could be accuracy, a simulator or any black box.

The table compares ranks 1 and 4 with backprop Adam on the same network, from
the same initial weights, for the same number of steps (backprop needs one
forward and one backward per step, the population 2 x q forwards of one batch
each, run as one call).

Run:  python examples/torch_lowrank_es.py [--steps N] [--popsize P] [--quick]
Needs PyTorch and scikit-learn.
"""

from __future__ import annotations

import argparse
import time

# zoopt first: its default OMP_WAIT_POLICY=PASSIVE then reaches torch's OpenMP pool too
import zoopt  # noqa: F401  # isort: skip
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from zoopt.torch import LowRankPopulation


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(),
                               torch.nn.Linear(64, 10))


def accuracy(model, X, y):
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).float().mean())


def train_es(rank, Xtr, ytr, steps, popsize, batch, seed):
    model = make_model()
    pop = LowRankPopulation(model, popsize=popsize, sigma=0.05, rank=rank, rng=seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    gen = np.random.default_rng(seed)
    for _ in range(steps):
        idx = torch.from_numpy(gen.choice(len(Xtr), size=batch, replace=False))
        xb, yb = Xtr[idx], ytr[idx]
        with torch.no_grad():
            out = pop.forward(xb)                                   # (popsize, batch, 10)
            losses = F.cross_entropy(out.reshape(-1, 10), yb.repeat(popsize),
                                     reduction="none").reshape(popsize, batch).mean(dim=1)
            pop.backward(losses)                                    # ES gradient -> .grad
        opt.step()
    return model


def train_backprop(Xtr, ytr, steps, batch, seed):
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = np.random.default_rng(seed)
    for _ in range(steps):
        idx = torch.from_numpy(gen.choice(len(Xtr), size=batch, replace=False))
        opt.zero_grad()
        F.cross_entropy(model(Xtr[idx]), ytr[idx]).backward()
        opt.step()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--popsize", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="60 steps, population 16")
    args = ap.parse_args()
    steps, popsize = (60, 16) if args.quick else (args.steps, args.popsize)
    batch = 64

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=0,
                                          stratify=y)
    Xtr, Xte = (torch.tensor(a, dtype=torch.float32) for a in (Xtr, Xte))
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    n_params = sum(p.numel() for p in make_model().parameters())
    print(f"digits: {len(Xtr)} train / {len(Xte)} test, MLP 64-64-10 ({n_params:,} "
          f"parameters), {steps} steps of batch {batch}")
    rows = []
    for rank in (1, 4):
        t0 = time.perf_counter()
        model = train_es(rank, Xtr, ytr, steps, popsize, batch, args.seed)
        rows.append((f"LowRankPopulation, rank {rank}, popsize {popsize}",
                     accuracy(model, Xte, yte), steps * popsize, time.perf_counter() - t0))
    t0 = time.perf_counter()
    model = train_backprop(Xtr, ytr, steps, batch, args.seed)
    rows.append(("backprop Adam (reference)", accuracy(model, Xte, yte), steps,
                 time.perf_counter() - t0))
    w = max(len(r[0]) for r in rows)
    print(f"{'method':<{w}}  test acc  forwards of one batch  seconds")
    print(f"{'-' * w}  --------  ---------------------  -------")
    for name, acc, evals, sec in rows:
        print(f"{name:<{w}}  {acc:8.3f}  {evals:>21,}  {sec:7.1f}")
    raise SystemExit(0)


if __name__ == "__main__":
    main()
