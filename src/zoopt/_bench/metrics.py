"""Benchmark ``metrics``: batched F1 (BENCHMARKS.md, task "metrics").

F1 of P = 256 predictions of N = 100,000 binary labels in one batched call,
against the loop of 256 scikit-learn ``f1_score`` calls, timed in the same run;
the values are checked equal.
"""

from __future__ import annotations

import argparse

import numpy as np

from zoopt._bench import median_time, table


def main(argv: list[str]) -> int:
    import zoopt
    from zoopt import metrics

    p = argparse.ArgumentParser(prog="python -m zoopt bench metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="P = 32, N = 10,000")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    P, N = (32, 10_000) if args.quick else (256, 100_000)
    gen = np.random.default_rng(0)
    y_true = (gen.random(N) < 0.1).astype(np.int64)
    y_pred = np.where(gen.random((P, N)) < 0.8, y_true, 1 - y_true)
    print(f"zoopt {zoopt.__version__}: bench metrics -- F1 of P={P} predictions of N={N} "
          f"binary labels; median of {repeats} after a warm-up")
    t_zo = median_time(lambda: metrics.f1_score(y_true, y_pred), repeats=repeats)
    rows = [["zoopt metrics.f1_score (batched)", f"{t_zo * 1e3:.2f}", ""]]
    try:
        from sklearn.metrics import f1_score
    except ImportError:
        rows.append(["scikit-learn loop", "not installed", ""])
    else:
        def loop() -> list[float]:
            return [f1_score(y_true, row) for row in y_pred]

        t_sk = median_time(loop, repeats=max(1, repeats // 2))
        same = np.array_equal(metrics.f1_score(y_true, y_pred), np.array(loop()))
        rows[0][2] = f"{t_sk / t_zo:.0f}x"
        rows.append([f"scikit-learn f1_score, loop of {P}", f"{t_sk * 1e3:.1f}", "1x"])
        print(f"identical values: {same}")
    print(table(rows, ["F1", "ms", "speed vs loop"]))
    return 0
