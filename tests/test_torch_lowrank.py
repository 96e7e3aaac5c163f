"""zoopt.torch.LowRankPopulation: low-rank members of a model in one batched forward."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zoopt import policy  # noqa: E402
from zoopt.random import directions  # noqa: E402
from zoopt.torch import LowRankPopulation  # noqa: E402


class _Net(torch.nn.Module):
    """Embedding -> Linear (bias) -> LayerNorm -> Linear: every supported layer, with a
    sequence axis (the members' rows are (B, L, ...) blocks)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 6)
        self.l1 = torch.nn.Linear(6, 8)
        self.ln = torch.nn.LayerNorm(8)
        self.l2 = torch.nn.Linear(8, 3)

    def forward(self, idx):
        h = torch.relu(self.l1(self.emb(idx)))
        return self.l2(self.ln(h)).mean(dim=1)


def _perturbed_copy(model, pop, member):
    c = copy.deepcopy(model)
    pert = pop.perturbation(member)
    with torch.no_grad():
        for name, p in c.named_parameters():
            if name in pert:
                p.add_(pert[name])
    return c


@pytest.mark.parametrize("antithetic", [True, False])
def test_one_linear_layer_members_are_the_numpy_lowrank_directions(antithetic):
    torch.manual_seed(0)
    m, n, r, P = 5, 7, 2, 6
    lin = torch.nn.Linear(n, m, bias=False)
    pop = LowRankPopulation(lin, popsize=P, sigma=0.1, rank=r, antithetic=antithetic, rng=3)
    pop.t = 4
    x = torch.randn(9, n)
    with torch.no_grad():
        out = pop.forward(x)
    assert out.shape == (P, 9, m)
    V = directions(P, m * n, dist="lowrank", shape=(m, n), rank=r, rng=3, step=4,
                   dtype=np.float32)
    W = lin.weight.detach().numpy()
    for i in range(P):
        j, s = (i // 2, 1 - 2 * (i % 2)) if antithetic else (i, 1)
        E = s * 0.1 * V[j].reshape(m, n)
        np.testing.assert_array_equal(pop.perturbation(i)["weight"].numpy(), E)
        np.testing.assert_allclose(out[i].numpy(), x.numpy() @ (W + E).T, rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("antithetic", [True, False])
def test_every_member_equals_the_model_with_its_perturbation_added(antithetic):
    torch.manual_seed(1)
    net = _Net().double()
    pop = LowRankPopulation(net, popsize=6, sigma=0.05, rank=2, antithetic=antithetic, rng=1)
    assert [k for _, k, _ in pop.named_perturbed()] == ["lowrank"] * 3 + ["normal"] * 4
    idx = torch.randint(0, 11, (4, 5))
    with torch.no_grad():
        out = pop.forward(idx)
        for i in range(6):
            np.testing.assert_allclose(out[i].numpy(),
                                       _perturbed_copy(net, pop, i)(idx).numpy(),
                                       rtol=1e-12, atol=1e-12)
    # the unperturbed model is left as it was
    with torch.no_grad():
        ref = _Net().double()
    assert not torch.equal(ref.l1.weight, net.l1.weight)  # (a different init: no sharing)


@pytest.mark.parametrize("antithetic", [True, False])
def test_the_first_layer_shares_its_product_and_frozen_layers_are_left_alone(antithetic):
    torch.manual_seed(2)
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.PReLU(),
                              torch.nn.Linear(8, 2)).double()
    with pytest.raises(ValueError, match=r"module '2' \(PReLU: weight\)"):
        LowRankPopulation(mlp, popsize=4, sigma=0.05, rng=1)
    mlp[2].requires_grad_(False)
    pop = LowRankPopulation(mlp, popsize=4, sigma=0.05, rank=2, antithetic=antithetic, rng=1)
    assert "2.weight" not in {name for name, *_ in pop.named_perturbed()}
    calls = []
    mlp[0].register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
    x = torch.randn(3, 6, dtype=torch.float64)
    with torch.no_grad():
        out = pop.forward(x)
        assert calls == [3]  # x W^T once, for the 3 shared rows, not 4 x 3
        for i in range(4):
            np.testing.assert_allclose(out[i].numpy(),
                                       _perturbed_copy(mlp, pop, i)(x).numpy(), rtol=1e-12,
                                       atol=1e-12)


@pytest.mark.parametrize("antithetic", [True, False])
def test_members_with_their_own_inputs(antithetic):
    torch.manual_seed(5)
    net = _Net().double()
    pop = LowRankPopulation(net, popsize=4, sigma=0.05, rank=2, antithetic=antithetic, rng=6)
    idx = torch.randint(0, 11, (4, 3, 5))
    with torch.no_grad():
        out = pop.forward(idx, per_member=True)
        for i in range(4):
            np.testing.assert_allclose(out[i].numpy(),
                                       _perturbed_copy(net, pop, i)(idx[i]).numpy(),
                                       rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(popsize, B, ...\) = \(4, B, ...\)"):
        pop.forward(idx[:3], per_member=True)


class _ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.c2 = torch.nn.Conv2d(4, 5, 3, stride=2, padding=1, padding_mode="reflect",
                                  bias=False)
        self.c3 = torch.nn.Conv1d(5, 2, 2, dilation=2)
        self.head = torch.nn.Linear(2 * 14, 3)

    def forward(self, x):
        h = torch.relu(self.c2(torch.relu(self.c1(x))))  # (N, 5, 4, 4)
        h = torch.tanh(self.c3(h.flatten(2)))  # (N, 2, 14)
        return self.head(h.flatten(1))


@pytest.mark.parametrize("antithetic", [True, False])
@pytest.mark.parametrize("per_member", [False, True])
def test_members_of_a_convolutional_net_equal_their_perturbed_copies(antithetic, per_member):
    torch.manual_seed(7)
    net = _ConvNet().double()
    P = 6
    pop = LowRankPopulation(net, popsize=P, sigma=0.05, rank=2, antithetic=antithetic, rng=4)
    kinds = {name: (kind, shape) for name, kind, shape in pop.named_perturbed()}
    assert kinds["c1.weight"] == ("lowrank", (4, 3, 3, 3))
    assert kinds["c1.bias"][0] == "normal"
    x = torch.randn(*((P,) if per_member else ()), 2, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        out = pop.forward(x, per_member=per_member)
        for i in range(P):
            ref_out = _perturbed_copy(net, pop, i)(x[i] if per_member else x)
            np.testing.assert_allclose(out[i].numpy(), ref_out.numpy(), rtol=1e-11,
                                       atol=1e-12)
    # a member's weight perturbation is the low-rank direction of the matrix view
    V = directions(P, 4 * 27, dist="lowrank", shape=(4, 27), rank=2, rng=4, step=0)
    np.testing.assert_allclose(pop.perturbation(0)["c1.weight"].numpy().ravel(),
                               0.05 * V[0], rtol=1e-14)
    with torch.no_grad():
        pop.backward(torch.arange(P, dtype=torch.float64))
    assert net.c1.weight.grad.shape == (4, 3, 3, 3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_model_runs_its_members_in_its_own_dtype(dtype):
    """A bfloat16/float16 Linear layer's members are its exact perturbed outputs up to
    the worst-case rounding bound of the half-precision operations (Higham's
    gamma_k = k u for sums of k products, u the unit roundoff), and backward gives the
    float32 population's gradient rounded to the parameters' dtype."""
    torch.manual_seed(8)
    n, m, r, P, sigma = 16, 8, 2, 6, 1.0
    lin32 = torch.nn.Linear(n, m)
    lin = copy.deepcopy(lin32).to(dtype)
    x = torch.randn(5, n).to(dtype)
    pop = LowRankPopulation(lin, popsize=P, sigma=sigma, rank=r, rng=2)
    with torch.no_grad():
        out = pop.forward(x).double()
    u = 2.0**-8 if dtype == torch.bfloat16 else 2.0**-11
    X, W, b = x.double(), lin.weight.double(), lin.bias.double()
    low, full = pop._draw(0)
    for i in range(P):
        j, sg = i // 2, 1.0 - 2.0 * (i % 2)
        A = low[j, : m * r].reshape(m, r).to(dtype).double()  # the factors as the layer
        B = low[j, m * r :].reshape(n, r).to(dtype).double()  # uses them
        ub = (full[j] * sigma).to(dtype).double()
        c = sg * sigma / np.sqrt(r)
        exact = X @ W.T + b + c * (X @ B) @ A.T + sg * ub
        bound = ((n + 4) * u * (X.abs() @ W.abs().T + b.abs())
                 + (n + r + 4) * u * abs(c) * (X.abs() @ B.abs()) @ A.abs().T
                 + 4 * u * ub.abs())
        assert ((out[i] - exact).abs() <= bound).all(), i
        assert ((out[i] - (X @ W.T + b)).abs() > bound).any()  # the member did move
    pop32 = LowRankPopulation(lin32, popsize=P, sigma=sigma, rank=r, rng=2)
    with torch.no_grad():
        pop32.forward(x.float())
        pop32.backward(torch.arange(6.0))
        pop.backward(torch.arange(6.0))
    for p, p32 in ((lin.weight, lin32.weight), (lin.bias, lin32.bias)):
        assert p.grad.dtype == dtype
        assert torch.equal(p.grad, p32.grad.to(dtype))


def test_grouped_convolutions_are_refused():
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(ValueError, match=r"Conv2d the module '0' has groups=2"):
        LowRankPopulation(net, popsize=4, sigma=0.1)
    net[0].requires_grad_(False)
    net.append(torch.nn.Conv2d(4, 2, 1))
    LowRankPopulation(net, popsize=4, sigma=0.1)  # frozen: left alone


@pytest.mark.parametrize("antithetic", [True, False])
@pytest.mark.parametrize("shaping", ["centered_ranks", "none"])
def test_backward_is_the_gaussian_policy_with_lowrank_directions(antithetic, shaping):
    torch.manual_seed(0)
    m, n, r, P = 5, 7, 2, 10
    lin = torch.nn.Linear(n, m, bias=False).double()
    x = torch.randn(16, n, dtype=torch.float64)
    y = torch.randn(16, m, dtype=torch.float64)
    pop = LowRankPopulation(lin, popsize=P, sigma=0.1, rank=r, antithetic=antithetic,
                            shaping=shaping, rng=3)
    pop.t = 5
    with torch.no_grad():
        losses = ((pop.forward(x) - y) ** 2).mean(dim=(1, 2))
        pop.backward(losses)
    assert pop.t == 6
    X, Y = x.numpy(), y.numpy()

    def fun(Wf):
        return ((X @ Wf.reshape(-1, m, n).transpose(0, 2, 1) - Y) ** 2).mean(axis=(1, 2))

    g = policy.gaussian(fun, lin.weight.detach().numpy().ravel(), sigma=0.1, n_samples=P,
                        antithetic=antithetic, shaping=None if shaping == "none" else shaping,
                        baseline="none", dist="lowrank", shape=(m, n), rank=r, rng=3, step=5)
    np.testing.assert_allclose(lin.weight.grad.numpy().ravel(), g, rtol=1e-10, atol=1e-12)


def test_backward_of_every_parameter_sums_the_materialized_perturbations():
    torch.manual_seed(3)
    net = _Net().double()
    pop = LowRankPopulation(net, popsize=8, sigma=0.05, rank=3, rng=2)
    idx = torch.randint(0, 11, (4, 5))
    with torch.no_grad():
        losses = pop.forward(idx).pow(2).mean(dim=(1, 2))
    pert = [pop.perturbation(i) for i in range(8)]
    pop.backward(losses)
    w = pop.weights(losses.numpy())
    for name, p in net.named_parameters():
        ref = sum(w[j] * pert[2 * j][name] / 0.05 for j in range(4))
        np.testing.assert_allclose(p.grad.numpy(), ref.numpy(), rtol=1e-10, atol=1e-12)
    # the sum of rank-3 terms over 4 directions has rank up to 12
    assert torch.linalg.matrix_rank(net.l1.weight.grad) == 6


def test_training_resumes_exactly_from_the_state_of_population_model_and_optimizer():
    def make():
        torch.manual_seed(4)
        model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 1))
        pop = LowRankPopulation(model, popsize=16, sigma=0.05, rank=2, rng=7)
        return model, pop, torch.optim.Adam(model.parameters(), lr=0.01)

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=gen)
    y = torch.sin(x.sum(dim=1, keepdim=True))

    def train(model, pop, opt, k):
        for _ in range(k):
            with torch.no_grad():
                pop.backward(((pop.forward(x) - y) ** 2).mean(dim=(1, 2)))
            opt.step()

    model, pop, opt = make()
    with torch.no_grad():
        first = float(((model(x) - y) ** 2).mean())
    train(model, pop, opt, 3)
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()),
             pop.state_dict())
    train(model, pop, opt, 60)
    model2, pop2, opt2 = make()
    model2.load_state_dict(saved[0])
    opt2.load_state_dict(saved[1])
    pop2.load_state_dict(saved[2])
    train(model2, pop2, opt2, 60)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():  # it descends (0.49 -> 0.28 measured; the opposite sign ascends)
        assert float(((model(x) - y) ** 2).mean()) < 0.75 * first


def test_bad_arguments_name_the_parameter():
    lin = torch.nn.Linear(4, 3)
    with pytest.raises(TypeError, match="'model'"):
        LowRankPopulation(lin.weight, popsize=4, sigma=0.1)
    with pytest.raises(ValueError, match=r"'popsize'.*even"):
        LowRankPopulation(lin, popsize=5, sigma=0.1)
    with pytest.raises(ValueError, match="'sigma'"):
        LowRankPopulation(lin, popsize=4, sigma=0.0)
    with pytest.raises(ValueError, match="'rank'"):
        LowRankPopulation(lin, popsize=4, sigma=0.1, rank=0)
    with pytest.raises(ValueError, match="'shaping'"):
        LowRankPopulation(lin, popsize=4, sigma=0.1, shaping="ranks")
    with pytest.raises(TypeError, match="float32, float64, bfloat16 or float16"):
        LowRankPopulation(torch.nn.Linear(4, 3, dtype=torch.complex64), popsize=4, sigma=0.1)
    with pytest.raises(ValueError, match="CPU and CUDA tensors"):
        LowRankPopulation(torch.nn.Linear(4, 3, device="meta"), popsize=4, sigma=0.1)
    with pytest.raises(ValueError, match="nothing to perturb"):
        LowRankPopulation(torch.nn.Linear(4, 3).requires_grad_(False), popsize=4, sigma=0.1)
    pop = LowRankPopulation(lin, popsize=4, sigma=0.1, rank=8)  # rank capped at min(m, n)
    assert pop.perturbation(0)["weight"].shape == (3, 4)
    with pytest.raises(RuntimeError, match="call forward first"):
        pop.backward(torch.zeros(4))
    with pytest.raises(TypeError, match="'x'"):
        pop.forward([1.0, 2.0])
    with pytest.raises(ValueError, match=r"'x'.*not be empty.*\(0, 4\)"):
        pop.forward(torch.empty(0, 4))
    with torch.no_grad():
        pop.forward(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        pop.backward(torch.zeros(3))
    with pytest.raises(ValueError, match=r"finite.*members \[1\]"):
        pop.backward(torch.tensor([0.0, float("nan"), 1.0, 2.0]))
    with pytest.raises(ValueError, match="'member'"):
        pop.perturbation(4)
    with pytest.raises(ValueError, match="'t' and 'key'"):
        pop.load_state_dict({"t": 1})
    with pytest.raises(ValueError, match="'key'"):
        pop.load_state_dict({"t": 1, "key": [1, -2]})

    class Merge(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.lin(x).sum(dim=0, keepdim=True)  # mixes the rows of all members

    with pytest.raises(ValueError, match="rows kept in order"):
        LowRankPopulation(Merge(), popsize=4, sigma=0.1).forward(torch.randn(2, 4))


def test_doctests():
    import doctest

    from zoopt import _torch_lowrank

    res = doctest.testmod(_torch_lowrank, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0
    assert res.failed == 0


# ---------------------------------------------------------------------------
# ZOOptimizer(perturbation="lowrank"): the LOZO form of forward-only training

def _capture_probe(opt, W, loss):
    """The moved W of the + probe of direction 0 (minus the start, over sigma)."""
    W0 = W.detach().clone()
    seen = []

    def closure():
        seen.append(W.detach().clone())
        return loss()

    opt.accumulate(closure)
    return ((seen[0].double() - W0.double()) / opt.sigma).numpy()


def test_zooptimizer_lowrank_gradient_is_zoopt_grad_with_lowrank_directions():
    from zoopt import grad
    from zoopt.torch import ZOOptimizer

    torch.manual_seed(0)
    m, n, r = 6, 5, 2
    W = torch.nn.Parameter(torch.randn(m, n, dtype=torch.float64))
    X = torch.randn(8, n, dtype=torch.float64)
    Y = torch.randn(8, m, dtype=torch.float64)

    def loss_of(Wt):
        return ((X @ Wt.T - Y) ** 2).mean()

    opt = ZOOptimizer([W], lr=1.0, sigma=1e-2, n_dirs=4, rng=3, perturbation="lowrank",
                      rank=r)
    opt.t = 2
    W0 = W.detach().clone()
    opt.step(lambda: loss_of(W))
    g = (W0 - W.detach()).numpy().ravel()

    def f(P):
        return np.array([float(loss_of(torch.from_numpy(row.reshape(m, n)))) for row in P])

    ref = grad(f, W0.numpy().ravel(), sigma=1e-2, n_dirs=4, rng=3, step=2, dist="lowrank",
               shape=(m, n), rank=r)
    np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_zooptimizer_lowrank_restores_the_parameters_bit_for_bit(dtype):
    from zoopt.torch import ZOOptimizer

    torch.manual_seed(1)
    W = torch.nn.Parameter(torch.randn(70, 40).to(dtype))
    b = torch.nn.Parameter(torch.randn(70).to(dtype))
    X = torch.randn(16, 40).to(dtype)
    opt = ZOOptimizer([W, b], lr=1e-3, sigma=1e-2, n_dirs=3, rng=0, perturbation="lowrank",
                      rank=3)
    W0, b0 = W.detach().clone(), b.detach().clone()
    opt.accumulate(lambda: (X @ W.T + b).float().pow(2).mean())
    assert torch.equal(W.detach(), W0)
    assert torch.equal(b.detach(), b0)
    # the probe moved W by a rank-3 matrix
    opt2 = ZOOptimizer([W, b], lr=1e-3, sigma=1e-2, n_dirs=1, rng=0, perturbation="lowrank",
                       rank=3)
    U = _capture_probe(opt2, W, lambda: (X @ W.T + b).float().pow(2).mean())
    if dtype != torch.bfloat16:  # bf16 rounding of the probe breaks the exact rank
        assert np.linalg.matrix_rank(U.astype(np.float64), tol=1e-3) == 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zooptimizer_lowrank_compiled_moves_are_the_torch_ops_bit_for_bit(dtype):
    """The CPU's compiled low-rank moves (shift_lowrank) give the probes of the torch-op
    path (the one CUDA parameters take) bit for bit, over chunks that end mid-row."""
    from zoopt.torch import ZOOptimizer

    torch.manual_seed(4)
    W0 = torch.randn(70, 40).to(dtype)
    W0[::9] *= 1e-7  # small entries, where the move cannot be undone exactly
    probes = {}
    for fused in (True, False):
        W = torch.nn.Parameter(W0.clone())
        opt = ZOOptimizer([W], lr=1e-3, sigma=1e-2, n_dirs=3, rng=0, perturbation="lowrank",
                          rank=3, lazy=2)
        opt._chunk = 1000  # spans that start and end inside a row of 40
        if not fused:
            opt._fused = lambda p: False
        seen = []
        for _ in range(3):
            opt.step(lambda W=W, seen=seen: seen.append(W.detach().clone()) or W.sum())
        probes[fused] = (seen, W.detach().clone())
    for a, b in zip(probes[True][0], probes[False][0], strict=True):
        assert torch.equal(a, b)
    assert torch.equal(probes[True][1], probes[False][1])


@pytest.mark.parametrize(("lazy", "expected"), [(1, 4), (3, 2)])
def test_zooptimizer_lazy_keeps_the_row_space_within_a_window(lazy, expected):
    from zoopt.torch import ZOOptimizer

    torch.manual_seed(2)
    W = torch.nn.Parameter(torch.randn(12, 9, dtype=torch.float64))
    loss = lambda: W.pow(2).sum()  # noqa: E731
    opt = ZOOptimizer([W], lr=1e-3, sigma=1e-3, n_dirs=1, rng=5, perturbation="lowrank",
                      rank=2, lazy=lazy)
    U0 = _capture_probe(opt, W, loss)
    opt.step()
    U1 = _capture_probe(opt, W, loss)
    # step 1 is in step 0's window when lazy = 3: the same B, so the same row space
    assert np.linalg.matrix_rank(np.vstack([U0, U1]), tol=1e-8) == expected


def test_zooptimizer_lowrank_resumes_exactly():
    from zoopt.torch import ZOOptimizer

    def make():
        torch.manual_seed(3)
        lin = torch.nn.Linear(6, 4)
        return lin, ZOOptimizer(lin.parameters(), lr=1e-2, sigma=1e-2, n_dirs=2, rng=1,
                                perturbation="lowrank", rank=2, lazy=3, rule="adam")

    X = torch.randn(10, 6)

    def run(lin, opt, k):
        for _ in range(k):
            opt.step(lambda: lin(X).pow(2).mean())

    lin, opt = make()
    run(lin, opt, 2)
    saved = (copy.deepcopy(lin.state_dict()), copy.deepcopy(opt.state_dict()))
    run(lin, opt, 5)
    lin2, opt2 = make()
    lin2.load_state_dict(saved[0])
    opt2.load_state_dict(saved[1])
    run(lin2, opt2, 5)
    assert torch.equal(lin.weight, lin2.weight)
    assert torch.equal(lin.bias, lin2.bias)


def test_zooptimizer_lowrank_arguments():
    from zoopt.torch import ZOOptimizer

    w = torch.nn.Parameter(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="'perturbation'"):
        ZOOptimizer([w], perturbation="low")
    with pytest.raises(ValueError, match="perturbation='lowrank'"):
        ZOOptimizer([w], rank=2)
    with pytest.raises(ValueError, match="'rank'"):
        ZOOptimizer([w], perturbation="lowrank", rank=0)
    with pytest.raises(ValueError, match="'lazy'"):
        ZOOptimizer([w], perturbation="lowrank", lazy=0)


def test_members_of_a_transformer_equal_their_perturbed_copies():
    from zoopt._bench.lowrank import _SEQ, _VOCAB, _transformer

    net = _transformer(16).double()
    pop = LowRankPopulation(net, popsize=4, sigma=0.05, rank=2, rng=9)
    assert sum(k == "lowrank" for _, k, _ in pop.named_perturbed()) == 1 + 2 * 6 + 1
    idx = torch.randint(0, _VOCAB, (3, _SEQ), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = pop.forward(idx)
        for i in range(4):
            np.testing.assert_allclose(out[i].numpy(),
                                       _perturbed_copy(net, pop, i)(idx).numpy(),
                                       rtol=1e-10, atol=1e-12)
