"""Train a torch model through a hard (rounding) layer with zoopt.torch.zo_function.

The model is digits -> Linear(64, 32) -> quantize -> Linear(32, 10), where
quantize rounds each activation to an integer in [-2, 2]: a 2-bit-ish
bottleneck whose derivative is zero almost everywhere, so plain backprop
never moves the first layer.  Three ways to train it with Adam:

* zeroth order: ``zo_function(quantize)`` -- the backward pass is the
  estimate of the gradient of the Gaussian-smoothed layer, per example (the
  32 activations of a row are perturbed together, rows independently);
* straight-through: the backward pass pretends the layer is the identity
  (Bengio et al. 2013), a biased but popular surrogate;
* plain backprop: the true (zero) gradient through the layer, so only the
  last layer learns.

Run:  python examples/torch_nondifferentiable_layer.py [--epochs N] [--quick]
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

from zoopt.torch import zo_function


def quantize(z: torch.Tensor) -> torch.Tensor:
    return torch.round(torch.clamp(z, -2.0, 2.0))


class StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        return quantize(z)

    @staticmethod
    def backward(ctx, g):
        return g


def train(layer, X, y, Xt, yt, *, epochs, seed):
    torch.manual_seed(seed)
    first = torch.nn.Linear(64, 32)
    last = torch.nn.Linear(32, 10)
    opt = torch.optim.Adam([*first.parameters(), *last.parameters()], lr=0.01)
    gen = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for idx in np.array_split(gen.permutation(len(X)), max(1, len(X) // 64)):
            opt.zero_grad()
            logits = last(layer(first(X[idx]) * 2.0))
            torch.nn.functional.cross_entropy(logits, y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = (last(quantize(first(Xt) * 2.0)).argmax(1) == yt).float().mean().item()
        train_acc = (last(quantize(first(X) * 2.0)).argmax(1) == y).float().mean().item()
    return train_acc, acc, seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="3 epochs (for tests)")
    args = p.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    digits = load_digits()
    X, Xt, y, yt = train_test_split(digits.data / 16.0, digits.target, test_size=0.3,
                                    random_state=0, stratify=digits.target)
    X, Xt = torch.tensor(X, dtype=torch.float32), torch.tensor(Xt, dtype=torch.float32)
    y, yt = torch.tensor(y), torch.tensor(yt)
    zo = zo_function(quantize, sigma=0.5, n_dirs=16, rng=0)
    rows = [
        ("zoopt zo_function (n_dirs=16)", zo),
        ("straight-through estimator", StraightThrough.apply),
        ("plain backprop (zero gradient)", quantize),
    ]
    print(f"digits, Linear(64,32) -> round to [-2, 2] -> Linear(32,10), Adam, {epochs} epochs")
    print(f"{'method':>32}  {'train acc':>9}  {'test acc':>8}  {'seconds':>7}")
    for name, layer in rows:
        tr, te, sec = train(layer, X, y, Xt, yt, epochs=epochs, seed=0)
        print(f"{name:>32}  {tr:9.3f}  {te:8.3f}  {sec:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
