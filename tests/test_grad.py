"""Identities of SPEC.md sections 2-4 that hold sample by sample, and the
kernels against tests/reference.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zoopt
from zoopt.random import directions, key_from_rng

import reference as ref
from strategies import dims, dists, float_dtypes, seeds, small_dims, steps


def _linear(a, c=0.0):
    return lambda X: X @ a + c


def _quadratic(H, b):
    return lambda X: 0.5 * np.einsum("bi,ij,bj->b", X, H, X) + X @ b


def _spd(gen, d):
    A = gen.standard_normal((d, d))
    return A @ A.T / d + np.eye(d)


# ---------------------------------------------------------------- kernels

@given(st.integers(1, 6), dims, dists, float_dtypes, seeds, steps,
       st.sampled_from(["central", "forward"]))
def test_grad_matches_reference_bitwise(n, d, dist, dtype, seed, step, method):
    gen = np.random.default_rng(seed % 2**32)
    x = gen.standard_normal(d).astype(dtype)
    a = gen.standard_normal(d).astype(dtype)

    def f(X):
        return np.sin(X.astype(np.float64) @ a.astype(np.float64))

    g = zoopt.grad(f, x, method=method, dist=dist, n_dirs=n, rng=seed, step=step, sigma=0.01)
    expect = ref.grad(f, x, key_from_rng(seed), method=method, dist=dist, sigma=0.01,
                      n_dirs=n, step=step)
    assert g.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(g, expect)


@given(small_dims, dists, float_dtypes, seeds, st.integers(1, 9), st.integers(1, 9))
def test_chunk_size_does_not_change_bits(d, dist, dtype, seed, b1, b2):
    x = np.linspace(-1, 1, d).astype(dtype)

    def f(X):
        return np.abs(X).sum(1) + (X**2).sum(1)

    for method in ("central", "forward", "coordinate"):
        g1 = zoopt.grad(f, x, method=method, dist=dist, n_dirs=7, rng=seed, batch_size=b1)
        g2 = zoopt.grad(f, x, method=method, dist=dist, n_dirs=7, rng=seed, batch_size=b2)
        np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("dist", ["normal", "rademacher", "sphere"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_bits(dist, dtype, threads):
    d = 5000  # several coordinate tiles per thread
    x = np.cos(np.arange(d)).astype(dtype)

    def f(X):
        return (X**2).sum(1) + np.abs(X).sum(1)

    threads(1)
    g1 = zoopt.grad(f, x, dist=dist, n_dirs=9, rng=4, batch_size=3)
    threads(2)
    g2 = zoopt.grad(f, x, dist=dist, n_dirs=9, rng=4, batch_size=3)
    np.testing.assert_array_equal(g1, g2)


@given(st.integers(1, 5), small_dims, dists, float_dtypes, seeds, steps)
def test_directions_are_those_grad_used(n, d, dist, dtype, seed, step):
    # probes recorded by the objective equal x +- sigma * directions(...)
    x = np.arange(d, dtype=dtype) / 7
    seen = []

    def f(X):
        seen.append(X.copy())
        return X.sum(1).astype(np.float64)

    zoopt.grad(f, x, dist=dist, n_dirs=n, rng=seed, step=step, sigma=0.5, batch_size=2)
    V = directions(n, d, dist=dist, rng=seed, step=step, dtype=dtype)
    probes = np.concatenate(seen)
    np.testing.assert_array_equal(probes, ref.perturb(x, 0.5, V, antithetic=True))


def test_vectorized_false_equals_vectorized():
    x = np.array([0.3, -1.2, 2.0])

    def f(X):
        return np.abs(X).sum(1) + X[:, 0] * X[:, 1]

    for method in ("central", "forward", "coordinate"):
        g1, i1 = zoopt.grad(f, x, method=method, rng=1, return_info=True)
        g2, i2 = zoopt.grad(lambda p: float(f(p[None])[0]), x, method=method, rng=1,
                            vectorized=False, return_info=True)
        np.testing.assert_array_equal(g1, g2)
        assert i1.nfev == i2.nfev


# ---------------------------------------------------------------- SPEC identities

@given(small_dims, st.integers(1, 8), dists, seeds, st.floats(1e-3, 10.0),
       st.sampled_from(["central", "forward"]))
def test_linear_terms_are_exactly_u_ut_a(d, n, dist, seed, sigma, method):
    # SPEC 4: for f = a.x + c every forward and central term is u u^T a (any sigma)
    gen = np.random.default_rng(seed % 2**32)
    a, x, c = gen.standard_normal(d), gen.standard_normal(d), float(gen.standard_normal())
    g = zoopt.grad(_linear(a, c), x, method=method, dist=dist, n_dirs=n, rng=seed,
                   sigma=sigma)
    V = directions(n, d, dist=dist, rng=seed)
    factor = d if dist == "sphere" else 1
    expect = factor * (V * (V @ a)[:, None]).mean(0)
    np.testing.assert_allclose(g, expect, rtol=1e-9, atol=1e-9 * factor * np.abs(a).sum())


@given(small_dims, st.integers(1, 8), seeds, st.floats(1e-2, 5.0))
def test_central_term_is_exactly_u_ut_grad_for_quadratics(d, n, seed, sigma):
    # SPEC 2: for quadratic f the central term equals u u^T grad f(x) for any sigma
    gen = np.random.default_rng(seed % 2**32)
    H, b, x = _spd(gen, d), gen.standard_normal(d), gen.standard_normal(d)
    g = zoopt.grad(_quadratic(H, b), x, n_dirs=n, rng=seed, sigma=sigma)
    V = directions(n, d, rng=seed)
    true = H @ x + b
    expect = (V * (V @ true)[:, None]).mean(0)
    scale = np.abs(V).max() ** 2 * (np.abs(true).sum() + sigma * np.abs(H).sum())
    np.testing.assert_allclose(g, expect, rtol=0, atol=1e-10 * scale)


@given(small_dims, seeds, st.floats(1e-3, 2.0))
def test_coordinate_central_is_exact_for_quadratics(d, seed, h):
    gen = np.random.default_rng(seed % 2**32)
    H, b, x = _spd(gen, d), gen.standard_normal(d), gen.standard_normal(d)
    g = zoopt.grad(_quadratic(H, b), x, method="coordinate", sigma=h)
    np.testing.assert_allclose(g, H @ x + b, rtol=0, atol=1e-10 / h * (1 + np.abs(H).sum()))


@given(small_dims, st.integers(1, 6), seeds, st.floats(1e-2, 1.0))
def test_rademacher_central_is_spsa(d, n, seed, c):
    # Spall's SPSA: g_j = (f(x + c s) - f(x - c s)) / (2 c s_j), averaged over n draws;
    # 1 / s_j = s_j for random signs, so this is the central estimator.
    gen = np.random.default_rng(seed % 2**32)
    x = gen.standard_normal(d)

    def f(X):
        return np.cos(X).sum(1) + (X**4).sum(1)

    g = zoopt.grad(f, x, dist="rademacher", n_dirs=n, rng=seed, sigma=c)
    S = directions(n, d, dist="rademacher", rng=seed)
    spsa = np.mean([(f((x + c * s)[None])[0] - f((x - c * s)[None])[0]) / (2 * c) / s
                    for s in S], axis=0)
    np.testing.assert_allclose(g, spsa, rtol=1e-12, atol=1e-12)


@given(st.integers(2, 30), st.integers(1, 6), seeds, st.floats(1e-2, 1.0))
def test_sphere_is_gaussian_with_direction_sqrt_d_v(d, n, seed, sigma):
    # SPEC 3(d): the direction sqrt(d) v with step sigma gives the same term as
    # the sphere estimator with delta = sigma sqrt(d)
    gen = np.random.default_rng(seed % 2**32)
    x = gen.standard_normal(d)

    def f(X):
        return np.abs(X).sum(1) + np.sin(X).sum(1)

    delta = sigma * np.sqrt(d)
    g_sphere = zoopt.grad(f, x, dist="sphere", n_dirs=n, rng=seed, sigma=delta)
    W = np.sqrt(d) * directions(n, d, dist="sphere", rng=seed)
    terms = [(f((x + sigma * w)[None])[0] - f((x - sigma * w)[None])[0]) / (2 * sigma) * w
             for w in W]
    np.testing.assert_allclose(g_sphere, np.mean(terms, axis=0), rtol=1e-9, atol=1e-9)


def test_forward_uses_fx_and_reports_it():
    x = np.array([1.0, 2.0])
    _, info = zoopt.grad(lambda X: (X**2).sum(1), x, method="forward", n_dirs=3, rng=0,
                         return_info=True)
    assert info.fx == 5.0
    assert info.nfev == 4
    assert info.values.shape == (3,)
    _, info = zoopt.grad(lambda X: (X**2).sum(1), x, n_dirs=3, rng=0, return_info=True)
    assert info.fx is None
    assert info.nfev == 6
    assert info.values.shape == (3, 2)
    _, info = zoopt.grad(lambda X: (X**2).sum(1), x, method="coordinate", return_info=True)
    assert info.nfev == 4
    assert info.values.shape == (2, 2)
    assert info.dist is None


def test_float32_in_float32_out_and_ints_become_float64():
    f = lambda X: (X**2).sum(1)  # noqa: E731
    assert zoopt.grad(f, np.ones(3, np.float32), rng=0).dtype == np.float32
    assert zoopt.grad(f, [1, 2, 3], rng=0).dtype == np.float64
    assert zoopt.grad(f, np.ones(3, np.float32), method="coordinate").dtype == np.float32


def test_same_rng_same_bits_and_steps_differ():
    f = lambda X: np.abs(X).sum(1)  # noqa: E731
    x = np.linspace(0, 1, 11)
    np.testing.assert_array_equal(zoopt.grad(f, x, rng=3), zoopt.grad(f, x, rng=3))
    assert not np.array_equal(zoopt.grad(f, x, rng=3), zoopt.grad(f, x, rng=3, step=1))


def test_generator_rng_advances():
    f = lambda X: np.abs(X).sum(1)  # noqa: E731
    x = np.linspace(0, 1, 11)
    gen = np.random.default_rng(0)
    assert not np.array_equal(zoopt.grad(f, x, rng=gen), zoopt.grad(f, x, rng=gen))
