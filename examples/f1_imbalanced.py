"""Maximize F1 directly on an imbalanced binary problem (about 5% positives).

What: a linear classifier on scikit-learn's ``make_classification`` (4,000
samples, 20 features, 5% positives, 1% of the labels drawn at random, half for
training and half for testing) trained to maximize the F1 score of the
positive class itself, two ways with zoopt:

* output space: ``zoopt.policy.categorical`` samples labelings from
  softmax(X W + b), scores each whole labeling by its F1 (one batched
  ``metrics.f1_score`` call for all samples), and the REINFORCE gradient of the
  expected F1 is chained to (W, b) with ``policy.chain_linear`` and followed
  with Adam;
* parameter space: ``zoopt.minimize(method="es")`` on -F1 of the same
  (W, b), every population member scored in one batched ``metrics.f1_score``
  call.

Why: F1 is not a sum over examples and has no gradient; the usual recipes
minimize cross-entropy and then fix the imbalance around it.  The baselines
are exactly those recipes: LogisticRegression, plain, with
``class_weight="balanced"``, and with its decision threshold tuned for F1 on
the training set (the strong, cheap baseline for this problem).

How to run:  python examples/f1_imbalanced.py [--steps N] [--png PATH] [--quick]
Needs scikit-learn; matplotlib for the PNG of test F1 against evaluations.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import zoopt
from zoopt import metrics, policy


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


def f1(y, pred):
    """F1 of the positive class for one prediction (N,) or a population (P, N)."""
    return np.asarray(metrics.f1_score(y, pred, zero_division=0.0))


def predict(X, theta):
    """Rows of theta = (W (p, 2) flattened, b (2,)) -> predicted labels (P, N)."""
    theta = np.atleast_2d(theta)
    P, p = theta.shape[0], X.shape[1]
    W = theta[:, : 2 * p].reshape(P, p, 2)
    b = theta[:, 2 * p :]
    return (np.matmul(X, W) + b[:, None, :]).argmax(axis=2)


def train_policy(X, y, Xte, yte, *, steps, n_samples, seed):
    """Output space: REINFORCE on whole-labeling F1, chained to a linear model."""
    p = X.shape[1]
    W, b = np.zeros((p, 2)), np.zeros(2)
    opt = Adam([W, b], lr=0.05)

    def reward(Y):  # (S, N) sampled labelings -> (S,) one F1 per labeling
        return f1(y, Y)

    curve = ([], [])
    for t in range(steps):
        g = policy.categorical(X @ W + b, reward, n_samples=n_samples, rng=seed, step=t)
        gW, gb = policy.chain_linear(X, g, intercept=True)
        opt.ascend([gW, gb])
        curve[0].append((t + 1) * n_samples)
        curve[1].append(float(f1(yte, (Xte @ W + b).argmax(axis=1))))
    return np.concatenate([W.ravel(), b]), steps * n_samples, curve


def train_es(X, y, Xte, yte, *, iters, popsize, seed):
    """Parameter space: OpenAI-ES on -F1, the population scored in one batched call."""
    curve = ([], [])

    def objective(theta):  # (P, d) -> (P,)
        return -f1(y, predict(X, theta))

    def record(intermediate_result):
        curve[0].append(intermediate_result.nfev)
        curve[1].append(float(f1(yte, predict(Xte, intermediate_result.x_mean))[0]))

    d = 2 * X.shape[1] + 2
    res = zoopt.minimize(objective, np.zeros(d), method="es", maxiter=iters, sigma=0.1,
                         lr=0.05, options={"popsize": popsize}, rng=seed, callback=record)
    return res.x_mean, res.nfev, curve


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def plot(curves, baselines, path):
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        print("learning curves: not drawn (matplotlib is not installed)")
        return
    from zoopt.plot import learning_curves

    fig, ax = plt.subplots(figsize=(7, 4.2))
    learning_curves(curves, ax=ax, title="F1 of the positive class (5% positives)",
                    xlabel="F1 evaluations of the training set", ylabel="test F1")
    for (name, value), style in zip(baselines.items(), [":", "--", "-."], strict=False):
        ax.axhline(value, color="gray", linestyle=style, linewidth=1, label=name)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"learning curves: {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300,
                    help="policy-gradient steps and ES iterations (default 300)")
    ap.add_argument("--samples", type=int, default=32,
                    help="labelings per policy-gradient step and ES population (default 32)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default=os.path.join(tempfile.gettempdir(),
                                                  "zoopt-f1-imbalanced.png"),
                    help="where to write the learning curves (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="a few steps (for tests)")
    args = ap.parse_args(argv)
    steps = 10 if args.quick else args.steps
    S = args.samples

    X, y = make_classification(n_samples=4000, n_features=20, n_informative=6,
                               n_redundant=4, weights=[0.95], flip_y=0.01, class_sep=1.2,
                               random_state=args.seed)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, random_state=args.seed,
                                          stratify=y)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    print(f"make_classification: {len(ytr)} train / {len(yte)} test samples, 20 features, "
          f"{ytr.mean():.1%} / {yte.mean():.1%} positives; linear classifiers")

    rows, curves, baselines = [], {}, {}

    def add(name, pred_tr, pred_te, evals, secs):
        rows.append([name, f"{float(f1(ytr, pred_tr)):.3f}", f"{float(f1(yte, pred_te)):.3f}",
                     evals, f"{secs:.2f}"])

    t0 = time.perf_counter()
    theta, evals, curve = train_policy(Xtr, ytr, Xte, yte, steps=steps, n_samples=S,
                                       seed=args.seed)
    add(f"zoopt policy.categorical, F1 ({steps} steps)", predict(Xtr, theta)[0],
        predict(Xte, theta)[0], str(evals), time.perf_counter() - t0)
    curves["policy.categorical (output space)"] = curve

    t0 = time.perf_counter()
    theta, evals, curve = train_es(Xtr, ytr, Xte, yte, iters=steps, popsize=S, seed=args.seed)
    add(f"zoopt es, -F1 ({steps} iterations)", predict(Xtr, theta)[0],
        predict(Xte, theta)[0], str(evals), time.perf_counter() - t0)
    curves["es (parameter space, d=42)"] = curve

    for name, cw in [("LogisticRegression", None),
                     ('LogisticRegression(class_weight="balanced")', "balanced")]:
        t0 = time.perf_counter()
        clf = LogisticRegression(class_weight=cw, max_iter=5000).fit(Xtr, ytr)
        add(name, clf.predict(Xtr), clf.predict(Xte), "-", time.perf_counter() - t0)
        baselines[name] = float(f1(yte, clf.predict(Xte)))

    t0 = time.perf_counter()
    clf = LogisticRegression(max_iter=5000).fit(Xtr, ytr)
    prec, rec, thr = precision_recall_curve(ytr, clf.predict_proba(Xtr)[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)[:-1]
    best = float(thr[int(np.argmax(scores))])
    name = f"LogisticRegression, threshold tuned on train ({best:.2f})"
    add(name, (clf.predict_proba(Xtr)[:, 1] >= best).astype(int),
        (clf.predict_proba(Xte)[:, 1] >= best).astype(int), "-", time.perf_counter() - t0)
    baselines["LogisticRegression, tuned threshold"] = float(
        f1(yte, (clf.predict_proba(Xte)[:, 1] >= best).astype(int)))

    print(table(rows, ["method", "train F1", "test F1", "evaluations", "seconds"]))
    print("F1 of the positive class; evaluations: F1 evaluations of the training set (ES: one "
          "per population member and one per step at the mean; policy gradient: one per "
          "sampled labeling); LogisticRegression minimizes cross-entropy (threshold: one sweep "
          "of the training precision-recall curve)")
    plot(curves, baselines, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
