"""``python -m zoopt demo``: train a classifier by maximizing its metric directly.

On scikit-learn's digits (1,797 8x8 images, no download), a linear classifier
is trained to maximize two metrics that have no gradient -- F1 of the class
"9" against the rest (about 10% positives) and 10-class accuracy -- three
ways:

* parameter space: ``zoopt.minimize`` with ``method="es"`` (OpenAI-ES) on the
  weights, every population member scored in one batched, compiled
  ``metrics.f1_score`` / ``metrics.accuracy`` call;
* output space: ``zoopt.policy.categorical`` samples labels from
  softmax(X W + b) (compiled Gumbel-max), scores each sampled labeling with the
  metric, and the REINFORCE gradient of the expected metric is chained to
  (W, b) through the linear model and followed with Adam;
* scikit-learn's LogisticRegression, plain and ``class_weight="balanced"``,
  which minimize cross-entropy instead.

It prints a table of train/test metrics, evaluations and seconds, and writes a
PNG of the test metric against evaluations (with matplotlib installed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import numpy as np

import zoopt
from zoopt import metrics, policy
from zoopt._bench import table
from zoopt._threads import blas_threads


class _Adam:
    """Adam ascent on a list of arrays (Kingma and Ba 2015)."""

    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def ascend(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p += self.lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-8)


class _Task:
    """One metric on the digits split: scores of weight vectors and of predictions."""

    def __init__(self, name: str, X: np.ndarray, y: np.ndarray, Xt: np.ndarray,
                 yt: np.ndarray, binary: bool) -> None:
        self.name, self.binary = name, binary
        self.X, self.y, self.Xt, self.yt = X, y, Xt, yt
        self.C = 2 if binary else 10
        self.p = X.shape[1]

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of theta -> weights (P, p, C) and biases (P, C)."""
        P = theta.shape[0]
        W = theta[:, : self.p * self.C].reshape(P, self.p, self.C)
        return W, theta[:, self.p * self.C :]

    def predict(self, X: np.ndarray, theta: np.ndarray) -> np.ndarray:
        W, b = self.unpack(np.atleast_2d(theta))
        return (np.matmul(X, W) + b[:, None, :]).argmax(axis=2)  # (P, N): one BLAS call each

    def score(self, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        if self.binary:
            return np.asarray(metrics.f1_score(y, pred, zero_division=0.0))
        return np.asarray(metrics.accuracy(y, pred))

    def dim(self) -> int:
        return self.p * self.C + self.C


def _run_es(task: _Task, iters: int, seed: int, bar: Any) -> dict[str, Any]:
    curve_x, curve_y = [], []

    def f(theta: np.ndarray) -> np.ndarray:  # minimize minus the metric
        return -task.score(task.y, task.predict(task.X, theta))

    def record(intermediate_result: Any) -> None:  # scipy's callback convention
        res = intermediate_result
        curve_x.append(res.nfev)
        curve_y.append(float(task.score(task.yt, task.predict(task.Xt, res.x_mean))[0]))
        bar.update(1)

    t0 = time.perf_counter()
    res = zoopt.minimize(f, np.zeros(task.dim()), method="es", maxiter=iters, rng=seed,
                         sigma=0.1, lr=0.05, options={"popsize": 64}, callback=record)
    secs = time.perf_counter() - t0
    theta = res.x_mean
    return {"train": float(task.score(task.y, task.predict(task.X, theta))[0]),
            "test": curve_y[-1], "evals": res.nfev, "seconds": secs,
            "curve": (np.array(curve_x), np.array(curve_y))}


def _run_policy(task: _Task, steps: int, n_samples: int, seed: int, bar: Any) -> dict[str, Any]:
    N = task.X.shape[0]
    W, b = np.zeros((task.p, task.C)), np.zeros(task.C)
    opt = _Adam([W, b], lr=0.05)
    y = task.y
    if task.binary:
        def reward(Y: np.ndarray) -> np.ndarray:  # one F1 per sampled labeling
            return np.asarray(metrics.f1_score(y, Y, zero_division=0.0))
    else:
        def reward(Y: np.ndarray) -> np.ndarray:  # per-example hits: their mean is accuracy
            return (Y == y).astype(np.float64) / N
    curve_x, curve_y = [], []
    t0 = time.perf_counter()
    for t in range(steps):
        g = policy.categorical(task.X @ W + b, reward, n_samples=n_samples, rng=seed, step=t)
        gW, gb = policy.chain_linear(task.X, g, intercept=True)
        opt.ascend([gW, gb])
        theta = np.concatenate([W.ravel(), b])
        curve_x.append((t + 1) * n_samples)
        curve_y.append(float(task.score(task.yt, task.predict(task.Xt, theta))[0]))
        bar.update(1)
    secs = time.perf_counter() - t0
    theta = np.concatenate([W.ravel(), b])
    return {"train": float(task.score(task.y, task.predict(task.X, theta))[0]),
            "test": curve_y[-1], "evals": steps * n_samples, "seconds": secs,
            "curve": (np.array(curve_x), np.array(curve_y))}


def _run_sklearn(task: _Task, balanced: bool) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    clf = LogisticRegression(max_iter=5000, class_weight="balanced" if balanced else None)
    clf.fit(task.X, task.y)
    secs = time.perf_counter() - t0
    return {"train": float(task.score(task.y, clf.predict(task.X)[None])[0]),
            "test": float(task.score(task.yt, clf.predict(task.Xt)[None])[0]),
            "evals": None, "seconds": secs, "curve": None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--es-iters", type=int, default=300, help="ES iterations (default 300)")
    p.add_argument("--pg-steps", type=int, default=300,
                   help="policy-gradient steps (default 300)")
    p.add_argument("--samples", type=int, default=32, help="labelings per step (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default=os.path.join(tempfile.gettempdir(), "zoopt-demo.png"),
                   help="where to write the learning curves (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quick", action="store_true", help="a few iterations (for tests)")
    args = p.parse_args(argv)
    if min(args.es_iters, args.pg_steps, args.samples) < 2:
        p.error("--es-iters, --pg-steps and --samples must be at least 2")
    es_iters, pg_steps = (5, 5) if args.quick else (args.es_iters, args.pg_steps)
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("python -m zoopt demo needs scikit-learn (for its digits data set and the "
              "baseline): pip install scikit-learn (the demo extra also adds matplotlib: "
              "pip install \".[demo]\" in zoopt's source tree)")
        return 1
    from tqdm import tqdm

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    tasks = [_Task('F1 of class "9"', Xtr, (ytr == 9).astype(np.int64), Xte,
                   (yte == 9).astype(np.int64), binary=True),
             _Task("10-class accuracy", Xtr, ytr, Xte, yte, binary=False)]
    print(f"zoopt {zoopt.__version__} demo: digits, {len(ytr)} train / {len(yte)} test "
          f"images; a linear classifier trained on the metric itself")
    total = len(tasks) * (es_iters + pg_steps)
    rows, curves = [], {}
    # every product here is small (at most 65 x 1257 x 64 x 10): one BLAS thread is
    # faster than a pool whose spinning threads compete with zoopt's kernels
    with blas_threads(1), tqdm(total=total, desc="training", unit="it",
                               disable=args.no_progress, leave=False) as bar:
        for task in tasks:
            es = _run_es(task, es_iters, args.seed, bar)
            pg = _run_policy(task, pg_steps, args.samples, args.seed, bar)
            sk = _run_sklearn(task, balanced=False)
            skb = _run_sklearn(task, balanced=True)
            curves[task.name] = {f"es (parameter space, d={task.dim()})": es["curve"],
                                 "policy.categorical (output space)": pg["curve"]}
            for name, r in [(f"zoopt es, {es_iters} iterations", es),
                            (f"zoopt policy.categorical, {pg_steps} steps", pg),
                            ("LogisticRegression", sk),
                            ('LogisticRegression(class_weight="balanced")', skb)]:
                rows.append([task.name, name, f"{r['train']:.3f}", f"{r['test']:.3f}",
                             "-" if r["evals"] is None else str(r["evals"]),
                             f"{r['seconds']:.2f}"])
    print(table(rows, ["metric", "method", "train", "test", "evaluations", "seconds"]))
    print("evaluations: metric evaluations of the training set (ES: 64 population members "
          "and the mean per iteration; policy gradient: one per sampled labeling)")
    _plot(curves, tasks, args.png)
    return 0


def _plot(curves: dict[str, Any], tasks: list[_Task], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        print("learning curves: not drawn (matplotlib is not installed)")
        return
    from zoopt.plot import learning_curves

    fig, axes = plt.subplots(1, len(tasks), figsize=(11, 4))
    for ax, task in zip(np.atleast_1d(axes), tasks, strict=True):
        learning_curves(curves[task.name], ax=ax, title=task.name, xlabel="evaluations",
                        ylabel=f"test {'F1' if task.binary else 'accuracy'}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"learning curves: {path}")
