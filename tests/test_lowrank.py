"""dist="lowrank": directions vec(A B^T) / sqrt(r) with factors from the counter stream.

The moments the estimators rely on, with v = r^(-1/2) sum_k a_k b_k^T (a_k in R^m,
b_k in R^n standard normal, independent), each coordinate v_p = r^(-1/2) sum_k X_k with
X_k = A_ak B_bk (E X^2 = 1, E X^4 = 9, E X^6 = 225, E X^8 = 11025):
  * E v v^T = I at every rank;
  * E v_p^4 = 3 + 6/r, and E v_p^8 from the even partitions of 8 (below);
  * for a fixed matrix M, E ||v||^2 (v . M)^2 = ||M||^2 (mn + 2 + (2m + 2n + 2)/r):
    the four pairings of the indices k, l, s, t of ||v||^2 (v . M)^2 that survive
    (all equal: (m + 2)(n + 2); k = l != s = t: mn; the two crossed ones: 1 each).
"""

import numpy as np
import pytest

import zoopt
from zoopt import policy
from zoopt.optimize import ES, SNES, ZOSGD, ZOAdam
from zoopt.random import _LowRank, directions, key_from_rng

import reference as R


def _moment8(r):
    """E v_p^8 for the sum of r products of two independent standard normals over sqrt r."""
    m2, m4, m6, m8 = 1.0, 9.0, 225.0, 11025.0
    s = (r * m8 + 28 * r * (r - 1) * m6 * m2 + 35 * r * (r - 1) * m4 ** 2
         + 210 * r * (r - 1) * (r - 2) * m4 * m2 ** 2
         + 105 * r * (r - 1) * (r - 2) * (r - 3) * m2 ** 4)
    return s / r ** 4


def _dot(X, a):
    """Row-wise dot products in a fixed order (the same bits whatever the batch)."""
    return np.einsum("ij,j->i", X, a, optimize=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("m", "n", "r"), [(7, 5, 1), (7, 5, 3), (1, 9, 1), (4, 4, 4)])
def test_directions_are_the_reference_products_bit_for_bit(dtype, m, n, r):
    key = key_from_rng(5)
    V = directions(6, m * n, dist="lowrank", shape=(m, n), rank=r, rng=5, step=9, start=3,
                   dtype=dtype)
    assert V.dtype == dtype
    np.testing.assert_array_equal(V, R.lowrank_directions(key, 6, m, n, r, step=9, start=3,
                                                          dtype=dtype))
    # a later start is a slice of the same stream
    W = directions(9, m * n, dist="lowrank", shape=(m, n), rank=r, rng=5, step=9,
                   dtype=dtype)
    np.testing.assert_array_equal(V, W[3:])


def test_factors_come_from_their_own_kind_of_the_stream():
    # kind 6: not the normal directions of the same key, step and length
    V = directions(3, 20, dist="lowrank", shape=(4, 5), rank=1, rng=0)
    U = directions(3, 9, rng=0)
    A = U[:, :4, None] * U[:, None, 4:]
    assert not np.allclose(V, A.reshape(3, 20))


@pytest.mark.parametrize("r", [1, 2, 5])
def test_covariance_is_the_identity_at_every_rank(r):
    m, n, N = 5, 6, 40_000
    V = directions(N, m * n, dist="lowrank", shape=(m, n), rank=r, rng=r)
    C = V.T @ V / N
    # Var(v_p v_q) <= sqrt(E v_p^4 E v_q^4) = 3 + 6/r (Cauchy-Schwarz): 6 standard errors
    # of that bound cover all 465 distinct entries
    tol = 6.0 * np.sqrt((3.0 + 6.0 / r) / N)
    assert np.abs(C - np.eye(m * n)).max() < tol
    # the factor 1/sqrt(r) is what makes the diagonal 1: without it, it is r
    assert abs(np.diag(C).mean() - 1.0) < tol


@pytest.mark.parametrize("r", [1, 2, 4])
def test_fourth_moment_exceeds_the_gaussians_by_6_over_r(r):
    m, n, N = 4, 4, 60_000
    v = directions(N, m * n, dist="lowrank", shape=(m, n), rank=r, rng=10 + r).ravel()
    mean4 = float(np.mean(v ** 4))
    # the mean over the m n coordinates of one direction (dependent, equally distributed)
    # has at most the variance of one coordinate's v^4 = E v^8 - (E v^4)^2; N directions
    # are independent
    sd = np.sqrt((_moment8(r) - (3 + 6 / r) ** 2) / N)
    assert abs(mean4 - (3.0 + 6.0 / r)) < 6 * sd
    if r == 1:
        assert abs(mean4 - 3.0) > 6 * sd  # the Gaussian's value is rejected


@pytest.mark.parametrize(("m", "n", "r"), [(3, 4, 1), (3, 4, 2), (6, 2, 2)])
def test_error_of_linear_estimate_is_the_gaussians_plus_2m_2n_2_over_r(m, n, r):
    N = 200_000
    a = np.random.default_rng(1).normal(size=m * n)
    V = directions(N, m * n, dist="lowrank", shape=(m, n), rank=r, rng=2)
    S = (V * V).sum(axis=1) * (V @ a) ** 2  # ||v (v . a)||^2, one per direction
    expected = (m * n + 2 + (2 * m + 2 * n + 2) / r) * (a @ a)
    assert abs(S.mean() - expected) < 6 * S.std() / np.sqrt(N)
    gaussian = (m * n + 2) * (a @ a)
    assert abs(S.mean() - gaussian) > 6 * S.std() / np.sqrt(N)


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_probes_and_estimate_match_the_materialized_directions(method, dtype):
    m, n, r, N = 6, 5, 2, 40
    a = np.random.default_rng(0).normal(size=m * n).astype(dtype)
    seen = []

    def f(X):
        seen.append(X.copy())
        return _dot(X, a)

    x = np.linspace(-1, 1, m * n).astype(dtype)
    g, info = zoopt.grad(f, x, method=method, dist="lowrank", shape=(m, n), rank=r, n_dirs=N,
                         sigma=0.1, rng=3, step=4, return_info=True, batch_size=8)
    assert g.dtype == dtype
    assert info.dist == "lowrank"
    V = R.lowrank_directions(key_from_rng(3), N, m, n, r, step=4, dtype=dtype)
    h = float(np.dtype(dtype).type(0.1))
    X = np.concatenate(seen)
    if method == "central":
        np.testing.assert_array_equal(X, R.perturb(x, h, V, True))
        w = (info.values[:, 0] - info.values[:, 1]) / (2 * h) / N
    else:
        np.testing.assert_array_equal(X[1:], R.perturb(x, h, V, False))
        w = (info.values - info.fx) / h / N
    ref = R.accumulate(w, V)
    np.testing.assert_allclose(g, ref.astype(dtype), rtol=1e-5 if dtype == np.float32
                               else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-13)


def test_grad_bits_do_not_depend_on_batch_or_threads(threads):
    m, n, r = 9, 7, 3
    a = np.random.default_rng(0).normal(size=m * n)
    kw = dict(dist="lowrank", shape=(m, n), rank=r, n_dirs=70, sigma=0.05, rng=8)
    x = np.zeros(m * n)
    threads(1)
    g1 = zoopt.grad(lambda X: _dot(X, a), x, batch_size=6, **kw)
    threads(2)
    g2 = zoopt.grad(lambda X: _dot(X, a), x, batch_size=140, **kw)
    np.testing.assert_array_equal(g1, g2)


def test_weighted_sums_over_the_factors_equal_the_materialized_sums():
    m, n, r, N = 5, 8, 3, 300
    low = _LowRank(key_from_rng(4), 2, m, n, r, np.dtype(np.float64))
    w = np.random.default_rng(2).normal(size=N)
    V = R.lowrank_directions(key_from_rng(4), N, m, n, r, step=2)
    np.testing.assert_allclose(low.weighted_sum(w), R.accumulate(w, V), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(low.weighted_sum_sq(w), R.accumulate(w, V * V) - w.sum(),
                               rtol=1e-12, atol=1e-12)
    # the sum has rank up to N r, not r
    assert np.linalg.matrix_rank(low.weighted_sum(w).reshape(m, n)) == min(m, n)


@pytest.mark.parametrize("r", [1, 3])
def test_central_bias_on_a_cubic_is_sigma2_c_times_the_fourth_moment(r):
    # f(x) = sum_p c_p x_p^3 at x = 0: the central estimate is v sigma^2 sum_q c_q v_q^3,
    # of mean sigma^2 c_p E v_p^4 = sigma^2 c_p (3 + 6/r) (the cross terms vanish: b_b
    # of coordinate p appears once)
    m, n, N, s = 3, 3, 100_000, 0.5
    c = np.linspace(0.5, 1.5, m * n)
    g = zoopt.grad(lambda X: (c * X ** 3).sum(axis=1), np.zeros(m * n), dist="lowrank",
                   shape=(m, n), rank=r, n_dirs=N, sigma=s, rng=7)
    V = directions(N, m * n, dist="lowrank", shape=(m, n), rank=r, rng=7)
    terms = V * (s * s * (V ** 3 @ c))[:, None]  # the per-direction estimates
    np.testing.assert_allclose(g, terms.mean(axis=0), rtol=1e-9, atol=1e-12)
    se = terms.std(axis=0) / np.sqrt(N)
    expected = s * s * c * (3 + 6 / r)
    assert np.all(np.abs(g - expected) < 6 * se)


def test_gaussian_policy_equals_grad_and_sums_the_squares_over_lowrank_samples():
    m, n, r = 6, 5, 2
    a = np.random.default_rng(0).normal(size=m * n)
    f = lambda X: _dot(X, a)  # noqa: E731
    x = np.ones(m * n)
    kw = dict(dist="lowrank", shape=(m, n), rank=r, rng=3)
    g1 = zoopt.grad(f, x, n_dirs=50, sigma=0.1, **kw)
    g2 = policy.gaussian(f, x, sigma=0.1, n_samples=100, antithetic=True, baseline="mirror",
                         **kw)
    np.testing.assert_array_equal(g1, g2)
    g3 = zoopt.grad(f, x, method="forward", n_dirs=50, sigma=0.1, **kw)
    g4 = policy.gaussian(f, x, sigma=0.1, n_samples=50, baseline="fx", **kw)
    np.testing.assert_array_equal(g3, g4)
    # per-coordinate sigma and the log-sigma gradient (SNES's update)
    sig = np.linspace(0.05, 0.2, m * n)
    gm, gl, info = policy.gaussian(f, x, sigma=sig, n_samples=40, baseline="none",
                                   log_sigma_grad=True, return_info=True, **kw)
    V = R.lowrank_directions(key_from_rng(3), 40, m, n, r)
    vals = _dot(x + sig * V, a)
    np.testing.assert_array_equal(info.values, vals)
    np.testing.assert_allclose(gm, R.accumulate(vals / 40, V) / sig, rtol=1e-12)
    np.testing.assert_allclose(gl, R.accumulate(vals / 40, V * V) - vals.sum() / 40,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [ES, SNES, ZOAdam, ZOSGD])
def test_optimizers_resume_exactly_and_rebuild_their_best_probe(cls):
    m, n, r = 6, 4, 2
    A = np.random.default_rng(0).normal(size=m * n)

    def f(X):
        return ((X - A) ** 2).sum(axis=1)

    kw = dict(dist="lowrank", shape=(m, n), rank=r, rng=1)
    opt = cls(np.zeros(m * n), **kw)
    for _ in range(5):
        opt.tell(f(opt.ask()))
    state = opt.state_dict()
    X = opt.ask()
    vals = f(X)
    opt.tell(vals)
    again = cls(np.zeros(m * n), **kw)
    again.load_state_dict(state)
    again.tell(f(again.ask()))
    np.testing.assert_array_equal(again.x, opt.x)
    best, point = opt.best_probe()
    i = int(np.argmin(vals))
    assert best == vals[i]
    np.testing.assert_array_equal(point, X[i])


def test_minimize_es_lowrank_fits_a_matrix():
    m, n = 8, 6
    target = np.random.default_rng(0).normal(size=(m, n)).ravel()
    f0 = float(target @ target)
    res = zoopt.minimize(lambda X: ((X - target) ** 2).sum(axis=1), np.zeros(m * n),
                         method="snes", maxfev=6000, rng=0,
                         options={"dist": "lowrank", "shape": (m, n), "rank": 2})
    assert res.fun < 1e-6 * f0


@pytest.mark.parametrize(("kw", "words"), [
    (dict(dist="lowrank", shape=(5, 5), rank=1), ["'shape'", "d = 30", "holds 25"]),
    (dict(dist="lowrank", shape=(5, 6)), ["needs the 'rank'"]),
    (dict(dist="lowrank", rank=2), ["needs the 'shape'"]),
    (dict(dist="lowrank", shape=(5, 6), rank=6), ["'rank'", "min(m, n) = 5", "Got 6"]),
    (dict(dist="lowrank", shape=(5, 6), rank=0), ["'rank'", "[1, inf]", "Got 0"]),
    (dict(dist="lowrank", shape=(5, 6.0), rank=1), ["'shape'", "pair (m, n) of ints"]),
    (dict(dist="lowrank", shape=30, rank=1), ["'shape'", "pair (m, n)"]),
    (dict(dist="normal", shape=(5, 6)), ["'shape'", "dist='lowrank' only"]),
    (dict(dist="sphere", rank=2), ["'rank'", "dist='lowrank' only"]),
])
def test_bad_lowrank_arguments_name_the_parameter(kw, words):
    f = lambda X: X.sum(axis=1)  # noqa: E731
    calls = [lambda: zoopt.grad(f, np.zeros(30), **kw),
             lambda: directions(2, 30, **kw)]
    if kw.get("dist") == "lowrank":
        calls += [lambda: policy.gaussian(f, np.zeros(30), sigma=0.1, n_samples=4, **kw),
                  lambda: ES(np.zeros(30), **kw), lambda: SNES(np.zeros(30), **kw)]
    for call in calls:
        with pytest.raises((ValueError, TypeError)) as exc:
            call()
        for w in words:
            assert w in str(exc.value), (w, str(exc.value))


def test_lowrank_refuses_a_subspace():
    f = lambda X: X.sum(axis=1)  # noqa: E731
    kw = dict(dist="lowrank", shape=(5, 6), rank=1)
    with pytest.raises(ValueError, match="subspace"):
        zoopt.grad(f, np.zeros(30), subspace=4, **kw)
