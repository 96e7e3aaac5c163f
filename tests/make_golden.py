"""Regenerate tests/data/golden.json (only when a stream change is intended)."""

import json
from pathlib import Path

import numpy as np

import zoopt
from zoopt.random import directions


def golden():
    out = {}
    for dist in ("normal", "rademacher", "sphere"):
        for dtype in ("float32", "float64"):
            U = directions(3, 9, dist=dist, rng=20261121, step=7, dtype=dtype, start=2)
            out[f"directions/{dist}/{dtype}"] = U.astype(np.float64).tolist()
    x = np.linspace(-1, 1, 9)
    for method in ("central", "forward"):
        g = zoopt.grad(lambda X: np.abs(X).sum(1) + (X**3).sum(1), x, method=method,
                       n_dirs=5, rng=42, step=3, sigma=0.05)
        out[f"grad/{method}"] = g.tolist()
    return out


if __name__ == "__main__":
    path = Path(__file__).parent / "data" / "golden.json"
    path.write_text(json.dumps(golden(), indent=1) + "\n")
    print(f"wrote {path}")
