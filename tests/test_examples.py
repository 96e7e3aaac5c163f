"""The example scripts run (in their fast mode) so that they never rot."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["policy_gradient_digits.py"])
def test_example_runs(name, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "LogisticRegression" in out
    assert "test acc" in out


@pytest.mark.parametrize(("name", "expect"), [
    ("torch_nondifferentiable_layer.py", "straight-through"),
    ("torch_forward_only_finetune.py", "ZOOptimizer"),
    ("torch_lowrank_es.py", "LowRankPopulation"),
])
def test_torch_example_runs(name, expect, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert expect in out
    assert "test acc" in out
