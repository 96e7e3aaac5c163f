"""``python -m zoopt bench threads`` at its quick size: it runs every condition in fresh
processes and prints the ratios its targets name."""

from __future__ import annotations

import re

import pytest

from zoopt._bench import threads


def test_bench_threads_quick_grad_prints_every_condition_and_ratio(capsys):
    assert threads.main(["--quick", "--repeats", "1", "--workloads", "grad"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("grad"))
    cells = row.split()
    # four medians (default, single, busy default, busy single), two ratios, the verdict
    assert len(cells) == 8
    secs = [float(c) for c in cells[1:5]]
    assert all(s > 0 for s in secs)
    for ratio, (a, b) in ((float(cells[5]), (secs[0], secs[1])),
                          (float(cells[6]), (secs[2], secs[0]))):
        # printed to 2 decimals, from medians printed to 3: the rounding of both
        bound = 0.005 + (a / b) * (0.0005 / a + 0.0005 / b)
        assert abs(ratio - a / b) <= bound
    assert cells[7] in ("met", "missed")
    assert re.search(r"default/single <= 1\.2", out)


def test_busy_processes_are_gone_after_the_block():
    with threads._busy(2) as procs:
        assert len(procs) == 2
        assert all(p.poll() is None for p in procs)  # spinning inside the block
    # killed and reaped after it: no runaway loop or zombie left
    assert all(p.returncode is not None for p in procs)


def test_single_condition_sets_every_pool_to_one(monkeypatch):
    seen = {}

    def fake_run(cmd, env, **kw):
        seen.update(env)

        class R:
            returncode, stdout, stderr = 0, '{"seconds": 1.0}\n', ""
        return R()

    monkeypatch.setattr(threads.subprocess, "run", fake_run)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "7")
    assert threads._run_worker("grad", single=True, quick=True) == 1.0
    assert all(seen[k] == "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                        "MKL_NUM_THREADS"))
    seen.clear()
    threads._run_worker("grad", single=False, quick=True)
    # the default condition inherits none of the caller's pool settings
    assert "OPENBLAS_NUM_THREADS" not in seen
    assert "OMP_NUM_THREADS" not in seen


@pytest.mark.parametrize("argv", [["--workloads", "nope"], ["--repeats", "0"]])
def test_bad_arguments_are_refused(argv):
    with pytest.raises(SystemExit):
        threads.main(argv)
