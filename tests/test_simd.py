"""Every Philox implementation (scalar, AVX2, AVX-512) gives the same bits.

The level is chosen once per process (``ZOOPT_SIMD`` caps it), so each level
runs in a subprocess; on a machine without a given unit the capped run falls
back to a lower one and the comparison still holds.
"""

import os
import subprocess
import sys

import pytest

SCRIPT = """
import hashlib, numpy as np
from zoopt import policy
from zoopt.random import directions
h = hashlib.sha256()
for dt in (np.float32, np.float64):
    for dist in ("normal", "rademacher", "sphere"):
        h.update(directions(3, 1500, dist=dist, rng=7, step=2, dtype=dt).tobytes())
_, info = policy.categorical(np.random.default_rng(0).normal(size=(300, 7)),
                             lambda Y: np.zeros(len(Y)), n_samples=3, baseline="none",
                             rng=1, return_info=True)
h.update(info.samples.tobytes())
print(h.hexdigest())
"""


def _digest(level):
    env = dict(os.environ)
    if level is not None:
        env["ZOOPT_SIMD"] = level
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, check=True)
    return res.stdout.strip()


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_simd_levels_give_the_same_bits(level):
    assert _digest(level) == _digest(None)
