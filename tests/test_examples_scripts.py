"""The metric, black-box and distributed example scripts run (in their --quick mode)."""

import importlib.util
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


CASES = [  # script, modules it needs, whether it draws a PNG, a line it must print
    ("f1_imbalanced.py", ["sklearn"], True, "threshold tuned on train"),
    ("accuracy_digits.py", ["sklearn"], True, "MLPClassifier, same network, backprop"),
    ("blackbox_minimize.py", ["scipy"], True, "scipy L-BFGS-B"),
    ("distributed_es.py", ["distributed"], False,
     "identical results, Dask vs in-process (x, fun, x_mean, nfev): True"),
]


@pytest.mark.parametrize(("name", "needs", "png", "expect"), CASES,
                         ids=[case[0] for case in CASES])
def test_example_script_runs(name, needs, png, expect, monkeypatch, capsys, tmp_path):
    for module in needs:
        pytest.importorskip(module)
    argv = [name, "--quick"]
    if png:
        argv += ["--png", str(tmp_path / "curves.png")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    assert exc.value.code == 0, out
    assert expect in out
    assert "-----" in out  # the comparison table
    if png and importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "curves.png").stat().st_size > 0
