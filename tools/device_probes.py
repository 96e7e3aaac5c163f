"""What the host emulation cannot show, read off a real device: subnormal handling
(FTZ) and NaN bit patterns of zoopt's kernels and of CuPy's own arithmetic, next to
the CPU's.  Prints a report; exits 1 only if zoopt's kernels flushed a subnormal.

``--small`` runs a short pass of every stream kernel (for compute-sanitizer).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--small", action="store_true", help="only launch every kernel once")
    args = p.parse_args(argv)
    import cupy as cp

    from zoopt import _backend
    from zoopt._cy import streams as cy

    gpu = _backend.cuda().streams
    if args.small:
        for dtype in (np.float32, np.float64):
            for dist in (0, 1):
                d = 1031
                x = cp.linspace(-1, 1, d, dtype=dtype)
                sc = cp.full(3, 0.5, dtype)
                out = cp.empty((6, d), dtype)
                gpu.perturb(x, 1e-3, x, sc, out, dist, 1, 2, 3, 4, 0, True, 1)
                gpu.accumulate(cp.ones(3), sc, cp.zeros(d), dist, 1, 2, 3, 4, 0, True, 1)
                gpu.fill_span(cp.empty(d - 1, dtype), dist, 1, 2, 3, 4, 9, 1, 1)
                gpu.accumulate_span(cp.ones(2), cp.zeros(d - 1), x, dist, 1, 2, 3, 4, 0, 3, 1)
                gpu.fill_sphere(cp.empty((2, d), dtype), 1, 2, 3, 4, 0, 1)
        gpu.philox4x32(cp.ones((99, 4), cp.uint32), cp.ones((99, 2), cp.uint32),
                       cp.empty((99, 4), cp.uint32), 10, 1)
        pk, mk = _backend.cuda().policy, _backend.cuda().metrics
        z = cp.linspace(-3, 3, 7 * 5).reshape(7, 5)
        w = cp.empty((7, 5))
        pk.race_weights(z, 1.0, w, 1)
        pk.gumbel_argmax(w, cp.empty((3, 7), cp.int32), 1, 2, 3, 4, 1)
        lab = (cp.arange(21) % 5).astype(cp.int32).reshape(3, 7)
        pk.categorical_score(lab, cp.ones((3, 7)), cp.full((7, 5), 0.2), 1.0,
                             cp.empty((7, 5), cp.float32), 1)
        yt = (cp.arange(50) % 4).astype(cp.int64)
        yp = cp.stack([yt, yt[::-1].copy()])
        mk.class_counts(yt, yp, cp.empty((2, 4), cp.int64), cp.empty((2, 4), cp.int64), 1)
        mk.confusion(yt, yp, cp.zeros((2, 4, 4), cp.int64), 1)
        prj = _backend.cuda().projection
        X = cp.linspace(-1, 1, 3 * 300).reshape(3, 300)
        sg = cp.ones(300)
        rows = cp.arange(0, 512, 8, dtype=cp.int64)
        prj.srht_rows(X, sg, rows, 0.1, 512, cp.empty((3, 64)), 1)
        prj.srht_lift_rows(cp.ones((3, 64)), sg, rows, 0.1, 512, cp.empty((3, 300)), 1)
        pattern = prj.sparse_signs(1, 2, 3, 4, 40, 300, 1 << 29, 1)
        prj.sparse_rows(X, *pattern, 0.5, cp.empty((3, 40)), 1)
        prj.fwht_rows(cp.ones((5, 1024)), 1)
        pk.row_score(z, cp.zeros(7, cp.int64), cp.ones(7), cp.empty((7, 5)), 1)
        cp.cuda.Device().synchronize()
        print("every kernel launched once")
        return 0

    status = 0
    for dtype, ui in ((np.float32, np.uint32), (np.float64, np.uint64)):
        tiny = np.finfo(dtype).smallest_subnormal
        x = (np.arange(1, 257) * tiny).astype(dtype)
        sigma = dtype(np.finfo(dtype).tiny / 64)
        want = np.empty((2, 256), dtype)
        cy.perturb(x, sigma, np.empty(0, dtype), np.empty(0, dtype), want, 0, 5, 6, 7, 8, 0,
                   True, 1)
        out = cp.empty((2, 256), dtype)
        gpu.perturb(cp.asarray(x), sigma, cp.empty(0, dtype), cp.empty(0, dtype), out, 0, 5, 6,
                    7, 8, 0, True, 1)
        same = np.array_equal(out.get().view(ui), want.view(ui))
        print(f"FTZ probe, zoopt perturb {np.dtype(dtype).name}: subnormal in and out, "
              f"bits equal to the CPU: {same}")
        status |= 0 if same else 1
        cup = (cp.asarray(x) * dtype(0.5)).get()
        print(f"FTZ probe, CuPy's own x * 0.5 on subnormals ({np.dtype(dtype).name}): "
              f"{'kept' if np.array_equal(cup, x * dtype(0.5)) else 'flushed or changed'}")
    with np.errstate(invalid="ignore"):
        host = np.array([np.inf], np.float32) - np.array([np.inf], np.float32)
        payload = np.array([0x7FC00123], np.uint32).view(np.float32)
        host_p = payload + np.float32(1.0)
    dev = cp.asarray(np.array([np.inf], np.float32)) - cp.asarray(np.array([np.inf], np.float32))
    dev_p = cp.asarray(payload) + cp.float32(1.0)
    print(f"NaN probe, inf - inf (float32): CPU 0x{host.view(np.uint32)[0]:08x}, "
          f"GPU 0x{dev.get().view(np.uint32)[0]:08x}")
    print(f"NaN probe, payload 0x7fc00123 + 1 (float32): CPU 0x{host_p.view(np.uint32)[0]:08x}, "
          f"GPU 0x{dev_p.get().view(np.uint32)[0]:08x}")
    return status


if __name__ == "__main__":
    sys.exit(main())
