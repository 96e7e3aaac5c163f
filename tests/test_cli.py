import subprocess
import sys

import pytest

from zoopt.__main__ import main


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "zoopt (zoopt-pg)" in out
    assert "OpenMP" in out


def test_demo_quick(capsys, tmp_path):
    pytest.importorskip("sklearn")
    png = tmp_path / "curves.png"
    assert main(["demo", "--quick", "--no-progress", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert 'F1 of class "9"' in out
    assert "policy.categorical" in out
    assert 'LogisticRegression(class_weight="balanced")' in out
    if "matplotlib is not installed" not in out:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(png) in out


def test_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--samples", "1"])
    assert exc.value.code == 2


def test_bench_grad_quick_prints_ratios(capsys):
    from zoopt._bench.grad import main as bench_main

    assert bench_main(["--quick", "--repeats", "1", "--no-memory"]) == 0
    out = capsys.readouterr().out
    assert "speed vs NumPy" in out
    assert "zoopt.grad" in out


def test_usage_errors_exit_2():
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "zoopt", "--help"], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0
    assert "demo" in res.stdout


def test_version(capsys):
    import zoopt

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.split() == ["zoopt", "(zoopt-pg)", zoopt.__version__]
    res = subprocess.run([sys.executable, "-m", "zoopt", "--version"], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == zoopt.__version__
    # the `zoopt` console script is this same main
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="zoopt")
    assert script.load() is main
    with pytest.raises(SystemExit) as exc:
        main(["--version", "demo"])
    assert exc.value.code == 2


def test_bench_torch_without_torch_fails():
    # PyTorch made unimportable in a child process: the task cannot run, so it must not
    # report success
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            "sys.argv = ['zoopt', 'bench', 'torch', '--quick']; "
            "runpy.run_module('zoopt', run_name='__main__', alter_sys=True)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "PyTorch is not installed" in res.stdout


def test_bench_blackbox_zoopt_only_on_a_problem_judged_against_the_anchors(capsys):
    # Rastrigin's target is the best anchor's value: with no anchor run, there is none
    from zoopt._bench.blackbox import main as bench_main

    assert bench_main(["--budget", "300", "--only", "zoopt snes", "--problems",
                       "rastrigin"]) == 0
    out = capsys.readouterr().out
    assert "no anchor ran" in out
    assert "zoopt snes" in out


def test_bench_blackbox_quick_zoopt_only(capsys):
    from zoopt._bench.blackbox import main as bench_main

    assert bench_main(["--quick", "--budget", "300", "--only", "zoopt"]) == 0
    out = capsys.readouterr().out
    assert "sphere d=100" in out
    assert "zoopt snes" in out


def test_bench_policy_quick(capsys):
    from zoopt._bench.policy import main as bench_main

    assert bench_main(["--quick", "--repeats", "1"]) == 0
    assert "max |difference|" in capsys.readouterr().out


def test_bench_help_of_every_task():
    from zoopt._bench import TASKS

    for task in TASKS:
        res = subprocess.run([sys.executable, "-m", "zoopt", "bench", task, "--help"],
                             capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr
        assert task in res.stdout


def test_bench_metrics_quick(capsys):
    from zoopt._bench.metrics import main as bench_main

    assert bench_main(["--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "identical values: True" in out
    assert "zoopt corpus_bleu" in out


def test_bench_projection_quick(capsys):
    from zoopt._bench.projection import main as bench_main

    assert bench_main(["--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "zoopt SRHT" in out
    assert "scikit-learn SparseRandomProjection" in out
    assert "zoopt sphere.uniform float64" in out


def test_bench_torch_quick(capsys):
    pytest.importorskip("torch")
    from zoopt._bench.torch import main as bench_main

    assert bench_main(["--quick", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "zoopt ZOOptimizer" in out
    assert "exact (kept" in out


def test_bench_highdim_and_parallel_quick(capsys):
    from zoopt._bench.highdim import main as highdim_main

    assert highdim_main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "zoopt zo-adam" in out
    pytest.importorskip("distributed")
    from zoopt._bench.parallel import main as parallel_main

    assert parallel_main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "identical result (x, fun, x_mean, nfev): True" in out


def test_bench_gpu_code_runs_small_on_the_host(capsys):
    # the device task's code, at toy sizes on NumPy and CPU tensors (no timings checked)
    import argparse

    import numpy as np

    from zoopt._bench import gpu

    args = argparse.Namespace(d=4096, n_dirs=8, repeats=1, params=4096, chunk=4)
    gpu.run(np, lambda: None, "cpu", "host (smoke run)", args)
    out = capsys.readouterr().out
    assert "zoopt.grad (directions regenerated)" in out
    assert "exact restore on the device: True" in out or "PyTorch not installed" in out
