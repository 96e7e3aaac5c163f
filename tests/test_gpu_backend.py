"""The GPU backend: dispatch by array type, and the estimators run through the CUDA
kernel set.

Without a GPU, the estimators are routed through the host build of the CUDA kernels
(tests/gpu_emu) by ``zoopt._backend._override``: the same launchers, kernel names,
launch sizes and argument types as on a device, so ``grad`` and ``policy.gaussian``
through them must equal the CPU results bit for bit.  The ``gpu`` tests repeat that on
a real device with CuPy arrays, and are skipped without one.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoopt
from zoopt import _backend
from zoopt._gpu._streams import StreamKernels
from zoopt.random import directions

import gpu_emu
from strategies import float_dtypes, seeds

needs_cxx = pytest.mark.skipif(gpu_emu.compiler() is None,
                               reason="no C++ compiler for the host emulation")


def quadratic(X):
    return (X * X).sum(axis=1) + 0.5 * X[:, 0]


def assert_same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """A backend that serves NumPy arrays with the CUDA kernel set run on the host."""
    if gpu_emu.compiler() is None:
        pytest.skip("no C++ compiler for the host emulation")
    lib = gpu_emu.build("streams", tmp_path_factory.mktemp("emu"))
    launcher = gpu_emu.EmuLauncher(lib, block=64, max_blocks=8)
    return _backend.Backend("cuda-emulated", np, StreamKernels(launcher, np)), launcher


# ---------------------------------------------------------------------------
# dispatch


def test_import_zoopt_does_not_import_cupy():
    code = ("import sys, numpy as np, zoopt, zoopt.random, zoopt.policy, zoopt.optimize\n"
            "zoopt.grad(lambda X: (X * X).sum(1), np.ones(3), rng=0)\n"
            "zoopt.random.directions(2, 3, rng=0)\n"
            "assert 'cupy' not in sys.modules, 'cupy imported'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_numpy_arrays_use_the_compiled_cpu_kernels():
    from zoopt._cy import streams

    be = _backend.backend_of(np.ones(3))
    assert be.name == "cpu"
    assert be.streams is streams
    assert be.xp is np


def test_mixed_backends_raise_naming_the_argument():
    import types

    gpu = _backend.Backend("cuda", types.ModuleType("device_arrays"), None)
    with pytest.raises(TypeError, match="'sigma' parameter of gaussian is a host"):
        _backend.check_same_backend(gpu, np.ones(3), "sigma", "gaussian")

    class DeviceLike:  # the two attributes the dispatch reads, nothing computed
        __cuda_array_interface__ = None

    DeviceLike.__module__ = "cupy._core.core"
    assert _backend.is_device_array(DeviceLike())
    with pytest.raises(TypeError, match="'x0' parameter of minimize is a CuPy"):
        _backend.check_same_backend(_backend.cpu(), DeviceLike(), "x0", "minimize")


def test_cuda_kernel_set_has_the_cpu_signatures():
    import inspect

    from zoopt._cy import metrics, policy, projection, streams
    from zoopt._gpu._metrics import MetricKernels
    from zoopt._gpu._policy import PolicyKernels
    from zoopt._gpu._projection import ProjectionKernels

    pairs = [(streams, StreamKernels), (policy, PolicyKernels), (metrics, MetricKernels),
             (projection, ProjectionKernels)]
    for module, cls in pairs:
        names = [n for n in dir(module) if not n.startswith("_") and callable(
            getattr(module, n)) and n not in ("max_threads", "has_openmp")]
        assert names, module.__name__
        for name in names:
            assert hasattr(cls, name), f"{cls.__name__} has no {name}"
            cy_params = list(inspect.signature(getattr(module, name)).parameters)
            gpu_params = list(inspect.signature(getattr(cls, name)).parameters)[1:]
            assert gpu_params == cy_params, name


# ---------------------------------------------------------------------------
# the estimators through the CUDA kernel set, on the host


@needs_cxx
@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["central", "forward"]), st.sampled_from(["normal", "rademacher",
                                                                   "sphere"]),
       float_dtypes, st.integers(1, 300), st.integers(1, 40), seeds,
       st.one_of(st.none(), st.integers(2, 9)))
def test_grad_through_cuda_kernels_equals_cpu(emulated, method, dist, dtype, d, n, seed,
                                              batch):
    backend, launcher = emulated
    x = np.linspace(-1, 2, d).astype(dtype)
    want = zoopt.grad(quadratic, x, method=method, dist=dist, n_dirs=n, rng=seed,
                      batch_size=batch, step=3)
    launcher.calls.clear()
    with _backend._override(backend):
        got = zoopt.grad(quadratic, x, method=method, dist=dist, n_dirs=n, rng=seed,
                         batch_size=batch, step=3)
    assert_same_bits(got, want)
    suffix = "f32" if dtype == np.float32 else "f64"
    assert f"zo_perturb_{suffix}" in launcher.calls
    assert f"zo_accumulate_{suffix}" in launcher.calls
    assert (f"zo_sq_norms_{suffix}" in launcher.calls) == (dist == "sphere")


@needs_cxx
@settings(max_examples=20, deadline=None)
@given(float_dtypes, st.integers(1, 200), seeds, st.booleans(), st.booleans(),
       st.sampled_from(["mean", "rloo", "none"]))
def test_gaussian_policy_through_cuda_kernels_equals_cpu(emulated, dtype, d, seed,
                                                         antithetic, per_coord, baseline):
    backend, launcher = emulated
    mean = np.linspace(-1, 1, d).astype(dtype)
    sigma = np.linspace(0.05, 0.2, d) if per_coord else 0.1
    kw = dict(sigma=sigma, n_samples=16, antithetic=antithetic, baseline=baseline, rng=seed,
              log_sigma_grad=True)
    want = zoopt.policy.gaussian(quadratic, mean, **kw)
    launcher.calls.clear()
    with _backend._override(backend):
        got = zoopt.policy.gaussian(quadratic, mean, **kw)
    suffix = "f32" if dtype == np.float32 else "f64"
    assert {f"zo_perturb_{suffix}", f"zo_accumulate_{suffix}"} <= set(launcher.calls)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


@needs_cxx
@pytest.mark.parametrize("dist", ["normal", "rademacher", "sphere"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_directions_like_through_cuda_kernels_equal_cpu(emulated, dist, dtype):
    backend, launcher = emulated
    want = directions(9, 1031, dist=dist, rng=5, step=2, dtype=dtype, start=4)
    launcher.calls.clear()
    with _backend._override(backend):
        got = directions(9, 1031, dist=dist, rng=5, step=2, dtype=dtype, start=4,
                         like=np.empty(0))
    assert_same_bits(got, want)
    suffix = "f32" if dtype == np.float32 else "f64"
    assert f"zo_fill_{suffix}" in launcher.calls
    assert (f"zo_sq_norms_{suffix}" in launcher.calls) == (dist == "sphere")


@needs_cxx
@pytest.mark.parametrize("method", ["zo-sgd", "zo-adam", "es", "spsa", "snes"])
def test_minimize_through_cuda_kernels_equals_cpu(emulated, method, tmp_path):
    backend, launcher = emulated
    x0 = np.linspace(-1, 1, 37)
    box = [(-2.0, 2.0)] * 37
    want = zoopt.minimize(quadratic, x0, method=method, maxiter=6, rng=4,
                          bounds=box)
    launcher.calls.clear()
    with _backend._override(backend):
        got = zoopt.minimize(quadratic, x0, method=method, maxiter=6, rng=4,
                             bounds=box, checkpoint=str(tmp_path / "c.npz"))
    assert {"zo_perturb_f64", "zo_accumulate_f64"} <= set(launcher.calls)
    assert_same_bits(got.x, want.x)
    assert_same_bits(got.x_mean, want.x_mean)
    assert got.fun == want.fun
    assert got.nfev == want.nfev
    # the checkpoint written through that backend resumes on the CPU, same run
    more = zoopt.minimize(quadratic, x0, method=method, maxiter=9, rng=4, bounds=box,
                          checkpoint=str(tmp_path / "c.npz"))
    zoopt.minimize(quadratic, x0, method=method, maxiter=6, rng=4, bounds=box,
                   checkpoint=str(tmp_path / "cpu.npz"))
    full = zoopt.minimize(quadratic, x0, method=method, maxiter=9, rng=4, bounds=box,
                          checkpoint=str(tmp_path / "cpu.npz"))
    assert_same_bits(more.x_mean, full.x_mean)
    assert_same_bits(more.x, full.x)


@needs_cxx
@pytest.mark.parametrize("rule", ["sgd", "adam"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64", "bfloat16"])
def test_zooptimizer_through_cuda_kernels_equals_cpu(emulated, rule, dtype_name):
    torch = pytest.importorskip("torch")
    from zoopt.torch import ZOOptimizer

    backend, launcher = emulated
    dtype = getattr(torch, dtype_name)

    def run(route):
        gen = torch.Generator().manual_seed(0)
        w = torch.nn.Parameter(torch.randn(3000, generator=gen).to(dtype))
        b = torch.nn.Parameter(torch.randn(7, generator=gen).to(dtype))
        ctx = _backend._override(backend) if route else contextlib.nullcontext()
        with ctx:
            opt = ZOOptimizer([w, b], lr=1e-2, sigma=1e-2, n_dirs=3, rule=rule,
                              weight_decay=0.1, rng=1)
            for _ in range(3):
                opt.step(lambda: (w.float() ** 2).sum() + b.float().sum())
        return w.detach(), b.detach()

    launcher.calls.clear()
    got = run(True)
    # parameters in the stream's dtype move in one pass (shift/unshift kernels), others
    # through the noise span and torch's ops
    moves = ("zo_shift_span", "zo_unshift_span") if dtype != torch.bfloat16 else ("zo_fill_span",)
    assert all(any(c.startswith(m) for c in launcher.calls) for m in moves)
    assert any(c.startswith("zo_accumulate") for c in launcher.calls)
    want = run(False)
    ints = {torch.bfloat16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a.view(ints[a.dtype]), b.view(ints[b.dtype]))


@needs_cxx
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_lozo_through_cuda_kernels_equals_cpu(emulated, dtype_name):
    """ZOOptimizer(perturbation="lowrank"): the 2-D parameter moves through the CUDA
    kernel set's shift_lowrank / unshift_lowrank (here on the host), bit for bit as on
    the CPU."""
    torch = pytest.importorskip("torch")
    from zoopt.torch import ZOOptimizer

    backend, launcher = emulated
    dtype = getattr(torch, dtype_name)

    def run(route):
        gen = torch.Generator().manual_seed(0)
        w = torch.nn.Parameter(torch.randn(30, 70, generator=gen).to(dtype))
        b = torch.nn.Parameter(torch.randn(7, generator=gen).to(dtype))
        ctx = _backend._override(backend) if route else contextlib.nullcontext()
        with ctx:
            opt = ZOOptimizer([w, b], lr=1e-2, sigma=1e-2, n_dirs=3, rule="adam", rng=1,
                              perturbation="lowrank", rank=2, lazy=2)
            for _ in range(3):
                opt.step(lambda: (w ** 2).sum() + b.sum())
        return w.detach(), b.detach()

    launcher.calls.clear()
    got = run(True)
    for name in ("zo_shift_lowrank", "zo_unshift_lowrank", "zo_shift_span"):
        assert any(c.startswith(name) for c in launcher.calls), name
    want = run(False)
    ints = {torch.float32: torch.int32, torch.float64: torch.int64}
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a.view(ints[a.dtype]), b.view(ints[b.dtype]))


@pytest.fixture(scope="module")
def emulated_all(tmp_path_factory):
    """Stream, policy and metric kernels of the CUDA sources, run on the host."""
    if gpu_emu.compiler() is None:
        pytest.skip("no C++ compiler for the host emulation")
    from zoopt._gpu._metrics import MetricKernels
    from zoopt._gpu._policy import PolicyKernels
    from zoopt._gpu._projection import ProjectionKernels

    d = tmp_path_factory.mktemp("emu_all")
    launch = {n: gpu_emu.EmuLauncher(gpu_emu.build(n, d), block=64, max_blocks=8)
              for n in gpu_emu.SOURCES}
    be = _backend.Backend("cuda-emulated", np, StreamKernels(launch["streams"], np),
                          PolicyKernels(launch["policy"], np),
                          MetricKernels(launch["metrics"], np),
                          ProjectionKernels(launch["projection"], np))
    return be, launch


@pytest.mark.parametrize("baseline", ["rloo", "greedy", "mean"])
@pytest.mark.parametrize("per_example", [False, True])
def test_categorical_through_cuda_kernels_equals_cpu(emulated_all, baseline, per_example):
    backend, launch = emulated_all
    gen = np.random.default_rng(0)
    z = gen.normal(size=(301, 7)).astype(np.float32)
    y = gen.integers(0, 7, 301)

    def reward(Y):
        hits = (Y == y).astype(float)
        return hits if per_example else hits.mean(axis=1)

    want, winfo = zoopt.policy.categorical(z, reward, n_samples=9, baseline=baseline, rng=3,
                                           step=2, temperature=0.7, return_info=True)
    launch["policy"].calls.clear()
    with _backend._override(backend):
        got, ginfo = zoopt.policy.categorical(z, reward, n_samples=9, baseline=baseline, rng=3,
                                              step=2, temperature=0.7, return_info=True)
    assert set(launch["policy"].calls) == {"zo_race_weights_f32", "zo_gumbel_argmax",
                                           "zo_categorical_score_f32"}
    np.testing.assert_array_equal(ginfo.samples, winfo.samples)
    assert_same_bits(got, want)


@pytest.mark.parametrize("labels", ["direct", "encoded"])
def test_metrics_through_cuda_kernels_equal_cpu(emulated_all, labels):
    from zoopt import metrics

    backend, launch = emulated_all
    gen = np.random.default_rng(1)
    yt = gen.integers(0, 4, 257)
    yp = gen.integers(0, 4, (5, 257))
    if labels == "encoded":  # labels that are not small non-negative ids
        yt, yp = yt * 1000 - 7, yp * 1000 - 7
    calls = [("accuracy", lambda m, a, b: m.accuracy(a, b)),
             ("f1 macro", lambda m, a, b: m.f1_score(a, b, average="macro")),
             ("f1 micro", lambda m, a, b: m.f1_score(a, b, average="micro")),
             ("f1 weighted", lambda m, a, b: m.f1_score(a, b, average="weighted")),
             ("f1 None", lambda m, a, b: m.f1_score(a, b, average=None)),
             ("f1 binary", lambda m, a, b: m.f1_score(a > a.min(), b > a.min())),
             ("f1 labels", lambda m, a, b: m.f1_score(a, b, average="macro",
                                                      labels=[int(a.min()), int(a.max())])),
             ("f1 weighted sums", lambda m, a, b: m.f1_score(a, b, average="weighted",
                                                             sample_weight=w)),
             ("f1 micro sums", lambda m, a, b: m.f1_score(a, b, average="micro",
                                                          sample_weight=w)),
             ("accuracy int weights", lambda m, a, b: m.accuracy(a, b, sample_weight=wi)),
             ("accuracy int count", lambda m, a, b: m.accuracy(a, b, sample_weight=wi,
                                                               normalize=False)),
             ("confusion sums", lambda m, a, b: m.confusion_matrix(a, b, sample_weight=w)),
             ("confusion int sums", lambda m, a, b: m.confusion_matrix(
                 a, b, labels=[int(a.max()), int(a.min())], sample_weight=wi)),
             ("confusion normalized", lambda m, a, b: m.confusion_matrix(
                 a, b, sample_weight=w, normalize="pred"))]
    w = gen.standard_normal(257) * 10.0 ** gen.integers(-6, 7, 257)
    wi = gen.integers(0, 5, 257)
    for name, call in calls:
        want = call(metrics, yt, yp)
        launch["metrics"].calls.clear()
        with _backend._override(backend):
            got = call(metrics, yt, yp)
        assert_same_bits(got, want)
        if not name.startswith("accuracy"):
            assert launch["metrics"].calls, name
        if "sums" in name:
            assert any("_sums_" in c for c in launch["metrics"].calls), name
    with _backend._override(backend), pytest.raises(TypeError, match="integer weights on the "
                                                                      "GPU"):
        metrics.accuracy(yt, yp, sample_weight=w)
    if labels == "direct":
        want = metrics.confusion_matrix(yt, yp, 4)
        with _backend._override(backend):
            got = metrics.confusion_matrix(yt, yp, 4)
        np.testing.assert_array_equal(got, want)
        assert "zo_confusion_i32" in launch["metrics"].calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projections_through_cuda_kernels_equal_cpu(emulated_all, dtype):
    from zoopt import projection

    backend, launch = emulated_all
    X = np.random.default_rng(2).standard_normal((37, 300)).astype(dtype)
    for cls in (projection.SRHT, projection.SparseRandomProjection,
                projection.GaussianRandomProjection):
        want = cls(n_components=40, rng=1).fit_transform(X)
        est = cls(n_components=40, rng=1).fit(X)
        launch["projection"].calls.clear()
        with _backend._override(backend):
            got = est.transform(X)
            again = est.transform(X)  # the device copy of the parameters is reused
        assert_same_bits(got, want)
        assert_same_bits(again, want)
        if cls is projection.GaussianRandomProjection:
            # its device branch draws the matrix with the stream kernels: the same bits
            assert_same_bits(est._fill(backend), est.components_)
        else:
            assert launch["projection"].calls, cls.__name__
    want = projection.fwht(X[:, :256], norm="ortho")
    with _backend._override(backend):
        got = projection.fwht(X[:, :256], norm="ortho")
    assert_same_bits(got, want)
    assert launch["projection"].calls[-1].startswith("zo_fwht_stage")


@needs_cxx
def test_sphere_uniform_like_through_cuda_kernels_equals_cpu(emulated):
    backend, launcher = emulated
    want = zoopt.sphere.uniform(50, 333, rng=2, dtype=np.float32)
    launcher.calls.clear()
    with _backend._override(backend):
        got = zoopt.sphere.uniform(50, 333, rng=2, dtype=np.float32, like=np.empty(0))
    assert_same_bits(got, want)
    assert {"zo_sq_norms_f32", "zo_fill_f32"} <= set(launcher.calls)


@needs_cxx
def test_output_space_through_cuda_kernels_equals_cpu(emulated):
    backend, launcher = emulated
    Z = np.linspace(-1, 1, 60).reshape(20, 3)

    def reward(B):
        return -((B - 0.5) ** 2).sum(axis=(1, 2))

    want = zoopt.policy.output_space(reward, Z, sigma=0.1, n_samples=16, rng=0)
    launcher.calls.clear()
    with _backend._override(backend):
        got = zoopt.policy.output_space(reward, Z, sigma=0.1, n_samples=16, rng=0)
    assert_same_bits(got, want)
    assert {"zo_perturb_f64", "zo_accumulate_f64"} <= set(launcher.calls)


def test_sequence_through_cuda_kernels_equals_cpu(emulated_all):
    backend, launch = emulated_all
    gen = np.random.default_rng(4)
    z = gen.normal(size=(6, 5, 11))
    tokens = gen.integers(0, 11, (6, 5))
    mask = (np.arange(5)[None, :] < gen.integers(1, 6, 6)[:, None]).astype(float)
    rewards = gen.normal(size=6)
    want = zoopt.policy.sequence(z, tokens, rewards, mask=mask)
    launch["policy"].calls.clear()
    with _backend._override(backend):
        got = zoopt.policy.sequence(z, tokens, rewards, mask=mask)
    assert launch["policy"].calls == ["zo_row_score_f64"]
    assert_same_bits(got, want)


@needs_cxx
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("method", ["central", "forward"])
def test_zo_function_through_cuda_kernels_equals_cpu(emulated, batched, method):
    torch = pytest.importorskip("torch")
    from zoopt.torch import zo_function

    backend, launcher = emulated

    def grad_of(route):
        f = zo_function(lambda t: torch.round(t * 3) / 3 + t ** 2, method=method, rng=2,
                        n_dirs=7, sigma=1e-2, batched=batched)
        z = torch.linspace(-1, 1, 24, dtype=torch.float64).reshape(4, 6).requires_grad_()
        ctx = _backend._override(backend) if route else contextlib.nullcontext()
        with ctx:
            (f(z) * torch.arange(24.0, dtype=torch.float64).reshape(4, 6)).sum().backward()
        return z.grad

    launcher.calls.clear()
    got = grad_of(True)
    assert ("zo_fill_f64" if batched else "zo_perturb_f64") in launcher.calls
    assert torch.equal(got, grad_of(False))


@pytest.mark.parametrize("metric", ["accuracy", "f1"])
def test_metric_loss_through_cuda_kernels_equals_cpu(emulated_all, metric):
    torch = pytest.importorskip("torch")
    from zoopt.torch import metric_loss

    backend, launch = emulated_all
    y = np.random.default_rng(0).integers(0, 2, 50)

    def grad_of(route):
        logits = torch.zeros(50, 2, requires_grad=True)
        ctx = _backend._override(backend) if route else contextlib.nullcontext()
        with ctx:
            metric_loss(logits, y, metric, n_samples=16, rng=3).backward()
        return logits.grad

    launch["policy"].calls.clear()
    got = grad_of(True)
    assert "zo_gumbel_argmax" in launch["policy"].calls
    assert torch.equal(got, grad_of(False))


@pytest.mark.parametrize("kw", [{"dist": "orthogonal"}, {"subspace": 40},
                                {"subspace": 17, "dist": "rademacher"}])
def test_materialized_grad_through_cuda_kernels_equals_cpu(emulated_all, kw):
    backend, launch = emulated_all
    x = np.linspace(-1, 1, 100)
    want = zoopt.grad(quadratic, x, n_dirs=30, rng=6, **kw)
    for k in launch.values():
        k.calls.clear()
    with _backend._override(backend):
        got = zoopt.grad(quadratic, x, n_dirs=30, rng=6, **kw)
    assert_same_bits(got, want)
    assert launch["streams"].calls
    if "subspace" in kw:
        assert any(c.startswith("zo_srht_") for c in launch["projection"].calls)


def test_cuda_backend_builds_without_a_device():
    cupy = pytest.importorskip("cupy")
    gpu = _backend.cuda()  # the kernel sets and launchers; nothing touches a device yet
    assert gpu.xp is cupy
    for kernels in (gpu.streams, gpu.policy, gpu.metrics, gpu.projection):
        assert kernels.xp is cupy
