"""Number of threads used by the compiled kernels.

Results never depend on it (each output element is owned by one thread); only
speed does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from zoopt._validation import check_int

__all__ = ["get_num_threads", "set_num_threads"]

_n_threads: int | None = None


def max_settable_threads() -> int:
    """The most threads :func:`set_num_threads` accepts: 8 per core, at most 1024.

    More threads than that only oversubscribe the cores, and OpenMP runtimes fail
    to create teams of a few thousand (libgomp ends the process).
    """
    return max(8, min(1024, 8 * (os.cpu_count() or 1)))


def set_num_threads(n: int | None) -> None:
    """Set the number of threads of zoopt's kernels (``None``: OpenMP's default).

    Parameters
    ----------
    n : int or None
        From 1 to 8 per core (at most 1024); ``None`` restores the default
        (``OMP_NUM_THREADS`` or the number of cores).
    """
    global _n_threads
    _n_threads = None if n is None else check_int(n, "n", "set_num_threads", low=1,
                                                  high=max_settable_threads())


def get_num_threads() -> int:
    """Number of threads zoopt's kernels use now."""
    if _n_threads is not None:
        return _n_threads
    from zoopt._cy import streams

    return int(streams.max_threads())


# Below this many values a kernel runs on the calling thread: waking a team costs more
# than the work, and far more when the cores are shared (OpenMP threads spin while they
# wait).  Results are the same for any thread count.
_SMALL_WORK = 1 << 15


def threads_for(n_values: int) -> int:
    """Threads for a kernel call that produces about ``n_values`` numbers."""
    return 1 if n_values < _SMALL_WORK else get_num_threads()


_BLAS: list[Any] = []  # threadpoolctl's controller of the BLAS libraries, found once


def _blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded (None without
    threadpoolctl).  Finding the libraries reads the process's memory map, which takes
    milliseconds: it is done on the first call only."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS.append(None)
        else:
            _BLAS.append(ThreadpoolController().select(user_api="blas"))
    return _BLAS[0]


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit the BLAS pools loaded in the process to ``n`` threads inside the block.

    For what zoopt runs itself around many small matrix products (the demo, the
    examples, the CMAs' linear algebra): OpenBLAS's threads spin after each product
    and take the cores from zoopt's kernels and from other processes.  Needs
    threadpoolctl (which scikit-learn brings); without it the block runs unchanged.
    """
    ctl = _blas_controller()
    if ctl is None:
        yield
        return
    with ctl.limit(limits=n):
        yield
