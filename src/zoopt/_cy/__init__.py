"""Compiled kernels (built from ``src_cy/``)."""

import os

# OpenMP threads that finish a kernel sleep instead of spinning (unless the user chose):
# spinning threads take the cores from whatever else runs beside zoopt (BLAS, torch,
# other processes); with one busy process beside it, passive waiting was the faster
# policy in measurements on 2 cores.  It takes effect if the OpenMP runtime starts with
# these modules (not if another library started it first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from zoopt._cy import bleu, metrics, policy, projection, streams
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "zoopt's compiled kernels are not built. Install zoopt with `pip install .` "
        "(or `pip install -e .` for development) from the source tree; importing zoopt "
        "from an unbuilt checkout does not work."
    ) from exc

__all__ = ["bleu", "metrics", "policy", "projection", "streams"]
