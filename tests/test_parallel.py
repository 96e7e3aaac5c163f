"""Evaluation through executors: same bits as in-process, errors come home."""

import concurrent.futures as cf
import multiprocessing as mp

import numpy as np
import objectives
import pytest
from objectives import boom, shifted_abs

import zoopt
from zoopt import policy
from zoopt.optimize import ES, minimize


@pytest.fixture(scope="module")
def process_pool():
    with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as ex:
        yield ex


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    # the test objectives live in tests/, which the workers cannot import
    cloudpickle.register_pickle_by_value(objectives)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client
    cloudpickle.unregister_pickle_by_value(objectives)


@pytest.fixture(params=["thread_pool", "process_pool", "dask_client"])
def executor(request):
    if request.param == "thread_pool":
        with cf.ThreadPoolExecutor(2) as ex:
            yield ex
    else:
        yield request.getfixturevalue(request.param)


def test_grad_and_gaussian_same_bits(executor):
    x = np.linspace(-1, 1, 2500).astype(np.float32)
    for dist in ("normal", "rademacher", "sphere"):
        for method in ("central", "forward"):
            kw = {"n_dirs": 11, "rng": 4, "dist": dist, "method": method, "sigma": 0.05}
            np.testing.assert_array_equal(zoopt.grad(shifted_abs, x, executor=executor, **kw),
                                          zoopt.grad(shifted_abs, x, **kw))
    kw = {"sigma": np.full(2500, 0.1, np.float32), "n_samples": 9, "rng": 2,
          "log_sigma_grad": True, "baseline": "rloo"}
    a = policy.gaussian(shifted_abs, x, executor=executor, **kw)
    b = policy.gaussian(shifted_abs, x, **kw)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_lowrank_directions_same_bits(executor):
    """dist="lowrank": the workers regenerate the factors of their blocks (seeds, not
    probes, cross the wire) and the values are those of the in-process path."""
    x = np.linspace(-1, 1, 40 * 30)
    low = {"dist": "lowrank", "shape": (40, 30), "rank": 3}
    for method in ("central", "forward"):
        kw = {"n_dirs": 13, "rng": 4, "method": method, "sigma": 0.05, "step": 2, **low}
        a = zoopt.grad(shifted_abs, x, executor=executor, batch_size=4, return_info=True,
                       **kw)
        b = zoopt.grad(shifted_abs, x, return_info=True, **kw)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1].values, b[1].values)
    kw = {"sigma": np.full(x.size, 0.1), "n_samples": 10, "rng": 2, "log_sigma_grad": True,
          **low}
    a = policy.gaussian(shifted_abs, x, executor=executor, **kw)
    b = policy.gaussian(shifted_abs, x, **kw)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    kw = {"method": "snes", "maxiter": 4, "rng": 1,
          "options": {"dist": "lowrank", "shape": (6, 5), "rank": 2}}
    a = minimize(shifted_abs, np.ones(30), executor=executor, **kw)
    b = minimize(shifted_abs, np.ones(30), **kw)
    for key in ("x", "fun", "nfev"):
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("method", ["es", "snes", "zo-adam"])
def test_minimize_same_bits(executor, method):
    kw = {"method": method, "maxiter": 6, "rng": 1}
    a = minimize(shifted_abs, np.ones(30), executor=executor, **kw)
    b = minimize(shifted_abs, np.ones(30), **kw)
    for key in ("x", "fun", "x_mean", "nfev"):
        np.testing.assert_array_equal(a[key], b[key])


def test_worker_exception_comes_home_and_state_is_unchanged(executor):
    opt = ES(np.ones(5), rng=0)
    opt.step(shifted_abs, executor=executor)
    x, t = opt.x.copy(), opt.t
    with pytest.raises(RuntimeError, match="objective failed on a worker") as info:
        opt.step(boom, executor=executor)
    np.testing.assert_array_equal(opt.x, x)
    assert opt.t == t
    if isinstance(executor, cf.ProcessPoolExecutor):
        # the worker's traceback travels as the cause
        assert "boom" in str(info.value.__cause__)


def test_lost_dask_worker_probes_are_resubmitted(dask_client, tmp_path):
    from objectives import DieOnce

    kw = {"method": "es", "maxiter": 3, "rng": 2}
    remote = minimize(DieOnce(tmp_path / "died"), np.ones(8), executor=dask_client, **kw)
    assert (tmp_path / "died").exists()  # a worker did die
    local = minimize(shifted_abs, np.ones(8), **kw)
    for key in ("x", "fun", "x_mean", "nfev"):
        np.testing.assert_array_equal(remote[key], local[key])
