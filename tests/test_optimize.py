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
          "spsa": {}, "snes": {}, "cma": {}, "sep-cma": {}, "lm-ma-es": {}}[name]
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
    res = minimize(sphere, np.ones(3), method="zo-adam", maxfev=100, rng=0)
    assert res.status == 1
    assert 100 - 33 < res.nfev <= 100  # no step that would pass the budget is started
    assert "evaluations" in res.message
    for method in ("auto", *METHODS):
        for budget in (1, 34, 250):  # maxfev=1 used to give 33 evaluations
            r = minimize(sphere, np.ones(3), method=method, maxfev=budget, rng=0)
            assert r.nfev <= budget, (method, budget)
    res = minimize(sphere, np.ones(3), method="zo-adam", maxiter=7, rng=0)
    assert res.status == 2
    assert res.nit == 7
    assert res.nfev == 1 + 7 * (2 * 16 + 1)  # x0, then 7 steps of 32 probes and the mean
    res = minimize(sphere, np.ones(3), maxiter=7, rng=0)  # auto: CMA-ES, popsize 7
    assert res.nfev == 1 + 7 * 7 + 1  # x0, 7 generations, the final mean
    assert res.message.endswith("(auto: cma with BIPOP restarts, d = 3 <= 100)")


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

    res = minimize(sphere, np.full(3, 2.0), bounds=Bounds(1.0, 3.0), maxiter=50, lr=0.1, rng=0,
                   method="zo-adam")
    np.testing.assert_allclose(res.x_mean, 1.0, atol=0.05)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"bounds": [(0, 1)] * 2}, ValueError, "sequence of d = 3"),
    ({"bounds": [(0, 2), (2, 1), (0, 2)]}, ValueError, "low > high at coordinates \\[1\\]"),
    ({"method": "nelder-mead"}, ValueError, "'method' parameter of minimize"),
    ({"maxfev": 0}, ValueError, "'maxfev'"),
    ({"checkpoint_every": 0}, ValueError, "'checkpoint_every'"),
    ({"nan_policy": "skip"}, ValueError, "'nan_policy'"),
    ({"callback": 3}, TypeError, "'callback'"),
    ({"lr": -1.0}, ValueError, "'lr' parameter of minimize"),  # its own name, not ZOAdam's
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
    assert "zoopt cma" in capsys.readouterr().err  # what method="auto" chose


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


@pytest.mark.parametrize("d", [8, 1000])
def test_spsa_calibration_sets_the_first_gain_for_the_dimension(d):
    # a_0 = n / (d + n - 1) min(scale sqrt(d) sqrt((d + n_c - 1) / n_c) / |g_0|, d / tr H)
    # (SPSA Notes); the first step moved each coordinate by 0.1 max(1, mean |x0|) whatever
    # d, which diverged at d = 1000
    w = np.linspace(-1, 2, d)
    linear = SPSA(np.full(d, 2.0), rng=0, A=5.0)  # tr H = 0: the gradient's rule
    x0 = linear.x.copy()
    linear.step(lambda X: X @ w + 3.0)
    assert linear.scale == 2.0
    n, nc = linear.n_dirs, linear.calib_dirs
    expected = n / (d + n - 1) * 2.0 * np.sqrt(d) * np.sqrt((d + nc - 1) / nc)
    np.testing.assert_allclose(np.linalg.norm(linear.x - x0), expected, rtol=1e-12)
    # large curvature, small gradient (Rosenbrock from 0): tr H = 2000 d decides
    curved = SPSA(np.full(d, 2.0), rng=0, A=5.0)
    curved.step(lambda X: 1000 * ((X - 2.0) ** 2).sum(axis=1) + 1e-3 * (X @ w))
    assert curved._trace == pytest.approx(2000 * d, rel=1e-9)
    assert curved.a == pytest.approx(n / (d + n - 1) / 2000 * 6.0 ** curved.alpha, rel=1e-9)
    assert curved.evals_per_step() == 2 * n


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
    res = zoopt.minimize(lambda X: (X * X).sum(1), np.ones(1000), maxiter=20, rng=0,
                         method="zo-adam")
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
    with warnings.catch_warnings():  # zo-sgd's mean diverges (and the run stops, status 5)
        warnings.simplefilter("ignore", OptimizeWarning)
        res = minimize(sphere, x0, method=method, maxiter=3, rng=0,
                       options={"lr": 5.0} if method in ("zo-sgd", "zo-adam", "es") else None)
    assert res.fun <= f0
    zero = minimize(sphere, x0, method=method, maxiter=0, rng=0)
    assert zero.fun == f0
    assert zero.nfev == 1
    np.testing.assert_array_equal(zero.x, x0)


# -- defaults that follow the dimension ------------------------------------------------

def _readme_objective(X):
    # the README's: a sphere plus the rounding steps of |round(x)|
    return np.abs(np.round(X)).sum(axis=1) + (X * X).sum(axis=1)


_DEFAULT_RUNS = [pytest.param(m, d, marks=pytest.mark.slow) if d == 100_000 else (m, d)
                 for m in ALL for d in (10, 1000, 100_000)]


@pytest.mark.parametrize(("name", "d"), _DEFAULT_RUNS)
@pytest.mark.parametrize("objective", ["readme", "sphere"])
def test_default_options_decrease_the_objective_at_every_dimension(name, d, objective):
    # spsa's defaults ended at 1e16 on the README's objective at d = 1000 (1.6e33 on the
    # sphere), zo-sgd at 2.2e4 > f(x0) = 834, and snes's mean was worse than x0.
    # Target: with central differences a step of 2n evaluations decreases a sphere by at
    # most a fraction n / (d + n + 1) (SPEC 8), so B evaluations by at most about
    # 1 - exp(-B / (2 d)); every method must achieve a fifth of that, with its mean too.
    f, x0 = ((_readme_objective, np.linspace(-1, 1, d, dtype=np.float32))
             if objective == "readme" else (sphere, np.ones(d, dtype=np.float32)))
    budget = 20_000
    f0 = float(f(x0[None])[0])
    res = minimize(f, x0, method=name, maxfev=budget, rng=0)
    bound = f0 * (1 - 0.2 * (1 - np.exp(-budget / (2 * d))))
    assert res.status == 1
    assert res.fun <= float(f(res.x_mean[None])[0]) <= bound, (res.fun, res.fun_mean, f0)


def test_default_step_sizes_follow_their_rules():
    from zoopt.random import directions

    for d in (10, 1000, 100_000):
        x0 = np.ones(d)
        rho = min(1.5, max(0.5, np.log10(d) / 4))
        assert ZOAdam(x0).lr == pytest.approx(rho * np.sqrt(16 / (d + 16)))
        q = ES.default_popsize(d) // 2
        assert ES(x0).lr == pytest.approx(min(0.05, 0.5 * np.sqrt(q / (d + q))))
        n = SNES(x0).popsize
        np.testing.assert_allclose(SNES(x0).sigma, min(1.0, n / (4 * np.sqrt(d))))
        # scale: max(1, mean |x0|), or given
        assert ZOAdam(3 * x0).lr == pytest.approx(3 * ZOAdam(x0).lr)
        assert ZOAdam(0.1 * x0, scale=2.0).lr == pytest.approx(2 * ZOAdam(x0).lr)
    # ZOSGD's lr is calibrated on the first step, whatever the units of f: on a linear
    # function (no curvature) the step has length scale sqrt(d n / (d + n + 1)) / 4
    for d, factor in ((10, 1.0), (1000, 1e4)):
        w = np.linspace(-1, 2, d)
        opt = ZOSGD(np.full(d, 2.0), rng=0)
        assert opt.lr is None
        assert opt.evals_per_step() == 33  # f(x) too, for the curvature
        info = opt.step(lambda X, c=factor, w=w: c * (X @ w))
        assert info.nfev == 33
        np.testing.assert_allclose(np.linalg.norm(opt.x - 2.0),
                                   2.0 * np.sqrt(d * 16 / (d + 17)) / 4, rtol=1e-12)
        assert opt.state_dict()["lr"] == opt.lr
        assert opt.evals_per_step() == 32
    # a large curvature with a small gradient: lr = n / (d + n + 1) d / tr H / 4
    d = 50
    opt = ZOSGD(np.zeros(d), rng=0)
    opt.step(lambda X: 1000 * (X * X).sum(axis=1) + 1e-3 * X.sum(axis=1))
    U = directions(16, d, rng=opt._rng, step=0)
    assert opt._trace == pytest.approx(2000 * (U * U).sum(axis=1).mean(), rel=1e-9)
    assert opt.lr == pytest.approx(16 / (d + 17) * d / opt._trace / 4, rel=1e-12)
    assert ZOSGD(np.ones(3), lr=0.5).lr == 0.5
    assert ZOSGD(np.ones(3), lr=0.5).evals_per_step() == 32


def test_rosenbrock_from_zero_does_not_diverge():
    # the gradient's rule alone (ZOSGD's and SPSA's first steps) read a curvature 100
    # times too small there, and both diverged
    from scipy.optimize import rosen

    for d in (2, 10):
        for name in ALL:
            res = minimize(lambda X: rosen(X.T), np.zeros(d), method=name, maxfev=20_000,
                           rng=0)
            assert res.status == 1, (name, d, res.message)
            assert res.fun < d - 1  # rosen(0) = d - 1


def test_a_flat_first_step_calibrates_later():
    calls = []

    def f(X):
        calls.append(len(X))
        return np.zeros(len(X)) if len(calls) == 1 else sphere(X)

    opt = ZOSGD(np.ones(4), rng=0)
    opt.step(f)
    np.testing.assert_array_equal(opt.x, np.ones(4))
    assert opt.lr is None
    opt.step(f)
    assert opt.lr is not None
    assert sphere(opt.x[None])[0] < 4.0


# -- a run whose mean diverges ---------------------------------------------------------

@pytest.mark.parametrize(("name", "options", "dtype"), [
    ("zo-sgd", {"lr": 10.0}, np.float64),  # 17 times the stable step on the sphere, d = 10
    ("spsa", {"a": 1e3, "A": 0.0}, np.float64),
    ("zo-sgd", {"lr": 1e300}, np.float32),  # the mean leaves float32's range
])
def test_a_diverging_run_stops_says_so_and_warns(name, options, dtype):
    from scipy.optimize import OptimizeWarning as ScipyOptimizeWarning

    x0 = np.ones(10, dtype=dtype)
    with pytest.warns(ScipyOptimizeWarning, match="diverged"):
        res = minimize(sphere, x0, method=name, maxiter=1000, rng=0, options=options)
    assert res.status == 5
    assert not res.success
    assert "diverged" in res.message
    assert "a smaller 'lr'" in res.message
    assert res.nit < 1000
    assert res.fun <= 10.0  # the best point evaluated, never worse than x0
    assert sphere(res.x[None])[0] == res.fun
    # a run that converges is not flagged
    ok = minimize(sphere, x0, method=name, maxiter=50, rng=0)
    assert ok.status == 2


def test_divergence_threshold():
    from zoopt.optimize._minimize import _diverged

    assert _diverged(np.inf, 1.0, 1.0)
    assert _diverged(np.nan, 1.0, 1.0)
    assert not _diverged(1e6, 1.0, 0.5)  # 1e6 - 1 < 1e6 |f(x0)|
    assert _diverged(1e6 + 2, 1.0, 0.5)
    assert not _diverged(-5.0, -1.0, -5.0)
    assert _diverged(4e6 + 1.0, -1.0, -5.0)  # the scale is f(x0) - best = 4
    assert not _diverged(0.5, 0.0, 0.0)  # both 0: the scale is 1
    assert _diverged(1e6 + 1, 0.0, 0.0)


# -- the progress bar --------------------------------------------------------------------

class _Bars:
    """tqdm with its output in memory, each bar kept for its final count."""

    def __init__(self, monkeypatch):
        import io

        import tqdm.auto

        self.bars = []
        outer = self

        class Bar(tqdm.auto.tqdm):
            def __init__(self, *args, **kwargs):
                kwargs["file"] = io.StringIO()
                super().__init__(*args, **kwargs)
                outer.bars.append(self)

        monkeypatch.setattr(tqdm.auto, "tqdm", Bar)


def test_progress_bar_counts_up_to_its_total(monkeypatch, tmp_path):
    bars = _Bars(monkeypatch).bars
    cases = [({"maxiter": 5}, "it"), ({"maxfev": 100}, "fev"),
             ({"maxfev": 1000, "method": "spsa"}, "fev"), ({"maxfev": 1000, "maxiter": 3}, "it"),
             ({"maxfev": 50, "maxiter": 100}, "fev"), ({"maxfev": 1}, "fev")]
    for kw, unit in cases:
        res = minimize(sphere, np.ones(3), progress=True, rng=0, **kw)
        bar = bars[-1]
        assert bar.unit == unit, kw
        assert bar.n == (res.nit if unit == "it" else res.nfev), kw
        assert bar.n <= bar.total == (kw["maxiter"] if unit == "it" else kw["maxfev"]), kw
    # a run resumed from a checkpoint beyond the new budget started the bar past its end
    path = str(tmp_path / "run.npz")
    minimize(sphere, np.ones(3), maxiter=12, rng=0, checkpoint=path)
    res = minimize(sphere, np.ones(3), maxiter=5, rng=0, checkpoint=path, progress=True)
    assert res.nit == 12
    assert bars[-1].n == bars[-1].total == 5
    res = minimize(sphere, np.ones(3), maxfev=40, rng=0, checkpoint=path, progress=True)
    assert bars[-1].n == bars[-1].total == 40


# -- scipy's call forms ------------------------------------------------------------------

def test_callback_forms_as_scipy_wraps_them():
    seen = []

    def keyword_only(*, intermediate_result):
        seen.append(("kw", intermediate_result.nit))

    def by_name(intermediate_result):
        seen.append(("name", intermediate_result.nit))

    def point(xk):
        seen.append(("x", xk.shape))

    for cb in (keyword_only, by_name, point):
        minimize(sphere, np.ones(3), maxiter=2, rng=0, callback=cb)
    assert seen == [("kw", 1), ("kw", 2), ("name", 1), ("name", 2), ("x", (3,)), ("x", (3,))]


def test_results_are_scipy_results_without_importing_scipy_with_zoopt():
    import pickle
    import subprocess
    import sys

    import scipy.optimize

    res = minimize(sphere, np.ones(3), maxiter=3, rng=0)
    assert isinstance(res, scipy.optimize.OptimizeResult)
    assert isinstance(res, zoopt.OptimizeResult)
    back = pickle.loads(pickle.dumps(res))
    assert type(back) is type(res)
    np.testing.assert_array_equal(back.x, res.x)
    inter = []
    minimize(sphere, np.ones(3), maxiter=1, rng=0,
             callback=lambda intermediate_result: inter.append(intermediate_result))
    assert isinstance(inter[0], scipy.optimize.OptimizeResult)
    assert issubclass(OptimizeWarning, scipy.optimize.OptimizeWarning)
    out = subprocess.run([sys.executable, "-c", "import sys, zoopt; "
                          "print('scipy.optimize' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_results_without_scipy(monkeypatch):
    import sys

    from zoopt.optimize import _base, _minimize

    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # import fails
    monkeypatch.setattr(_base, "_RESULT_CLASS", [])
    monkeypatch.setattr(_minimize, "_WARNING_CLASS", [])
    res = minimize(sphere, np.ones(3), maxiter=2, rng=0)
    assert type(res) is zoopt.OptimizeResult
    warning = _minimize._optimize_warning()
    assert warning.__bases__ == (UserWarning,)
    with pytest.warns(warning, match="Unknown option"):
        minimize(sphere, np.ones(3), maxiter=1, options={"nope": 1})


def test_unknown_option_warns_as_scipys_class():
    from scipy.optimize import OptimizeWarning as ScipyOptimizeWarning

    with pytest.warns(ScipyOptimizeWarning, match="Unknown option 'momentumm'"):
        minimize(sphere, np.ones(3), method="zo-sgd", maxiter=1, options={"momentumm": 0.9})


def test_x0_outside_bounds_is_clipped_with_a_warning():
    from scipy.optimize import OptimizeWarning as ScipyOptimizeWarning

    seen = []

    def f(X):
        seen.append(X.copy())
        return sphere(X)

    with pytest.warns(ScipyOptimizeWarning, match=r"not within 'bounds' \(coordinates \[0, 2\]"):
        res = minimize(f, np.array([3.0, 1.5, -4.0]), bounds=[(1, 2)] * 3, maxiter=3, rng=0)
    np.testing.assert_array_equal(seen[0], [[2.0, 1.5, 1.0]])  # x0 itself, clipped
    assert np.all((res.x >= 1) & (res.x <= 2))


def test_tol_stops_when_the_best_value_stalls():
    x0 = np.ones(3)
    res = minimize(sphere, x0, maxiter=2000, tol=1e-3, rng=0, method="zo-adam")
    assert res.status == 3
    assert res.success
    assert "tol" in res.message
    h, w = res.history["fun"], 10  # max(10, ceil(d / evaluations per step)) = 10 here
    k = res.nit - 1
    assert k - 1 - w >= 0
    assert h[k - w] - h[k] <= 1e-3 * max(abs(h[k - w]), abs(h[k]), 1.0)
    assert not (h[k - 1 - w] - h[k - 1] <= 1e-3 * max(abs(h[k - 1 - w]), abs(h[k - 1]), 1.0))
    assert minimize(sphere, x0, maxiter=200, rng=0, method="zo-adam").nit == 200  # no tol
    # the window covers at least d evaluations
    res = minimize(sphere, np.ones(400), maxiter=100, tol=1.0, rng=0, method="zo-adam")
    assert res.nit == 1 + int(np.ceil(400 / 33))


def test_args_are_passed_to_fun():
    def f(X, shift, power):
        return (np.abs(X - shift) ** power).sum(axis=-1)

    x0 = np.zeros(4)
    res = minimize(f, x0, args=(1.5, 2), maxiter=50, rng=0)
    ref = minimize(lambda X: f(X, 1.5, 2), x0, maxiter=50, rng=0)
    np.testing.assert_array_equal(res.x, ref.x)
    one = minimize(lambda X, s: ((X - s) ** 2).sum(-1), x0, args=1.5, maxiter=50, rng=0)
    np.testing.assert_array_equal(one.x, ref.x)  # a non-tuple is the one argument
    scalar = minimize(lambda x, s, p: float(f(x, s, p)), x0, args=(1.5, 2), maxiter=50,
                      rng=0, vectorized=False)
    np.testing.assert_array_equal(scalar.x, ref.x)


def test_scipy_bridge_passes_tol_and_args():
    from scipy.optimize import minimize as sp_minimize

    res = sp_minimize(lambda x, s: float(((x - s) ** 2).sum()), np.zeros(3), args=(1.0,),
                      method=scipy_method("zo-adam"), tol=1e-3,
                      options={"maxiter": 5000, "rng": 0})
    assert res.status == 3
    assert res.nit < 5000


# -- SPSA's schedule across a resume -----------------------------------------------------

def test_spsa_schedule_is_fixed_by_the_run_that_started(tmp_path):
    x0 = np.linspace(-1, 1, 6)
    path = str(tmp_path / "run.npz")
    first = minimize(sphere, x0, method="spsa", maxfev=300, rng=0, checkpoint=path)
    resumed = minimize(sphere, x0, method="spsa", maxfev=600, rng=0, checkpoint=path)
    fresh = minimize(sphere, x0, method="spsa", maxfev=600, rng=0)
    # A = 10% of the expected steps of the run that started (maxfev 300: 100 steps)
    assert first.state["A"] == resumed.state["A"] == 10.0
    assert fresh.state["A"] == 20.0
    assert not np.array_equal(resumed.x_mean, fresh.x_mean)
    # with A given the schedule does not depend on the budget: resuming is the same run
    path2 = str(tmp_path / "run2.npz")
    minimize(sphere, x0, method="spsa", maxfev=300, rng=0, checkpoint=path2,
             options={"A": 10.0})
    resumed = minimize(sphere, x0, method="spsa", maxfev=600, rng=0, checkpoint=path2,
                       options={"A": 10.0})
    fresh = minimize(sphere, x0, method="spsa", maxfev=600, rng=0, options={"A": 10.0})
    np.testing.assert_array_equal(resumed.x_mean, fresh.x_mean)
    assert resumed.nfev == fresh.nfev


# -- errors that name the parameter ------------------------------------------------------

_CTOR_BAD = [
    (cls, kw, exc, match)
    for cls, params in [
        (ZOSGD, ["lr", "sigma", "momentum", "weight_decay", "scale"]),
        (ZOAdam, ["lr", "sigma", "beta1", "beta2", "eps", "weight_decay", "scale"]),
        (ES, ["lr", "sigma", "weight_decay", "beta1", "beta2", "eps", "scale"]),
        (SPSA, ["a", "c", "A", "alpha", "gamma", "scale"]),
        (SNES, ["lr_mean", "lr_sigma", "scale"]),
    ]
    for p in params
    for kw, exc, match in [
        ({p: "abc"}, TypeError, rf"'{p}' parameter of {cls.__name__} must be .*Got 'abc'"),
        ({p: np.nan}, ValueError, rf"'{p}' parameter of {cls.__name__} must be .*Got nan"),
        ({p: np.inf}, ValueError, rf"'{p}' parameter of {cls.__name__} must be .*Got inf"),
        ({p: -1.0}, ValueError, rf"'{p}' parameter of {cls.__name__} must be .*Got -1.0"),
        ({p: np.ones(3)}, TypeError, rf"'{p}' parameter of {cls.__name__} must be .*array"),
    ]
] + [
    (cls, {p: v}, exc, rf"'{p}' parameter of {cls.__name__} must be")
    for cls, params in [(ZOSGD, ["n_dirs"]), (ZOAdam, ["n_dirs"]), (ES, ["popsize"]),
                        (SPSA, ["n_dirs", "calib_dirs"]), (SNES, ["popsize"])]
    for p in params
    for v, exc in [("abc", TypeError), (2.5, TypeError), (0, ValueError), (-3, ValueError),
                   (np.ones(2), TypeError)]
] + [
    (cls, {p: v}, exc, rf"'{p}' parameter of {cls.__name__} must be")
    for cls, p, v, exc in [
        (ZOSGD, "momentum", 1.0, ValueError), (ZOAdam, "beta1", 1.0, ValueError),
        (ZOSGD, "nesterov", "yes", TypeError), (ZOAdam, "amsgrad", 1, TypeError),
        (ZOSGD, "method", "backward", ValueError), (ZOAdam, "dist", None, ValueError),
        (SPSA, "a", 0.0, ValueError),
        (SNES, "sigma", "abc", TypeError), (SNES, "sigma", [1.0, 2.0], ValueError),
        (SNES, "sigma", np.ones((2, 2)), ValueError), (SNES, "sigma", [np.nan, 1, 1], ValueError),
        (SNES, "sigma", -1.0, ValueError), (SNES, "sigma", np.inf, ValueError),
        (SNES, "sigma", 1e300, ValueError), (SNES, "sigma", True, TypeError),
    ]
]


@pytest.mark.parametrize(("cls", "kw", "exc", "match"), _CTOR_BAD)
def test_constructor_errors_name_the_parameter(cls, kw, exc, match):
    with pytest.raises(exc, match=match):
        cls(np.ones(3, dtype=np.float32), **kw)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"target": "low"}, TypeError, r"'target' parameter of minimize must be a float.*'low'"),
    ({"target": np.nan}, ValueError, r"'target' parameter of minimize .*Got nan"),
    ({"target": np.ones(2)}, TypeError, r"'target' parameter of minimize .*array"),
    ({"tol": -1e-3}, ValueError, r"'tol' parameter of minimize must be .*\[0, inf\].*-0.001"),
    ({"tol": "small"}, TypeError, r"'tol' parameter of minimize .*'small'"),
    ({"tol": np.inf}, ValueError, r"'tol' parameter of minimize .*inf"),
    ({"lr": "big"}, TypeError, r"'lr' parameter of minimize .*'big'"),
    ({"method": "spsa", "lr": -1.0}, ValueError, r"'lr' parameter of minimize .*-1.0"),
    ({"n_dirs": 2.5}, TypeError, r"'n_dirs' parameter of minimize .*2.5"),
    ({"n_dirs": 0}, ValueError, r"'n_dirs' parameter of minimize .*0"),
    ({"sigma": "wide"}, TypeError, r"'sigma' parameter of minimize .*'wide'"),
    ({"sigma": np.nan}, ValueError, r"'sigma' parameter of minimize .*nan"),
    ({"options": [("lr", 1.0)]}, TypeError, r"'options' parameter of minimize must be a dict"),
    ({"options": "lr=1"}, TypeError, r"'options' parameter of minimize must be a dict.*'lr=1'"),
    ({"options": {"lr": "x"}, "method": "zo-adam"}, TypeError, r"'lr' parameter of ZOAdam .*'x'"),
    ({"method": "spsa", "options": {"n_dirs": "2"}}, TypeError, r"'n_dirs' parameter of SPSA"),
    ({"bounds": "0,1"}, TypeError, r"'bounds' parameter of minimize must be .*Got '0,1'"),
    ({"bounds": [("a", 1)] * 3}, TypeError, r"'bounds' parameter of minimize .*real numbers"),
    ({"bounds": 5.0}, TypeError, r"'bounds' parameter of minimize .*Got 5.0"),
    ({"bounds": [(0, 1)] * 2}, ValueError, r"sequence of d = 3 .*Got shape \(2, 2\)"),
    ({"bounds": np.zeros((3, 3))}, ValueError, r"'bounds' .*Got shape \(3, 3\)"),
    ({"bounds": [(0, np.nan)] * 3}, ValueError, r"'bounds' .*NaN at coordinates \[0, 1, 2\]"),
    ({"bounds": [(0, 2), (2, 1), (0, 2)]}, ValueError, r"low > high at coordinates \[1\]"),
])
def test_minimize_errors_name_the_parameter(kw, exc, match):
    with pytest.raises(exc, match=match):
        minimize(sphere, np.ones(3), maxiter=2, rng=0, **kw)


def test_bounds_take_none_as_no_bound():
    res = minimize(sphere, np.array([0.25, 0.5]), bounds=[(None, 0.3), (0.2, None)],
                   maxiter=100, rng=0)  # auto: cma, its samples ranked with a penalty
    assert res.x_mean[0] <= 0.3
    assert res.x_mean[1] >= 0.2
    np.testing.assert_allclose(res.x_mean, [0.0, 0.2], atol=0.05)


def test_info_reprs_are_one_short_line():
    _, info = zoopt.grad(sphere, np.ones(100_000), n_dirs=64, rng=0, method="forward",
                         return_info=True)
    _, pinfo = zoopt.policy.gaussian(sphere, np.ones(100_000), sigma=0.1, n_samples=64,
                                     rng=0, return_info=True)
    for text in (repr(info), repr(pinfo)):
        assert "\n" not in text
        assert len(text) < 200
        assert "(64,)" in text
