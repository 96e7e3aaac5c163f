"""Benchmark ``policy``: categorical REINFORCE (BENCHMARKS.md, task "policy").

Logits N = 100,000 x C = 10, S = 64 sampled labelings, whole-batch accuracy
reward, leave-one-out baseline; against the NumPy estimator people write
(inverse-CDF sampling, one-hot score), timed in the same run.  The NumPy score
is also run on zoopt's own samples to show the numbers are the same.
"""

from __future__ import annotations

import argparse

import numpy as np

from zoopt._bench import median_time, table


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numpy_score(z: np.ndarray, Y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """One-hot score with the leave-one-out baseline, as written by hand."""
    S = len(r)
    C = z.shape[1]
    p = softmax(z.astype(np.float64))
    A = r - (r.sum() - r) / (S - 1)
    onehot = np.eye(C)[Y]  # (S, N, C)
    return np.einsum("s,snc->nc", A, onehot - p[None]) / S


def numpy_estimate(z: np.ndarray, y_true: np.ndarray, S: int,
                   gen: np.random.Generator) -> np.ndarray:
    p = softmax(z.astype(np.float64))
    cdf = np.cumsum(p, axis=1)
    U = gen.random((S, z.shape[0]))
    Y = np.minimum((U[:, :, None] > cdf[None]).sum(-1), z.shape[1] - 1)
    r = (Y == y_true).mean(axis=1)
    return numpy_score(z, Y, r)


def main(argv: list[str]) -> int:
    import itertools

    import zoopt
    from zoopt import policy

    p = argparse.ArgumentParser(prog="python -m zoopt bench policy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI-sized run (N = 10,000)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5)")
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    N = 10_000 if args.quick else 100_000
    C, S = 10, 64

    gen = np.random.default_rng(0)
    z = gen.normal(size=(N, C))
    y_true = gen.integers(0, C, size=N)

    def batch_accuracy(Y: np.ndarray) -> np.ndarray:
        return (Y == y_true).mean(axis=1)

    steps = itertools.count()
    print(f"zoopt {zoopt.__version__}: bench policy -- categorical REINFORCE, N={N}, C={C}, "
          f"S={S}, whole-batch accuracy, RLOO baseline, float64 logits; "
          f"{zoopt.get_num_threads()} threads; median of {repeats} after a warm-up")
    t_zo = median_time(lambda: policy.categorical(z, batch_accuracy, n_samples=S, rng=0,
                                                  step=next(steps)), repeats=repeats)
    t_np = median_time(lambda: numpy_estimate(z, y_true, S, gen), repeats=repeats)

    g, info = policy.categorical(z, batch_accuracy, n_samples=S, rng=0, return_info=True)
    same = numpy_score(z, info.samples, info.values)
    diff = float(np.abs(g - same).max())
    scale = float(np.abs(same).max())
    rows = [["zoopt policy.categorical", f"{t_zo * 1e3:.1f}", f"{t_np / t_zo:.2f}x"],
            ["NumPy (inverse CDF, one-hot score)", f"{t_np * 1e3:.1f}", "1.00x"]]
    print(table(rows, ["estimator", "ms", "speed vs NumPy"]))
    print(f"same samples, NumPy score vs zoopt: max |difference| = {diff:.3g} "
          f"(largest entry {scale:.3g})")
    return 0
