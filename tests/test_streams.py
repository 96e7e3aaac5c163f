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


# ------------------------------------------------------------------ stream length

def _per_block(dist, dtype):
    return 128 if dist == "rademacher" else 4 if np.dtype(dtype) == np.float32 else 2


_TRANSFORMS = [("normal", np.float32), ("normal", np.float64), ("rademacher", np.float32),
               ("rademacher", np.float64)]


@pytest.mark.parametrize(("dist", "dtype"), _TRANSFORMS)
def test_coordinates_past_block_2_32_are_new_and_match_reference(dist, dtype):
    from zoopt._cy import streams

    code = {"normal": 0, "rademacher": 1}[dist]
    key = key_from_rng(3)
    k0, k1 = int(key[0]), int(key[1])
    c2, c3 = ref.counter_words(7, ref.KIND[dist])
    per = _per_block(dist, dtype)
    wrap = per << 32  # the first coordinate of block 2**32
    last = per << 36  # one past the last coordinate a direction has
    head = np.empty(3 * per, dtype)
    streams.fill_span(head, code, k0, k1, c2, c3, 5, 0, 1)
    # spans that cross block 2**32 inside one tile, start on it, end the direction
    for j_first, n in [(wrap - 1500, 3000), (wrap, 3 * per), (last - 700, 700),
                       ((per << 34) + 5, 40)]:
        out = np.empty(n, dtype)
        streams.fill_span(out, code, k0, k1, c2, c3, 5, j_first, 2)
        np.testing.assert_array_equal(out, ref.direction_span(key, 5, j_first, n, dist=dist,
                                                              step=7, dtype=dtype))
        w = np.array([0.5, -2.0, 0.0, 1.25])
        acc = np.zeros(n)
        streams.accumulate_span(w, acc, np.empty(0, dtype), code, k0, k1, c2, c3, 2, j_first,
                                2)
        want = np.zeros(n)
        for i, wi in enumerate(w):
            if wi != 0.0:
                want = want + wi * ref.direction_span(key, 2 + i, j_first, n, dist=dist, step=7,
                                                      dtype=dtype).astype(np.float64)
        np.testing.assert_array_equal(acc, want)
    # with 32-bit block indices, coordinate 2**34 (float32; 2**33 float64, 2**39
    # Rademacher) was coordinate 0 again
    again = np.empty(3 * per, dtype)
    streams.fill_span(again, code, k0, k1, c2, c3, 5, wrap, 1)
    assert not np.array_equal(again, head)


def test_block_counters_keep_the_32_bit_layout_below_block_2_32():
    from zoopt.random import _block_counters

    ctr = _block_counters((1 << 32) - 2, 4, 9, 11, (3 << 24) | 5)
    assert ctr.tolist() == [[2**32 - 2, 9, 11, (3 << 24) | 5], [2**32 - 1, 9, 11, (3 << 24) | 5],
                            [0, 9, 11, (1 << 28) | (3 << 24) | 5],
                            [1, 9, 11, (1 << 28) | (3 << 24) | 5]]
    np.testing.assert_array_equal(ctr, ref.block_counters((1 << 32) - 2, 4, 9, 11,
                                                          (3 << 24) | 5))


@pytest.mark.parametrize(("dist", "dtype", "limit"), [
    ("normal", np.float32, 2**38), ("normal", np.float64, 2**37), ("sphere", np.float32, 2**38),
    ("orthogonal", np.float64, 2**37), ("rademacher", np.float32, 2**43)])
def test_directions_refuse_more_coordinates_than_a_stream_direction_has(dist, dtype, limit):
    # checked before anything is allocated
    with pytest.raises(ValueError, match=rf"'d' parameter of directions must be at most "
                                         rf"2\*\*{limit.bit_length() - 1} = {limit}.*repeat"):
        directions(1, limit + 1, dist=dist, dtype=dtype)


@pytest.fixture
def short_streams(monkeypatch):
    """Streams of 2 blocks a direction (8 float32 coordinates, 4 float64, 256 signs, 8
    words), so that every entry point's refusal can be seen on small inputs."""
    import zoopt.random

    monkeypatch.setattr(zoopt.random, "_BLOCK_BITS", 1)


def _sum_rows(X):
    return (X * X).sum(axis=1)


def test_every_entry_point_refuses_directions_longer_than_the_stream(short_streams):
    from zoopt import policy, sphere
    from zoopt.optimize import minimize
    from zoopt.projection import SRHT, GaussianRandomProjection

    def refused(match, call, *args, **kwargs):
        with pytest.raises(ValueError, match=match):
            call(*args, **kwargs)

    directions(3, 8, dtype=np.float32)  # the longest direction still works
    refused(r"'d' parameter of directions must be at most 2\*\*3 = 8\b", directions, 1, 9,
            dtype=np.float32)
    refused(r"'d' parameter of directions must be at most 2\*\*2 = 4\b", directions, 1, 5,
            dist="orthogonal")
    refused(r"'d' parameter of uniform must be at most 2\*\*2", sphere.uniform, 2, 5)
    refused(r"'d' parameter of random_orthogonal must be at most 2\*\*2",
            sphere.random_orthogonal, 5)
    x = np.zeros(5)
    refused(r"'x' parameter of grad must have at most 2\*\*2 = 4 coordinates", zoopt.grad,
            _sum_rows, x, rng=0)
    zoopt.grad(_sum_rows, np.zeros(9, np.float32), dist="rademacher", rng=0)  # 256 signs
    # a random subspace: the SRHT's rows come from a row of 8 words
    refused(r"'x' parameter of grad must have at most 2\*\*1 = 2 coordinates with "
            r"subspace", zoopt.grad, _sum_rows, np.zeros(3), subspace=1, rng=0)
    refused(r"'mean' parameter of gaussian must have at most 2\*\*2", policy.gaussian,
            _sum_rows, x, sigma=0.1, n_samples=2, rng=0)
    refused(r"'outputs' parameter of output_space must have at most 2\*\*2 = 4 entries",
            policy.output_space, lambda Z: Z.sum(axis=(1, 2)), np.zeros((1, 5)), sigma=0.1,
            n_samples=2, rng=0)
    refused(r"'logits' parameter of categorical must have at most 2\*\*3 = 8 entries "
            r"\(N \* C\)", policy.categorical, np.zeros((3, 3)), lambda Y: np.zeros(len(Y)),
            n_samples=2, rng=0)
    for method in ("es", "zo-sgd"):
        refused(rf"of minimize\(method='{method}'\) must have at most 2\*\*2",
                minimize, _sum_rows, x, method=method, maxiter=2, rng=0)
    refused(r"'X' parameter of GaussianRandomProjection.fit must have at most 2\*\*2 = 4 "
            r"features", GaussianRandomProjection(n_components=1, rng=0).fit, np.zeros((2, 5)))
    refused(r"'X' parameter of SRHT.fit_transform must have at most 2\*\*1 = 2 features",
            SRHT(n_components=1, rng=0).fit_transform, np.zeros((2, 3)))


def test_the_bridges_and_zooptimizer_refuse_directions_longer_than_the_stream(
        short_streams):
    torch = pytest.importorskip("torch")
    from zoopt.torch import ZOOptimizer, zo_function

    with pytest.raises(ValueError, match=r"'params' of ZOOptimizer must have at most "
                                         r"2\*\*3 = 8 elements in all"):
        ZOOptimizer([torch.zeros(5), torch.zeros(4)], rng=0)
    with pytest.raises(ValueError, match=r"'params' of ZOOptimizer must have at most 2\*\*2"):
        ZOOptimizer([torch.zeros(5, dtype=torch.float64)], rng=0)
    ZOOptimizer([torch.zeros(200), torch.zeros(56)], dist="rademacher", rng=0)  # 256 signs
    opt = ZOOptimizer([torch.zeros(5)], rng=0)
    with pytest.raises(ValueError, match=r"'params' of ZOOptimizer.add_param_group must "
                                         r"have at most 2\*\*3"):
        opt.add_param_group({"params": [torch.zeros(4)]})
    assert len(opt.param_groups) == 1  # the refused group was not added
    for batched in (False, True):
        f = zo_function(lambda z: z * 2.0, rng=0, batched=batched)
        z = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
        with pytest.raises(ValueError, match=r"The input of zo_function must have at most "
                                             r"2\*\*2 = 4 elements"):
            f(z).sum().backward()


def test_categorical_refuses_logits_beyond_its_labels_and_noise_before_reading_them():
    from zoopt import policy

    def reward(Y):
        return np.zeros(len(Y))

    # zero-stride views: the checks come before the values are read (no allocation)
    with pytest.raises(ValueError, match=r"at most 2\*\*31 - 1 = 2147483647 classes"):
        policy.categorical(np.broadcast_to(np.float32(0), (1, 2**31)), reward, n_samples=2)
    with pytest.raises(ValueError, match=r"'logits' parameter of categorical must have at "
                                         r"most 2\*\*38 = 274877906944 entries \(N \* C\)"):
        policy.categorical(np.broadcast_to(np.float32(0), (2**8, 2**31 - 1)), reward,
                           n_samples=2)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: zoopt.sphere.random_orthogonal(2**31),
     r"'d' parameter \(with n = d\) of random_orthogonal would make a 2147483648 x "
     r"2147483648 array of float64 \(32 EiB\), more than one array can address"),
    (lambda: zoopt.sphere.random_orthogonal(2**31, 2**31),
     r"'n' and 'd' parameters of random_orthogonal would make a 2147483648 x 2147483648"),
    (lambda: zoopt.sphere.uniform(2**32 - 1, 2**31, dtype=np.float32),
     r"'n' and 'd' parameters of uniform would make a 4294967295 x 2147483648 array of "
     r"float32"),
    (lambda: directions(2**31, 2**31),
     r"'n_dirs' and 'd' parameters of directions would make a 2147483648 x 2147483648"),
])
def test_matrices_too_large_to_address_are_refused_naming_the_parameters(call, match):
    import zoopt.sphere  # noqa: F401

    with pytest.raises(ValueError, match=match):
        call()
