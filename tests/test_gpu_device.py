"""On a real device (``gpu``-marked: skipped without CuPy and an NVIDIA GPU): CuPy arrays
in, CuPy arrays out, the same bits as the CPU.

This file needs only NumPy, pytest, CuPy and zoopt, so that the device check
(tools/device_check.sh) runs it on a machine without the test extra:
``pytest --noconftest -m gpu tests/test_gpu_device.py``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import zoopt
from zoopt import _backend
from zoopt.random import directions


def _device_count() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no CuPy, no driver or no device
        return 0


pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(_device_count() == 0, reason="needs CuPy and an NVIDIA GPU")]


def quadratic(X):
    return (X * X).sum(axis=1) + 0.5 * X[:, 0]


def assert_same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@pytest.fixture
def cp():
    return pytest.importorskip("cupy")


@pytest.mark.gpu
def test_gpu_philox_words_equal_cpu(cp):
    from zoopt._cy import streams as cy

    gen = np.random.default_rng(0)
    ctr = gen.integers(0, 2**32, (10_001, 4), dtype=np.uint32)
    key = gen.integers(0, 2**32, (10_001, 2), dtype=np.uint32)
    want = np.empty_like(ctr)
    cy.philox4x32(ctr, key, want, 10, 1)
    out = cp.empty_like(cp.asarray(ctr))
    _backend.cuda().streams.philox4x32(cp.asarray(ctr), cp.asarray(key), out, 10, 1)
    np.testing.assert_array_equal(out.get(), want)


@pytest.mark.gpu
@pytest.mark.parametrize("dist", ["normal", "rademacher", "sphere"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["central", "forward"])
def test_gpu_grad_equals_cpu_bit_for_bit(cp, dist, dtype, method):
    d = 100_003
    x = np.linspace(-1, 1, d).astype(dtype)
    got = zoopt.grad(quadratic, cp.asarray(x), method=method, dist=dist, n_dirs=64, rng=1,
                     step=5, batch_size=32)
    assert isinstance(got, cp.ndarray)
    assert got.dtype == dtype
    # the objective's sums run in CuPy's order, not NumPy's (in float32 at d = 1e5 that
    # changes the values by more than the signal): compare with the CPU estimate whose
    # objective is evaluated by the device on the CPU's probes, in batches of the same shape
    dev_fun = zoopt.grad(lambda X: quadratic(cp.asarray(X)).get(), x, method=method,
                         dist=dist, n_dirs=64, rng=1, step=5, batch_size=32)
    assert_same_bits(got.get(), dev_fun)


@pytest.mark.gpu
@pytest.mark.parametrize("dist", ["normal", "rademacher", "sphere"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_directions_equal_cpu(cp, dist, dtype):
    want = directions(33, 4099, dist=dist, rng=3, step=7, dtype=dtype, start=11)
    got = directions(33, 4099, dist=dist, rng=3, step=7, dtype=dtype, start=11,
                     like=cp.empty(0))
    assert isinstance(got, cp.ndarray)
    assert_same_bits(got.get(), want)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_subnormals_are_not_flushed(cp, dtype):
    # compiled with -ftz=false: subnormal x and subnormal steps sigma * v keep their bits
    from zoopt._cy import streams as cy

    tiny = np.finfo(dtype).smallest_subnormal
    x = (np.arange(1, 1001) * tiny).astype(dtype)
    sigma = dtype(np.finfo(dtype).tiny / 64)  # subnormal
    want = np.empty((8, 1000), dtype)
    cy.perturb(x, sigma, np.empty(0, dtype), np.empty(0, dtype), want, 0, 1, 2, 3, 4, 0, True,
               1)
    out = cp.empty((8, 1000), dtype)
    _backend.cuda().streams.perturb(cp.asarray(x), sigma, cp.empty(0, dtype),
                                    cp.empty(0, dtype), out, 0, 1, 2, 3, 4, 0, True, 1)
    assert_same_bits(out.get(), want)
    assert np.count_nonzero(want != x) > 100  # the steps were not flushed on the CPU either


@pytest.mark.gpu
@pytest.mark.parametrize("antithetic", [False, True])
def test_gpu_gaussian_policy_equals_cpu(cp, antithetic):
    d = 5003
    mean = np.linspace(-1, 1, d).astype(np.float32)
    sigma = np.linspace(0.05, 0.2, d).astype(np.float32)
    kw = dict(n_samples=32, antithetic=antithetic, rng=2, log_sigma_grad=True)
    got = zoopt.policy.gaussian(quadratic, cp.asarray(mean), sigma=cp.asarray(sigma), **kw)
    want = zoopt.policy.gaussian(lambda X: quadratic(cp.asarray(X)).get(), mean, sigma=sigma,
                                 **kw)
    assert isinstance(got[0], cp.ndarray)
    assert_same_bits(got[0].get(), want[0])
    assert_same_bits(got[1].get(), want[1])
    with pytest.raises(TypeError, match="'sigma' parameter of gaussian is a host"):
        zoopt.policy.gaussian(quadratic, cp.asarray(mean), sigma=sigma, **kw)


@pytest.mark.gpu
def test_gpu_coordinate_grad_and_bad_input(cp):
    x = cp.linspace(-1, 1, 300)
    g = zoopt.grad(quadratic, x, method="coordinate")
    assert isinstance(g, cp.ndarray)
    np.testing.assert_allclose(g.get(), 2 * x.get() + 0.5 * (np.arange(300) == 0), atol=1e-6)
    bad = x.copy()
    bad[7] = cp.nan
    with pytest.raises(ValueError, match=r"'x' parameter of grad must be finite.*\[7\]"):
        zoopt.grad(quadratic, bad)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["zo-sgd", "zo-adam", "es", "spsa", "snes"])
def test_gpu_minimize_state_on_device_and_resume_on_cpu(cp, method, tmp_path):
    x0 = np.linspace(-1, 1, 1001)
    box = [(-2.0, 2.0)] * 1001
    dev_fun = lambda X: quadratic(X)  # noqa: E731 - evaluated on the device
    host_of_dev = lambda X: quadratic(cp.asarray(X)).get()  # noqa: E731 - same arithmetic
    got = zoopt.minimize(dev_fun, cp.asarray(x0), method=method, maxiter=5, rng=4,
                         bounds=box, checkpoint=str(tmp_path / "c.npz"))
    assert isinstance(got.x, cp.ndarray)
    assert isinstance(got.x_mean, cp.ndarray)
    want = zoopt.minimize(host_of_dev, x0, method=method, maxiter=5, rng=4, bounds=box)
    if method in ("zo-sgd", "zo-adam", "es"):  # elementwise IEEE updates: the same bits
        assert_same_bits(got.x_mean.get(), want.x_mean)
        assert_same_bits(got.x.get(), want.x)
        assert got.fun == want.fun
    else:
        # spsa's gain calibration (a mean of |g|) and snes's step-size update (exp) use
        # CuPy's reduction order and exp: a few ulp per step, over 5 steps
        np.testing.assert_allclose(got.x_mean.get(), want.x_mean, rtol=1e-12, atol=1e-14)
    # the device checkpoint is plain arrays and resumes on the host
    more = zoopt.minimize(host_of_dev, x0, method=method, maxiter=8, rng=4, bounds=box,
                          checkpoint=str(tmp_path / "c.npz"))
    assert more.nit == 8
    assert isinstance(more.x, np.ndarray)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_gpu_zooptimizer_on_cuda_tensors(cp, dtype_name):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    from zoopt.torch import ZOOptimizer

    dtype = getattr(torch, dtype_name)
    ints = {torch.bfloat16: torch.int16, torch.float32: torch.int32}[dtype]
    gen = torch.Generator().manual_seed(0)
    init = torch.randn(300_001, generator=gen).to(dtype)
    init[:3] = torch.tensor([-0.0, 1e-40, 3.0e38]).to(dtype)  # signed zero, tiny, huge
    losses = iter([float(k) for k in range(1000)])  # device-independent values

    def run(device):
        w = torch.nn.Parameter(init.to(device))
        opt = ZOOptimizer([w], lr=1e-3, sigma=1e-2, n_dirs=4, rng=3)
        before = w.detach().clone()
        opt.accumulate(lambda: next(losses))
        assert torch.equal(w.detach().view(ints), before.view(ints))  # exact restore
        opt.step()
        return w.detach().cpu()

    on_gpu = run("cuda")
    losses = iter([float(k) for k in range(1000)])
    on_cpu = run("cpu")
    assert torch.equal(on_gpu.view(ints), on_cpu.view(ints))


@pytest.mark.gpu
def test_gpu_reinforce_loss_on_cuda_tensors(cp):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    from zoopt.torch import reinforce_loss

    rewards = [1.0, 0.0, 0.5, 2.0]
    grads = []
    for device in ("cuda", "cpu"):
        lp = torch.tensor([-0.1, -1.2, -0.7, -2.0], device=device, requires_grad=True)
        reinforce_loss(lp, rewards).backward()
        grads.append(lp.grad.cpu())
    assert torch.equal(grads[0], grads[1])


@pytest.mark.gpu
def test_gpu_categorical_samples_equal_cpu(cp):
    gen = np.random.default_rng(0)
    z = gen.normal(size=(10_007, 10)).astype(np.float32)
    y = gen.integers(0, 10, 10_007)
    y_dev = cp.asarray(y)

    def reward_dev(Y):
        return (Y == y_dev).astype(cp.float64).mean(axis=1)

    def reward_host(Y):
        return (Y == y).astype(np.float64).mean(axis=1)

    got, ginfo = zoopt.policy.categorical(cp.asarray(z), reward_dev, n_samples=16, rng=5,
                                          return_info=True)
    want, winfo = zoopt.policy.categorical(z, reward_host, n_samples=16, rng=5,
                                           return_info=True)
    assert isinstance(got, cp.ndarray)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(ginfo.samples.get(), winfo.samples)  # the same labels
    # the softmax uses the device's exp (a few float64 ulp from NumPy's); the float32
    # gradient then differs by at most 1 ulp of float32 (2 used), or by the float64-level
    # difference times |tot| where the two terms cancel (atol)
    np.testing.assert_allclose(got.get(), want, rtol=2 * np.finfo(np.float32).eps,
                               atol=1e-12)


@pytest.mark.gpu
def test_gpu_metrics_equal_cpu(cp):
    from zoopt import metrics

    gen = np.random.default_rng(1)
    yt = gen.integers(0, 10, 100_003)
    yp = gen.integers(0, 10, (64, 100_003))
    yp[:, :50_000] = yt[:50_000]
    dt, dp = cp.asarray(yt), cp.asarray(yp)
    for average in ("macro", "micro", "weighted"):
        got = metrics.f1_score(dt, dp, average=average)
        assert isinstance(got, cp.ndarray)
        assert_same_bits(got.get(), metrics.f1_score(yt, yp, average=average))
    got = metrics.accuracy(dt, dp)
    np.testing.assert_array_equal(got.get(), metrics.accuracy(yt, yp))
    cm = metrics.confusion_matrix(dt, dp, 10)
    assert isinstance(cm, cp.ndarray)
    np.testing.assert_array_equal(cm.get(), metrics.confusion_matrix(yt, yp, 10))
    with pytest.raises(TypeError, match="'y_true' parameter of f1_score is a host"):
        metrics.f1_score(yt, dp, average="macro")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_projections_equal_cpu(cp, dtype):
    from zoopt import projection

    X = np.random.default_rng(2).standard_normal((300, 5000)).astype(dtype)
    for cls in (projection.SRHT, projection.SparseRandomProjection):
        est = cls(n_components=256, rng=1).fit(X)
        got = est.transform(cp.asarray(X))
        assert isinstance(got, cp.ndarray)
        assert_same_bits(got.get(), est.transform(X))
    est = projection.GaussianRandomProjection(n_components=256, rng=1).fit(X)
    # cuBLAS and the host BLAS sum in different orders; each is within gamma_m |X| |C|^T
    # of the exact product (Higham, Accuracy and Stability, 3.1), so they are within twice
    C = est.components_.astype(dtype)
    bound = 2 * X.shape[1] * np.finfo(dtype).eps * (np.abs(X) @ np.abs(C).T)
    diff = np.abs(est.transform(cp.asarray(X)).get() - est.transform(X))
    assert (diff <= bound).all()
    F = X[:, :4096]
    assert_same_bits(projection.fwht(cp.asarray(F)).get(), projection.fwht(F))


@pytest.mark.gpu
def test_gpu_sphere_uniform_equals_cpu(cp):
    got = zoopt.sphere.uniform(300, 1025, rng=2, like=cp.empty(0))
    assert isinstance(got, cp.ndarray)
    assert_same_bits(got.get(), zoopt.sphere.uniform(300, 1025, rng=2))


@pytest.mark.gpu
def test_gpu_output_space_stays_on_device(cp):
    Z = cp.linspace(-1, 1, 600).reshape(200, 3)
    g = zoopt.policy.output_space(lambda B: -((B - 0.5) ** 2).sum(axis=(1, 2)), Z, sigma=0.1,
                                  n_samples=32, rng=0)
    assert isinstance(g, cp.ndarray)
    assert g.shape == (200, 3)


@pytest.mark.gpu
def test_gpu_sequence_score(cp):
    gen = np.random.default_rng(4)
    z = gen.normal(size=(16, 20, 1000))
    tokens = gen.integers(0, 1000, (16, 20))
    rewards = gen.normal(size=16)
    got = zoopt.policy.sequence(cp.asarray(z), cp.asarray(tokens), rewards)
    assert isinstance(got, cp.ndarray)
    assert_same_bits(got.get(), zoopt.policy.sequence(z, tokens, rewards))
    with pytest.raises(TypeError, match="'tokens' parameter of sequence is a host"):
        zoopt.policy.sequence(cp.asarray(z), tokens, rewards)


@pytest.mark.gpu
def test_gpu_zo_function_on_cuda_tensors(cp):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    from zoopt.torch import zo_function

    grads = []
    for device in ("cuda", "cpu"):
        f = zo_function(lambda t: torch.round(t * 4) / 4, rng=2, n_dirs=16, sigma=0.1)
        z = torch.linspace(-1, 1, 4000, dtype=torch.float64, device=device).reshape(40, 100)
        z.requires_grad_()
        f(z).sum().backward()
        assert z.grad.device.type == device
        grads.append(z.grad.cpu())
    # the same directions, probes and values; only phi's row sums (100 terms of size <= 1)
    # run in CuPy's order: within 2 * 100 eps * 100 each, over 2 sigma = 0.2, times
    # |u| < 6: about 1.3e-10
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1.5e-10)


@pytest.mark.gpu
@pytest.mark.parametrize("metric", ["accuracy", "f1"])
def test_gpu_metric_loss_on_cuda_tensors(cp, metric):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    from zoopt.torch import metric_loss

    y = np.random.default_rng(0).integers(0, 2, 5000)
    grads = []
    for device in ("cuda", "cpu"):
        logits = torch.zeros(5000, 2, device=device, requires_grad=True)
        metric_loss(logits, torch.as_tensor(y, device=device), metric, n_samples=16,
                    rng=3).backward()
        grads.append(logits.grad.cpu())
    # the same sampled labels and rewards; the softmax's exp is the device's: as in
    # test_gpu_categorical_samples_equal_cpu, within 2 float32 ulp (or 1e-12 absolute)
    torch.testing.assert_close(grads[0], grads[1], rtol=2 * np.finfo(np.float32).eps,
                               atol=1e-12)


@pytest.mark.gpu
def test_gpu_orthogonal_and_subspace_grad(cp):
    x = np.linspace(-1, 1, 3000)
    for kw in ({"dist": "orthogonal"}, {"subspace": 500}):
        got = zoopt.grad(quadratic, cp.asarray(x), n_dirs=64, rng=6, **kw)
        assert isinstance(got, cp.ndarray)
        want = zoopt.grad(lambda X: quadratic(cp.asarray(X)).get(), x, n_dirs=64, rng=6, **kw)
        if "subspace" in kw:  # the same kernels on both sides: the same bits
            assert_same_bits(got.get(), want)
        else:  # the QR is cuSOLVER's on the device, LAPACK's on the host: Householder QR
            # is backward stable, the Q of the two differ by O(d eps cond(G)) and Gaussian
            # blocks this size have cond(G) < 1e4 with overwhelming probability
            np.testing.assert_allclose(got.get(), want, rtol=1e-8, atol=1e-8)
    U = directions(50, 40, dist="orthogonal", rng=1, like=cp.empty(0))
    assert isinstance(U, cp.ndarray)
    np.testing.assert_allclose(U.get(), directions(50, 40, dist="orthogonal", rng=1),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.gpu
def test_gpu_chain_linear(cp):
    X = cp.asarray(np.random.default_rng(0).normal(size=(50, 3)))
    g_z = zoopt.policy.output_space(lambda B: -((B - 1.0) ** 2).sum(axis=(1, 2)),
                                    X @ cp.zeros((3, 2)), sigma=0.1, n_samples=64, rng=0)
    gW = zoopt.policy.chain_linear(X, g_z)
    assert isinstance(gW, cp.ndarray)
    np.testing.assert_allclose(gW.get(), X.get().T @ g_z.get(), rtol=1e-12)
    with pytest.raises(TypeError, match="'X' parameter of chain_linear is a host"):
        zoopt.policy.chain_linear(X.get(), g_z)


@pytest.mark.gpu
def test_gpu_lowrank_directions_and_grad(cp):
    kw = {"dist": "lowrank", "shape": (30, 20), "rank": 3}
    for dt in (np.float32, np.float64):
        U = directions(40, 600, rng=2, step=5, dtype=dt, like=cp.empty(0), **kw)
        assert isinstance(U, cp.ndarray)
        # factors from the same kernels, products by separate elementwise ops: same bits
        assert_same_bits(U.get(), directions(40, 600, rng=2, step=5, dtype=dt, **kw))
    x = np.linspace(-1, 1, 600)
    got = zoopt.grad(quadratic, cp.asarray(x), n_dirs=64, rng=6, **kw)
    assert isinstance(got, cp.ndarray)
    want = zoopt.grad(lambda X: quadratic(cp.asarray(X)).get(), x, n_dirs=64, rng=6, **kw)
    np.testing.assert_allclose(got.get(), want, rtol=1e-10, atol=1e-12)  # the sum: cuBLAS


@pytest.mark.gpu
def test_gpu_lowrank_population_and_lozo_on_cuda(cp):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    from zoopt.torch import LowRankPopulation, ZOOptimizer

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(),
                              torch.nn.LayerNorm(16), torch.nn.Linear(16, 3)).double()
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3)).double()
    for cpu, x in ((mlp, torch.randn(5, 12, dtype=torch.float64)),
                   (cnn, torch.randn(5, 3, 6, 6, dtype=torch.float64))):
        gpu = copy.deepcopy(cpu).cuda()
        outs, grads = [], []
        for model, xx in ((cpu, x), (gpu, x.cuda())):
            pop = LowRankPopulation(model, popsize=6, sigma=0.05, rank=2, rng=4)
            with torch.no_grad():
                out = pop.forward(xx)
                pop.backward(out.pow(2).mean(dim=(1, 2)))
            outs.append(out.cpu())
            grads.append([p.grad.cpu() for p in model.parameters()])
            if model is gpu:  # the factors: the same bits on the device
                for name, t in pop.perturbation(3, step=0).items():  # (backward: t = 1)
                    ref = LowRankPopulation(cpu, popsize=6, sigma=0.05, rank=2,
                                            rng=4).perturbation(3, step=0)[name]
                    assert torch.equal(t.cpu(), ref)
        torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    # LOZO on the device: the parameters come back bit for bit after the probes
    w = torch.nn.Parameter(torch.randn(64, 48, device="cuda"))
    opt = ZOOptimizer([w], lr=1e-3, sigma=1e-2, n_dirs=2, rng=1, perturbation="lowrank",
                      rank=2)
    before = w.detach().clone()
    opt.accumulate(lambda: w.pow(2).sum())
    assert torch.equal(w.detach(), before)
    opt.step()
    assert not torch.equal(w.detach(), before)
