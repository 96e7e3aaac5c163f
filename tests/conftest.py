import contextlib
import importlib
import logging
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# CI runs the same examples every time (scipy's conftest does the same).
settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("ZOOPT_HYPOTHESIS_PROFILE",
                                     "deterministic" if os.environ.get("CI") else "dev"))


@pytest.fixture
def threads():
    """Run a block with a given number of kernel threads, then restore.  Small calls
    use the requested threads too (zoopt runs them on one thread otherwise), so that
    thread-count invariance is tested on small problems."""
    import zoopt
    from zoopt import _threads

    small = _threads._SMALL_WORK

    def use(n):
        zoopt.set_num_threads(n)
        _threads._SMALL_WORK = 0

    yield use
    zoopt.set_num_threads(None)
    _threads._SMALL_WORK = small


# Libraries whose import touches NumPy's global random state (JAX does) are imported
# once here, so that the guard below measures what zoopt does, not import side effects.
for _name in ("jax", "torch", "matplotlib.pyplot"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)


@pytest.fixture(autouse=True)
def _no_global_numpy_rng_use():
    """zoopt must never touch NumPy's global random state."""
    before = np.random.get_state()[1].copy()
    yield
    after = np.random.get_state()[1]
    assert np.array_equal(before, after), "NumPy's global random state was used"


def _cuda_device_count() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no CuPy, no driver or no device
        return 0


def pytest_collection_modifyitems(config, items):
    """`gpu` tests need CuPy and an NVIDIA device; without them they are skipped."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if gpu_items and _cuda_device_count() == 0:
        skip = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture
def quiet_sacrebleu():
    """sacreBLEU logs its advice (effective order, tokenizer choice) on every call."""
    logger = logging.getLogger("sacrebleu")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
