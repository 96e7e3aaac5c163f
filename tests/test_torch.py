"""zoopt.torch: zo_function, the surrogate losses and ZOOptimizer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import zoopt  # noqa: E402
from zoopt import policy  # noqa: E402
from zoopt.random import directions  # noqa: E402
from zoopt.torch import ZOOptimizer, metric_loss, reinforce_loss, zo_function  # noqa: E402

from strategies import seeds  # noqa: E402

# -- zo_function ----------------------------------------------------------------------

@settings(max_examples=40)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.integers(1, 20),
       st.sampled_from(["central", "forward"]), st.sampled_from(["normal", "rademacher"]),
       seeds)
def test_batched_backward_is_per_row_estimate(B, k, m, n, method, dist, seed):
    """EXACT for a linear layer: row b gets (1/n) sum_i u_ib u_ib^T W c_b."""
    gen = np.random.default_rng(seed % 2**32)
    W = torch.from_numpy(gen.standard_normal((k, m)))
    c = gen.standard_normal((B, m))
    f = zo_function(lambda z: z @ W, method=method, dist=dist, sigma=1.0, n_dirs=n, rng=seed,
                    step=5, batch_size=int(gen.integers(1, 9)))
    z = torch.from_numpy(gen.standard_normal((B, k))).requires_grad_()
    (f(z) * torch.from_numpy(c)).sum().backward()
    U = directions(n, B * k, dist=dist, rng=seed, step=5).reshape(n, B, k)
    a = c @ W.numpy().T  # (B, k): J^T v per row
    want = np.einsum("nbk,nb->bk", U, np.einsum("nbk,bk->nb", U, a)) / n
    np.testing.assert_allclose(z.grad.numpy(), want, rtol=1e-9, atol=1e-9 * np.abs(a).sum())
    assert f.step == 6


def test_unbatched_backward_is_zoopt_grad():
    W = torch.randn(6, 3, dtype=torch.float64)
    v = torch.randn(3, dtype=torch.float64)
    f = zo_function(lambda z: torch.tanh(z @ W), batched=False, dist="sphere", n_dirs=7,
                    sigma=1e-2, rng=4)
    z0 = np.linspace(-1, 1, 6)
    z = torch.from_numpy(z0.copy()).requires_grad_()
    (f(z) * v).sum().backward()
    phi = lambda x: float((torch.tanh(torch.from_numpy(x) @ W) * v).sum())  # noqa: E731
    g = zoopt.grad(phi, z0, dist="sphere", n_dirs=7, sigma=1e-2, vectorized=False, rng=4)
    np.testing.assert_array_equal(z.grad.numpy(), g)


def test_agrees_with_autograd_within_spec_variance():
    """SPEC 2: for a linear map the per-row central estimate has E||g - a||^2 =
    (k + 1)||a||^2 / n; the mean over R backward passes is within 5 SE of autograd."""
    k, m, n, R = 8, 3, 4, 800
    W = torch.randn(k, m, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    f = zo_function(lambda z: z @ W, n_dirs=n, sigma=0.5, rng=1)
    z = torch.ones(1, k, dtype=torch.float64)
    c = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    a = (c @ W.T).numpy()[0]
    gs = []
    for _ in range(R):
        zz = z.clone().requires_grad_()
        (f(zz) * c).sum().backward()
        gs.append(zz.grad.numpy()[0])
    gs = np.array(gs)
    se = np.sqrt((k + 1) * (a @ a) / n / R)  # SE of the mean's squared-norm scale
    assert np.linalg.norm(gs.mean(axis=0) - a) < 5 * se
    mse = np.sum((gs - a) ** 2, axis=1)
    assert abs(mse.mean() - (k + 1) * (a @ a) / n) < 5 * mse.std() / np.sqrt(R)


def test_trains_through_a_rounding_layer():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=gen)
    target = torch.round(X @ torch.tensor([1.5, -2.0, 0.5, 1.0]))[:, None]
    w = torch.zeros(4, 1, requires_grad=True)
    hard = zo_function(torch.round, sigma=0.5, n_dirs=16, rng=0)
    opt = torch.optim.SGD([w], lr=0.05)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((hard(X @ w) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.1 * losses[0]


def test_zo_function_keeps_float32_and_checks_inputs():
    f = zo_function(lambda z: z * 2, n_dirs=3, rng=0)
    z = torch.ones(2, 3, requires_grad=True)
    f(z).sum().backward()
    assert z.grad.dtype == torch.float32
    with pytest.raises(TypeError, match="dtype float32, float64"):
        f(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        f(np.ones((2, 3)))
    with pytest.raises(ValueError, match="keep the batch axis"):
        zo_function(lambda z: z.sum(), rng=0)(torch.ones(2, 3))
    bad = zo_function(lambda z: z[:1], rng=0)
    with pytest.raises(ValueError, match="keep the batch axis"):
        bad(torch.ones(2, 3, requires_grad=True))
    shape = zo_function(lambda z: z if z.shape[0] == 2 else z[:, :1], n_dirs=2, rng=0)
    with pytest.raises(ValueError, match="returned shape"):
        shape(torch.ones(2, 3, requires_grad=True)).sum().backward()
    with pytest.raises(ValueError, match="'sigma'"):
        zo_function(torch.round, sigma=0)
    with pytest.raises(ValueError, match="'dist'"):
        zo_function(torch.round, dist="sphere")
    with pytest.raises(TypeError, match="callable"):
        zo_function(3)


# -- surrogate losses ---------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["accuracy", "f1", "custom"])
def test_metric_loss_gradient_is_policy_categorical_exactly(metric):
    gen = np.random.default_rng(0)
    N, C, S = 30, 2, 12
    logits = torch.from_numpy(gen.standard_normal((N, C))).requires_grad_()
    y = gen.integers(0, C, N)
    m = (lambda t, Y: (Y == t).mean(axis=1)) if metric == "custom" else metric
    loss, info = metric_loss(logits, y, m, n_samples=S, rng=7, step=2, return_info=True)
    loss.backward()
    from zoopt import metrics

    reward = {"accuracy": lambda Y: (Y == y).astype(float) / N,
              "f1": lambda Y: metrics.f1_score(y, Y),
              "custom": lambda Y: (Y == y).mean(axis=1)}[metric]
    g = policy.categorical(logits.detach().numpy(), reward, n_samples=S, rng=7, step=2)
    np.testing.assert_array_equal(logits.grad.numpy(), -g)
    vals = np.asarray(info.values)
    mean = vals.sum(axis=1).mean() if vals.ndim == 2 else vals.mean()
    assert loss.item() == -mean


def test_reinforce_loss_coefficients_are_policy_sequence():
    gen = np.random.default_rng(1)
    S, T, V = 6, 4, 5
    logits = torch.from_numpy(gen.standard_normal((S, T, V))).requires_grad_()
    tokens = gen.integers(0, V, (S, T))
    R = gen.random(S)
    logp_steps = torch.log_softmax(logits, dim=2).gather(2, torch.from_numpy(tokens)[..., None])
    logp = logp_steps[..., 0]
    logp.retain_grad()
    reinforce_loss(logp, R, baseline="rloo", group_size=3).backward()
    adv = policy._sequence_advantages(R, "rloo", None, 3, "test")
    np.testing.assert_array_equal(logp.grad.numpy(), np.broadcast_to(-(adv / S)[:, None],
                                                                      (S, T)))
    g = policy.sequence(logits.detach().numpy(), tokens, R, baseline="rloo", group_size=3)
    np.testing.assert_allclose(logits.grad.numpy(), -g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("metric", ["accuracy", "f1"])
@pytest.mark.parametrize("bad", [[0, 1, 5], [0, -1, 1], [2, 2, 2]])
def test_metric_loss_refuses_targets_outside_the_classes(metric, bad):
    # C = 2 columns of logits: no sampled label can match these targets
    with pytest.raises(ValueError, match=r"'targets' parameter of metric_loss must hold class "
                                         r"labels in \[0, C\) = \[0, 2\).*Got values in"):
        metric_loss(torch.zeros(3, 2), np.array(bad), metric, rng=0)


def test_surrogate_losses_bad_input():
    logits = torch.zeros(3, 2, requires_grad=True)
    with pytest.raises(ValueError, match="must not require grad"):
        metric_loss(logits, torch.zeros(3, requires_grad=True), rng=0)
    with pytest.raises(ValueError, match="'targets'"):
        metric_loss(logits, np.zeros(4, dtype=int), rng=0)
    with pytest.raises(ValueError, match="'metric'"):
        metric_loss(logits, np.zeros(3, dtype=int), "bleu", rng=0)
    with pytest.raises(ValueError, match="shape \\(S,\\) or \\(S, T\\)"):
        reinforce_loss(torch.zeros(2, 2, 2), [1.0, 2.0])
    with pytest.raises(ValueError, match="must not require grad"):
        reinforce_loss(torch.zeros(2), torch.ones(2, requires_grad=True))
    with pytest.raises(ValueError, match="'rewards'"):
        reinforce_loss(torch.zeros(2), [1.0, 2.0, 3.0])


# -- ZOOptimizer ------------------------------------------------------------------------

def _model(dtype=torch.float32):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    return model.to(dtype)


def _load(params, vec):
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.from_numpy(vec.copy()), params)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_dirs", [1, 5])
def test_step_equals_zoopt_grad_on_flattened_parameters(dtype, n_dirs):
    model = _model(dtype)
    X = torch.randn(20, 7, dtype=dtype, generator=torch.Generator().manual_seed(1))
    y = torch.arange(20) % 3
    params = list(model.parameters())

    def loss():
        return torch.nn.functional.cross_entropy(model(X), y)

    theta0 = torch.nn.utils.parameters_to_vector(params).detach().numpy().copy()

    def f(rows):
        out = []
        for row in rows:
            _load(params, row)
            with torch.no_grad():
                out.append(float(loss()))
        return np.array(out)

    g = zoopt.grad(f, theta0.copy(), sigma=1e-2, n_dirs=n_dirs, rng=3, step=0)
    _load(params, theta0)
    ZOOptimizer(model.parameters(), lr=0.1, sigma=1e-2, n_dirs=n_dirs, rng=3).step(loss)
    new = torch.nn.utils.parameters_to_vector(params).detach().numpy()
    np_dtype = theta0.dtype
    want = theta0 - (np.float64(0.1) * g.astype(np.float64)).astype(np_dtype)
    np.testing.assert_array_equal(new, want)


def test_accumulation_equals_one_larger_batch():
    def run(chunks, n):
        model = _model()
        X = torch.randn(10, 7, generator=torch.Generator().manual_seed(2))

        def loss():
            return model(X).pow(2).mean()

        opt = ZOOptimizer(model.parameters(), lr=0.05, sigma=1e-2, n_dirs=n, rng=5,
                          rule="adam")
        for _ in range(3):
            for _ in range(chunks - 1):
                opt.accumulate(loss)
            opt.step(loss)
        return torch.nn.utils.parameters_to_vector(model.parameters()).detach()

    assert torch.equal(run(3, 2), run(1, 6))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
@pytest.mark.parametrize("sigma", [1e-3, 1e-1])
def test_perturbation_is_restored_bit_for_bit(dtype, sigma):
    gen = torch.Generator().manual_seed(0)
    w = torch.nn.Parameter((torch.randn(50_000, generator=gen) * 0.02).to(dtype))
    b = torch.nn.Parameter(torch.zeros(333, dtype=dtype))
    w0, b0 = w.detach().clone(), b.detach().clone()
    opt = ZOOptimizer([w, b], lr=0.0, sigma=sigma, n_dirs=3, rng=1)
    seen = []

    def loss():
        seen.append(w.detach().clone())
        return (w.float() ** 2).sum() + b.float().sum()

    opt.accumulate(loss)
    assert torch.equal(w.detach(), w0)
    assert torch.equal(b.detach(), b0)
    assert not torch.equal(seen[0], w0)  # the probes did move the parameters
    if dtype != torch.float64:
        assert opt.exception_fraction > 0  # the case that needs the kept values


def test_zo_optimizer_trains_and_checks_inputs():
    w = torch.nn.Parameter(torch.ones(5))
    opt = ZOOptimizer([w], lr=0.1, sigma=1e-2, n_dirs=8, rng=0)
    for _ in range(60):
        opt.step(lambda: (w * w).sum())
    assert (w.detach() ** 2).sum().item() < 0.5
    state = opt.state_dict()
    opt2 = ZOOptimizer([w], lr=0.1, sigma=1e-2, n_dirs=8, rng=9)
    opt2.load_state_dict(state)
    assert opt2.t == opt.t
    assert np.array_equal(opt2.key, opt.key)
    with pytest.raises(ValueError, match="one finite number"):
        opt.step(lambda: torch.tensor(float("nan")))
    assert torch.isfinite(w).all()
    with pytest.raises(ValueError, match="'sigma'"):
        ZOOptimizer([w], sigma=0.0)
    with pytest.raises(ValueError, match="'rule'"):
        ZOOptimizer([w], rule="lion")
    with pytest.raises(TypeError, match="dtype"):
        ZOOptimizer([torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))])
    with pytest.raises(RuntimeError, match="accumulate"):
        ZOOptimizer([w]).step()


def test_doctests_and_public_names():
    import doctest

    import zoopt.torch

    res = doctest.testmod(zoopt.torch, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0
    assert res.failed == 0
    assert set(zoopt.torch.__all__) == {"LowRankPopulation", "ZOFunction", "ZOOptimizer",
                                         "metric_loss", "reinforce_loss", "zo_function"}


def test_review_edge_cases():
    a = torch.nn.Parameter(torch.ones(3))
    with pytest.raises(ValueError, match="representable in float32"):
        ZOOptimizer([a], sigma=1e-50)
    with pytest.raises(ValueError, match="'betas'"):
        ZOOptimizer([a], rule="adam", betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="'eps'"):
        ZOOptimizer([a], rule="adam", eps=-1.0)
    # a group added later (another dtype) joins the layout; -0.0 and NaN come back bit for bit
    w = torch.nn.Parameter(torch.tensor([-0.0, float("nan"), 1.0, 0.0], dtype=torch.float64))
    opt = ZOOptimizer([w], lr=0.0, sigma=1e-2, rng=0)
    b = torch.nn.Parameter(torch.tensor([-0.0, 2.0], dtype=torch.bfloat16))
    opt.add_param_group({"params": [b]})
    assert opt._stream_dtype == np.float32
    w0, b0 = w.detach().clone(), b.detach().clone()
    opt.accumulate(lambda: torch.nan_to_num(w).sum() + b.float().sum())
    assert torch.equal(w.detach().view(torch.int64), w0.view(torch.int64))
    assert torch.equal(b.detach().view(torch.int16), b0.view(torch.int16))
    with pytest.raises(ValueError, match="contiguous"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(4, 4).t())]})
    assert len(opt.param_groups) == 2


def test_review_zo_function_outputs():
    f = zo_function(lambda z: (z * 3).to(torch.bfloat16), n_dirs=4, rng=0)
    z = torch.ones(2, 3, requires_grad=True)
    f(z).sum().backward()
    assert torch.isfinite(z.grad).all()
    e = torch.ones(0, 3, requires_grad=True)
    zo_function(lambda z: z * 2, rng=0)(e).sum().backward()
    assert e.grad.shape == (0, 3)
    rows = []
    g = zo_function(lambda z: rows.append(z.shape[0]) or z * 2, n_dirs=8, rng=0,
                    batch_size=40)
    g(torch.ones(10, 3, requires_grad=True)).sum().backward()
    assert max(rows[1:]) <= 40
    with pytest.raises(ValueError, match="representable"):
        zo_function(lambda z: z, sigma=1e39, rng=0)(torch.ones(2, 2, requires_grad=True)).sum(
        ).backward()


def test_zooptimizer_refuses_a_parameter_listed_twice():
    w = torch.nn.Parameter(torch.ones(5))
    with pytest.raises(ValueError, match="same tensor twice"):
        ZOOptimizer([w, w], lr=0.1, rng=0)
