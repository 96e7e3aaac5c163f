"""zoopt's GPU backend: CUDA kernels (``*.cu`` beside this file, sharing
``zoopt_streams.h`` with the CPU kernels) compiled by NVRTC and launched
through CuPy.  Imported only when a CuPy array reaches zoopt."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def cuda_backend() -> Any:
    """The CUDA kernel set on CuPy arrays (see :mod:`zoopt._backend`)."""
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - only without CuPy
        raise ImportError(
            "zoopt received a GPU array but CuPy is not importable; install CuPy and NVRTC "
            "(zoopt's gpu extra): `pip install cupy-cuda13x nvidia-cuda-nvrtc`."
        ) from exc
    from zoopt._backend import Backend
    from zoopt._gpu._cupy import CupyLauncher
    from zoopt._gpu._metrics import MetricKernels
    from zoopt._gpu._policy import PolicyKernels
    from zoopt._gpu._projection import ProjectionKernels
    from zoopt._gpu._streams import StreamKernels

    return Backend("cuda", cupy, StreamKernels(CupyLauncher("streams"), cupy),
                   PolicyKernels(CupyLauncher("policy"), cupy),
                   MetricKernels(CupyLauncher("metrics"), cupy),
                   ProjectionKernels(CupyLauncher("projection"), cupy))
