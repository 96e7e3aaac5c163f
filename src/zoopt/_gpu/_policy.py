"""The CUDA twins of :mod:`zoopt._cy.policy` (``policy.cu``): the same functions with
the same signatures; ``n_threads`` is accepted and ignored."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoopt._gpu._streams import Launch

__all__: list[str] = []


def _suffix(arr: Any) -> str:
    return "f32" if arr.dtype == np.float32 else "f64"


class PolicyKernels:
    def __init__(self, launch: Launch, xp: Any):
        self._launch = launch
        self.xp = xp

    def race_weights(self, logits: Any, inv_tau: float, out: Any, n_threads: int) -> None:
        N, C = logits.shape
        self._launch(f"zo_race_weights_{_suffix(logits)}", N,
                     (logits, np.float64(inv_tau), out, np.int64(N), np.int64(C)))

    def gumbel_argmax(self, weights: Any, out: Any, k0: int, k1: int, c2: int, c3: int,
                      n_threads: int) -> None:
        N, C = weights.shape
        S = out.shape[0]
        self._launch("zo_gumbel_argmax", S * N,
                     (weights, out, np.int64(S), np.int64(N), np.int64(C), np.uint32(k0),
                      np.uint32(k1), np.uint32(c2), np.uint32(c3)))

    def categorical_score(self, labels: Any, adv: Any, probs: Any, scale: float, out: Any,
                          n_threads: int) -> None:
        S, N = labels.shape
        C = probs.shape[1]
        self._launch(f"zo_categorical_score_{_suffix(out)}", N * C,
                     (labels, adv, np.int32(adv.shape[1] > 1), probs, np.float64(scale), out,
                      np.int64(S), np.int64(N), np.int64(C)))

    def row_score(self, logits: Any, labels: Any, coef: Any, out: Any, n_threads: int) -> None:
        R, V = logits.shape
        self._launch(f"zo_row_score_{_suffix(logits)}", R,
                     (logits, labels, coef, out, np.int64(R), np.int64(V)))
