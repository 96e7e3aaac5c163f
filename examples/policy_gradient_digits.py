"""Train a linear softmax classifier on digits by maximizing accuracy directly.

Accuracy has no gradient (it is a count of argmax hits).  Its policy-gradient
surrogate does: sample labels from softmax(X W + b), reward each example 1 for
a hit and 0 for a miss, and follow the REINFORCE estimate of the gradient of
the expected accuracy (zoopt.policy.categorical, leave-one-out baseline).  The
logit gradient is chained to (W, b) through the linear model
(zoopt.policy.chain_linear) and followed with Adam.

Run:  python examples/policy_gradient_digits.py [--steps N] [--quick]
Needs scikit-learn (its digits data set ships with it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from zoopt import policy


class Adam:
    """Adam ascent on a list of arrays (Kingma and Ba 2015)."""

    def __init__(self, params, lr=0.05, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def ascend(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            mhat = m / (1 - self.b1**self.t)
            vhat = v / (1 - self.b2**self.t)
            p += self.lr * mhat / (np.sqrt(vhat) + self.eps)


def train_policy_gradient(X, y, *, steps, n_samples, seed):
    N, p = X.shape
    C = int(y.max()) + 1
    W, b = np.zeros((p, C)), np.zeros(C)
    opt = Adam([W, b], lr=0.05)

    def hits(Y):  # (S, N) sampled labels -> (S, N) rewards
        return (Y == y).astype(np.float64)

    for t in range(steps):
        logits = X @ W + b
        g_logits = policy.categorical(logits, hits, n_samples=n_samples, baseline="rloo",
                                      rng=seed, step=t)
        gW, gb = policy.chain_linear(X, g_logits / N, intercept=True)
        opt.ascend([gW, gb])
    return W, b


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--samples", type=int, default=16, help="labelings per step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a few steps (for tests)")
    args = ap.parse_args(argv)
    steps = 5 if args.quick else args.steps

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

    rows = []
    t0 = time.perf_counter()
    lr = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    rows.append(("LogisticRegression (cross-entropy)", lr.score(Xtr, ytr), lr.score(Xte, yte),
                 "-", time.perf_counter() - t0))

    t0 = time.perf_counter()
    W, b = train_policy_gradient(Xtr, ytr, steps=steps, n_samples=args.samples,
                                 seed=args.seed)
    secs = time.perf_counter() - t0
    acc_tr = float(((Xtr @ W + b).argmax(1) == ytr).mean())
    acc_te = float(((Xte @ W + b).argmax(1) == yte).mean())
    rows.append((f"zoopt policy.categorical, accuracy ({steps} steps)", acc_tr, acc_te,
                 f"{steps * args.samples}", secs))

    print(f"digits: {len(ytr)} train / {len(yte)} test examples, 64 features, 10 classes")
    print(f"{'method':<48} {'train acc':>9} {'test acc':>8} {'labelings':>9} {'seconds':>7}")
    for name, tr, te, ev, s in rows:
        print(f"{name:<48} {tr:>9.3f} {te:>8.3f} {ev:>9} {s:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
