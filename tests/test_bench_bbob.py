"""``python -m zoopt bench bbob`` at its quick size, and its bookkeeping."""

import numpy as np
import pytest

pytest.importorskip("cocoex")

from zoopt._bench import bbob


def test_quick_prints_the_fractions_per_method_and_group(capsys, tmp_path):
    import json

    png, saved = tmp_path / "ecdf.png", tmp_path / "runs.json"
    assert bbob.main(["--quick", "--jobs", "1", "--only", "auto", "--png", str(png),
                      "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "zoopt auto" in out
    assert "mean 51 targets" in out
    assert "ill-conditioned f10-14" in out
    assert png.stat().st_size > 1000
    runs = json.loads(saved.read_text())["runs"]
    assert len(runs) == 10  # 5 functions at d = 2 and 5, one instance
    assert {r["method"] for r in runs} == {"zoopt auto"}
    for r in runs:
        assert len(r["hits"]) == 51
        hit = [h for h in r["hits"] if h >= 0]
        assert hit == sorted(hit)
        assert all(h <= r["evaluations"] for h in hit)


def test_recorder_counts_point_by_point_and_stops_at_the_final_target():
    class Problem:  # f(x) = |x|^2 + 3, f_opt = 3
        def __call__(self, x):
            return float(x @ x) + 3.0

    rec = bbob.Recorder(Problem(), 3.0, budget=10)
    vals = rec.batch(np.array([[10.0, 0], [1.0, 0], [0.1, 0]]))
    np.testing.assert_allclose(vals, [103.0, 4.0, 3.01])
    assert rec.n == 3
    hits = np.array(rec.hits)
    assert hits[bbob.TARGETS >= 100].tolist() == [1] * int((bbob.TARGETS >= 100).sum())
    assert set(hits[(bbob.TARGETS < 100) & (bbob.TARGETS >= 1)]) == {2}
    assert set(hits[(bbob.TARGETS < 1) & (bbob.TARGETS >= 0.01)]) == {3}
    assert (hits[bbob.TARGETS < 0.01] == -1).all()
    rec.point(np.zeros(2))  # the optimum: every target reached, then the run stops
    assert (np.array(rec.hits) == np.where(hits > 0, hits, 4)).all()
    with pytest.raises(bbob.StopRun):
        rec.point(np.zeros(2))


def test_optimum_is_cocos():
    import cocoex

    suite = cocoex.Suite("bbob", "", "dimensions:2 function_indices:1 instance_indices:1")
    problem = suite[0]
    f_opt = bbob._optimum(problem)
    # f1 is the sphere around x_opt: every other point is worse
    x = np.array(problem.initial_solution)
    assert problem(x) > f_opt
    assert problem(x + 1.0) > f_opt


def test_load_merges_saved_runs_and_does_not_run_them_again(capsys, tmp_path, monkeypatch):
    import json

    first = tmp_path / "first.json"
    args = ["--jobs", "1", "--functions", "1,2", "--dims", "2", "--instances", "1",
            "--budget", "100"]
    assert bbob.main([*args, "--only", "auto", "--save", str(first)]) == 0
    table_before = capsys.readouterr().out.split("\n\n", 1)[1].rsplit("wall time", 1)[0]
    assert len(json.loads(first.read_text())["runs"]) == 2

    ran = []
    real = bbob.run_one
    monkeypatch.setattr(bbob, "run_one", lambda job: ran.append(job) or real(job))
    merged = tmp_path / "merged.json"
    # (random search: no optional library, and it keeps NumPy's global generator intact)
    assert bbob.main([*args, "--only", "auto,random search", "--load", str(first), "--save",
                      str(merged)]) == 0
    out = capsys.readouterr().out
    assert "2 loaded from" in out
    # auto's runs came from the file; only random search's ran
    assert [m for m, *_ in ran] == ["random search", "random search"]
    assert {r["method"] for r in json.loads(merged.read_text())["runs"]} == {
        "zoopt auto", *(m for m, *_ in ran)}
    # loaded alone again: nothing runs, auto's rows are the first run's
    ran.clear()
    assert bbob.main([*args, "--only", "auto", "--load", str(merged)]) == 0
    out = capsys.readouterr().out
    assert ran == []
    assert out.split("\n\n", 1)[1].rsplit("wall time", 1)[0] == table_before


def test_load_resumes_into_its_own_file_and_refuses_other_runs(capsys, tmp_path):
    import json

    path = tmp_path / "runs.json"
    args = ["--jobs", "1", "--functions", "1", "--dims", "2", "--instances", "1", "--budget",
            "100", "--only", "auto"]
    # a first run with --load X --save X: no file yet, nothing to resume
    assert bbob.main([*args, "--load", str(path), "--save", str(path)]) == 0
    assert len(json.loads(path.read_text())["runs"]) == 1
    # a run of another method into the same file keeps the runs it does not cover
    other = [a if a != "auto" else "random search" for a in args]
    assert bbob.main([*other, "--load", str(path), "--save", str(path)]) == 0
    assert sorted(r["method"] for r in json.loads(path.read_text())["runs"]) == [
        "random search", "zoopt auto"]
    capsys.readouterr()
    assert bbob.main([*args, "--load", str(tmp_path / "missing.json")]) == 2
    assert "no file" in capsys.readouterr().out
    assert bbob.main([*args, "--budget", "50", "--load", str(path)]) == 2
    out = capsys.readouterr().out
    assert "budget 100 d" in out
    assert "budget 50 d" in out
    (tmp_path / "bad.json").write_text("[1, 2")
    assert bbob.main([*args, "--load", str(tmp_path / "bad.json")]) == 2
    assert "not JSON written by --save" in capsys.readouterr().out


def test_load_refuses_files_and_runs_that_save_did_not_write(capsys, tmp_path):
    import json

    path = tmp_path / "runs.json"
    args = ["--jobs", "1", "--functions", "1", "--dims", "2", "--instances", "1", "--budget",
            "100", "--only", "random search"]
    assert bbob.main([*args, "--save", str(path)]) == 0
    good = json.loads(path.read_text())
    assert bbob.main([*args, "--load", str(path)]) == 0
    capsys.readouterr()

    def refused(data, *words):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(data))
        assert bbob.main([*args, "--load", str(bad)]) == 2
        out = capsys.readouterr().out
        for w in words:
            assert w in out, (w, out)

    refused({k: v for k, v in good.items() if k != "runs"}, "no 'runs'")
    refused([good], "no 'runs'")
    refused({**good, "targets": good["targets"][:-1]}, "has 50 targets, expected 51")
    run = good["runs"][0]
    refused({**good, "runs": [{k: v for k, v in run.items() if k != "hits"}]},
            "run 0 of", "KeyError")
    refused({**good, "runs": [{**run, "seconds": "fast"}]}, "run 0 of", "ValueError")
    refused({**good, "runs": [{**run, "hits": run["hits"][:3]}]},
            "run 0 of", "3 target hits, expected 51")


def test_an_error_inside_a_compared_library_ends_that_run_only(capsys, tmp_path, monkeypatch):
    import json

    def broken(name, rec, x0, lb, ub, seed):  # evaluates twice, then fails as a library might
        rec.point(x0)
        rec.point(x0 + 0.1)
        raise TypeError("only 0-dimensional arrays can be converted to Python scalars")

    monkeypatch.setattr(bbob, "_run_anchor", broken)
    saved = tmp_path / "runs.json"
    args = ["--jobs", "1", "--functions", "1,2", "--dims", "2", "--instances", "1",
            "--budget", "100"]
    assert bbob.main([*args, "--only", "auto,random search", "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "random search: 2 run(s) ended by an error inside the library" in out
    assert "TypeError: only 0-dimensional" in out
    runs = json.loads(saved.read_text())["runs"]
    assert {(r["method"], r["evaluations"], bool(r["error"])) for r in runs} == {
        ("zoopt auto", r["evaluations"], False) for r in runs if r["method"] == "zoopt auto"
    } | {("random search", 2, True)}
    # the error is kept through --load
    assert bbob.main([*args, "--only", "random search", "--load", str(saved)]) == 0
    assert "random search: 2 run(s) ended by an error" in capsys.readouterr().out


def test_an_error_inside_zoopt_is_not_hidden(monkeypatch):
    def broken(method, rec, x0, lb, ub, seed):
        raise TypeError("a bug")

    monkeypatch.setattr(bbob, "_run_zoopt", broken)
    with pytest.raises(TypeError, match="a bug"):
        bbob.run_one(("zoopt auto", "bbob", "bbob_f001_i01_d02", 10))
