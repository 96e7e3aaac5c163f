"""Policy gradient: SPEC.md sections 1 and 3, kernels against tests/reference.py."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoopt
from zoopt import policy
from zoopt.random import _counter_words, directions, key_from_rng

import reference as ref
from strategies import float_dtypes, seeds, small_dims, steps


def _smooth(X):
    return np.sin(X).sum(1) + (X**2).sum(1) * 0.3


def _softmax(z, tau=1.0):
    e = np.exp(z / tau - (z / tau).max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------ 3a / 3c

@given(small_dims, st.integers(1, 9), float_dtypes, seeds, steps, st.floats(1e-3, 2.0))
def test_3a_gaussian_pg_with_fx_baseline_is_forward_zo_bitwise(d, n, dtype, seed, step, sigma):
    x = np.linspace(-1, 1, d).astype(dtype)
    pg = policy.gaussian(_smooth, x, sigma=sigma, n_samples=n, baseline="fx", rng=seed,
                         step=step)
    zo = zoopt.grad(_smooth, x, method="forward", sigma=sigma, n_dirs=n, rng=seed, step=step)
    assert pg.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(pg, zo)


@given(small_dims, st.integers(1, 6), seeds, st.floats(1e-3, 2.0),
       st.sampled_from(["mirror", "fx", "none", 3.5]))
def test_3c_antithetic_pair_with_pair_constant_baseline_is_central(d, pairs, seed, sigma, b):
    # any baseline constant over a pair cancels: the pair's two PG terms add up
    # to the central difference (SPEC.md 3c)
    x = np.cos(np.arange(d, dtype=np.float64))
    pg = policy.gaussian(_smooth, x, sigma=sigma, n_samples=2 * pairs, antithetic=True,
                         baseline=b, rng=seed)
    zo = zoopt.grad(_smooth, x, method="central", sigma=sigma, n_dirs=pairs, rng=seed)
    np.testing.assert_allclose(pg, zo, rtol=1e-10, atol=1e-10 * (1 + np.abs(zo).max()))


def test_3c_negative_sample_dependent_baseline_doubles_the_mean():
    # one PG term with b = f(x - sigma u) has mean 2 grad f_sigma: a baseline that
    # depends on the sample is not a baseline (SPEC.md 3c, 9.3)
    a = np.array([1.0, -2.0, 0.5])
    x = np.zeros(3)
    sigma, n = 0.3, 40_000
    _, info = zoopt.grad(lambda X: X @ a, x, sigma=sigma, n_dirs=n, rng=5, return_info=True)
    U = directions(n, 3, rng=5)
    terms = ((info.values[:, 0] - info.values[:, 1]) / sigma)[:, None] * U
    mean, se = terms.mean(0), terms.std(0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(mean - 2 * a) <= 5 * se)
    assert np.all(np.abs(mean - a) > 5 * se)


@pytest.mark.parametrize("baseline", ["none", 2.0, "rloo", "fx"])
def test_gaussian_unbiased_for_any_valid_baseline(baseline):
    # SPEC 1 / 3a: any baseline not depending on the sample keeps the mean; the
    # per-coordinate SE comes from the single-term spread over independent steps
    a = np.array([1.5, -1.0, 0.0, 2.0])
    R, n = 3000, 4

    def f(X):
        return X @ a + 1.0

    est = np.array([policy.gaussian(f, np.zeros(4), sigma=0.5, n_samples=n,
                                    baseline=baseline, rng=11, step=t) for t in range(R)])
    mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(mean - a) <= 5 * se + 1e-12)


def test_gaussian_mean_baseline_is_biased_by_n_minus_1_over_n():
    a = np.array([1.0, -2.0])
    R, n = 6000, 3

    def f(X):
        return X @ a

    est = np.array([policy.gaussian(f, np.zeros(2), sigma=1.0, n_samples=n, baseline="mean",
                                    rng=2, step=t) for t in range(R)])
    mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(mean - (n - 1) / n * a) <= 5 * se)
    assert np.all(np.abs(mean - a) > 5 * se)


def test_log_sigma_gradient_is_unbiased():
    # E f(mu + sigma u) = |mu|^2 + d sigma^2 for the sphere: d/dlog sigma = 2 d sigma^2
    # and per coordinate d/dlog sigma_j = 2 sigma_j^2
    mu = np.array([0.5, -1.0, 2.0])
    R = 3000
    for sigma, target in ((0.7, 2 * 3 * 0.49), (np.array([0.2, 0.5, 1.0]),
                                                 2 * np.array([0.04, 0.25, 1.0]))):
        est = np.array([policy.gaussian(lambda X: (X**2).sum(1), mu, sigma=sigma,
                                        n_samples=6, baseline="rloo", log_sigma_grad=True,
                                        rng=4, step=t)[1] for t in range(R)])
        mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(R)
        assert np.all(np.abs(mean - target) <= 5 * se)


def test_per_coordinate_sigma_probes_and_mean_gradient():
    seen = []
    sig = np.array([0.1, 1.0, 10.0])

    def f(X):
        seen.append(X.copy())
        return X.sum(1)

    g = policy.gaussian(f, np.zeros(3), sigma=sig, n_samples=5, baseline="none", rng=8)
    U = directions(5, 3, rng=8)
    np.testing.assert_array_equal(np.concatenate(seen), sig * U)
    # (1/n) sum_i f_i u_i / sigma
    np.testing.assert_allclose(g, ((sig * U).sum(1)[:, None] * U).mean(0) / sig, rtol=1e-12)


# ------------------------------------------------------------------ shaping

_grid_values = st.lists(st.integers(-4000, 4000).map(lambda k: k / 64), min_size=1,
                        max_size=40)


@given(_grid_values, st.sampled_from(["centered_ranks", "nes"]))
def test_shaping_invariant_to_increasing_transforms(vals, kind):
    v = np.array(vals)
    u = policy.shape(v, kind)
    for transform in (lambda t: 2 * t + 7, lambda t: t**3 + t, lambda t: np.exp(t / 64)):
        np.testing.assert_array_equal(policy.shape(transform(v), kind), u)
    assert abs(u.sum()) < 1e-12
    # increasing in the value
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(u[order]) >= 0)


def test_centered_ranks_values_and_ties():
    np.testing.assert_array_equal(policy.shape([5.0, 1.0, 3.0]), [0.5, -0.5, 0.0])
    np.testing.assert_array_equal(policy.shape([1.0, 1.0, 2.0, 0.0]),
                                  [0.0, 0.0, 0.5, -0.5])
    assert policy.shape([4.0]).tolist() == [0.0]
    z = policy.shape([1.0, 2.0, 3.0, 4.0], "zscore")
    assert abs(z.mean()) < 1e-15
    assert abs(z.std() - 1) < 1e-12
    np.testing.assert_array_equal(policy.shape([[2, 1]], "none"), [[2.0, 1.0]])


@given(small_dims, seeds)
def test_shaped_gaussian_update_invariant_to_increasing_transform(d, seed):
    x = np.linspace(-1, 1, d)

    def f(X):
        return (X**2).sum(1)

    def g(X):
        return np.exp(f(X)) * 3 - 1

    kw = {"sigma": 0.1, "n_samples": 10, "antithetic": True, "shaping": "centered_ranks",
          "baseline": "none", "rng": seed}
    np.testing.assert_array_equal(policy.gaussian(f, x, **kw), policy.gaussian(g, x, **kw))


# ------------------------------------------------------------------ categorical

@given(st.integers(1, 40), st.integers(1, 7), seeds, steps, float_dtypes,
       st.floats(0.1, 5.0), st.integers(1, 4))
def test_gumbel_sampling_matches_reference_bitwise(N, C, seed, step, dtype, tau, S):
    z = np.random.default_rng(seed % 2**32).normal(size=(N, C)).astype(dtype)
    seen = []

    def reward(Y):
        seen.append(Y.copy())
        return np.zeros(len(Y))

    policy.categorical(z, reward, n_samples=S, baseline="none", temperature=tau, rng=seed,
                       step=step)
    expect = ref.gumbel_argmax(z, 1.0 / tau, key_from_rng(seed), step, S)
    np.testing.assert_array_equal(seen[0], expect)


@given(st.integers(1, 20), st.integers(1, 9), float_dtypes, seeds, st.floats(0.01, 10.0))
def test_race_weights_kernel_matches_reference_bitwise(N, C, dtype, seed, tau):
    from zoopt._cy import policy as kernels

    gen = np.random.default_rng(seed % 2**32)
    z = (gen.normal(size=(N, C)) * gen.choice([1.0, 30.0, 3000.0])).astype(dtype)
    out = np.empty((N, C))
    kernels.race_weights(z, 1.0 / tau, out, 2)
    np.testing.assert_array_equal(out, ref.race_weights(z, 1.0 / tau))
    assert (out >= 1.0).all()


def test_exp_reference_accuracy():
    x = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-3, 3, 20001)])
    np.testing.assert_allclose(ref.exp_f64(x), np.exp(x), rtol=4e-16)


@given(st.integers(1, 30), st.integers(2, 6), st.integers(1, 6), seeds, float_dtypes,
       st.booleans())
def test_categorical_score_kernel_matches_reference(N, C, S, seed, dtype, per_example):
    from zoopt._cy import policy as kernels

    gen = np.random.default_rng(seed % 2**32)
    labels = gen.integers(0, C, size=(S, N)).astype(np.int32)
    adv = gen.normal(size=(S, N if per_example else 1))
    probs = _softmax(gen.normal(size=(N, C)))
    out = np.empty((N, C), dtype=dtype)
    for n_threads in (1, 2):
        kernels.categorical_score(labels, adv, probs, 0.37, out, n_threads)
        np.testing.assert_array_equal(out, ref.categorical_score(labels, adv, probs, 0.37,
                                                                 dtype))


@given(st.integers(1, 5), st.integers(2, 6), st.floats(0.2, 4.0), seeds,
       st.floats(-3, 3))
def test_categorical_closed_form_by_enumeration(N, C, tau, seed, b):
    # Feeding every class as a "sample" with weight C p_y gives the exact expectation
    # sum_y p_y (r_y - b)(e_y - p)/tau; it equals p * (r - <p, r>) / tau for any b.
    from zoopt._cy import policy as kernels

    gen = np.random.default_rng(seed % 2**32)
    z = gen.normal(size=(N, C))
    r = gen.normal(size=(N, C))  # reward of class c for example n
    p = _softmax(z, tau)
    labels = np.tile(np.arange(C, dtype=np.int32)[:, None], (1, N))  # (C, N)
    adv = (C * p * (r - b)).T.copy()  # (C, N)
    out = np.empty((N, C))
    kernels.categorical_score(labels, adv, p, 1.0 / (C * tau), out, 1)
    closed = p * (r - (p * r).sum(1, keepdims=True)) / tau
    np.testing.assert_allclose(out, closed, rtol=1e-10, atol=1e-12)


def test_gumbel_max_law_5se():
    z = np.array([[2.0, 0.0, -1.0, 0.5, 0.5]])
    for tau in (1.0, 0.5, 3.0):
        S = 200_000
        _, info = policy.categorical(z, lambda Y: np.zeros(len(Y)), n_samples=S,
                                     baseline="none", temperature=tau, rng=17,
                                     return_info=True)
        freq = np.bincount(info.samples[:, 0], minlength=5) / S
        p = _softmax(z[0], tau)
        assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / S))


def _replicated_estimates(z_row, reward_row, S, baseline, reps=20000, seed=1):
    """One call with `reps` independent copies of one example: per-copy estimates."""
    z = np.tile(z_row, (reps, 1))

    def reward(Y):  # per-example reward table
        return reward_row[Y]

    return policy.categorical(z, reward, n_samples=S, baseline=baseline, rng=seed)


@pytest.mark.parametrize("baseline", ["none", 0.7, "rloo", "greedy"])
def test_categorical_unbiased_for_valid_baselines(baseline):
    z_row = np.array([0.3, -0.5, 1.0])
    r_row = np.array([1.0, 0.0, 2.0])
    g = _replicated_estimates(z_row, r_row, S=3, baseline=baseline)
    p = _softmax(z_row)
    target = p * (r_row - p @ r_row)
    mean, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(len(g))
    assert np.all(np.abs(mean - target) <= 5 * se)


def test_categorical_mean_baseline_bias_is_s_minus_1_over_s():
    z_row = np.array([0.3, -0.5, 1.0])
    r_row = np.array([1.0, 0.0, 2.0])
    S = 2
    g = _replicated_estimates(z_row, r_row, S=S, baseline="mean", reps=40000)
    p = _softmax(z_row)
    target = p * (r_row - p @ r_row)
    mean, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(len(g))
    assert np.all(np.abs(mean - (S - 1) / S * target) <= 5 * se)
    assert np.any(np.abs(mean - target) > 5 * se)


def test_optimal_baseline_minimizes_the_variance_by_enumeration():
    # SPEC 1: the variance of (r - b) grad log p is a quadratic in b minimized at
    # b* = E[r |grad log p|^2] / E |grad log p|^2 (computed exactly over the classes)
    z = np.array([0.2, -1.0, 0.7, 0.0])
    r = np.array([3.0, -1.0, 0.5, 2.0])
    p = _softmax(z)
    scores = np.eye(4) - p  # grad_z log p_y for each y
    sq = (scores**2).sum(1)
    b_star = (p * r * sq).sum() / (p * sq).sum()

    def total_variance(b):
        terms = (r - b)[:, None] * scores
        m = p @ terms
        return float(p @ ((terms - m) ** 2).sum(1))

    grid = np.linspace(b_star - 2, b_star + 2, 401)
    v = np.array([total_variance(b) for b in grid])
    assert abs(grid[v.argmin()] - b_star) <= grid[1] - grid[0]
    coef = np.polyfit(grid, v, 2)
    np.testing.assert_allclose(np.polyval(coef, grid), v, rtol=1e-9, atol=1e-9)


def test_rloo_identity_exact_in_categorical():
    # R_k - b_k = K/(K-1) (R_k - mean R)
    z = np.random.default_rng(0).normal(size=(7, 4))
    _, info = policy.categorical(z, lambda Y: (Y == 1).mean(1), n_samples=6, rng=3,
                                 return_info=True)
    K = 6
    r = info.values
    np.testing.assert_allclose(r - info.baseline, K / (K - 1) * (r - r.mean()), rtol=0,
                               atol=1e-15)


def test_categorical_whole_batch_reward_and_thread_invariance(threads):
    y = np.random.default_rng(2).integers(0, 10, size=5000)
    z = np.random.default_rng(3).normal(size=(5000, 10)).astype(np.float32)

    def batch_accuracy(Y):
        return (y == Y).mean(axis=1)

    threads(1)
    g1 = policy.categorical(z, batch_accuracy, n_samples=16, rng=0)
    threads(2)
    g2 = policy.categorical(z, batch_accuracy, n_samples=16, rng=0)
    assert g1.dtype == np.float32
    np.testing.assert_array_equal(g1, g2)


def test_categorical_greedy_uses_argmax_labels():
    z = np.array([[0.0, 3.0], [2.0, 1.0]])
    calls = []

    def reward(Y):
        calls.append(Y.copy())
        return (Y == 1).astype(float)

    _, info = policy.categorical(z, reward, n_samples=4, baseline="greedy", rng=0,
                                 return_info=True)
    np.testing.assert_array_equal(calls[1], [[1, 0]])
    np.testing.assert_array_equal(info.greedy, [[1.0, 0.0]])


# ------------------------------------------------------------------ sequences

V, T = 3, 2


def _tabular_logprob_and_expectation(theta1, theta2, R):
    """Exact E[R] of the two-step tabular policy by enumerating all V^2 sequences."""
    p1 = _softmax(theta1)
    p2 = _softmax(theta2)  # row y1
    seqs = list(itertools.product(range(V), repeat=T))
    probs = np.array([p1[a] * p2[a, b] for a, b in seqs])
    return seqs, probs, float(probs @ np.array([R[a, b] for a, b in seqs]))


@given(seeds)
def test_sequence_gradient_equals_enumerated_policy_gradient(seed):
    gen = np.random.default_rng(seed % 2**32)
    theta1, theta2, R = gen.normal(size=V), gen.normal(size=(V, V)), gen.normal(size=(V, V))
    seqs, probs, _ = _tabular_logprob_and_expectation(theta1, theta2, R)
    S = len(seqs)
    tokens = np.array(seqs)
    logits = np.stack([np.stack([theta1, theta2[a]]) for a, _ in seqs])  # (S, T, V)
    # every sequence as a "sample" with reward S p(y) R(y): the estimator's mean
    rewards = S * probs * np.array([R[a, b] for a, b in seqs])
    g = policy.sequence(logits, tokens, rewards, baseline="none")
    g1 = g[:, 0, :].sum(0)
    g2 = np.zeros((V, V))
    for s, (a, _) in enumerate(seqs):
        g2[a] += g[s, 1]

    def expectation(flat):
        return _tabular_logprob_and_expectation(flat[:V], flat[V:].reshape(V, V), R)[2]

    true = zoopt.grad(lambda P: np.array([expectation(p) for p in P]),
                      np.concatenate([theta1, theta2.ravel()]), method="coordinate",
                      sigma=1e-5)
    np.testing.assert_allclose(np.concatenate([g1, g2.ravel()]), true, atol=1e-8)


def test_sequence_matches_reference_mask_and_baselines():
    gen = np.random.default_rng(0)
    S, T_, V_ = 6, 5, 7
    logits = gen.normal(size=(S, T_, V_)).astype(np.float32)
    tokens = gen.integers(0, V_, size=(S, T_))
    rewards = gen.normal(size=S)
    mask = np.ones((S, T_), bool)
    mask[0, 3:] = False
    for baseline, b in (("rloo", (rewards.sum() - rewards) / (S - 1)),
                        ("mean", np.full(S, rewards.mean())), ("none", np.zeros(S)),
                        (0.25, np.full(S, 0.25))):
        g = policy.sequence(logits, tokens, rewards, mask=mask, baseline=baseline)
        coef = ((rewards - b)[:, None] * mask / S).reshape(-1)
        expect = ref.row_score(logits.reshape(S * T_, V_), tokens.reshape(-1), coef)
        np.testing.assert_allclose(g.reshape(S * T_, V_), expect, rtol=1e-6, atol=1e-7)
        assert g.dtype == np.float32
        assert not g[0, 3:].any()
    greedy = gen.normal(size=S)
    g = policy.sequence(logits, tokens, rewards, baseline="greedy", greedy_rewards=greedy)
    coef = ((rewards - greedy)[:, None] / S * np.ones((S, T_))).reshape(-1)
    np.testing.assert_allclose(g.reshape(S * T_, V_),
                               ref.row_score(logits.reshape(S * T_, V_), tokens.reshape(-1),
                                             coef), rtol=1e-6, atol=1e-7)


def test_sequence_groups_have_their_own_baselines():
    logits = np.zeros((4, 1, 2))
    tokens = np.array([[0], [1], [0], [1]])
    rewards = np.array([1.0, 0.0, 10.0, 10.0])
    g = policy.sequence(logits, tokens, rewards, baseline="mean", group_size=2)
    # group 2 has equal rewards: zero advantage, zero gradient
    assert not g[2:].any()
    assert g[:2].any()


# ------------------------------------------------------------------ output space (3b)

@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), seeds)
def test_3b_output_space_chains_to_parameter_space(N, p_in, k, n, seed):
    # (R(z + s u) - R(z)) J^T u / s = J^T g_z for the linear model z = X W
    gen = np.random.default_rng(seed % 2**32)
    X, W = gen.normal(size=(N, p_in)), gen.normal(size=(p_in, k))
    target = gen.normal(size=(N, k))

    def reward(Z):
        return -np.abs(Z - target).sum(axis=(1, 2))

    g_z = policy.output_space(reward, X @ W, sigma=0.1, n_samples=n, rng=seed)
    assert g_z.shape == (N, k)
    U = directions(n, N * k, rng=seed).reshape(n, N, k)
    z = X @ W
    r0 = reward(z[None])[0]
    manual = sum((reward((z + 0.1 * U[i])[None])[0] - r0) / 0.1 * (X.T @ U[i])
                 for i in range(n)) / n
    np.testing.assert_allclose(policy.chain_linear(X, g_z), manual, rtol=1e-9, atol=1e-9)
    _, gb = policy.chain_linear(X, g_z, intercept=True)
    np.testing.assert_allclose(gb, g_z.sum(0))


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: policy.categorical([[0.0, np.nan]], lambda Y: Y[:, 0], n_samples=2),
     ValueError, "'logits' parameter of categorical must be finite"),
    (lambda: policy.categorical(np.zeros(3), lambda Y: Y[:, 0], n_samples=2),
     ValueError, r"shape \(N, C\)"),
    (lambda: policy.categorical(np.zeros((2, 2)), lambda Y: np.zeros((3,)), n_samples=2),
     ValueError, r"must have shape \(2,\) or \(2, 2\)"),
    (lambda: policy.categorical(np.zeros((2, 2)), lambda Y: np.full(2, np.inf), n_samples=2),
     ValueError, "must be finite"),
    (lambda: policy.categorical(np.zeros((2, 2)), lambda Y: Y[:, 0], n_samples=1),
     ValueError, "at least 2 with baseline='rloo'"),
    (lambda: policy.categorical(np.zeros((2, 2)), lambda Y: Y[:, 0], n_samples=2,
                                baseline="best"), ValueError, "'baseline' parameter"),
    (lambda: policy.categorical(np.zeros((2, 2)), lambda Y: Y[:, 0], n_samples=2,
                                temperature=0), ValueError, "'temperature'"),
    (lambda: policy.categorical(np.zeros((2, 2)), "f1", n_samples=2), TypeError,
     "'fun'|'reward' parameter of categorical must be callable"),
    (lambda: policy.sequence(np.zeros((2, 3, 4)), np.zeros((2, 3), int), [1.0, 0.0],
                             baseline="greedy"), ValueError, "needs 'greedy_rewards'"),
    (lambda: policy.sequence(np.zeros((2, 3, 4)), np.zeros((2, 3), int), [1.0, 0.0],
                             mask=np.ones((2, 2))), ValueError, "'mask' parameter"),
    (lambda: policy.sequence(np.zeros((2, 3, 4)), np.full((2, 3), 4), [1.0, 0.0]),
     ValueError, r"'tokens' parameter of sequence must be in \[0, 4\)"),
    (lambda: policy.sequence(np.zeros((2, 3, 4)), np.zeros((2, 3), int), [1.0]),
     ValueError, "'rewards' parameter"),
    (lambda: policy.sequence(np.zeros((2, 3, 4)), np.zeros((2, 3), int), [1.0, np.nan]),
     ValueError, "finite"),
    (lambda: policy.sequence(np.zeros((1, 3, 4)), np.zeros((1, 3), int), [1.0]),
     ValueError, "at least 2 samples per group"),
    (lambda: policy.sequence(np.zeros((2, 3, 4)), np.zeros((2, 3)), [1.0, 0.0]),
     TypeError, "'tokens' parameter of sequence must hold integers"),
    (lambda: policy.gaussian(_smooth, np.ones(3), sigma=0.1, n_samples=3, antithetic=True),
     ValueError, "must be even"),
    (lambda: policy.gaussian(_smooth, np.ones(3), sigma=0.1, n_samples=4, baseline="mirror"),
     ValueError, "needs antithetic=True"),
    (lambda: policy.gaussian(_smooth, np.ones(3), sigma=[0.1, 0.2], n_samples=4),
     ValueError, r"'sigma' parameter of gaussian must be a positive float or an array"),
    (lambda: policy.gaussian(_smooth, np.ones(3), sigma=[0.1, -0.2, 1], n_samples=4),
     ValueError, "finite and > 0"),
    (lambda: policy.gaussian(_smooth, np.ones(3), sigma=0.1, n_samples=4, baseline="fx",
                             shaping="centered_ranks"), ValueError, "baseline='fx'"),
    (lambda: policy.gaussian(_smooth, [1.0, np.nan], sigma=0.1, n_samples=4),
     ValueError, "'mean' parameter of gaussian must be finite"),
    (lambda: policy.shape([1.0, np.nan]), ValueError, "finite"),
    (lambda: policy.shape([1.0], kind="rank"), ValueError, "'kind' parameter of shape"),
    (lambda: policy.chain_linear(np.ones((3, 2)), np.ones((4, 1))), ValueError,
     "same number of rows"),
    (lambda: policy.chain_linear(np.ones(3), np.ones((3, 1))), ValueError, "real 2-D"),
    (lambda: policy.output_space(lambda Z: Z.sum((1, 2)), np.zeros((0, 2)), sigma=0.1,
                                 n_samples=2), ValueError, "'outputs'.*non-empty"),
    (lambda: policy.output_space(lambda Z: Z.sum((1, 2)), [[np.nan, 1.0]], sigma=0.1,
                                 n_samples=2), ValueError, "'outputs'.*finite"),
    (lambda: policy.output_space("f1", np.ones((2, 2)), sigma=0.1, n_samples=2), TypeError,
     "'reward' parameter of output_space must be callable"),
    (lambda: policy.output_space(lambda Z: Z.sum((1, 2)), np.ones((2, 2)), sigma=0.0,
                                 n_samples=2), ValueError, "'sigma'"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_counter_words_of_gumbel_kind():
    c2, c3 = _counter_words(5, 3)
    assert c2 == 5
    assert c3 >> 24 == 3


# ------------------------------------------------------------------ E0' (SPEC.md 3)

def test_e0_zo_of_argmax_accuracy_points_along_the_policy_gradient():
    # ZO estimate of the gradient of argmax accuracy (piecewise constant) on a toy
    # linear-softmax model against the closed-form PG of the softmax surrogate:
    # the projection of the per-direction ZO terms on the PG direction is positive
    # by more than 5 standard errors.
    gen = np.random.default_rng(0)
    N, p_in, C = 300, 4, 3
    X = gen.normal(size=(N, p_in))
    y = (X @ gen.normal(size=(p_in, C))).argmax(1)
    theta = 0.3 * gen.normal(size=(p_in, C))

    def accuracy(Theta):
        T = Theta.reshape(-1, p_in, C)
        return (np.einsum("np,bpc->bnc", X, T).argmax(2) == y).mean(1)

    n, sigma = 4000, 0.1
    _, info = zoopt.grad(accuracy, theta.ravel(), sigma=sigma, n_dirs=n, rng=1,
                         return_info=True)
    P = _softmax(X @ theta)
    R = (np.arange(C) == y[:, None]).astype(float)
    g_pg = (X.T @ (P * (R - (P * R).sum(1, keepdims=True)))).ravel()
    e = g_pg / np.linalg.norm(g_pg)
    U = directions(n, p_in * C, rng=1)
    proj = (info.values[:, 0] - info.values[:, 1]) / (2 * sigma) * (U @ e)
    assert proj.mean() > 5 * proj.std(ddof=1) / np.sqrt(n)


# ------------------------------------------------------------------ kernel buffers

# tiles of 256 examples, noise passes of 1024 values, score sums of 2**16 per thread:
# shapes on both sides of each
_N_ACROSS = st.sampled_from([1, 2, 3, 255, 256, 257, 600])
_C_ACROSS = st.sampled_from([1, 2, 5, 255, 1023, 1024, 1025, 3000])


@settings(max_examples=40)
@given(_N_ACROSS, _C_ACROSS, st.integers(1, 3), seeds, st.sampled_from([1, 2, 3]))
def test_gumbel_argmax_kernel_matches_reference_across_tiles_and_passes(N, C, S, seed,
                                                                        n_threads):
    from zoopt._cy import policy as kernels

    if N * C > 200_000:
        N = max(1, 200_000 // C)
    gen = np.random.default_rng(seed % 2**32)
    z = gen.normal(size=(N, C))
    key = key_from_rng(seed)
    c2, c3 = _counter_words(5, ref.KIND_GUMBEL)
    w = ref.race_weights(z, 1.0)
    out = np.empty((S, N), dtype=np.int32)
    kernels.gumbel_argmax(w, out, int(key[0]), int(key[1]), c2, c3, n_threads)
    np.testing.assert_array_equal(out, ref.gumbel_argmax(z, 1.0, key, 5, S))


@settings(max_examples=40)
@given(_N_ACROSS, st.sampled_from([1, 2, 7, 255, 256, 257, 2**16 - 1, 2**16, 2**16 + 3]),
       st.integers(1, 4), seeds, float_dtypes, st.booleans(), st.sampled_from([1, 2, 3]))
def test_categorical_score_kernel_matches_reference_for_any_row_tiles(N, C, S, seed, dtype,
                                                                      per_example,
                                                                      n_threads):
    from zoopt._cy import policy as kernels

    if N * C > 400_000:
        N = max(1, 400_000 // C)
    gen = np.random.default_rng(seed % 2**32)
    labels = gen.integers(0, C, size=(S, N)).astype(np.int32)
    adv = gen.normal(size=(S, N if per_example else 1))
    probs = _softmax(gen.normal(size=(N, C)))
    out = np.empty((N, C), dtype=dtype)
    kernels.categorical_score(labels, adv, probs, 0.37, out, n_threads)
    np.testing.assert_array_equal(out, ref.categorical_score(labels, adv, probs, 0.37, dtype))


_MEMORY_SCRIPT = r"""
import resource
import sys

import numpy as np

from zoopt import policy


def vm_bytes():
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmSize"].split()[0]) * 1024


C = int(sys.argv[1])
z = np.random.default_rng(0).standard_normal((1, C)).astype(np.float32)


def reward(Y):
    return (Y[:, 0] % 7).astype(np.float64)


kw = dict(n_samples=2, temperature=0.7, rng=3, step=2, return_info=True)
policy.categorical(z[:, :2048].copy(), reward, **kw)  # threads and their allocators exist
budget = int(sys.argv[2]) * z.nbytes
resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + budget, resource.RLIM_INFINITY))
g, info = policy.categorical(z, reward, **kw)
np.savez(sys.argv[3], z=z, g=g, labels=info.samples, values=info.values,
         baseline=info.baseline)
"""


def test_categorical_memory_follows_the_input_for_one_example_over_many_classes(tmp_path):
    # one example over 2**22 classes (16 MiB of float32 logits) must run in a few times
    # its size: the address space of the call is capped at 12 times the logits (the kernels
    # asked 256 C floats and 256 C doubles per thread before, 12 GiB here); C mallocs are
    # invisible to tracemalloc, so the operating system enforces the cap
    import subprocess
    import sys

    C = 1 << 22
    path = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(C), "12", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = np.load(path)
    z, tau, S = got["z"], 0.7, 2
    labels = ref.gumbel_argmax(z, 1.0 / tau, key_from_rng(3), 2, S)
    np.testing.assert_array_equal(got["labels"], labels)
    adv = (got["values"] - got["baseline"])[:, None]
    z64 = z.astype(np.float64) / tau
    e = np.exp(z64 - z64.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(got["g"], ref.categorical_score(labels, adv, probs,
                                                                  1.0 / (S * tau), z.dtype))
