"""zoopt.projection (SPEC.md 6), fwht, and the orthogonal and subspace estimators."""

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import hadamard

import zoopt
from zoopt import projection as proj
from zoopt._cy import projection as kernels
from zoopt.random import directions, key_from_rng

import reference as ref
from strategies import keys, seeds

PROJECTIONS = [proj.GaussianRandomProjection, proj.SparseRandomProjection, proj.SRHT]


# -- fwht -------------------------------------------------------------------------

@given(st.integers(0, 11), st.integers(1, 4), st.sampled_from([np.int64, np.int32, bool]),
       seeds)
def test_fwht_is_exact_in_integers(p, rows, dtype, seed):
    n = 1 << p
    X = np.random.default_rng(seed % 2**32).integers(-1000, 1000, (rows, n)).astype(dtype)
    Y = proj.fwht(X)
    assert Y.dtype == np.int64
    np.testing.assert_array_equal(Y, X.astype(np.int64) @ hadamard(n))
    np.testing.assert_array_equal(proj.fwht(Y), n * X.astype(np.int64))


@given(st.integers(0, 13), st.sampled_from([np.float32, np.float64]), seeds)
def test_fwht_floats_keep_dtype_and_ortho_is_an_involution(p, dtype, seed):
    n = 1 << p
    X = np.random.default_rng(seed % 2**32).standard_normal((2, 3, n)).astype(dtype)
    Y = proj.fwht(X, norm="ortho")
    assert Y.dtype == dtype
    assert Y.shape == X.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(proj.fwht(Y, norm="ortho"), X, atol=tol * (p + 1))
    np.testing.assert_allclose(np.linalg.norm(Y, axis=-1), np.linalg.norm(X, axis=-1),
                               rtol=tol * (p + 1))
    if n <= 1024:
        np.testing.assert_allclose(proj.fwht(X), X @ hadamard(n).astype(dtype),
                                   rtol=tol, atol=tol * np.sqrt(n) * (p + 1))


def test_fwht_bad_input():
    with pytest.raises(ValueError, match="power-of-2 length"):
        proj.fwht(np.ones(6))
    with pytest.raises(ValueError, match="finite"):
        proj.fwht(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="real array"):
        proj.fwht(np.ones(4, dtype=complex))
    with pytest.raises(ValueError, match="'norm'"):
        proj.fwht(np.ones(4), norm="forward")
    with pytest.raises(ValueError, match="at least one axis"):
        proj.fwht(3.0)


# -- kernels against their twins -----------------------------------------------------

@given(st.integers(0, 9), st.integers(0, 5), st.sampled_from([np.float32, np.float64]),
       st.integers(1, 2), seeds)
def test_fwht_rows_matches_twin(p, rows, dtype, n_threads, seed):
    a = np.random.default_rng(seed % 2**32).integers(-9, 9, (rows, 1 << p)).astype(dtype)
    b = a.copy()
    kernels.fwht_rows(b, n_threads)
    np.testing.assert_array_equal(b, ref.fwht_rows(a))


@given(st.integers(1, 70), st.integers(0, 4), st.data(), st.sampled_from([np.float32, np.float64]),
       st.integers(1, 2), seeds)
def test_srht_kernels_match_twins(m, rows, data, dtype, n_threads, seed):
    gen = np.random.default_rng(seed % 2**32)
    padded = 1 << (m - 1).bit_length()
    k = data.draw(st.integers(1, padded))
    sel = np.sort(gen.choice(padded, k, replace=False)).astype(np.int64)
    signs = gen.choice([-1.0, 1.0], m).astype(dtype)
    X = gen.integers(-5, 5, (rows, m)).astype(dtype)  # integer values: exact sums
    out = np.empty((rows, k), dtype=dtype)
    kernels.srht_rows(X, signs, sel, 0.5, padded, out, n_threads)
    np.testing.assert_array_equal(out, ref.srht_rows(X, signs, sel, 0.5, padded))
    Z = gen.integers(-5, 5, (rows, k)).astype(dtype)
    back = np.empty((rows, m), dtype=dtype)
    kernels.srht_lift_rows(Z, signs, sel, 0.5, padded, back, n_threads)
    np.testing.assert_array_equal(back, ref.srht_lift_rows(Z, signs, sel, 0.5, padded, m))


@settings(max_examples=25)
@given(keys, st.integers(1, 6), st.integers(1, 1500), st.integers(1, 2**31), st.integers(1, 2),
       st.sampled_from([np.float32, np.float64]))
def test_sparse_kernels_match_twins(key, n_rows, m, half, n_threads, dtype):
    got = kernels.sparse_signs(int(key[0]), int(key[1]), 7, 4 << 24, n_rows, m, half, n_threads)
    want = ref.sparse_signs(key, 7, 4 << 24, n_rows, m, half)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    X = np.random.default_rng(int(key[0])).integers(-3, 4, (3, m)).astype(dtype)
    out = np.empty((3, n_rows), dtype=dtype)
    kernels.sparse_rows(X, *got, 0.25, out, n_threads)
    np.testing.assert_array_equal(out, ref.sparse_rows(X, *want, 0.25, n_rows))


# -- the estimators' API ----------------------------------------------------------------

def test_jl_min_dim_equals_scikit_learn():
    from sklearn.random_projection import johnson_lindenstrauss_min_dim as sk

    n = np.array([1, 2, 10, 2000, 10**6, 10**9])
    for eps in (0.01, 0.1, 0.5, 0.99):
        np.testing.assert_array_equal(proj.jl_min_dim(n, eps), sk(n, eps=eps))
    assert proj.jl_min_dim(2000, eps=0.1) == 6515
    for bad in (0, 1, -0.1, np.nan, "0.1"):
        with pytest.raises(ValueError, match="'eps'"):
            proj.jl_min_dim(100, bad)
    for bad in (0, -3, 2.5, [10, 0]):
        with pytest.raises(ValueError, match="'n_samples'"):
            proj.jl_min_dim(bad)


@pytest.mark.parametrize("P", PROJECTIONS)
def test_protocol_and_reproducibility(P, threads):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X = np.random.default_rng(0).standard_normal((40, 300))
    p = P(n_components=32, rng=5)
    assert clone(p).get_params() == p.get_params()
    assert "rng=5" in repr(p)
    Y = p.fit_transform(X)
    assert Y.shape == (40, 32)
    assert Y.dtype == np.float64
    threads(1)
    np.testing.assert_array_equal(P(n_components=32, rng=5).fit_transform(X), Y)
    threads(2)
    np.testing.assert_array_equal(p.transform(X), Y)
    Y32 = p.transform(X.astype(np.float32))
    assert Y32.dtype == np.float32
    np.testing.assert_allclose(Y32, Y, atol=1e-4)
    assert p.set_params(n_components=8) is p
    assert p.fit(X).transform(X).shape == (40, 8)
    assert p.n_features_in_ == 300
    assert p.n_components_ == 8
    y = (X[:, 0] > 0).astype(int)
    make_pipeline(P(n_components=16, rng=0), LogisticRegression()).fit(X, y).predict(X)
    gen = np.random.default_rng(3)
    a = P(n_components=8, rng=gen).fit_transform(X)
    b = P(n_components=8, rng=gen).fit_transform(X)
    assert not np.array_equal(a, b)  # a Generator advances


@pytest.mark.parametrize("P", PROJECTIONS)
def test_auto_components_and_sparse_input(P):
    X = np.random.default_rng(0).standard_normal((10, 5000))
    p = P(eps=0.5, rng=0).fit(X)
    assert p.n_components_ == proj.jl_min_dim(10, eps=0.5)
    Xs = scipy.sparse.random(30, 700, density=0.02, format="csr", random_state=1)
    q = P(n_components=20, rng=2).fit(Xs)
    got = q.transform(Xs)
    got = got.toarray() if scipy.sparse.issparse(got) else got
    np.testing.assert_allclose(got, q.transform(Xs.toarray()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("P", PROJECTIONS)
def test_bad_input(P):
    X = np.ones((5, 20))
    with pytest.raises(ValueError, match="'eps'"):
        P(eps=1.5).fit(X)
    with pytest.raises(ValueError, match="'eps'"):
        P(eps=0).fit(X)
    with pytest.raises(ValueError, match="at most n_features = 20"):
        P(n_components=21).fit(X)
    with pytest.raises(ValueError, match="more than the n_features=20"):
        P().fit(X)
    with pytest.raises(ValueError, match="'n_components'"):
        P(n_components=0).fit(X)
    with pytest.raises(ValueError, match="finite"):
        P(n_components=2).fit(np.full((3, 4), np.inf))
    with pytest.raises(ValueError, match="2-D array"):
        P(n_components=2).fit(np.ones(4))
    with pytest.raises(TypeError, match="real array"):
        P(n_components=2).fit(np.array([["a", "b"]]))
    with pytest.raises(proj.NotFittedError, match="not fitted"):
        P(n_components=2).transform(X)
    p = P(n_components=2, rng=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        p.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        p.transform(np.full((2, 20), np.nan))
    with pytest.raises(ValueError, match="Invalid parameter 'random_state'"):
        p.set_params(random_state=0)
    with pytest.raises(TypeError, match="RandomState"):
        P(n_components=2, rng=np.random.RandomState(0)).fit(X)


def test_sparse_density_bad_and_exact():
    X = np.ones((3, 100))
    for bad in (0, 1.5, -1, "dense"):
        with pytest.raises(ValueError, match="'density'"):
            proj.SparseRandomProjection(n_components=2, density=bad).fit(X)
    p = proj.SparseRandomProjection(n_components=5, density=1.0, rng=0).fit(X)
    assert p.density_ == 1.0
    assert p.components_.nnz == 500


# -- the matrices are what they say ------------------------------------------------------

def test_srht_is_sqrt_m_over_k_R_H_D():
    X = np.random.default_rng(1).standard_normal((7, 45))
    p = proj.SRHT(n_components=10, rng=4).fit(X)
    H = hadamard(64) / 8.0  # orthonormal
    D = np.diag(p.signs_)
    A = np.sqrt(64 / 10) * (H[:, :45] @ D)[p.rows_]
    np.testing.assert_allclose(p.transform(X), X @ A.T, atol=1e-13)
    assert p.padded_ == 64
    assert np.unique(p.rows_).size == 10


def test_sparse_and_gaussian_matrices():
    X = np.random.default_rng(1).standard_normal((7, 400))
    s = proj.SparseRandomProjection(n_components=30, rng=4).fit(X)
    C = s.components_
    np.testing.assert_allclose(s.transform(X), X @ C.T.toarray(), atol=1e-12)
    vals = np.unique(C.data)
    np.testing.assert_allclose(vals, [-1 / np.sqrt(s.density_ * 30), 1 / np.sqrt(s.density_ * 30)])
    g = proj.GaussianRandomProjection(n_components=30, rng=4).fit(X)
    np.testing.assert_allclose(g.transform(X), X @ g.components_.T, atol=1e-12)


# -- STAT: E||Ax||^2 = ||x||^2 and Var = (2||x||^4 + (kappa - 3) sum x^4) / k ------------

@pytest.mark.parametrize("P", PROJECTIONS)
def test_norm_preservation_and_variance(P):
    m, k, R = 64, 16, 3000
    x = np.linspace(-1.0, 3.0, m) ** 3  # uneven: sum x^4 matters when kappa != 3
    sq = np.array([float(np.sum(P(n_components=k, rng=r).fit_transform(x[None, :]) ** 2))
                   for r in range(R)])
    nx2, s4 = x @ x, np.sum(x**4)
    if P is proj.GaussianRandomProjection:
        var = 2 * nx2**2 / k
    elif P is proj.SparseRandomProjection:
        kappa = 1.0 / (1.0 / np.sqrt(m))  # density 1/8 exactly representable
        var = (2 * nx2**2 + (kappa - 3) * s4) / k
    else:
        var = None  # no closed form in SPEC.md for the SRHT: test the mean only
    se_mean = np.sqrt((var if var is not None else sq.var()) / R)
    assert abs(sq.mean() - nx2) < 5 * se_mean
    if var is not None:
        # the sample variance: SE from the sample fourth central moment
        mu4 = np.mean((sq - sq.mean()) ** 4)
        se_var = np.sqrt((mu4 - var**2) / R)
        assert abs(sq.var() - var) < 5 * se_var


@pytest.mark.parametrize("P", PROJECTIONS)
def test_distortion_on_digits_within_jl_bound(P):
    """SPEC 6: P(| ||A u||^2 - 1 | >= eps) <= 2 exp(-eps^2 k / 8) for unit u; the
    fraction of pairs of digit images beyond eps stays under it."""
    from sklearn.datasets import load_digits

    X = load_digits().data  # 1797 x 64
    k = 48
    Y = P(n_components=k, rng=0).fit_transform(X)
    gen = np.random.default_rng(0)
    i, j = gen.integers(0, X.shape[0], (2, 20000))
    keep = np.linalg.norm(X[i] - X[j], axis=1) > 0
    i, j = i[keep], j[keep]
    ratio = np.sum((Y[i] - Y[j]) ** 2, axis=1) / np.sum((X[i] - X[j]) ** 2, axis=1)
    for eps in (0.5, 0.7, 0.9):
        assert np.mean(np.abs(ratio - 1) >= eps) <= 2 * np.exp(-eps**2 * k / 8)


# -- the orthogonal and subspace estimators -------------------------------------------

def test_orthogonal_directions_are_orthogonal_blocks_with_normal_norms():
    d, n = 6, 15
    U = directions(n, d, dist="orthogonal", rng=2)
    G = directions(n, d, rng=2)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), np.linalg.norm(G, axis=1), rtol=1e-14)
    V = U / np.linalg.norm(U, axis=1)[:, None]
    for b in range(0, n, d):
        B = V[b : b + d]
        np.testing.assert_allclose(B @ B.T, np.eye(B.shape[0]), atol=1e-12)
    np.testing.assert_allclose(V[0], G[0] / np.linalg.norm(G[0]), atol=1e-15)
    with pytest.raises(ValueError, match="'start'"):
        directions(3, d, dist="orthogonal", start=1)


@given(st.integers(2, 40), st.integers(1, 60), st.sampled_from(["central", "forward"]), seeds)
def test_orthogonal_grad_equals_its_directions(d, n, method, seed):
    """EXACT (linear f): the estimate is (1/n) sum_i u_i u_i^T a for the directions u_i."""
    a = np.random.default_rng(seed % 2**32).standard_normal(d)
    U = directions(n, d, dist="orthogonal", rng=seed)
    g = zoopt.grad(lambda X: X @ a, np.zeros(d), dist="orthogonal", n_dirs=n, rng=seed,
                   sigma=1.0, method=method)
    np.testing.assert_allclose(g, U.T @ (U @ a) / n, rtol=1e-9, atol=1e-9 * np.abs(a).sum())


@pytest.mark.parametrize(("d", "q"), [(10, 3), (10, 10), (30, 7)])
def test_orthogonal_mean_squared_error_is_spec_formula(d, q):
    """SPEC 2, last row: E||g - a||^2 = (d + 2 - q)/q ||a||^2 (q <= d), unbiased."""
    a = np.arange(1.0, d + 1)
    R = 3000
    gs = np.array([zoopt.grad(lambda X: X @ a, np.zeros(d), dist="orthogonal", n_dirs=q,
                              rng=11, step=t, sigma=1.0) for t in range(R)])
    err = np.sum((gs - a) ** 2, axis=1)
    target = (d + 2 - q) / q * (a @ a)
    assert abs(err.mean() - target) < 5 * err.std() / np.sqrt(R)
    z = (gs.mean(axis=0) - a) / (gs.std(axis=0) / np.sqrt(R))
    assert np.abs(z).max() < 5


@given(st.integers(2, 70), st.data(), st.sampled_from(["normal", "rademacher", "sphere",
                                                        "orthogonal"]),
       st.sampled_from(["central", "forward"]), seeds)
def test_subspace_grad_is_P_times_the_k_dimensional_estimate(d, data, dist, method, seed):
    """EXACT (linear f): g = c/n P sum_i v_i v_i^T P^T a with P the subspace map."""
    from zoopt.projection import _Subspace

    k = data.draw(st.integers(1, d))
    n = data.draw(st.integers(1, 12))
    a = np.random.default_rng(seed % 2**32).standard_normal(d)
    g = zoopt.grad(lambda X: X @ a, np.zeros(d), dist=dist, n_dirs=n, rng=seed, step=3,
                   sigma=1.0, subspace=k, method=method)
    P = _Subspace(key_from_rng(seed), 3, d, k).matrix()
    V = directions(n, k, dist=dist, rng=seed, step=3)
    c = k if dist == "sphere" else 1
    np.testing.assert_allclose(g, c * P @ (V.T @ (V @ (P.T @ a))) / n, rtol=1e-9,
                               atol=1e-9 * np.abs(a).sum() * c * (k + 1))


def test_subspace_map_is_isotropic_and_estimate_unbiased():
    from zoopt.projection import _Subspace

    d, k, R = 37, 5, 3000
    Ps = [_Subspace(key_from_rng(1), t, d, k).matrix() for t in range(R)]
    M = np.array([P @ P.T for P in Ps])
    # E P P^T = I: each entry's mean within 5 SE of its sample spread
    z = (M.mean(axis=0) - np.eye(d)) / (M.std(axis=0) / np.sqrt(R) + 1e-300)
    assert np.abs(z[M.std(axis=0) > 0]).max() < 5
    a = np.linspace(-2, 2, d)
    gs = np.array([zoopt.grad(lambda X: X @ a, np.zeros(d), subspace=k, n_dirs=3, rng=1,
                              step=t, sigma=1.0) for t in range(R)])
    z = (gs.mean(axis=0) - a) / (gs.std(axis=0) / np.sqrt(R))
    assert np.abs(z).max() < 5


def test_orthogonal_and_subspace_bad_input():
    f = lambda X: X.sum(axis=1)  # noqa: E731
    with pytest.raises(ValueError, match="'subspace'"):
        zoopt.grad(f, np.zeros(4), subspace=5)
    with pytest.raises(ValueError, match="'subspace'"):
        zoopt.grad(f, np.zeros(4), subspace=0)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        with pytest.raises(ValueError, match="'executor'"):
            zoopt.grad(f, np.zeros(4), dist="orthogonal", executor=ex)
        with pytest.raises(ValueError, match="'executor'"):
            zoopt.grad(f, np.zeros(4), subspace=2, executor=ex)


def test_subspace_and_orthogonal_keep_float32_and_are_reproducible(threads):
    x = np.ones(300, dtype=np.float32)
    f = lambda X: (X * X).sum(axis=1)  # noqa: E731
    for kw in ({"subspace": 40}, {"dist": "orthogonal"}, {"subspace": 40, "dist": "sphere"}):
        threads(1)
        g1 = zoopt.grad(f, x, n_dirs=16, rng=0, **kw)
        threads(2)
        g2 = zoopt.grad(f, x, n_dirs=16, rng=0, batch_size=6, **kw)
        assert g1.dtype == np.float32
        np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("P", PROJECTIONS)
def test_huge_finite_data_is_accepted_and_inf_refused(P):
    X = np.full((3, 8), 1e307)  # the sum overflows; the entries are finite
    assert np.isfinite(P(n_components=2, rng=0).fit_transform(X / 1e10)).all()
    P(n_components=2, rng=0).fit(X)
    X[1, 2] = -np.inf
    with pytest.raises(ValueError, match="finite"):
        P(n_components=2, rng=0).fit(X)


def test_review_edge_cases():
    from zoopt.projection import _srht_parts

    _, rows, padded = _srht_parts(key_from_rng(0), 0, 4096, 4096)
    assert padded == 4096
    np.testing.assert_array_equal(rows, np.arange(4096))
    _, rows, padded = _srht_parts(key_from_rng(0), 0, 1000, 700)
    assert np.unique(rows).size == 700
    assert rows.max() < 1024
    with pytest.raises(ValueError, match="exceed int64"):
        proj.fwht(np.array([2**62, 2**62]))
    with pytest.raises(ValueError, match="uint64"):
        proj.fwht(np.array([2**63, 1], dtype=np.uint64))
    with pytest.raises(ValueError, match="representable"):
        zoopt.grad(lambda X: X.sum(axis=1), np.ones(3, dtype=np.float32), sigma=1e39)
