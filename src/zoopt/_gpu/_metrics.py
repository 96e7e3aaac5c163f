"""The CUDA twins of the counting kernels of :mod:`zoopt._cy.metrics` (``metrics.cu``):
the same functions with the same signatures; ``n_threads`` is accepted and ignored.
The weighted sums launch one thread per row of predictions (it adds that row's
weights in sample order, as the Cython kernels do)."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoopt._gpu._streams import Launch

__all__: list[str] = []


def _suffix(arr: Any) -> str:
    return "i32" if arr.dtype == np.int32 else "i64"


class MetricKernels:
    def __init__(self, launch: Launch, xp: Any):
        self._launch = launch
        self.xp = xp

    def minmax(self, a: Any, n_threads: int) -> tuple[int, int]:
        return int(a.min()), int(a.max())  # integer reductions: exact in any order

    def class_counts(self, y_true: Any, y_pred: Any, tp: Any, pred: Any,
                     n_threads: int) -> None:
        P, N = y_pred.shape
        tp[...] = 0
        pred[...] = 0
        self._launch(f"zo_class_counts_{_suffix(y_pred)}", P * N,
                     (y_true, y_pred, tp, pred, np.int64(P), np.int64(N), np.int64(tp.shape[1])))

    def confusion(self, y_true: Any, y_pred: Any, out: Any, n_threads: int) -> None:
        P, N = y_pred.shape
        self._launch(f"zo_confusion_{_suffix(y_pred)}", P * N,
                     (y_true, y_pred, out, np.int64(P), np.int64(N), np.int64(out.shape[1])))

    def class_sums(self, y_true: Any, y_pred: Any, w: Any, tp: Any, pred: Any,
                   n_threads: int) -> None:
        P, N = y_pred.shape
        self._launch(f"zo_class_sums_{_suffix(y_pred)}", P,
                     (y_true, y_pred, w, tp, pred, np.int64(P), np.int64(N),
                      np.int64(tp.shape[1])))

    def confusion_sums(self, y_true: Any, y_pred: Any, w: Any, out: Any, n_threads: int) -> None:
        P, N = y_pred.shape
        acc = "f64" if out.dtype == np.float64 else "i64"
        self._launch(f"zo_confusion_sums_{_suffix(y_pred)}_{acc}", P,
                     (y_true, y_pred, w, out, np.int64(P), np.int64(N), np.int64(out.shape[1])))
