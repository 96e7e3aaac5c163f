"""zoopt.plot.learning_curves."""

import numpy as np
import pytest

import zoopt

plt = pytest.importorskip("matplotlib.pyplot")

from zoopt.plot import learning_curves  # noqa: E402


def test_draws_results_mappings_and_pairs(tmp_path):
    f = lambda X: (X * X).sum(axis=1)  # noqa: E731
    a = zoopt.minimize(f, np.ones(4), method="es", maxiter=15, rng=0)
    b = zoopt.minimize(f, np.ones(4), method="zo-adam", maxiter=15, rng=0)
    path = tmp_path / "c.png"
    fig = learning_curves({"es": a, "zo-adam": b}, logy=True, path=path, title="sphere")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["es", "zo-adam"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), a.history["nfev"])
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), a.history["fun"])
    assert path.read_bytes()[:4] == b"\x89PNG"
    fig2 = learning_curves([a, b], y="fun_mean")
    assert [line.get_label() for line in fig2.axes[0].get_lines()] == ["es", "zo-adam"]
    fig3 = learning_curves({"pair": (np.arange(3), np.array([3.0, 2.0, 1.0]))})
    assert fig3.axes[0].get_lines()[0].get_ydata().tolist() == [3.0, 2.0, 1.0]
    plt.close("all")


def test_bad_runs():
    with pytest.raises(ValueError, match="'x' must be"):
        learning_curves({"x": {"nfev": [1, 2]}})
    with pytest.raises(ValueError, match="one shape"):
        learning_curves({"x": (np.arange(3), np.arange(4))})
    plt.close("all")
