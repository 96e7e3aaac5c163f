"""ZOOptimizer's compiled in-place probes (CPU, parameters in the stream's dtype) give
the same bits as the torch-op path they replace, and the exact restore."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zoopt.torch import ZOOptimizer  # noqa: E402


def _run(dtype, fused, monkeypatch, sigma):
    with monkeypatch.context() as mp:
        if not fused:
            mp.setattr(ZOOptimizer, "_fused", lambda self, p: False)
        gen = torch.Generator().manual_seed(0)
        # magnitudes from 1e-6 to 1e6: many coordinates lose bits when moved by sigma u
        ws = [torch.nn.Parameter((torch.randn(n, generator=gen, dtype=torch.float64)
                                  * 10.0 ** torch.randint(-6, 7, (n,), generator=gen))
                                 .to(dtype)) for n in (3000, 17, 1)]
        before = [w.detach().clone() for w in ws]
        opt = ZOOptimizer(ws, lr=1e-3, sigma=sigma, n_dirs=3, rng=5)
        opt._chunk = 1024  # several chunks per tensor

        seen = []

        def closure():
            # the parameters as each probe sees them
            seen.append(torch.cat([w.detach().reshape(-1) for w in ws]).clone())
            return sum(((w.double() - 1.0) ** 2).sum() for w in ws)

        probes = opt.accumulate(closure)
        after_probes = [w.detach().clone() for w in ws]
        opt.step()
        return before, after_probes, seen, [w.detach().clone() for w in ws], probes, opt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_probes_equal_the_torch_path(dtype, monkeypatch):
    a = _run(dtype, True, monkeypatch, 1e-3)
    b = _run(dtype, False, monkeypatch, 1e-3)
    for x, y in zip(a[2], b[2], strict=True):       # every probe point, bit for bit
        assert torch.equal(x.view(torch.uint8), y.view(torch.uint8))
    for x, y in zip(a[3], b[3], strict=True):       # the update
        assert torch.equal(x.view(torch.uint8), y.view(torch.uint8))
    assert a[4] == b[4]
    assert a[5].exception_fraction == b[5].exception_fraction > 0
    # the exact restore after the probes: every bit back
    for x, y in zip(a[0], a[1], strict=True):
        assert torch.equal(x.view(torch.uint8), y.view(torch.uint8))


def test_fused_probes_restore_after_an_error_in_the_closure():
    w = torch.nn.Parameter(torch.tensor(np.geomspace(1e-7, 1e7, 2000), dtype=torch.float32))
    before = w.detach().clone()
    opt = ZOOptimizer([w], sigma=1e-2, n_dirs=1, rng=0)

    def closure():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        opt.step(closure)
    assert torch.equal(w.detach().view(torch.uint8), before.view(torch.uint8))
