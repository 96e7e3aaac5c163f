"""Thread pools: what ``import zoopt`` sets for the OpenMP runtimes loaded after it."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = "import os, zoopt; print(os.environ.get('OMP_WAIT_POLICY'))"


def _env_without_policy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


def _run(code: str, env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_import_zoopt_makes_later_openmp_runtimes_sleep():
    # `import zoopt` alone (no kernel loaded yet), so that torch imported after it
    # starts its OpenMP pool with the same policy
    assert _run(CODE, _env_without_policy()) == "PASSIVE"


def test_import_zoopt_keeps_the_users_choice():
    assert _run(CODE, {**_env_without_policy(), "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


def test_blas_threads_limits_the_pools_inside_the_block_only():
    threadpoolctl = __import__("pytest").importorskip("threadpoolctl")
    import numpy as np  # noqa: F401  (its BLAS is the pool to limit)

    from zoopt._threads import blas_threads

    def blas_counts() -> list[int]:
        return [p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "blas"]

    before = blas_counts()
    assert before
    with blas_threads(1):
        assert blas_counts() == [1] * len(before)
    assert blas_counts() == before
