"""Which kernel set serves an array.

NumPy arrays go to the compiled CPU kernels (``zoopt._cy``); CuPy arrays go to
their CUDA twins (``zoopt._gpu``), which have the same signatures, so the
estimators call ``backend.streams.perturb(...)`` without knowing which one
runs.  CuPy is imported only when a CuPy array arrives.  Arrays of two
backends in one call are refused, naming the argument; nothing is copied
between host and device behind the user's back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__: list[str] = []


@dataclass(frozen=True)
class Backend:
    """A kernel set and the array module its arrays belong to."""

    name: str  # "cpu" or "cuda"
    xp: Any  # numpy or cupy
    streams: Any  # zoopt._cy.streams or zoopt._gpu._streams.StreamKernels
    policy: Any = None  # zoopt._cy.policy or zoopt._gpu._policy.PolicyKernels
    metrics: Any = None  # zoopt._cy.metrics or zoopt._gpu._metrics.MetricKernels
    projection: Any = None  # zoopt._cy.projection or zoopt._gpu._projection.ProjectionKernels

    @property
    def is_device(self) -> bool:
        return self.name != "cpu"

    def to_host(self, a: Any) -> np.ndarray:
        """An explicit device-to-host copy (for the few small arrays that must cross)."""
        return a if isinstance(a, np.ndarray) else self.xp.asnumpy(a)


_CPU: Backend | None = None
_CUDA: Backend | None = None
# tests route NumPy arrays through another kernel set (the host build of the CUDA kernels)
_OVERRIDE: Backend | None = None


def cpu() -> Backend:
    global _CPU
    if _CPU is None:
        from zoopt._cy import metrics, policy, projection, streams

        _CPU = Backend("cpu", np, streams, policy, metrics, projection)
    return _CPU


def cuda() -> Backend:
    global _CUDA
    if _CUDA is None:
        from zoopt._gpu import cuda_backend

        _CUDA = cuda_backend()
    return _CUDA


def is_device_array(x: Any) -> bool:
    """Whether ``x`` is a CuPy array (checked without importing CuPy)."""
    return type(x).__module__.split(".")[0] == "cupy" and hasattr(x, "__cuda_array_interface__")


def array_module(x: Any) -> Any:
    """``cupy`` for a CuPy array, else ``numpy`` (no kernel set is built)."""
    if is_device_array(x):
        import cupy

        return cupy
    return np


def backend_of(x: Any) -> Backend:
    """The backend that computes on ``x``."""
    if is_device_array(x):
        return cuda()
    return cpu() if _OVERRIDE is None else _OVERRIDE


def check_same_backend(backend: Backend, x: Any, name: str, caller: str) -> None:
    """Refuse ``x`` if it lives elsewhere than ``backend``'s arrays."""
    if x is None:
        return
    on_device = backend.xp is not np
    if is_device_array(x) != on_device:
        where = "a CuPy (GPU) array" if is_device_array(x) else "a host (NumPy) array"
        other = "GPU" if on_device else "host"
        raise TypeError(
            f"The {name!r} parameter of {caller} is {where}, but the other arrays of this "
            f"call live on the {other}: cannot operate on arrays of different backends. "
            "Move it explicitly (cupy.asarray(a) to the GPU, a.get() to the host)."
        )


@contextlib.contextmanager
def _override(backend: Backend) -> Iterator[None]:
    """Serve NumPy arrays with ``backend`` inside the block (for tests)."""
    global _OVERRIDE
    old, _OVERRIDE = _OVERRIDE, backend
    try:
        yield
    finally:
        _OVERRIDE = old
