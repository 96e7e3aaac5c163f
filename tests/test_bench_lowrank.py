"""bench lowrank: its workers and its quality run work at a tiny size."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from zoopt._bench import lowrank


@pytest.mark.parametrize("kind", ["ceiling", "own", "shared", "full"])
def test_workers_report_a_rate_and_memory(kind):
    res = lowrank._worker(kind, popsize=4, hidden=64, repeats=1)
    assert res["rate"] > 0
    assert res["n_params"] == 1024 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    # the factors of the three layers at rank 4 for the 2 mirrored directions
    expected = (1024 + 64 + 64 + 32 + 32 + 10) * 4 * 2 * 4 / 2**20 if kind in (
        "own", "shared") else 0
    assert res["factors_mib"] == pytest.approx(expected)


def test_quality_trains_both_methods():
    rows = lowrank._quality(seeds=1, steps=3, popsize=4)
    assert [r[0] for r in rows] == ["low-rank ES (rank 1)", "full-rank ES"]
    for r in rows:
        assert 0.0 <= float(r[-1]) <= 1.0
        assert r[3] == "12"  # 3 steps x 4 members


@pytest.mark.parametrize("kind", ["ceiling", "own", "shared", "full"])
def test_transformer_workers_run(kind):
    res = lowrank._worker(kind, popsize=2, hidden=16, repeats=1, arch="transformer")
    assert res["rate"] > 0
    assert (res["factors_mib"] > 0) == (kind in ("own", "shared"))
