"""Expectation identities of SPEC.md sections 2 and 4, at 5 standard errors.

Standard errors come from the variance formulas of SPEC.md (linear f: the
per-coordinate variance of one term) or, where SPEC gives the expectation of a
non-negative statistic, from the sample's own spread over independent steps.
"""

import numpy as np
import pytest

import zoopt

A = np.array([1.5, -2.0, 0.5, 3.0, 0.0, -1.0])
D = A.size
NORM2 = float(A @ A)


def _linear(X):
    return X @ A + 4.0


def _term_variance(dist):
    """Var of coordinate j of one term for f = a.x (exact)."""
    if dist == "normal":  # E u_j^2 (u.a)^2 - a_j^2
        return NORM2 + A**2
    if dist == "rademacher":
        return NORM2 - A**2
    # sphere: d^2 E v_j^2 (v.a)^2 - a_j^2 with E v_j^2 v_k^2 = 1/(d(d+2)), E v_j^4 = 3/(d(d+2))
    return D * (NORM2 + 2 * A**2) / (D + 2) - A**2


@pytest.mark.parametrize("dist", ["normal", "rademacher", "sphere"])
@pytest.mark.parametrize("method", ["central", "forward"])
def test_unbiased_for_linear(dist, method):
    n = 40_000
    g = zoopt.grad(_linear, np.zeros(D), method=method, dist=dist, n_dirs=n, rng=7)
    se = np.sqrt(_term_variance(dist) / n)
    se = np.where(se == 0, 1e-12, se)
    assert np.all(np.abs(g - A) <= 5 * se), (g, A, se)


def _single_direction_estimates(fun, x, R, **kw):
    return np.array([zoopt.grad(fun, x, n_dirs=1, rng=99, step=t, **kw) for t in range(R)])


@pytest.mark.parametrize(("dist", "factor"), [("normal", D + 1), ("sphere", D - 1),
                                              ("rademacher", D - 1)])
def test_mean_squared_error_of_one_term(dist, factor):
    # SPEC 2 table: E||g_hat - a||^2 = (d+1)||a||^2 (Gauss), (d-1)||a||^2 (sphere, SPSA)
    est = _single_direction_estimates(_linear, np.zeros(D), 4000, dist=dist)
    err = ((est - A) ** 2).sum(1)
    se = err.std(ddof=1) / np.sqrt(err.size)
    assert abs(err.mean() - factor * NORM2) <= 5 * se


def test_forward_on_quadratic_unbiased_with_spec_variance():
    # SPEC 2, quadratic f: forward is unbiased for grad f, and
    # E||g_hat - g||^2 = (d+1)||g||^2 + sigma^2/4 (d+4) [(tr H)^2 + 2 tr H^2]
    gen = np.random.default_rng(0)
    M = gen.standard_normal((D, D))
    H = M @ M.T
    x = gen.standard_normal(D)
    g_true = H @ x
    sigma = 0.8

    def f(X):
        return 0.5 * np.einsum("bi,ij,bj->b", X, H, X)

    est = _single_direction_estimates(f, x, 6000, method="forward", sigma=sigma)
    mean, sd = est.mean(0), est.std(0, ddof=1)
    assert np.all(np.abs(mean - g_true) <= 5 * sd / np.sqrt(len(est)))
    err = ((est - g_true) ** 2).sum(1)
    expect = (D + 1) * g_true @ g_true + sigma**2 / 4 * (D + 4) * (
        np.trace(H) ** 2 + 2 * np.trace(H @ H))
    assert abs(err.mean() - expect) <= 5 * err.std(ddof=1) / np.sqrt(err.size)


def test_central_targets_smoothed_gradient_of_cubic():
    # SPEC 4: for f = sum x^3, grad f_sigma = 3 x^2 + 3 sigma^2 (not grad f)
    x = np.array([0.5, -1.0, 2.0])
    sigma = 0.7

    def f(X):
        return (X**3).sum(1)

    est = _single_direction_estimates(f, x, 6000, sigma=sigma)
    mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(len(est))
    assert np.all(np.abs(mean - (3 * x**2 + 3 * sigma**2)) <= 5 * se)
    # and the bias 3 sigma^2 = 1.47 is far outside the noise: grad f itself is rejected
    assert np.any(np.abs(mean - 3 * x**2) > 5 * se)
