"""Learning curves of zoopt runs (needs matplotlib: ``pip install matplotlib``).

matplotlib is imported when a function here is called, never by ``import zoopt``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["learning_curves"]


def _curve(item: Any, x: str, y: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(item, tuple) and len(item) == 2:
        xs, ys = item
    else:
        hist = item.get("history", item) if isinstance(item, Mapping) else None
        if not isinstance(hist, Mapping) or x not in hist or y not in hist:
            raise ValueError(
                f"learning_curves: the run {label!r} must be an OptimizeResult (with a "
                f"'history'), a mapping with keys {x!r} and {y!r}, or an (x, y) pair of "
                "arrays."
            )
        xs, ys = hist[x], hist[y]
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"learning_curves: the run {label!r} must give x and y of one "
                         f"shape (n,). Got {xs.shape} and {ys.shape}.")
    return xs, ys


def learning_curves(results: Any, *, x: str = "nfev", y: str = "fun", ax: Any = None,
                    path: Any = None, title: str | None = None, xlabel: str | None = None,
                    ylabel: str | None = None, logy: bool = False) -> Any:
    """Plot one line per run: ``y`` against ``x`` (by default best value so far
    against evaluations).

    Parameters
    ----------
    results : OptimizeResult, sequence of them, or mapping label -> run
        A run is an :class:`~zoopt.OptimizeResult` (its ``history``), a
        mapping of arrays (``{"nfev": ..., "fun": ...}`` or any keys named by
        ``x`` and ``y``), or an ``(x, y)`` pair of arrays.  Sequences are
        labelled by each result's ``method`` or their position.
    x, y : str, optional
        Keys of the history to draw (default ``"nfev"`` and ``"fun"``).
    ax : matplotlib Axes, optional
        Draw there (default: a new figure with one axes).
    path : str or path-like, optional
        Also save the figure there (PNG at 150 dpi, or what the suffix says).
    title, xlabel, ylabel : str, optional
        Labels (default: the keys).
    logy : bool, optional
        Logarithmic y axis (default False).

    Returns
    -------
    fig : matplotlib Figure
        Made without pyplot when ``ax`` is not given (it does not appear in
        ``plt.show()``; save it, or display it in a notebook).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    ValueError
        A run without the requested arrays, or arrays of different lengths.

    Examples
    --------
    >>> import numpy as np, zoopt
    >>> from zoopt.plot import learning_curves
    >>> res = zoopt.minimize(lambda X: (X * X).sum(1), np.ones(5), method="es",
    ...                      maxiter=20, rng=0)
    >>> fig = learning_curves({"es": res}, logy=True)   # doctest: +SKIP
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("zoopt.plot needs matplotlib: pip install matplotlib (or the "
                          "'plot' extra of zoopt-pg).") from exc
    if isinstance(results, Mapping) and "history" not in results and not (
            x in results and y in results):
        runs = list(results.items())
    elif isinstance(results, Sequence) and not isinstance(results, str | tuple):
        runs = [(str(r.get("method", i)) if isinstance(r, Mapping) else str(i), r)
                for i, r in enumerate(results)]
    else:
        runs = [(str(results.get("method", "run")) if isinstance(results, Mapping)
                 else "run", results)]
    if not runs:
        raise ValueError("learning_curves: no run to draw.")
    curves = [(str(label), *_curve(item, x, y, str(label))) for label, item in runs]
    # a Figure without pyplot: the caller's backend and figure registry stay untouched
    fig = ax.figure if ax is not None else Figure(figsize=(6.4, 4.2))
    ax = ax if ax is not None else fig.add_subplot(1, 1, 1)
    for label, xs, ys in curves:
        ax.plot(xs, ys, label=label, linewidth=1.6)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=150)
    return fig
