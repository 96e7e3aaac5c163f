"""zoopt.sphere: directions on the sphere and the law of the angle between two.

Statistical tests use fixed seeds and 5-standard-error tolerances derived from
the moments of the uniform distribution on the sphere: with ``eta`` the cosine
of the angle between two independent uniform directions (equivalently one
coordinate of one of them), ``eta^2 ~ Beta(1/2, (d-1)/2)``, so
``E eta^2 = 1/d`` and ``E eta^4 = (1/2)(3/2) / ((d/2)(d/2 + 1)) = 3 / (d (d+2))``.
Accuracy tests compare with SciPy (a test-only dependency) and with closed
forms, with tolerances from the conditioning of the functions (see
``_cdf_tolerance``).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import zoopt.sphere
from zoopt.random import KIND_ANGLE, directions, key_from_rng, philox4x32
from zoopt.sphere import (
    angle_cdf,
    angle_moments,
    angle_pdf,
    random_orthogonal,
    sample_angles,
    uniform,
)

from strategies import dims, float_dtypes, seeds, small_dims, steps

EPS = np.finfo(np.float64).eps
KS_LEVEL = 1e-6  # about 5 sigma for a one-sided tail
STAT_DIMS = [2, 3, 10, 1000]
CDF_DIMS = [2, 3, 4, 10, 101, 10**3, 10**4, 10**5, 10**6]


def _beta_law(d):
    a = (d - 1) / 2
    return stats.beta(a, a)


def _check_cosines(cos, d):
    """KS tests of (cos + 1)/2 against Beta(a, a) and of arccos against angle_cdf,
    and the first two moments of cos at 5 standard errors."""
    n = cos.size
    assert stats.kstest((cos + 1) / 2, _beta_law(d).cdf).pvalue > KS_LEVEL
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    assert stats.kstest(theta, lambda t: angle_cdf(t, d)).pvalue > KS_LEVEL
    # E eta = 0, Var eta = E eta^2 = 1/d
    assert abs(cos.mean()) <= 5 * math.sqrt(1 / (d * n))
    # Var(eta^2) = E eta^4 - (E eta^2)^2 = 3 / (d (d+2)) - 1 / d^2
    var_sq = 3 / (d * (d + 2)) - 1 / d**2
    assert abs((cos**2).mean() - 1 / d) <= 5 * math.sqrt(var_sq / n)


# ------------------------------------------------------------------ STAT

@pytest.mark.parametrize("d", STAT_DIMS)
def test_stat_cosines_between_pairs_of_uniform_vectors(d):
    n = 20_000 if d <= 10 else 4_000  # pairs
    V = uniform(2 * n, d, rng=20240 + d)
    cos = np.einsum("ij,ij->i", V[0::2], V[1::2])
    _check_cosines(cos, d)


@pytest.mark.parametrize("d", STAT_DIMS)
def test_stat_cosines_of_sampled_angles(d):
    theta = sample_angles(100_000, d, rng=31 + d)
    assert theta.min() >= 0.0
    assert theta.max() <= np.pi
    _check_cosines(np.cos(theta), d)


def test_stat_sampled_angles_in_dimension_one_million():
    d, n = 10**6, 200_000
    theta = sample_angles(n, d, rng=8)
    mean, var = angle_moments(d)
    assert abs(theta.mean() - mean) <= 5 * math.sqrt(var / n)
    # Var of the sample variance: (mu4 - var^2) / n with mu4 = 3 var^2 + O(var^2 / d)
    # (Theta - pi/2 = -arcsin(eta) is normal up to O(1/d) in its kurtosis)
    assert abs(theta.var() - var) <= 5 * math.sqrt(2 * var**2 / n)
    assert stats.kstest(theta, lambda t: angle_cdf(t, d)).pvalue > KS_LEVEL


def test_stat_random_orthogonal_is_haar():
    # R independent frames of R^d (the blocks of one call).  For Haar V, flipping
    # the sign of row i keeps the law: E V_ij = 0, E V_ii V_jj = 0 (i != j), so
    # E tr V = 0 and E (tr V)^2 = sum_i E V_ii^2 = 1; each row is uniform on the
    # sphere: E V_ij^2 = 1/d, Var V_ij^2 = 3/(d(d+2)) - 1/d^2.  QR without the
    # sign fix fails the first test (its V_00 has the sign of -G_00 or is < 0).
    d, R = 5, 8_000
    V = random_orthogonal(d, R * d, rng=77).reshape(R, d, d)
    se_entry = math.sqrt(1 / (d * R))
    assert np.all(np.abs(V.mean(0)) <= 5 * se_entry)
    se_sq = math.sqrt((3 / (d * (d + 2)) - 1 / d**2) / R)
    assert np.all(np.abs((V**2).mean(0) - 1 / d) <= 5 * se_sq)
    tr = np.trace(V, axis1=1, axis2=2)
    assert abs(tr.mean()) <= 5 * math.sqrt(1 / R)  # Var tr V = E (tr V)^2 = 1
    sq = tr**2
    assert abs(sq.mean() - 1) <= 5 * sq.std(ddof=1) / math.sqrt(R)


# ------------------------------------------------------------------ angle_cdf / angle_pdf

def _theta_grid(d):
    """Uniform over [0, pi], dense around pi/2 at the scale 1/sqrt(d), and both tails."""
    w = 1 / math.sqrt(d)
    tails = np.geomspace(1e-8, 0.5, 120)
    th = np.concatenate([np.linspace(0, np.pi, 1201), np.pi / 2 + np.linspace(-40, 40, 801) * w,
                         tails, np.pi - tails])
    return np.sort(th[(th >= 0) & (th <= np.pi)])


def _cdf_reference(theta, d):
    if d == 2:
        return theta / np.pi
    a = (d - 1) / 2
    lower = theta <= np.pi / 2
    # always the smaller tail, from the half-angle forms of (1 -/+ cos) / 2
    return np.where(lower, special.betainc(a, a, np.sin(theta / 2) ** 2),
                    special.betaincc(a, a, np.cos(theta / 2) ** 2))


def _cdf_tolerance(theta, d, ref):
    """A few ulp of the conditioning: ``theta p(theta)`` (one ulp of theta moves F
    by about ``eps theta p``, and both sides round theta-derived quantities) and
    ``(1 + |ln F|) F`` (a value formed as exp of a logarithm of size ``|ln F|``)."""
    p = angle_pdf(theta, d)
    with np.errstate(divide="ignore"):
        log_f = np.where(ref > 0, np.abs(np.log(np.where(ref > 0, ref, 1.0))), 0.0)
    return 8 * EPS * (theta * p + (1 + log_f) * ref) + 1e-300


@pytest.mark.parametrize("d", CDF_DIMS)
def test_angle_cdf_matches_regularized_incomplete_beta(d):
    theta = _theta_grid(d)
    F = angle_cdf(theta, d)
    ref = _cdf_reference(theta, d)
    err = np.abs(F - ref)
    assert np.all(err <= _cdf_tolerance(theta, d, ref)), (err.max(), theta[np.argmax(err)])
    if d >= 10**4:  # the abstract targets at large d
        assert err.max() <= 5e-13


def test_angle_cdf_closed_forms():
    theta = np.linspace(0, np.pi, 1001)
    for d, ref, ref_err in [
        (2, theta / np.pi, 0.0),
        (3, np.sin(theta / 2) ** 2, 0.0),
        # d = 4: F = (theta - sin(theta) cos(theta)) / pi, which cancels near 0
        (4, (theta - np.sin(theta) * np.cos(theta)) / np.pi, 4 * EPS * theta / np.pi),
    ]:
        err = np.abs(angle_cdf(theta, d) - ref)
        assert np.all(err <= _cdf_tolerance(theta, d, ref) + ref_err), d


@pytest.mark.parametrize("d", [10**9, 10**12])
def test_angle_cdf_huge_dimension_matches_the_normal_limit(d):
    # sqrt(d) cos(Theta) has mean 0, variance 1 and excess kurtosis -6/(d+2): its
    # Edgeworth correction to the normal law is at most 0.14/d
    theta = np.pi / 2 + np.linspace(-8, 8, 81) / math.sqrt(d)
    F = angle_cdf(theta, d)
    ref = special.ndtr(-math.sqrt(d) * np.cos(theta))
    tol = 1 / d + 8 * EPS * theta * angle_pdf(theta, d)
    assert np.all(np.abs(F - ref) <= tol)


@pytest.mark.parametrize("d", [*CDF_DIMS, 10**9])
def test_angle_pdf_matches_gammaln_formula(d):
    theta = _theta_grid(d)
    p = angle_pdf(theta, d)
    g1, g2 = special.gammaln(d / 2), special.gammaln((d - 1) / 2)
    if d == 2:
        np.testing.assert_allclose(p, 1 / np.pi, rtol=2 * EPS, atol=0)
        return
    with np.errstate(divide="ignore"):
        log_sin = np.log(np.sin(theta))
    ref = np.exp(g1 - g2 - 0.5 * np.log(np.pi) + (d - 2) * log_sin)
    pos = ref > 0
    # the reference's own rounding: lgamma values (absolute error ~ eps |lgamma|) and
    # (d - 2) ln sin(theta) (ln sin(theta) has absolute error ~ eps near pi/2)
    rtol = 4 * EPS * (abs(g1) + abs(g2) + 1 + (d - 2) * (np.abs(log_sin[pos]) + 1))
    assert np.all(np.abs(p[pos] - ref[pos]) <= rtol * ref[pos])
    assert np.all(p[~pos] == 0.0)


def _gauss_legendre(f, a, b, panels=64, nodes=32):
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(a, b, panels + 1)
    half = np.diff(edges)[:, None] / 2
    pts = (edges[:-1, None] + half + half * x).ravel()
    return float((f(pts) * (half * w).ravel()).sum())


@pytest.mark.parametrize("d", CDF_DIMS)
def test_angle_pdf_integrates_to_one_and_is_the_derivative_of_the_cdf(d):
    # the density beyond 40/sqrt(d-1) of pi/2 is below exp(-790)
    r = min(np.pi / 2, 40 / math.sqrt(d - 1))
    total = _gauss_legendre(lambda t: angle_pdf(t, d), np.pi / 2 - r, np.pi / 2 + r)
    assert abs(total - 1) <= 1e-12
    # central differences at a step h = 1e-4 of the density's width w: truncation
    # (h/w)^2 = 1e-8 relative, rounding eps / (h p) ~ 1e-12
    w = 1 / math.sqrt(d)
    h = 1e-4 * w
    theta = np.pi / 2 + np.linspace(-3, 3, 61) * min(w, 0.5)
    deriv = (angle_cdf(theta + h, d) - angle_cdf(theta - h, d)) / (2 * h)
    np.testing.assert_allclose(deriv, angle_pdf(theta, d), rtol=1e-6)


@pytest.mark.parametrize("d", CDF_DIMS)
def test_angle_cdf_monotone_symmetric_and_half_at_right_angle(d):
    theta = _theta_grid(d)
    F = angle_cdf(theta, d)
    assert np.all(np.diff(F) >= 0)
    assert F[0] == 0.0
    assert F[-1] == 1.0
    # float(pi/2) lies 6.1e-17 below pi/2: F there is 1/2 - p(pi/2) 6.1e-17
    half = np.array([np.pi / 2])
    exact = 0.5 - angle_pdf(half, d) * 6.123233995736766e-17
    assert np.all(np.abs(angle_cdf(half, d) - exact) <= _cdf_tolerance(half, d, exact))
    lower = theta[theta < half]
    upper = np.pi - lower
    F_lo, F_up = angle_cdf(lower, d), angle_cdf(upper, d)
    tol = _cdf_tolerance(lower, d, F_lo) + _cdf_tolerance(upper, d, F_up)
    assert np.all(np.abs(F_up - (1 - F_lo)) <= tol + EPS)


def test_angle_pdf_and_cdf_outside_and_at_the_ends():
    out = [-np.inf, -1.0, -1e-300, np.pi + 1e-9, 10.0, np.inf]
    for d in (2, 3, 50):
        np.testing.assert_array_equal(angle_pdf(out, d), 0.0)
        np.testing.assert_array_equal(angle_cdf(out, d), [0, 0, 0, 1, 1, 1])
    assert angle_pdf(0.0, 2) == angle_pdf(np.pi, 2) == pytest.approx(1 / np.pi, rel=1e-15)
    assert angle_pdf(0.0, 3) == 0.0
    assert angle_cdf(0.0, 2) == 0.0
    assert angle_cdf(np.pi, 2) == 1.0


def test_angle_functions_keep_shapes_and_return_floats_for_scalars():
    assert type(angle_pdf(1.0, 5)) is float
    assert type(angle_cdf(np.float32(1.0), 5)) is float
    assert type(angle_cdf(1, 5)) is float  # integers are converted
    theta = np.linspace(0.1, 3.0, 6).reshape(2, 3)
    for f in (angle_pdf, angle_cdf):
        out = f(theta, 7)
        assert out.shape == (2, 3)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out.ravel(), f(theta.ravel(), 7))
        np.testing.assert_array_equal(f(list(theta.ravel()), 7), f(theta.ravel(), 7))
        assert f(np.empty((0, 2)), 7).shape == (0, 2)
    np.testing.assert_allclose(angle_cdf(np.float32(1.0), 5), angle_cdf(float(np.float32(1.0)), 5),
                               rtol=0)


def test_continued_fraction_raises_instead_of_returning_unconverged_values():
    a = 5e5
    x = np.array([0.01, 0.5])
    with pytest.raises(RuntimeError, match=r"did not converge in 50 iterations for 1 value"):
        zoopt.sphere._beta_cf(a, a, x, 50)
    assert zoopt.sphere._cf_max_iter(a) >= 3 * 417  # measured need at d = 1e6, x = 1/2


# ------------------------------------------------------------------ angle_moments

SPEC_VARIANCES = {3: 0.467401, 10: 0.110661, 20: 0.0525832, 50: 0.0204053, 100: 0.0101007,
                  200: 0.00502508, 1000: 0.001001}


@pytest.mark.parametrize(("d", "var"), sorted(SPEC_VARIANCES.items()))
def test_angle_moments_spec_table(d, var):
    mean, v = angle_moments(d)
    assert mean == np.pi / 2
    assert float(f"{v:.6g}") == var


def test_angle_moments_closed_forms():
    assert angle_moments(2)[1] == pytest.approx(np.pi**2 / 12, rel=1e-12, abs=0)
    assert angle_moments(3)[1] == pytest.approx(np.pi**2 / 4 - 2, rel=1e-12, abs=0)
    assert angle_moments(4)[1] == pytest.approx(np.pi**2 / 12 - 0.5, rel=1e-12, abs=0)


def _variance_series(d, terms=200_000):
    """Var Theta = E arcsin(eta)^2 from arcsin(x)^2 = (1/2) sum_n (2x)^(2n) / (n^2 C(2n, n))
    and E eta^(2n) = prod_{k<n} (2k+1)/(d+2k): the terms t_n start at 1/d and have the
    ratio t_{n+1}/t_n = 2 n^2 / ((n+1)(d+2n)) (they decay like n^(-(d+1)/2))."""
    n = np.arange(1, terms, dtype=np.float64)
    t = np.concatenate([[1.0], np.cumprod(2 * n**2 / ((n + 1) * (d + 2 * n)))]) / d
    return math.fsum(t)


@pytest.mark.parametrize("d", [10, 17, 50, 1000, 10**6, 10**9])
def test_angle_moments_match_the_arcsine_series(d):
    assert angle_moments(d)[1] == pytest.approx(_variance_series(d), rel=1e-12, abs=0)


def test_angle_moments_laplace_approximations():
    for d in range(10, 400):
        v = angle_moments(d)[1]
        assert 1 / (d - 1) <= v * 1.005
        assert v <= 1 / (d - 2)


# ------------------------------------------------------------------ random_orthogonal

@pytest.mark.parametrize(("d", "n"), [(2, None), (5, None), (7, 1), (7, 3), (64, None),
                                      (4, 11), (3, 6)])
def test_random_orthogonal_rows_are_orthonormal_in_blocks(d, n):
    V = random_orthogonal(d, n, rng=5)
    n = d if n is None else n
    assert V.shape == (n, d)
    assert V.dtype == np.float64
    for b0 in range(0, n, d):
        B = V[b0 : b0 + d]
        np.testing.assert_allclose(B @ B.T, np.eye(len(B)), rtol=0, atol=1e-12)


@settings(max_examples=30)
@given(small_dims.filter(lambda d: d >= 2), st.integers(1, 90), seeds)
def test_random_orthogonal_is_the_normalized_orthogonal_directions(d, n, seed):
    V = random_orthogonal(d, n, rng=seed)
    U = directions(n, d, dist="orthogonal", rng=seed)
    np.testing.assert_allclose(V, U / np.linalg.norm(U, axis=1, keepdims=True), rtol=0,
                               atol=1e-12)


def test_random_orthogonal_reproducible():
    np.testing.assert_array_equal(random_orthogonal(6, 9, rng=3), random_orthogonal(6, 9, rng=3))
    np.testing.assert_array_equal(random_orthogonal(6, rng=np.random.default_rng(1)),
                                  random_orthogonal(6, rng=np.random.default_rng(1)))
    np.testing.assert_array_equal(random_orthogonal(6, rng=np.random.SeedSequence(4)),
                                  random_orthogonal(6, rng=4))
    assert not np.array_equal(random_orthogonal(6, rng=3), random_orthogonal(6, rng=4))


# ------------------------------------------------------------------ uniform

@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_uniform_unit_norms_and_dtype(dtype, tol):
    V = uniform(500, 37, rng=2, dtype=dtype)
    assert V.shape == (500, 37)
    assert V.dtype == np.dtype(dtype)
    norms = np.linalg.norm(V.astype(np.float64), axis=1)
    assert np.all(np.abs(norms - 1) <= tol)


@settings(max_examples=40)
@given(st.integers(1, 5), dims.filter(lambda d: d >= 2), float_dtypes, seeds, steps)
def test_uniform_is_the_sphere_directions(n, d, dtype, seed, step):
    np.testing.assert_array_equal(
        uniform(n, d, rng=seed, step=step, dtype=dtype),
        directions(n, d, dist="sphere", rng=seed, step=step, dtype=dtype))


def test_uniform_with_a_generator_draws_like_directions():
    np.testing.assert_array_equal(uniform(4, 3, rng=np.random.default_rng(9)),
                                  directions(4, 3, dist="sphere", rng=np.random.default_rng(9)))


# ------------------------------------------------------------------ sample_angles streams

def test_sample_angles_prefix_property_and_reproducibility():
    for d in (2, 3, 1000):
        a = sample_angles(10, d, rng=0)
        np.testing.assert_array_equal(a, sample_angles(20, d, rng=0)[:10])
        big = sample_angles(zoopt.sphere._CHUNK + 50, d, rng=0)  # crosses a chunk boundary
        np.testing.assert_array_equal(a, big[:10])
        assert big.dtype == np.float64
        assert big.shape == (zoopt.sphere._CHUNK + 50,)
    np.testing.assert_array_equal(sample_angles(5, 4, rng=np.random.default_rng(2)),
                                  sample_angles(5, 4, rng=np.random.default_rng(2)))
    assert not np.array_equal(sample_angles(5, 4, rng=1), sample_angles(5, 4, rng=2))


def _reference_angle(key, i, d):
    """Sample i, one at a time from the counter layout of the module docstring."""

    def block(rnd, part):
        ctr = np.array([i, rnd, part, KIND_ANGLE << 24], dtype=np.uint32)
        return [int(w) for w in philox4x32(ctr, key)]

    def unif(hi, lo):
        k = ((hi << 32) | lo) >> 12
        return (2 * k + 1) * 2.0**-53

    def normal(rnd, part):
        w = block(rnd, part)
        return math.sqrt(-2 * math.log(unif(w[0], w[1]))) * math.cos(2 * math.pi * unif(w[2], w[3]))

    a = (d - 1) / 2
    alpha = a if a >= 1 else a + 1
    dd = alpha - 1 / 3
    c = 1 / math.sqrt(9 * dd)
    for rnd in range(64):
        x = normal(rnd, 0)
        w = block(rnd, 1)
        u = unif(w[0], w[1])
        v = (1 + c * x) ** 3
        if v > 0 and (u < 1 - 0.0331 * x**4
                      or math.log(u) < 0.5 * x * x + dd * (1 - v + math.log(v))):
            g = dd * v
            break
    if a < 1:
        w = block(0, 3)
        g *= unif(w[0], w[1]) ** (1 / a)
    return math.atan2(math.sqrt(2 * g), normal(0, 2))


@pytest.mark.parametrize("d", [2, 3, 7, 10**6])
def test_sample_angles_follow_the_documented_counter_layout(d):
    key = key_from_rng(11)
    idx = [0, 1, 2, 3, 1000, zoopt.sphere._CHUNK - 1, zoopt.sphere._CHUNK]
    theta = sample_angles(max(idx) + 1, d, rng=11)
    ref = [_reference_angle(key, i, d) for i in idx]
    np.testing.assert_allclose(theta[idx], ref, rtol=1e-13, atol=0)


def test_uniform_words_are_open():
    lo = np.array([0, 0xFFFFFFFF], dtype=np.uint32)
    u = zoopt.sphere._open_uniform(lo[[0, 1]], lo[[0, 1]])
    assert u[0] == 2.0**-53
    assert u[1] == 1 - 2.0**-53


# ------------------------------------------------------------------ bad input

ALL_D = [
    ("angle_pdf", lambda d: angle_pdf(1.0, d)),
    ("angle_cdf", lambda d: angle_cdf(1.0, d)),
    ("angle_moments", lambda d: angle_moments(d)),
    ("sample_angles", lambda d: sample_angles(3, d, rng=0)),
    ("uniform", lambda d: uniform(3, d, rng=0)),
    ("random_orthogonal", lambda d: random_orthogonal(d, rng=0)),
]


@pytest.mark.parametrize(("name", "call"), ALL_D)
@pytest.mark.parametrize("d", [1, 0, -3])
def test_d_below_two(name, call, d):
    with pytest.raises(ValueError, match=rf"The 'd' parameter of {name} must be an int in the "
                                         rf"range \[2, .*\]\. Got {d} instead\."):
        call(d)


@pytest.mark.parametrize(("name", "call"), ALL_D)
@pytest.mark.parametrize("d", [3.0, 1e6, "3", True, None])
def test_d_not_an_int(name, call, d):
    with pytest.raises(TypeError, match=f"The 'd' parameter of {name} must be an int"):
        call(d)


def test_numpy_integers_accepted():
    assert angle_pdf(1.0, np.int64(3)) == angle_pdf(1.0, 3)
    assert sample_angles(np.uint8(4), np.int32(5), rng=0).shape == (4,)


def test_d_above_the_range():
    with pytest.raises(ValueError, match=r"'d' parameter of angle_cdf .* \[2, 1099511627776\]"):
        angle_cdf(1.0, 2**40 + 1)
    with pytest.raises(ValueError, match=r"'d' parameter of angle_pdf .* \[2, 9007199254740992\]"):
        angle_pdf(1.0, 2**53 + 1)


@pytest.mark.parametrize(("name", "call"), [
    ("uniform", lambda n: uniform(n, 3, rng=0)),
    ("random_orthogonal", lambda n: random_orthogonal(3, n, rng=0)),
    ("sample_angles", lambda n: sample_angles(n, 3, rng=0)),
])
def test_bad_n(name, call):
    with pytest.raises(ValueError, match=rf"The 'n' parameter of {name} must be an int in the "
                                         r"range \[1, 4294967295\]\. Got 0 instead\."):
        call(0)
    with pytest.raises(ValueError, match=f"'n' parameter of {name}"):
        call(2**32)
    with pytest.raises(TypeError, match=f"'n' parameter of {name} must be an int"):
        call(2.0)


@pytest.mark.parametrize("f", [angle_pdf, angle_cdf])
def test_bad_theta(f):
    name = f.__name__
    with pytest.raises(ValueError, match=rf"'theta' parameter of {name} must not contain NaN\. "
                                         r"Got NaN at flat indices \[1\]"):
        f([0.5, np.nan, 1.0], 3)
    with pytest.raises(ValueError, match=f"'theta' parameter of {name}"):
        f(np.nan, 3)
    with pytest.raises(TypeError, match=rf"'theta' parameter of {name} must be a real number "
                                        r"or an array of real numbers\. Got dtype complex128"):
        f(1j, 3)
    with pytest.raises(TypeError, match=f"'theta' parameter of {name}"):
        f("1.0", 3)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, "complex128", "float"])
def test_uniform_bad_dtype(dtype):
    if dtype == "float":  # the name NumPy reads as float64 is accepted
        assert uniform(2, 3, rng=0, dtype=dtype).dtype == np.float64
        return
    with pytest.raises(TypeError, match="'dtype' parameter of uniform must be float32 or float64"):
        uniform(2, 3, rng=0, dtype=dtype)


@pytest.mark.parametrize("call", [
    lambda rng: uniform(2, 3, rng=rng),
    lambda rng: random_orthogonal(3, rng=rng),
    lambda rng: sample_angles(2, 3, rng=rng),
])
def test_bad_rng(call):
    with pytest.raises(TypeError, match=r"does not accept numpy\.random\.RandomState"):
        call(np.random.RandomState(0))
    with pytest.raises(TypeError, match="'rng' parameter of"):
        call("seed")
    with pytest.raises(ValueError, match="non-negative int"):
        call(-1)


def test_rng_errors_name_the_caller():
    with pytest.raises(TypeError, match="'rng' parameter of sample_angles does not accept"):
        sample_angles(2, 3, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="'rng' parameter of uniform does not accept"):
        uniform(2, 3, rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="'step' parameter of uniform"):
        uniform(2, 3, rng=0, step=-1)
