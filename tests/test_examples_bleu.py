"""The self-critical BLEU example runs end to end (in its quick mode)."""

import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "bleu_reinforce.py"


def test_bleu_reinforce_example_runs(monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "argv", [SCRIPT.name, "--quick"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if "corpus BLEU" in line and "seconds" in line)
    assert "exact" in header
    assert "sent BLEU" in header
    for row in ("(a) MLE start", "(b) + continued MLE", "(c) + self-critical REINFORCE"):
        line = next(line for line in lines if row in line)
        corpus, sent, exact, seconds = (float(x) for x in line.split()[-4:])
        assert 0.0 <= corpus <= 100.0
        assert 0.0 <= sent <= 100.0
        assert 0.0 <= exact <= 1.0
        assert seconds >= 0.0
    assert "verdict: self-critical REINFORCE" in out
    assert "MISMATCH" not in out
    if "sacreBLEU not installed" not in out:
        assert "max |diff| 0.0e+00" in out
