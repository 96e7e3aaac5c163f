"""CMA and SepCMA: the update equations against the tutorial's twin, the invariances
CMA-ES has, exact resume, restarts, and the behaviour on the sphere."""

import math

import numpy as np
import pytest

import zoopt
from zoopt.optimize import CMA, LMMAES, SepCMA
from zoopt.random import directions

import reference as ref


def sphere(X):
    return np.einsum("ij,ij->i", X, X)


def ellipsoid(X, cond=1e6):
    d = X.shape[1]
    return (X * X) @ (cond ** (np.arange(d) / (d - 1)))


def rastrigin(X):
    return 10 * X.shape[1] + (X * X - 10 * np.cos(2 * np.pi * X)).sum(1)


def rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("d", [3, 8])
def test_generations_match_the_tutorials_equations(d, active):
    opt = CMA(np.linspace(-1, 2, d), sigma=0.7, active=active, rng=3)
    fun = lambda X: ellipsoid(X, 1e3) + 0.1 * X[:, 0]  # noqa: E731
    for _ in range(25):
        assert opt.gen - opt.eig_gen == 0  # small d: B and D are fresh every generation
        B, D = opt.B.copy(), opt.D.copy()
        np.testing.assert_allclose(B @ np.diag(D**2) @ B.T, opt.C, rtol=1e-10, atol=1e-13)
        before = (opt.x.copy(), opt.sigma, opt.C.copy(), opt.pc.copy(), opt.ps.copy(), opt.gen)
        z = directions(opt.popsize, d, rng=opt._rng, step=opt.t)
        X = opt.ask()
        np.testing.assert_allclose(X, before[0] + before[1] * (z * D) @ B.T, rtol=1e-13,
                                   atol=1e-14 * np.abs(X).max())  # sums of d products
        values = fun(X)
        opt.tell(values)
        m, sigma, C, pc, ps = ref.cma_generation(*before[:3], B, D, *before[3:], z, values,
                                                 active=active)
        np.testing.assert_allclose(opt.x, m, rtol=1e-12, atol=1e-14)
        assert opt.sigma == pytest.approx(sigma, rel=1e-12)
        np.testing.assert_allclose(opt.C, C, rtol=1e-10, atol=1e-14 * np.abs(C).max())
        np.testing.assert_allclose(opt.pc, pc, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(opt.ps, ps, rtol=1e-10, atol=1e-14)


def test_default_parameters_are_the_tutorials():
    from zoopt.optimize._cma import _Params

    for d in (2, 10, 100):
        lam = 4 + int(3 * math.log(d))
        assert CMA(np.zeros(d)).popsize == lam
        P = _Params(d, lam, True, False)
        assert P.w[: lam // 2].sum() == pytest.approx(1.0)
        assert (P.w[: lam // 2] > 0).all()
        assert (P.w[lam // 2 :] <= 0).all()
        assert np.all(np.diff(P.w) <= 0)
        # the negative weights keep C positive definite: sum |w-| <= (1 - c1 - cmu) / (d cmu)
        assert -P.w[lam // 2 :].sum() <= (1 - P.c1 - P.cmu) / (d * P.cmu) + 1e-15
        S = _Params(d, lam, True, True)
        assert S.c1 == pytest.approx(min(1, P.c1 * (d + 2) / 3))


def test_increasing_transforms_of_f_give_the_same_run_bit_for_bit():
    runs = []
    for g in (lambda v: v, lambda v: 7 * np.log1p(v) - 2, lambda v: v**1.5 + 1e3):
        opt = CMA(np.full(6, 2.0), rng=5)
        for _ in range(40):
            opt.step(lambda X, g=g: g(ellipsoid(X, 1e4)))
        runs.append((opt.x.copy(), opt.sigma, opt.C.copy()))
    for x, s, C in runs[1:]:
        assert np.array_equal(x, runs[0][0])
        assert s == runs[0][1]
        assert np.array_equal(C, runs[0][2])


def test_translation_invariance():
    a = np.array([3.0, -1.5, 0.25, 7.0, -2.0])
    o1, o2 = CMA(np.ones(5), sigma=0.5, rng=2), CMA(np.ones(5) + a, sigma=0.5, rng=2)
    for _ in range(30):
        o1.step(lambda X: ellipsoid(X, 1e3))
        o2.step(lambda X: ellipsoid(X - a, 1e3))
    np.testing.assert_allclose(o2.x - a, o1.x, rtol=0, atol=1e-9)
    assert o2.sigma == pytest.approx(o1.sigma, rel=1e-8)


def _evals_to_target(cls, fun, x0, seed, budget=20_000):
    res = zoopt.minimize(fun, x0, method=cls.name, maxfev=budget, target=1e-8, rng=seed)
    return res.nfev if res.status == 0 else budget


def test_rotation_invariance_and_what_sep_cma_lacks():
    """Evaluations to 1e-8 on an ellipsoid and on a rotation of it have one distribution
    for CMA (C starts at I, so a rotation of the problem and of x0 is invisible to
    it): a Mann-Whitney test at level 1e-3.  sep-CMA, not rotation invariant, loses on
    the rotated one (the test's power)."""
    from scipy.stats import mannwhitneyu

    d, R = 5, rotation(5, 0)
    x0 = np.full(d, 1.0)
    plain = [_evals_to_target(CMA, ellipsoid, x0, s) for s in range(12)]
    rotated = [_evals_to_target(CMA, lambda X: ellipsoid(X @ R), R.T @ x0, s)
               for s in range(12, 24)]
    assert mannwhitneyu(plain, rotated).pvalue > 1e-3
    sep_rot = [_evals_to_target(SepCMA, lambda X: ellipsoid(X @ R), R.T @ x0, s, 6000)
               for s in range(6)]
    assert min(sep_rot) > max(plain)


def _order_mean(i: int, lam: int) -> float:
    """E[z_(i)], the i-th largest of lam standard normals (numerical quadrature)."""
    from scipy import integrate, special, stats

    logc = special.gammaln(lam + 1) - special.gammaln(i) - special.gammaln(lam - i + 1)

    def density(x: float) -> float:
        return x * math.exp(logc + (lam - i) * stats.norm.logcdf(x)
                            + (i - 1) * stats.norm.logsf(x) + stats.norm.logpdf(x))

    return integrate.quad(density, -12, 12)[0]


@pytest.mark.parametrize("d", [10, 40])
def test_linear_convergence_on_the_sphere(d):
    """log f falls linearly with the generations (the step size follows the distance),
    at a rate below the optimal one and within a factor 4 of it.

    Progress-rate theory of the (mu/mu_w, lambda)-ES on the sphere for d -> inf
    (D. V. Arnold, "Weighted multirecombination evolution strategies", Theor. Comput.
    Sci. 361, 2006): at the optimal normalized step size the distance to the optimum
    falls by phi*/d per generation with phi* = mu_eff (sum_i w_i E[z_(i)])^2 / 2, so
    log f falls by 2 phi*/d per generation, 2 phi* / lambda per evaluation times d.
    CSA does not hold the optimal step (it sits near sqrt 2 times it, Arnold and Beyer
    2004, 83% of the optimal rate for d -> inf), and finite d lowers both."""
    opt = CMA(np.ones(d), rng=0)
    P = opt._params()
    optimal = 2 * (P.mueff * sum(P.w[i] * _order_mean(i + 1, P.lam)
                                 for i in range(P.mu)) ** 2 / 2) / P.lam
    gens = 15 * d
    logf = []
    for _ in range(gens):
        info = opt.step(sphere)
        logf.append(math.log(float(info.values.min())))
    g = np.arange(gens // 3, gens)
    slope, icpt = np.polyfit(g, logf[gens // 3:], 1)
    resid = np.asarray(logf[gens // 3:]) - (slope * g + icpt)
    assert np.std(resid) < 0.1 * abs(slope) * len(g)  # linear
    rate = -slope * d / opt.popsize  # per evaluation, times d
    assert 0.25 * optimal < rate < optimal


def test_ask_tell_step_and_minimize_are_one_computation():
    a, b = CMA(np.ones(4), rng=9), CMA(np.ones(4), rng=9)
    for _ in range(20):
        a.step(rastrigin)
        b.tell(rastrigin(b.ask()))
    assert np.array_equal(a.x, b.x)
    assert a.sigma == b.sigma
    res = zoopt.minimize(rastrigin, np.ones(4), method="cma", maxiter=20, rng=9)
    assert np.array_equal(res.x_mean, a.x)
    assert res.nfev == 1 + 20 * a.popsize + 1  # x0, the samples, the final mean only
    assert res.fun_mean == rastrigin(a.x[None])[0]


@pytest.mark.parametrize("integral", [False, True])
def test_exact_resume_from_a_saved_state(tmp_path, integral):
    kw = {"restarts": 3, "rng": 4, "integrality": np.arange(7) < 3 if integral else None}
    for cls in (CMA, SepCMA):
        whole = cls(np.full(7, 3.0), **kw)
        half = cls(np.full(7, 3.0), **kw)
        for _ in range(30):
            whole.step(rastrigin)
            half.step(rastrigin)
        np.savez(tmp_path / "s.npz", **half.state_dict())
        resumed = cls(np.full(7, 3.0), **kw)
        with np.load(tmp_path / "s.npz") as f:
            resumed.load_state_dict(f)
        for _ in range(30):
            whole.step(rastrigin)
            resumed.step(rastrigin)
        assert np.array_equal(whole.x, resumed.x)
        assert whole.sigma == resumed.sigma
        assert np.array_equal(whole.C, resumed.C)
        assert np.array_equal(whole.A, resumed.A)
        assert (whole.A > 1).any() == integral


def test_minimize_checkpoint_resumes_into_the_same_run(tmp_path):
    path = str(tmp_path / "ck.npz")
    full = zoopt.minimize(rastrigin, np.full(5, 2.0), method="cma", maxiter=60, rng=1,
                          options={"restarts": 2})
    zoopt.minimize(rastrigin, np.full(5, 2.0), method="cma", maxiter=25, rng=1,
                   options={"restarts": 2}, checkpoint=path)
    resumed = zoopt.minimize(rastrigin, np.full(5, 2.0), method="cma", maxiter=60, rng=1,
                             options={"restarts": 2}, checkpoint=path)
    assert np.array_equal(resumed.x, full.x)
    assert resumed.fun == full.fun


def test_same_bits_on_one_or_two_threads_and_through_an_executor():
    from concurrent.futures import ThreadPoolExecutor

    def run(**kw):
        return zoopt.minimize(ellipsoid, np.ones(12), method="cma", maxiter=30, rng=6, **kw)

    old = zoopt.get_num_threads()
    try:
        zoopt.set_num_threads(1)
        one = run()
        zoopt.set_num_threads(2)
        two = run()
    finally:
        zoopt.set_num_threads(old)
    with ThreadPoolExecutor(2) as ex:
        remote = run(executor=ex)
    assert np.array_equal(one.x_mean, two.x_mean)
    assert np.array_equal(one.x_mean, remote.x_mean)


def test_ipop_restarts_solve_rastrigin_where_one_run_does_not():
    x0 = np.full(5, 3.0)
    one = zoopt.minimize(rastrigin, x0, method="cma", maxfev=30_000, target=1e-8, rng=0)
    opt_kw = {"restarts": 9, "restart_mode": "ipop"}
    ipop = zoopt.minimize(rastrigin, x0, method="cma", maxfev=30_000, target=1e-8, rng=0,
                          options=opt_kw)
    assert one.fun > 0.5
    assert ipop.fun <= 1e-8
    assert ipop.nfev <= 30_000


def test_restart_populations():
    opt = CMA(np.full(3, 3.0), restarts=4, restart_mode="ipop", rng=0)
    sizes = [opt.popsize]
    while opt.n_restarts < 3:
        opt.step(rastrigin)
        if opt.popsize != sizes[-1]:
            sizes.append(opt.popsize)
            assert opt.last_stop in ("tolfun", "tolfunhist", "tolx", "stagnation",
                                     "noeffectaxis", "noeffectcoord", "conditioncov")
            assert np.array_equal(opt.x, np.full(3, 3.0))
            assert opt.sigma == opt.sigma0
    assert sizes == [opt.popsize0 * 2**k for k in range(4)]


def test_bipop_regimes():
    """pycma's BIPOP accounting: the first run counts as small, so the second is the first
    doubled one; a small run follows while the small regime has spent less than the
    large one, gets at most half the large regime's evaluations, and draws its size in
    [popsize0, last large size] and its step size in [sigma0 / 100, sigma0]; only the
    large runs count against `restarts`."""
    bi = CMA(np.full(3, 3.0), restarts=2, restart_mode="bipop", rng=0)
    runs = [(bi.status, bi.popsize, bi.sigma)]  # (regime, size, sigma0) of each run
    for _ in range(20_000):
        small_before, large_before = bi.evals_small, bi.evals_large
        n_before, was = bi.n_restarts, bi.status
        gen_before = bi.gen + 1  # the generation this step completes
        bi.step(rastrigin)
        if bi.n_restarts != n_before:
            used = gen_before * runs[-1][1]
            if was == "small" or n_before == 0:
                assert bi.evals_small == small_before + used
                if was == "small":  # its budget: half the large regime's
                    assert used <= 0.5 * large_before + runs[-1][1]
            else:
                assert bi.evals_large == large_before + used
            runs.append((bi.status, bi.popsize, bi.sigma))
        if bi.n_large == 2 and bi.status not in ("small", "running"):
            break
    regimes = [r[0] == "small" for r in runs]
    assert regimes[:2] == [False, False]  # the first run, then the first doubled one
    assert runs[1][1] == 2 * bi.popsize0
    assert any(regimes)
    assert sum(not s for s in regimes[1:]) == 2  # large restarts: exactly `restarts`
    for (regime, lam, sig), prev_large in zip(
            runs[1:], [max(r[1] for r in runs[: i + 1] if r[0] != "small")
                       for i in range(len(runs) - 1)], strict=True):
        if regime == "small":
            assert bi.popsize0 <= lam <= prev_large
            assert bi.sigma0 / 100 <= sig <= bi.sigma0
        else:
            assert sig == bi.sigma0


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"popsize": 1}, ValueError, "'popsize' parameter of CMA"),
    ({"sigma": 0.0}, ValueError, "'sigma' parameter of CMA"),
    ({"sigma": "big"}, TypeError, "'sigma' parameter of CMA"),
    ({"restarts": -1}, ValueError, "'restarts' parameter of CMA"),
    ({"restart_mode": "rand"}, ValueError, "'restart_mode' parameter of CMA"),
    ({"popsize_factor": 1.0}, ValueError, "'popsize_factor' parameter of CMA"),
    ({"active": "yes"}, TypeError, "'active' parameter of CMA"),
    ({"bounds": (np.ones(3), np.zeros(3))}, ValueError, "'bounds' parameter of CMA"),
    ({"bounds": (np.ones(2), np.ones(2))}, ValueError, "'bounds' parameter of CMA"),
    ({"bounds": ([0, 0, np.nan], 1.0)}, ValueError, "'bounds' parameter of CMA.*NaN"),
    ({"integrality": [0.5, 0.0, 1.0]}, ValueError, "'integrality' parameter of CMA.*booleans"),
    ({"integrality": [np.nan, 0.0, 1.0]}, ValueError, "'integrality' parameter of CMA"),
    ({"integrality": []}, ValueError, "'integrality' parameter of CMA.*3 booleans"),
    ({"integrality": [[True, False, True]]}, ValueError, "'integrality' parameter of CMA"),
    ({"integrality": [True] * 3, "bounds": ([0.1] * 3, [0.9] * 3)}, ValueError,
     "Coordinates \\[0, 1, 2\\] have none between their bounds"),
])
def test_bad_parameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        CMA(np.ones(3), **kw)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"n_vectors": 0}, ValueError, "'n_vectors' parameter of LMMAES"),
    ({"n_vectors": 2.5}, TypeError, "'n_vectors' parameter of LMMAES"),
    ({"popsize": 1}, ValueError, "'popsize' parameter of LMMAES"),
])
def test_bad_lm_ma_es_parameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        LMMAES(np.ones(3), **kw)



def test_minimize_refuses_lr_for_cma_and_loads_only_cma_states():
    with pytest.raises(ValueError, match="'lr' parameter of minimize does not apply"):
        zoopt.minimize(sphere, np.ones(3), method="cma", lr=0.1)
    state = CMA(np.ones(3), rng=0).state_dict()
    with pytest.raises(ValueError, match="of method 'cma', not 'sep-cma'"):
        SepCMA(np.ones(3)).load_state_dict(state)
    bad = dict(state, C=np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="field 'C'"):
        CMA(np.ones(3)).load_state_dict(bad)
    bad = dict(state, C=np.eye(4))
    with pytest.raises(ValueError, match="field 'C'"):
        CMA(np.ones(3)).load_state_dict(bad)


def test_float32_x0_and_bounds():
    res = zoopt.minimize(sphere, np.ones(6, dtype=np.float32), method="cma", maxfev=3000,
                         rng=0, bounds=[(0.5, 2)] * 6)
    assert res.x.dtype == np.float32
    assert (res.x >= 0.5).all()
    assert res.fun == pytest.approx(6 * 0.25, rel=1e-3)


def test_lm_ma_es_generations_match_the_papers_algorithm():
    """LM-MA-ES against Algorithm 1 of Loshchilov, Glasmachers and Beyer (2019) written
    sample by sample: d_i from z_i through the m factors in order, the mean moved by
    the weighted d's (not T times the weighted z's), each M_j its own path."""
    d = 30
    opt = LMMAES(np.linspace(-2, 2, d), sigma=0.5, n_vectors=5, rng=1)
    f = lambda X: ellipsoid(X, 1e3)  # noqa: E731
    for _ in range(12):
        P = opt._params()
        m0, s0, ps0, M0, gen = opt.x.copy(), opt.sigma, opt.ps.copy(), opt.M.copy(), opt.gen
        z = directions(opt.popsize, d, rng=opt._rng, step=opt.t)
        dd = []
        for zi in z:
            di = zi.copy()
            for j in range(min(gen, 5)):
                di = (1 - P.cd[j]) * di + P.cd[j] * M0[j] * (M0[j] @ di)
            dd.append(di)
        X = opt.ask()
        np.testing.assert_allclose(X, m0 + s0 * np.array(dd), rtol=1e-12, atol=1e-13)
        values = f(X)
        opt.tell(values)
        order = np.argsort(values, kind="stable")[: P.mu]
        wz = sum(P.w[i] * z[k] for i, k in enumerate(order))
        wd = sum(P.w[i] * dd[k] for i, k in enumerate(order))
        ps = (1 - P.cs) * ps0 + math.sqrt(P.mueff * P.cs * (2 - P.cs)) * wz
        M = np.array([(1 - P.cc[j]) * M0[j] + math.sqrt(P.mueff * P.cc[j] * (2 - P.cc[j])) * wz
                      for j in range(5)])
        np.testing.assert_allclose(opt.ps, ps, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(opt.M, M, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(opt.x, m0 + s0 * wd, rtol=1e-12, atol=1e-13)
        assert opt.sigma == pytest.approx(s0 * math.exp(P.cs / 2 * (ps @ ps / d - 1)),
                                          rel=1e-12)


def test_lm_ma_es_memory_is_m_d_and_it_converges_on_the_sphere():
    d = 2000
    res = zoopt.minimize(sphere, np.ones(d), method="lm-ma-es", maxfev=60_000, rng=0,
                         target=1e-3 * d)
    opt = LMMAES(np.ones(d), rng=0)
    state = opt.state_dict()
    assert state["M"].shape == (opt.n_vectors, d)
    assert all(v.size <= opt.n_vectors * d for v in state.values())
    assert res.status == 0, res.message


def test_as_a_scipy_method_on_a_function_of_one_point():
    from scipy.optimize import minimize as sp_minimize
    from scipy.optimize import rosen

    from zoopt.optimize import scipy_method

    res = sp_minimize(rosen, np.zeros(4), method=scipy_method("cma"),
                      options={"maxfev": 6000, "rng": 0})
    assert res.fun < 1e-6
    auto = sp_minimize(rosen, np.zeros(4), method=scipy_method("auto"),
                       options={"maxfev": 600, "rng": 0})
    assert "auto: cma with BIPOP restarts" in auto.message


# -- integer coordinates -----------------------------------------------------------------
_INT_C = np.r_[np.full(5, 10.3), np.zeros(5)]  # integer optimum 10, value 5 * 0.09
_INT_W = np.r_[np.ones(5), np.full(5, 1e3)]
_INT_MASK = np.arange(10) < 5


def _mixed(X):
    return (_INT_W * (X - _INT_C) ** 2).sum(axis=-1)


@pytest.mark.parametrize("method", ["cma", "sep-cma"])
def test_the_margin_moves_integer_coordinates_across_plateaus(method, monkeypatch):
    """Five integer coordinates 10 units from their optimum, five continuous ones that
    shrink sigma fast: with the margin every seed reaches the mixed-integer optimum.
    With it switched off (rounding only) CMA's integer coordinates freeze near x0;
    sep-CMA's fast diagonal rates happen to keep their variances up here."""
    seen = []

    def f(X):
        seen.append(np.array(X))
        return _mixed(X)

    kw = {"method": method, "sigma": 0.3, "integrality": _INT_MASK, "maxfev": 6000,
          "options": {"restarts": 0}}
    for rng in range(4):
        res = zoopt.minimize(f, np.zeros(10), rng=rng, **kw)
        assert res.fun == pytest.approx(0.45, abs=1e-9)
        assert np.array_equal(res.x[:5], np.full(5, 10.0))
        assert np.array_equal(res.x_mean[:5], np.full(5, 10.0))
    X = np.concatenate(seen)
    assert np.array_equal(X[:, :5], np.round(X[:, :5]))  # f saw integers only
    assert not np.array_equal(X[:, 5:], np.round(X[:, 5:]))
    if method == "sep-cma":
        return
    monkeypatch.setattr(CMA, "_margin", lambda self: None)
    for rng in range(4):
        res = zoopt.minimize(_mixed, np.zeros(10), rng=rng, **kw)
        assert res.fun > 100


def test_margin_gives_each_neighbour_its_chance():
    """After every generation, a sample of an integer coordinate crosses each
    half-integer around the mean (where the neighbour is within the bounds) with
    probability at least 1 / (d popsize)."""
    from statistics import NormalDist

    opt = CMA(np.zeros(10), sigma=0.3, integrality=_INT_MASK,
              bounds=(np.r_[np.full(5, -0.2), np.full(5, -5.0)], np.full(10, 12.0)), rng=1)
    checked_bound = False
    for _ in range(300):
        opt.step(_mixed)
        var = (opt.B * opt.B) @ (opt.D * opt.D)
        s = opt.sigma * opt.A[:5] * np.sqrt(var[:5])
        m = opt.x[:5]
        k = np.clip(np.round(m), 0, 12)
        alpha = 1 / (10 * opt.popsize)
        dists = [NormalDist(mi, si) for mi, si in zip(m, s, strict=True)]
        up = 1 - np.array([n.cdf(ki + 0.5) for n, ki in zip(dists, k, strict=True)])
        down = np.array([n.cdf(ki - 0.5) for n, ki in zip(dists, k, strict=True)])
        assert (up[k < 12] >= alpha * (1 - 1e-9)).all()
        assert (down[k > 0] >= alpha * (1 - 1e-9)).all()
        checked_bound |= bool((k == 0).any())
        assert np.array_equal(opt.A[5:], np.ones(5))
    assert checked_bound  # the lowest integer allowed, 0 (ceil(-0.2)), was visited


def test_integrality_through_ask_and_the_bounds():
    opt = SepCMA(np.full(4, 2.0), integrality=[True, False, True, False],
                 bounds=([0.5, -1, -3.7, -1], [3.7, 1, 3.7, 1]), rng=0)
    X = opt.ask()
    assert np.isin(X[:, 0], [1.0, 2.0, 3.0]).all()
    assert np.isin(X[:, 2], np.arange(-3.0, 4.0)).all()
    opt.tell(sphere(X))
    assert opt.t == 1


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"integrality": [True, False]}, ValueError, "'integrality' parameter of minimize"),
    ({"integrality": "yes"}, ValueError, "'integrality' parameter of minimize"),
    ({"integrality": [2, 0, 0]}, ValueError, "'integrality' parameter of minimize"),
    ({"integrality": [True, False, False], "bounds": [(0.2, 0.8), (0, 1), (0, 1)]},
     ValueError, "Coordinates \\[0\\] have none between their bounds"),
    ({"integrality": [True, False, False], "method": "zo-adam"}, ValueError,
     "'integrality' parameter of minimize applies to methods 'cma' and 'sep-cma'"),
    ({"integrality": [True, False, False], "method": "lm-ma-es"}, ValueError,
     "Got method 'lm-ma-es'"),
])
def test_bad_integrality(kw, exc, match):
    with pytest.raises(exc, match=match):
        zoopt.minimize(sphere, np.zeros(3), maxiter=2, **kw)


def test_auto_with_integers_above_100_dimensions_runs_sep_cma():
    mask = np.zeros(120, bool)
    mask[:10] = True
    res = zoopt.minimize(sphere, np.full(120, 0.4), integrality=mask, maxiter=3, rng=0)
    assert "auto: sep-cma" in res.message
    assert np.array_equal(res.x[:10], np.round(res.x[:10]))
    # all False: no integer coordinates, the usual choice
    res = zoopt.minimize(sphere, np.full(120, 0.4), integrality=np.zeros(120, bool),
                         maxiter=3, rng=0)
    assert "auto: lm-ma-es" in res.message


# -- bounds: pycma's transform onto the box ----------------------------------------------
def test_box_transform_is_a_smooth_map_onto_the_box():
    from zoopt.optimize._cma import _BoxTransform

    lb = np.array([-5.0, 0.0, -np.inf, 2.0, -np.inf, 1.0])
    ub = np.array([5.0, 0.01, 3.0, np.inf, np.inf, 1.0])
    T = _BoxTransform(lb, ub)
    x = np.linspace(-40, 40, 400_001)
    Y = T(np.repeat(x[:, None], 6, axis=1))
    assert ((Y >= lb) & (Y <= ub)).all()
    # each bound is attained: the map is onto [lb, ub]
    assert Y[:, 0].min() == -5
    assert Y[:, 0].max() == 5
    # the identity inside the margins (al = au = 0.3 for [-5, 5]), exactly
    inside = np.abs(x) <= 4.7
    assert np.array_equal(Y[inside, 0], x[inside])
    assert np.array_equal(Y[:, 4], x)  # no bound: identity
    assert (Y[:, 5] == 1.0).all()  # lb == ub: fixed
    # continuous and C1: the slope between neighbours stays within [-1, 1] and changes
    # by O(h) (no kinks)
    h = x[1] - x[0]
    for j in (0, 1, 2, 3):
        slope = np.diff(Y[:, j]) / h
        assert np.abs(slope).max() <= 1 + 1e-6
        assert np.abs(np.diff(slope)).max() < 50 * h / min(T.al[j] or 1, T.au[j] or 1)
    # the bound reached at the turning point (0.3 beyond it), flat past it
    assert (Y[x >= 5.3, 0] == 5).all()
    assert (Y[x <= -5.3, 0] == -5).all()
    assert (Y[x < 5.3 - 1e-3, 0] < 5).all()
    # one-sided: the quadratic margin at the bound, identity inside it
    assert np.array_equal(Y[x >= 3.0, 3], x[x >= 3.0])
    assert np.array_equal(Y[x <= 2.8, 2], x[x <= 2.8])
    # the inverse: T(T^-1(y)) = y in the box
    yb = np.c_[np.linspace(-5, 5, 101), np.linspace(0, 0.01, 101), np.linspace(-9, 3, 101),
               np.linspace(2, 9, 101), np.linspace(-1, 1, 101), np.ones(101)]
    back = np.array([T(T.inverse(y)) for y in yb])
    np.testing.assert_allclose(back, yb, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["cma", "lm-ma-es"])
def test_a_minimum_on_many_bounds_at_once(method):
    """A linear slope whose minimum is a corner of the box at d = 20 (COCO's f5):
    through the box's smooth map the step size converges to the corner (with samples
    clipped onto the box and a penalty it collapses first, far from it)."""
    d = 20
    s = np.sign(np.sin(np.arange(1, d + 1))) * 10 ** (np.arange(d) / (d - 1))

    def slope(X):
        return 5 * np.abs(s).sum() - X @ s

    seen = []

    def f(X):
        seen.append(np.array(X))
        return slope(X)

    res = zoopt.minimize(f, np.zeros(d), method=method, maxfev=20_000, target=1e-8,
                         bounds=[(-5, 5)] * d, rng=0, options={"restarts": 0})
    assert res.fun <= 1e-8
    assert np.abs(np.abs(res.x) - 5).max() < 1e-8
    X = np.concatenate(seen)
    assert np.abs(X).max() <= 5
