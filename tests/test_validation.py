"""Bad input to zoopt.grad fails early with a message naming the parameter."""

import numpy as np
import pytest

import zoopt


def sphere(X):
    return (X * X).sum(1)


X0 = np.ones(3)


@pytest.mark.parametrize(("args", "kw", "exc", "match"), [
    ((sphere, [1.0, np.nan]), {}, ValueError, "'x' parameter of grad must be finite"),
    ((sphere, [1.0, np.inf]), {}, ValueError, "'x' parameter of grad must be finite"),
    ((sphere, np.ones((2, 2))), {}, ValueError, "'x' parameter of grad must be a 1-D"),
    ((sphere, np.ones(0)), {}, ValueError, "'x' parameter of grad must not be empty"),
    ((sphere, 3.0), {}, ValueError, "1-D"),
    ((sphere, np.ones(2, complex)), {}, TypeError, "'x' parameter of grad must be a real"),
    ((sphere, np.ones(2, np.float16)), {}, TypeError, "float32 or float64"),
    ((sphere, ["a", "b"]), {}, TypeError, "'x' parameter"),
    ((sphere, X0), {"sigma": 0.0}, ValueError, "'sigma' parameter of grad must be a float "
                                               "in the range \\(0, inf\\). Got 0.0"),
    ((sphere, X0), {"sigma": -1.0}, ValueError, "'sigma'.*Got -1.0 instead"),
    ((sphere, X0), {"sigma": np.nan}, ValueError, "'sigma'"),
    ((sphere, X0), {"sigma": "big"}, TypeError, "'sigma'"),
    ((sphere, np.ones(3, np.float32)), {"sigma": 1e-60}, ValueError, "rounds to 0"),
    ((sphere, X0), {"n_dirs": 0}, ValueError, "'n_dirs' parameter of grad"),
    ((sphere, X0), {"n_dirs": 3.0}, TypeError, "'n_dirs'"),
    ((sphere, X0), {"method": "backward"}, ValueError, "'method' parameter of grad must be "
                                                       "one of 'forward', 'central'"),
    ((sphere, X0), {"dist": "uniform"}, ValueError, "'dist' parameter of grad"),
    ((sphere, X0), {"rng": np.random.RandomState(1)}, TypeError, "RandomState"),
    ((sphere, X0), {"batch_size": 0}, ValueError, "'batch_size'"),
    ((sphere, X0), {"vectorized": "yes"}, TypeError, "'vectorized' parameter of grad"),
    ((sphere, X0), {"step": -1}, ValueError, "'step'"),
    ((sphere, X0), {"nan_policy": "omit"}, ValueError, "'nan_policy'"),
    ((sphere, X0), {"return_info": 1}, TypeError, "'return_info'"),
    (("sphere", X0), {}, TypeError, "'fun' parameter of grad must be callable"),
])
def test_bad_parameters(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        zoopt.grad(*args, **kw)


@pytest.mark.parametrize("method", ["central", "forward", "coordinate"])
def test_objective_wrong_shape(method):
    with pytest.raises(ValueError, match=r"values of shape \(B,\).*Got shape \(\d+, 1\)"):
        zoopt.grad(lambda X: X.sum(1, keepdims=True), X0, method=method, rng=0)
    with pytest.raises(ValueError, match="vectorized=False"):
        zoopt.grad(lambda X: float(X.sum()), X0, method=method, rng=0)


def test_objective_non_real():
    with pytest.raises(TypeError, match="must return real numbers"):
        zoopt.grad(lambda X: X.sum(1).astype(complex), X0, rng=0)
    with pytest.raises(TypeError, match="one real number per point"):
        zoopt.grad(lambda x: x, X0, rng=0, vectorized=False)


@pytest.mark.parametrize("method", ["central", "forward", "coordinate"])
def test_nan_raises_by_default_and_worst_replaces(method):
    def f(X):
        out = (X * X).sum(1)
        out[X[:, 0] > 1.0] = np.nan
        return out

    with pytest.raises(ValueError, match=r"non-finite values.*nan_policy='worst'"):
        zoopt.grad(f, X0, method=method, rng=0, n_dirs=16, sigma=0.1)
    g, info = zoopt.grad(f, X0, method=method, rng=0, n_dirs=16, sigma=0.1,
                         nan_policy="worst", return_info=True)
    assert np.isfinite(g).all()
    vals = info.values if info.values.ndim == 1 else info.values.ravel()
    assert np.isfinite(vals).all()
    # the failing side (x0 > 1) is made the worst: the estimate says "go down in x0"
    assert g[0] > 0


def test_all_nonfinite_with_worst_raises():
    with pytest.raises(ValueError, match="no finite value"):
        zoopt.grad(lambda X: np.full(len(X), np.inf), X0, rng=0, nan_policy="worst")


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("method", ["central", "forward"])
def test_objective_exception_propagates_unchanged_with_note(method):
    calls = []

    def f(X):
        calls.append(len(X))
        if len(calls) == 2:
            raise Boom("simulator crashed")
        return (X * X).sum(1)

    with pytest.raises(Boom, match="simulator crashed") as info:
        zoopt.grad(f, X0, method=method, rng=0, n_dirs=8, batch_size=4)
    notes = getattr(info.value, "__notes__", [])
    if hasattr(info.value, "add_note"):
        assert any("zoopt" in n or "grad evaluated" in n for n in notes), notes


def test_cupy_like_input_is_refused_not_copied():
    class FakeCupyArray:  # named like CuPy's, but no device memory behind it
        __module__ = "cupy._core.core"

    with pytest.raises(TypeError, match="'x' parameter of grad must be a real array"):
        zoopt.grad(sphere, FakeCupyArray())
    with pytest.raises(TypeError, match="'logits' parameter of categorical must be float"):
        zoopt.policy.categorical(FakeCupyArray(), lambda y: y.sum(1), n_samples=2)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="'n' parameter of set_num_threads"):
        zoopt.set_num_threads(0)
    from zoopt._threads import max_settable_threads

    # thousands of threads made libgomp end the process, 2**31 broke every later call
    for n in (3000, 100_000, 2**31, max_settable_threads() + 1):
        with pytest.raises(ValueError, match="'n' parameter of set_num_threads"):
            zoopt.set_num_threads(n)
    try:
        zoopt.set_num_threads(max_settable_threads())
        g = zoopt.grad(lambda X: (X * X).sum(1), np.ones(40_000), n_dirs=2, rng=0)
        assert g.shape == (40_000,)
    finally:
        zoopt.set_num_threads(None)
    assert zoopt.get_num_threads() >= 1


def test_silent_acceptances_are_refused():
    with pytest.raises(TypeError, match="'dtype' parameter of directions must be float32"):
        zoopt.random.directions(2, 3, dtype="float23")
    f = lambda X: (X * X).sum(1)  # noqa: E731
    with pytest.raises(ValueError, match="'sigma' parameter of gaussian must be representable"):
        zoopt.policy.gaussian(f, np.ones(3, np.float32), sigma=1e39, n_samples=4)
    with pytest.raises(ValueError, match=r"'sigma' parameter of ES\.step must be representable"):
        zoopt.optimize.ES(np.ones(3, np.float32), sigma=1e39).step(f)
    with pytest.raises(ValueError, match="'temperature' parameter of categorical"):
        zoopt.policy.categorical(np.zeros((2, 3)), lambda Y: Y.sum(1).astype(float),
                                 n_samples=2, temperature=1e-310)
