"""zoopt.optimize: ask/tell, minimize, checkpoints, bounds, callbacks, scipy bridge."""

import os
import warnings

import numpy as np
import pytest
from objectives import shifted_abs, sphere

import zoopt
from zoopt.optimize import (
    ES,
    METHODS,
    SNES,
    SPSA,
    ZOSGD,
    OptimizeWarning,
    ZOAdam,
    minimize,
    scipy_method,
)

ALL = sorted(METHODS)


def _make(name, x0, rng=3):
    kw = {"zo-sgd": {"momentum": 0.5, "nesterov": True}, "zo-adam": {}, "es": {},
          "spsa": {}, "snes": {}}[name]
    return METHODS[name](x0, rng=rng, **kw)


@pytest.mark.parametrize("name", ALL)
def test_ask_tell_equals_step_bitwise(name):
    x0 = np.linspace(-1, 1, 7)
    a, b = _make(name, x0), _make(name, x0)
    for _ in range(6):
        a.step(shifted_abs)
        X = b.ask()
        b.tell(shifted_abs(X))
        np.testing.assert_array_equal(a.x, b.x)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])


@pytest.mark.parametrize("name", ALL)
def test_minimize_is_the_step_loop(name):
    x0 = np.linspace(-1, 1, 5).astype(np.float32)
    options = {"zo-sgd": {"momentum": 0.5, "nesterov": True},
               "spsa": {"A": 10.0}}.get(name)  # minimize sets SPSA's A from the budget
    res = minimize(shifted_abs, x0, method=name, maxiter=8, rng=3, eval_mean=False,
                   options=options)
    opt = _make(name, x0)
    for _ in range(8):
        opt.step(shifted_abs)
    np.testing.assert_array_equal(res.x_mean, opt.x)
    assert res.x_mean.dtype == np.float32
    assert res.nit == 8


@pytest.mark.parametrize("name", ALL)
def test_best_point_is_a_point_evaluated_with_that_value(name):
    # x and fun are rebuilt from the stream (no probe is stored): they must match
    res = minimize(shifted_abs, np.ones(6), method=name, maxiter=15, rng=1, eval_mean=False)
    assert shifted_abs(res.x[None])[0] == res.fun
    res = minimize(shifted_abs, np.ones(6), method=name, maxiter=15, rng=1,
                   bounds=[(0.5, 2.0)] * 6, eval_mean=False)
    assert shifted_abs(np.clip(res.x, 0.5, 2.0)[None])[0] == res.fun
    assert np.all((res.x >= 0.5) & (res.x <= 2.0))


@pytest.mark.parametrize("name", ALL)
def test_checkpoint_resume_equals_uninterrupted_run(name, tmp_path):
    x0 = np.linspace(-2, 2, 9)
    full = minimize(shifted_abs, x0, method=name, maxiter=12, rng=5)
    path = str(tmp_path / "run.npz")

    def stop_at_5(intermediate_result):  # the same run, stopped after step 5
        if intermediate_result.nit == 5:
            raise StopIteration

    part = minimize(shifted_abs, x0, method=name, maxiter=12, rng=5, checkpoint=path,
                    checkpoint_every=2, callback=stop_at_5)
    assert part.nit == 5
    resumed = minimize(shifted_abs, x0, method=name, maxiter=12, rng=5, checkpoint=path)
    for key in ("x", "fun", "x_mean", "fun_mean", "nit", "nfev"):
        np.testing.assert_array_equal(resumed[key], full[key])
    for k, v in full.state.items():
        np.testing.assert_array_equal(resumed.state[k], v)
    for k, v in full.history.items():
        np.testing.assert_array_equal(resumed.history[k], v)
    assert full.history["nit"].tolist() == list(range(1, 13))


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / "run.npz")
    minimize(sphere, np.ones(4), maxiter=3, rng=0, checkpoint=path)
    before = dict(np.load(path).items())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        minimize(sphere, np.ones(4), maxiter=6, rng=0, checkpoint=path, checkpoint_every=1)
    monkeypatch.undo()
    after = dict(np.load(path).items())
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    assert [f for f in os.listdir(tmp_path) if f != "run.npz"] == []


def test_checkpoint_of_another_method_or_dimension_is_refused(tmp_path):
    path = str(tmp_path / "run.npz")
    minimize(sphere, np.ones(4), method="es", maxiter=2, rng=0, checkpoint=path)
    with pytest.raises(ValueError, match="of method 'es'; this run uses 'zo-adam'"):
        minimize(sphere, np.ones(4), method="zo-adam", maxiter=4, checkpoint=path)
    with pytest.raises(ValueError, match="dimension 4; this run has d = 5"):
        minimize(sphere, np.ones(5), method="es", maxiter=4, checkpoint=path)
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        minimize(sphere, np.ones(4), maxiter=1, checkpoint=str(tmp_path / "junk.npz"))


@pytest.mark.parametrize("name", ALL)
def test_state_dict_roundtrip(name):
    a = _make(name, np.ones(5))
    for _ in range(3):
        a.step(sphere)
    b = _make(name, np.ones(5), rng=99)
    b.load_state_dict(a.state_dict())
    a.step(sphere)
    b.step(sphere)
    np.testing.assert_array_equal(a.x, b.x)
    other = "es" if name != "es" else "snes"
    with pytest.raises(ValueError, match=f"of method {name!r}"):
        _make(other, np.ones(5)).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="shape"):
        _make(name, np.ones(6)).load_state_dict(a.state_dict())


def test_tell_checks():
    opt = ZOAdam(np.ones(3), rng=0)
    with pytest.raises(RuntimeError, match="must follow ask"):
        opt.tell(np.zeros(32))
    X = opt.ask()
    with pytest.raises(ValueError, match=f"needs {len(X)} values"):
        opt.tell(np.zeros(len(X) + 1))


def test_callback_new_and_old_style_and_stop_iteration():
    seen = []

    def cb(intermediate_result):
        seen.append(intermediate_result.nit)
        assert intermediate_result.fun <= shifted_abs(np.ones((1, 3)))[0]
        if intermediate_result.nit == 4:
            raise StopIteration

    res = minimize(shifted_abs, np.ones(3), maxiter=50, callback=cb, rng=0)
    assert seen == [1, 2, 3, 4]
    assert res.status == 99
    assert not res.success
    xs = []
    minimize(shifted_abs, np.ones(3), maxiter=3, callback=lambda xk: xs.append(xk), rng=0)
    assert len(xs) == 3
    assert xs[0].shape == (3,)


def test_stopping_rules():
    res = minimize(sphere, np.ones(3), method="snes", target=1e-6, maxfev=50_000, rng=0)
    assert res.status == 0
    assert res.success
    assert res.fun <= 1e-6
    res = minimize(sphere, np.ones(3), maxfev=100, rng=0)
    assert res.status == 1
    assert 100 - 33 < res.nfev <= 100  # no step that would pass the budget is started
    assert "evaluations" in res.message
    for method in ("zo-sgd", "zo-adam", "es", "spsa", "snes"):
        for budget in (1, 34, 250):  # maxfev=1 used to give 33 evaluations
            r = minimize(sphere, np.ones(3), method=method, maxfev=budget, rng=0)
            assert r.nfev <= budget, (method, budget)
    res = minimize(sphere, np.ones(3), maxiter=7, rng=0)
    assert res.status == 2
    assert res.nit == 7
    assert res.nfev == 1 + 7 * (2 * 16 + 1)  # x0, then 7 steps of 32 probes and the mean


def test_keyboard_interrupt_returns_best_so_far():
    calls = []

    def f(X):
        calls.append(1)
        if len(calls) == 30:
            raise KeyboardInterrupt
        return sphere(X)

    res = minimize(f, np.ones(4), method="es", maxiter=1000, rng=0)
    assert res.status == 4
    assert "interrupted" in res.message
    assert np.isfinite(res.fun)
    assert sphere(res.x[None])[0] == res.fun


def test_bounds_probes_never_leave_the_box():
    lo, hi = np.array([-1.0, 0.0, 0.5]), np.array([1.0, 0.2, 3.0])

    def f(X):
        assert np.all(X >= lo)
        assert np.all(X <= hi)
        return shifted_abs(X)

    for name in ALL:
        res = minimize(f, np.array([0.0, 0.1, 1.0]), method=name, bounds=np.stack([lo, hi]),
                       maxiter=10, rng=0, options={"sigma": 1.0} if name == "snes" else None)
        assert np.all((res.x_mean >= lo) & (res.x_mean <= hi))


def test_scipy_bounds_object_accepted():
    from scipy.optimize import Bounds

    res = minimize(sphere, np.full(3, 2.0), bounds=Bounds(1.0, 3.0), maxiter=50, lr=0.1, rng=0)
    np.testing.assert_allclose(res.x_mean, 1.0, atol=0.05)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"bounds": [(0, 1)] * 2}, ValueError, "sequence of d = 3"),
    ({"bounds": [(0, 2), (2, 1), (0, 2)]}, ValueError, "low > high at coordinates \\[1\\]"),
    ({"bounds": [(2, 3)] * 3}, ValueError, "'x0' parameter of minimize must lie inside"),
    ({"method": "cma"}, ValueError, "'method' parameter of minimize"),
    ({"maxfev": 0}, ValueError, "'maxfev'"),
    ({"checkpoint_every": 0}, ValueError, "'checkpoint_every'"),
    ({"nan_policy": "skip"}, ValueError, "'nan_policy'"),
    ({"callback": 3}, TypeError, "'callback'"),
    ({"lr": -1.0}, ValueError, "'lr' parameter of ZOAdam"),
    ({"method": "es", "n_dirs": 7}, ValueError, "must be even"),
    ({"executor": object()}, TypeError, "'executor' parameter"),
])
def test_bad_input(kw, exc, match):
    with pytest.raises(exc, match=match):
        minimize(sphere, np.ones(3), maxiter=2, rng=0, **kw)


def test_unknown_option_warns_like_scipy():
    with pytest.warns(OptimizeWarning, match="Unknown option 'momentumm'"):
        minimize(sphere, np.ones(3), method="zo-sgd", maxiter=1, options={"momentumm": 0.9})


def test_nonfinite_values_raise_or_count_as_worst():
    def f(X):
        out = sphere(X)
        out[X[:, 0] > 1.0] = np.nan
        return out

    with pytest.raises(ValueError, match="non-finite"):
        minimize(f, np.ones(3), maxiter=5, rng=0)
    res = minimize(f, np.ones(3), maxiter=20, rng=0, nan_policy="worst")
    assert np.isfinite(res.fun)


def test_progress_bar_runs(capsys):
    res = minimize(sphere, np.ones(3), maxiter=5, progress=True, rng=0)
    assert res.nit == 5
    assert "zoopt zo-adam" in capsys.readouterr().err


def test_scipy_bridge():
    from scipy.optimize import minimize as sp_minimize

    def f(x, shift):
        return float(((x - shift) ** 2).sum())

    res = sp_minimize(f, np.zeros(4), args=(1.5,), method=scipy_method("zo-adam"),
                      options={"maxiter": 400, "lr": 0.05, "rng": 0, "amsgrad": False})
    np.testing.assert_allclose(res.x, 1.5, atol=0.1)
    res = sp_minimize(f, np.zeros(2), args=(1.5,), method=scipy_method("spsa"),
                      bounds=[(None, 1.0), (0.0, None)], options={"maxiter": 300, "rng": 0})
    assert res.x[0] <= 1.0
    np.testing.assert_allclose(res.x, [1.0, 1.5], atol=0.05)
    with pytest.raises(ValueError, match="constraints"):
        sp_minimize(f, np.zeros(2), args=(1.5,), method=scipy_method("es"),
                    constraints=[{"type": "eq", "fun": lambda x: x[0]}])


@pytest.mark.parametrize("name", ALL)
def test_every_method_makes_progress_on_sphere(name):
    f0 = sphere(np.ones((1, 10)))[0]
    res = minimize(sphere, np.ones(10), method=name, maxfev=6000, rng=0)
    assert res.fun < 1e-2 * f0


def test_spsa_calibration_sets_the_first_step():
    opt = SPSA(np.full(8, 2.0), rng=0, A=5.0)
    x0 = opt.x.copy()
    opt.step(shifted_abs)
    assert opt.a is not None
    np.testing.assert_allclose(np.abs(opt.x - x0).mean(), opt.initial_step, rtol=1e-12)
    assert opt.initial_step == pytest.approx(0.2)


def test_snes_adapts_sigma_per_coordinate():
    scales = np.array([1.0, 100.0])

    def ellipsoid(X):
        return ((X * scales) ** 2).sum(axis=1)

    opt = SNES(np.ones(2), sigma=1.0, rng=0)
    for _ in range(60):
        opt.step(ellipsoid)
    assert opt.sigma[1] < opt.sigma[0] / 5


def test_method_classes_validate():
    with pytest.raises(ValueError, match="'momentum' parameter of ZOSGD"):
        ZOSGD(np.ones(2), momentum=1.5)
    with pytest.raises(ValueError, match="popsize"):
        ES(np.ones(2), popsize=5)
    with pytest.raises(ValueError, match="'sigma' parameter of SNES"):
        SNES(np.ones(2), sigma=[1.0, -1.0])
    with pytest.raises(ValueError, match="'x0' parameter of SPSA must be finite"):
        SPSA([np.nan, 1.0])


def test_minimize_top_level_name():
    assert zoopt.minimize is minimize
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = zoopt.minimize(sphere, np.ones(3), maxiter=3, rng=0)
    assert set(res) >= {"x", "fun", "nit", "nfev", "success", "status", "message", "x_mean"}


def test_result_prints_short_and_keeps_its_data():
    # the README's own call printed 1,923 lines (the state and the whole history)
    res = zoopt.minimize(lambda X: (X * X).sum(1), np.ones(1000), maxiter=20, rng=0)
    text = repr(res)
    assert len(text.splitlines()) <= 16
    assert "shape=(1000,)" in text
    assert "t: 20" in text
    assert res.history["fun"].shape == (20,)
    assert res.state["m"].shape == (1000,)
    small = repr(zoopt.minimize(lambda X: (X * X).sum(1), np.ones(3), maxiter=2, rng=0))
    assert "array([" in small.splitlines()[0]  # short arrays in full


def test_checkpoint_refuses_another_rng_or_x0(tmp_path):
    f = lambda X: (X * X).sum(1)  # noqa: E731
    path = str(tmp_path / "run.npz")
    first = zoopt.minimize(f, np.ones(5), method="es", maxiter=3, rng=0, checkpoint=path)
    with pytest.raises(ValueError, match="made with another 'rng'"):
        zoopt.minimize(f, np.ones(5), method="es", maxiter=6, rng=1, checkpoint=path)
    with pytest.raises(ValueError, match="made from another 'x0'"):
        zoopt.minimize(f, np.full(5, 2.0), method="es", maxiter=6, rng=0, checkpoint=path)
    # rng=None continues whatever run the checkpoint holds; the same rng does too
    cont = zoopt.minimize(f, np.ones(5), method="es", maxiter=4, rng=None, checkpoint=path)
    assert cont.nit == 4
    again = zoopt.minimize(f, np.ones(5), method="es", maxiter=5, rng=0, checkpoint=path)
    full = zoopt.minimize(f, np.ones(5), method="es", maxiter=5, rng=0)
    np.testing.assert_array_equal(again.x_mean, full.x_mean)
    assert first.nit == 3


@pytest.mark.parametrize("method", ["es", "snes", "zo-adam", "spsa", "zo-sgd"])
def test_errors_name_what_the_user_called(method):
    bad = lambda X: X[:, :2]  # noqa: E731 - wrong output shape
    with pytest.raises(ValueError, match=rf"objective passed to minimize\(method='{method}'\)"):
        zoopt.minimize(bad, np.ones(4), method=method, maxiter=2, rng=0)
    from zoopt.optimize._minimize import METHODS

    cls = METHODS[method]
    with pytest.raises(ValueError, match=rf"objective passed to {cls.__name__}\.step"):
        cls(np.ones(4), rng=0).step(bad)
    with pytest.raises(ValueError, match="objective passed to gaussian must"):
        zoopt.policy.gaussian(bad, np.ones(4), sigma=0.1, n_samples=4)  # outside: its own


def test_a_bad_checkpoint_path_fails_before_the_run(tmp_path):
    calls = []

    def f(X):
        calls.append(len(X))
        return (X * X).sum(1)

    for bad in (str(tmp_path / "missing" / "run.npz"), str(tmp_path)):
        with pytest.raises(ValueError, match="'checkpoint' parameter of minimize"):
            zoopt.minimize(f, np.ones(3), maxiter=5, rng=0, checkpoint=bad)
    with pytest.raises(TypeError, match="'checkpoint' parameter of minimize must be a path"):
        zoopt.minimize(f, np.ones(3), maxiter=5, rng=0, checkpoint=3)
    assert calls == []  # nothing was evaluated


@pytest.mark.parametrize("method", ["zo-sgd", "zo-adam", "es", "spsa", "snes"])
def test_result_is_never_worse_than_x0(method):
    # snes returned a point worse than x0 (x0 was never evaluated); maxiter=0 gave nan
    x0 = np.linspace(-1, 1, 50)
    f0 = float(sphere(x0[None, :])[0])
    res = minimize(sphere, x0, method=method, maxiter=3, rng=0,
                   options={"lr": 5.0} if method in ("zo-sgd", "zo-adam", "es") else None)
    assert res.fun <= f0
    zero = minimize(sphere, x0, method=method, maxiter=0, rng=0)
    assert zero.fun == f0
    assert zero.nfev == 1
    np.testing.assert_array_equal(zero.x, x0)
