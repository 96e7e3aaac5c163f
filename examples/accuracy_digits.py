"""Train a small neural network on digits by minimizing -accuracy, with no backprop.

What: a one-hidden-layer network (64 inputs, 32 tanh units, 10 outputs:
2,410 parameters) written in NumPy, trained on scikit-learn's digits (1,797
8x8 images; 70% train, 30% test) to maximize 10-class accuracy itself, in
parameter space:

* ``zoopt.minimize(method="es")`` (OpenAI-ES: mirrored samples, centered
  ranks, Adam), with its default step sizes and a population of 64;
* ``zoopt.minimize(method="zo-adam")`` (Adam on central-difference gradient
  estimates, 32 directions per step, sigma 0.1 and lr 0.02).

Both get the same budget of evaluations.  Each evaluation is the training
accuracy of one parameter vector, and a whole population is scored in one
vectorized forward pass (batched matmuls over a (P, d) array of parameter
vectors, then one batched ``metrics.accuracy`` call).

Why: accuracy is a count of argmax hits -- its gradient is zero almost
everywhere -- so backprop needs a surrogate (cross-entropy).  The baselines
are the same architecture trained that way by scikit-learn's MLPClassifier
(backprop, Adam) and a LogisticRegression.  Expect them to win: a gradient
carries far more information per evaluation than a finite difference.

How to run:  python examples/accuracy_digits.py [--evals N] [--png PATH] [--quick]
Needs scikit-learn; matplotlib for the PNG of test accuracy against evaluations.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import zoopt
from zoopt import metrics

N_IN, N_HID, N_OUT = 64, 32, 10
SIZES = [N_IN * N_HID, N_HID, N_HID * N_OUT, N_OUT]  # W1, b1, W2, b2
DIM = sum(SIZES)


def forward(X, theta):
    """Predicted labels (P, N) of the P parameter vectors in theta (P, DIM)."""
    theta = np.atleast_2d(theta)
    P = theta.shape[0]
    W1, b1, W2, b2 = np.split(theta, np.cumsum(SIZES)[:-1], axis=1)
    h = np.tanh(np.matmul(X, W1.reshape(P, N_IN, N_HID)) + b1[:, None, :])  # (P, N, H)
    return (np.matmul(h, W2.reshape(P, N_HID, N_OUT)) + b2[:, None, :]).argmax(axis=2)


def accuracy(y, theta, X):
    return np.asarray(metrics.accuracy(y, forward(X, theta)), dtype=np.float64)


def init(seed):
    """Glorot-scaled random weights, zero biases (float32, like the data)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.standard_normal(SIZES[0]) / np.sqrt(N_IN), np.zeros(N_HID),
                           rng.standard_normal(SIZES[2]) / np.sqrt(N_HID),
                           np.zeros(N_OUT)]).astype(np.float32)


def train_zoopt(method, kw, Xtr, ytr, Xte, yte, *, evals, seed):
    curve = ([], [])

    def objective(theta):  # (P, DIM) -> (P,): minus the training accuracy
        return -accuracy(ytr, theta, Xtr)

    def record(intermediate_result):
        curve[0].append(intermediate_result.nfev)
        curve[1].append(float(accuracy(yte, intermediate_result.x_mean, Xte)[0]))

    t0 = time.perf_counter()
    res = zoopt.minimize(objective, init(seed), method=method, maxfev=evals, rng=seed,
                         callback=record, **kw)
    secs = time.perf_counter() - t0
    theta = res.x_mean
    return (float(accuracy(ytr, theta, Xtr)[0]), float(accuracy(yte, theta, Xte)[0]),
            res.nfev, secs, curve)


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
    learning_curves(curves, ax=ax, title=f"digits, 64-{N_HID}-10 tanh network (d={DIM})",
                    xlabel="accuracy evaluations of the training set", ylabel="test accuracy")
    for (name, value), style in zip(baselines.items(), ["--", ":"], strict=False):
        ax.axhline(value, color="gray", linestyle=style, linewidth=1, label=name)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"learning curves: {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evals", type=int, default=20_000,
                    help="evaluations for each zoopt method (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default=os.path.join(tempfile.gettempdir(),
                                                  "zoopt-accuracy-digits.png"),
                    help="where to write the learning curves (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="a small budget (for tests)")
    args = ap.parse_args(argv)
    evals = 1000 if args.quick else args.evals
    mlp_epochs = 20 if args.quick else 500

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    print(f"digits: {len(ytr)} train / {len(yte)} test images; network 64-{N_HID}-10 "
          f"(tanh), {DIM} parameters")

    rows, curves, baselines = [], {}, {}
    for label, method, kw in [
            ("es", "es", {"options": {"popsize": 64}}),
            ("zo-adam", "zo-adam", {"sigma": 0.1, "lr": 0.02, "n_dirs": 32})]:
        tr, te, nfev, secs, curve = train_zoopt(method, kw, Xtr, ytr, Xte, yte, evals=evals,
                                                seed=args.seed)
        rows.append([f"zoopt {label}, -accuracy", f"{tr:.3f}", f"{te:.3f}", str(nfev),
                     f"{secs:.2f}"])
        curves[f"zoopt {label}"] = curve

    t0 = time.perf_counter()
    mlp = MLPClassifier(hidden_layer_sizes=(N_HID,), activation="tanh", max_iter=mlp_epochs,
                        random_state=args.seed)
    with warnings.catch_warnings():  # --quick stops it early on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Xtr, ytr)
    secs = time.perf_counter() - t0
    name = f"MLPClassifier, same network, backprop ({mlp.n_iter_} epochs)"
    rows.append([name, f"{mlp.score(Xtr, ytr):.3f}", f"{mlp.score(Xte, yte):.3f}", "-",
                 f"{secs:.2f}"])
    baselines["MLPClassifier (backprop)"] = mlp.score(Xte, yte)

    t0 = time.perf_counter()
    lr = LogisticRegression(max_iter=5000).fit(Xtr, ytr)
    rows.append(["LogisticRegression (linear)", f"{lr.score(Xtr, ytr):.3f}",
                 f"{lr.score(Xte, yte):.3f}", "-", f"{time.perf_counter() - t0:.2f}"])
    baselines["LogisticRegression"] = lr.score(Xte, yte)

    print(table(rows, ["method", "train acc", "test acc", "evaluations", "seconds"]))
    print(f"evaluations: training-set accuracy evaluations of one parameter vector (one "
          f"more per step at the mean), {evals * len(ytr) / 1e6:.1f}M forward passes of an "
          f"image; MLPClassifier made {mlp.n_iter_ * len(ytr) / 1e6:.2f}M forward and "
          f"backward passes of an image ({mlp.n_iter_} epochs)")
    plot(curves, baselines, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
