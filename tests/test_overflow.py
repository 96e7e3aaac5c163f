"""Finite values whose weights overflow: every estimator refuses them instead of
returning an inf or NaN estimate (under either nan_policy)."""

from __future__ import annotations

import numpy as np
import pytest

import zoopt
from zoopt import policy

HUGE = 1.7e308  # finite, but HUGE - (-HUGE) is not


def split(X):
    """+HUGE or -HUGE by the sign of the first coordinate: each value finite."""
    X = np.asarray(X, dtype=np.float64)
    return np.where(X.reshape(X.shape[0], -1)[:, 0] > 1.0, HUGE, -HUGE)


X0 = np.ones(6)


@pytest.mark.parametrize("nan_policy", ["raise", "worst"])
@pytest.mark.parametrize("kw", [{}, {"method": "forward"}, {"dist": "rademacher"},
                                {"dist": "sphere"}, {"dist": "orthogonal", "n_dirs": 4},
                                {"subspace": 3}, {"method": "coordinate"}])
def test_grad_refuses_weights_that_overflow(kw, nan_policy):
    with pytest.raises(FloatingPointError, match=r"grad are finite.*overflow float64"):
        zoopt.grad(split, X0, rng=0, nan_policy=nan_policy, **kw)


def test_grad_refuses_an_estimate_that_overflows_its_dtype():
    # weights of 1e39 are fine in float64; the float32 gradient they make is not
    def f(X):
        return 1e39 * X[:, 0].astype(np.float64)

    with pytest.raises(FloatingPointError, match=r"gradient estimate of grad overflows float32"):
        zoopt.grad(f, X0.astype(np.float32), rng=0)
    g = zoopt.grad(f, X0, rng=0)          # float64 holds it
    assert np.isfinite(g).all()


@pytest.mark.parametrize("kw", [{}, {"baseline": "fx"}, {"antithetic": False},
                                {"log_sigma_grad": True}, {"sigma": np.full(6, 0.1)}])
def test_gaussian_refuses_weights_that_overflow(kw):
    kw = {"sigma": 0.1, **kw}
    with pytest.raises(FloatingPointError, match=r"gaussian are finite.*overflow"):
        policy.gaussian(split, X0, n_samples=8, rng=0, **kw)


def test_output_space_names_itself():
    with pytest.raises(FloatingPointError, match=r"passed to output_space are finite"):
        policy.output_space(split, X0.reshape(2, 3), sigma=0.1, n_samples=8, rng=0)


@pytest.mark.parametrize("baseline", ["rloo", "mean"])
def test_categorical_refuses_advantages_that_overflow(baseline):
    def reward(Y):
        return np.where(Y[:, 0] == 0, HUGE, -HUGE)

    with pytest.raises(FloatingPointError, match=r"rewards passed to categorical.*advantages"):
        policy.categorical(np.zeros((3, 4)), reward, n_samples=16, rng=0, baseline=baseline)


def test_sequence_refuses_advantages_that_overflow():
    with pytest.raises(FloatingPointError, match=r"rewards passed to sequence.*advantages"):
        policy.sequence(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=np.int64),
                        np.array([HUGE, -HUGE]))


def test_ranked_methods_are_unaffected_by_huge_values():
    # es shapes values by rank: huge but finite values give finite weights
    res = zoopt.minimize(split, X0, method="es", maxiter=3, rng=0)
    assert np.isfinite(res.x).all()
