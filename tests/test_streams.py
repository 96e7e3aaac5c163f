import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import zoopt
from zoopt.random import directions, key_from_rng

import reference as ref
from strategies import dims, dists, float_dtypes, seeds, steps


@given(st.integers(1, 4), dims, dists, float_dtypes, seeds, steps, st.integers(0, 5))
def test_directions_match_reference_bitwise(n, d, dist, dtype, seed, step, start):
    got = directions(n, d, dist=dist, rng=seed, step=step, dtype=dtype, start=start)
    expect = ref.directions(key_from_rng(seed), n, d, dist=dist, step=step, dtype=dtype,
                            start=start)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == (n, d)
    np.testing.assert_array_equal(got, expect)


@settings(max_examples=30)
@given(st.sampled_from([5, 9]), st.integers(0, 3000), dists, float_dtypes, seeds)
def test_directions_independent_of_thread_count(n, extra, dist, dtype, seed):
    from zoopt import _threads
    from zoopt._cy import streams

    # above the size from which the kernels run on the threads asked for (n = 9 rows of
    # "sphere" take the one-pass kernel at two threads, n = 5 the two passes)
    d = -(-_threads._SMALL_WORK // n) + extra
    try:
        zoopt.set_num_threads(1)
        assert _threads.threads_for(n * d) == 1
        one = directions(n, d, dist=dist, rng=seed, dtype=dtype)
        zoopt.set_num_threads(2)
        assert _threads.threads_for(n * d) == 2
        if streams.has_openmp():  # and OpenMP grants a region the two threads it asks for
            assert streams.team_size(2) == 2
        two = directions(n, d, dist=dist, rng=seed, dtype=dtype)
    finally:
        zoopt.set_num_threads(None)
    np.testing.assert_array_equal(one, two)


@given(st.integers(1, 30), st.integers(0, 20), dists, float_dtypes, seeds)
def test_any_direction_regenerates_alone(d, i, dist, dtype, seed):
    full = directions(25, d, dist=dist, rng=seed, dtype=dtype)
    one = directions(1, d, dist=dist, rng=seed, dtype=dtype, start=i)
    np.testing.assert_array_equal(one[0], full[i])


def test_prefix_of_longer_direction_is_shorter_direction():
    # coordinate j depends on j only, not on d
    a = directions(3, 2050, rng=1)
    b = directions(3, 17, rng=1)
    np.testing.assert_array_equal(a[:, :17], b)


def test_steps_and_kinds_are_different_streams():
    base = directions(2, 64, rng=3)
    assert not np.array_equal(base, directions(2, 64, rng=3, step=1))
    assert not np.array_equal(base, directions(2, 64, rng=4))
    assert not np.array_equal(base[0], base[1])
    # the step's high bits reach the counter too
    assert not np.array_equal(directions(1, 8, rng=3, step=2**40),
                              directions(1, 8, rng=3, step=0))


def test_rademacher_values_and_dtypes_agree():
    r32 = directions(4, 300, dist="rademacher", rng=5, dtype=np.float32)
    r64 = directions(4, 300, dist="rademacher", rng=5, dtype=np.float64)
    assert set(np.unique(r64).tolist()) == {-1.0, 1.0}
    np.testing.assert_array_equal(r32, r64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sphere_rows_are_unit_and_match_normal_direction(dtype):
    v = directions(50, 33, dist="sphere", rng=9, dtype=dtype)
    u = directions(50, 33, dist="normal", rng=9, dtype=dtype)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(np.linalg.norm(v.astype(np.float64), axis=1), 1.0, atol=8 * eps)
    # the same direction, normalized
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1)
    np.testing.assert_allclose(cos, 1.0, atol=16 * eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_moments_5se(dtype):
    # N i.i.d. standard normals: the mean has SE 1/sqrt(N), the mean of
    # squares SE sqrt(2/N), the mean of fourth powers SE sqrt(96/N) (E z^8 = 105).
    z = directions(256, 4096, rng=2024, dtype=dtype).astype(np.float64).ravel()
    N = z.size
    assert abs(z.mean()) < 5 / np.sqrt(N)
    assert abs((z**2).mean() - 1) < 5 * np.sqrt(2 / N)
    assert abs((z**4).mean() - 3) < 5 * np.sqrt(96 / N)
    # and the whole law
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-6


def test_normal_coordinates_uncorrelated():
    # neighbours inside a Box-Muller pair and across blocks: correlation SE 1/sqrt(N)
    z = directions(2000, 8, rng=11).astype(np.float64)
    N = z.shape[0]
    c = np.corrcoef(z, rowvar=False)
    off = c[~np.eye(8, dtype=bool)]
    assert np.abs(off).max() < 5 / np.sqrt(N)


def test_rademacher_balance_5se():
    r = directions(128, 4096, dist="rademacher", rng=1).ravel()
    assert abs(r.mean()) < 5 / np.sqrt(r.size)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"n_dirs": 0}, ValueError, "'n_dirs' parameter of directions"),
    ({"n_dirs": 2.5}, TypeError, "'n_dirs' parameter of directions must be an int"),
    ({"d": 0}, ValueError, "'d' parameter of directions"),
    ({"dist": "cauchy"}, ValueError, "'dist' parameter of directions must be one of"),
    ({"dtype": np.int32}, TypeError, "'dtype' parameter of directions must be float32"),
    ({"step": -1}, ValueError, "'step' parameter of directions"),
    ({"step": 2**56}, ValueError, "'step' parameter of directions"),
    ({"rng": np.random.RandomState(0)}, TypeError, "RandomState"),
    ({"rng": -3}, ValueError, "non-negative"),
    ({"rng": "seed"}, TypeError, "'rng' parameter of directions"),
    ({"start": 2**32 - 1}, ValueError, "start \\+ n_dirs"),
])
def test_bad_input(kw, exc, match):
    args = {"n_dirs": 2, "d": 3}
    args.update(kw)
    n, d = args.pop("n_dirs"), args.pop("d")
    with pytest.raises(exc, match=match):
        directions(n, d, **args)


def test_key_from_rng_follows_spec7():
    assert key_from_rng(5).tolist() == key_from_rng(np.random.SeedSequence(5)).tolist()
    assert key_from_rng(np.int64(5)).tolist() == key_from_rng(5).tolist()
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    assert key_from_rng(g1).tolist() == key_from_rng(g2).tolist()
    # a Generator advances, so the next key differs
    assert key_from_rng(g1).tolist() != key_from_rng(np.random.default_rng(1)).tolist()
    # None: fresh entropy
    assert key_from_rng(None).tolist() != key_from_rng(None).tolist()
    with pytest.raises(TypeError, match=r"bool|int"):
        key_from_rng(True)


def test_loading_the_kernels_makes_openmp_threads_sleep_unless_the_user_chose():
    import subprocess
    import sys

    code = "import os, zoopt._cy; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "ACTIVE"
