"""Compiled kernels (built from ``src_cy/``)."""

# zoopt/__init__.py sets OMP_WAIT_POLICY=PASSIVE (unless the user chose) before these
# modules start their OpenMP runtime.
try:
    from zoopt._cy import bleu, metrics, policy, projection, streams
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "zoopt's compiled kernels are not built. Install zoopt with `pip install .` "
        "(or `pip install -e .` for development) from the source tree; importing zoopt "
        "from an unbuilt checkout does not work."
    ) from exc

__all__ = ["bleu", "metrics", "policy", "projection", "streams"]
