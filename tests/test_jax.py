"""zoopt.jax: zo_function, a black box with a zeroth-order VJP inside JAX programs."""

import doctest
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import zoopt  # noqa: E402
import zoopt.jax  # noqa: E402
from zoopt.jax import _step_of, zo_function  # noqa: E402
from zoopt.random import directions  # noqa: E402


@pytest.fixture
def x64():
    """float64 arrays in JAX for one test (JAX's default is float32 only)."""
    old = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def _vjp(f, z, c):
    """J^T c through f, the cotangent of L = sum(c * f(z))."""
    return jax.grad(lambda z: jnp.sum(c * f(z)))(z)


def _per_row_estimate(U, a):
    """(1/n) sum_i u_ib u_ib^T a_b for directions U (n, B, k) and a (B, k)."""
    return np.einsum("nbk,nb->bk", U, np.einsum("nbk,bk->nb", U, a)) / U.shape[0]


# -- EXACT ------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "dist", "batch_size"),
                         [("central", "normal", None), ("forward", "normal", 3),
                          ("central", "rademacher", 5)])
def test_linear_layer_gradient_is_the_per_row_formula(x64, method, dist, batch_size):
    """EXACT for a linear layer: row b gets (1/n) sum_i u_ib u_ib^T W c_b, with the
    directions of step _step_of(z, c)."""
    gen = np.random.default_rng(0)
    B, k, m, n = 3, 4, 2, 7
    W = gen.standard_normal((k, m))
    c = gen.standard_normal((B, m))
    z = gen.standard_normal((B, k))
    f = zo_function(lambda x: x @ W, method=method, dist=dist, sigma=1.0, n_dirs=n, rng=11,
                    batch_size=batch_size)
    g = _vjp(f, jnp.asarray(z), jnp.asarray(c))
    assert g.dtype == jnp.float64
    U = directions(n, B * k, dist=dist, rng=11, step=_step_of(z, c)).reshape(n, B, k)
    a = c @ W.T
    want = _per_row_estimate(U, a)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-9, atol=1e-9 * np.abs(a).sum())


def test_linear_layer_float32_uses_the_float32_stream():
    gen = np.random.default_rng(1)
    B, k, m, n = 2, 5, 3, 6
    W = gen.standard_normal((k, m)).astype(np.float32)
    c = gen.standard_normal((B, m)).astype(np.float32)
    z = gen.standard_normal((B, k)).astype(np.float32)
    f = zo_function(lambda x: x @ W, sigma=1.0, n_dirs=n, rng=3)
    g = _vjp(f, jnp.asarray(z), jnp.asarray(c))
    assert g.dtype == jnp.float32
    U = directions(n, B * k, rng=3, step=_step_of(z, c), dtype=np.float32).reshape(n, B, k)
    a = c.astype(np.float64) @ W.T.astype(np.float64)
    want = _per_row_estimate(U.astype(np.float64), a)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-4, atol=1e-5 * np.abs(a).sum())


def test_unbatched_is_zoopt_grad_of_the_inner_product(x64):
    gen = np.random.default_rng(2)
    W = gen.standard_normal((6, 3))
    c = gen.standard_normal(3)
    z = gen.standard_normal((2, 3))  # any shape: flattened for grad

    def fun(x):
        return np.tanh(x.reshape(-1) @ W)

    f = zo_function(fun, batched=False, dist="sphere", n_dirs=9, sigma=1e-2, rng=4)
    g = _vjp(f, jnp.asarray(z), jnp.asarray(c))

    def phi(x):
        return float(np.sum(c * fun(x.reshape(z.shape))))

    want = zoopt.grad(phi, z.reshape(-1), dist="sphere", n_dirs=9, sigma=1e-2,
                      vectorized=False, rng=4, step=_step_of(z, c))
    np.testing.assert_array_equal(np.asarray(g), want.reshape(z.shape))


def test_forward_value_is_the_black_box():
    f = zo_function(np.round, rng=0)
    z = jnp.array([[0.2, 1.7], [-0.4, 2.6]])
    np.testing.assert_array_equal(np.asarray(f(z)), np.round(np.asarray(z)))
    np.testing.assert_array_equal(np.asarray(jax.jit(f)(z)), np.round(np.asarray(z)))


# -- transformations and purity ------------------------------------------------------------

def test_same_gradient_under_jit_vjp_and_value_and_grad():
    W = jnp.asarray(np.random.default_rng(3).standard_normal((4, 2)), dtype=jnp.float32)
    f = zo_function(lambda x: np.sin(x) @ np.asarray(W), n_dirs=5, rng=5)
    z = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)
    c = jnp.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]])
    g = _vjp(f, z, c)
    g_jit = jax.jit(_vjp, static_argnums=0)(f, z, c)
    y, pull = jax.vjp(f, z)
    val, g_vg = jax.jit(jax.value_and_grad(lambda z: jnp.sum(c * f(z))))(z)
    np.testing.assert_array_equal(np.asarray(g_jit), np.asarray(g))
    np.testing.assert_array_equal(np.asarray(pull(c)[0]), np.asarray(g))
    np.testing.assert_array_equal(np.asarray(g_vg), np.asarray(g))
    assert float(val) == pytest.approx(float(jnp.sum(c * y)), rel=1e-6)


def test_reproducible_and_fresh_directions_for_new_inputs():
    W = np.random.default_rng(4).standard_normal((3, 2)).astype(np.float32)
    z = jnp.ones((4, 3), dtype=jnp.float32)
    c = jnp.ones((4, 2), dtype=jnp.float32)
    f = zo_function(lambda x: x @ W, n_dirs=4, rng=0)
    g1 = _vjp(f, z, c)
    assert g1.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(_vjp(f, z, c)), np.asarray(g1))
    # a new function from the same seed: the same key, the same estimate
    np.testing.assert_array_equal(np.asarray(_vjp(zo_function(lambda x: x @ W, n_dirs=4,
                                                              rng=0), z, c)), np.asarray(g1))
    # J^T c does not depend on z for a linear map: any change is new directions
    assert not np.allclose(np.asarray(_vjp(f, z + 1.0, c)), np.asarray(g1))
    # with the same directions the estimate would be linear in c
    assert not np.allclose(np.asarray(_vjp(f, z, 2.0 * c)), 2.0 * np.asarray(g1))
    assert not np.allclose(np.asarray(_vjp(zo_function(lambda x: x @ W, n_dirs=4, rng=1),
                                           z, c)), np.asarray(g1))
    assert _step_of(z, c) != _step_of(z, 2.0 * c)
    assert 0 <= _step_of(z, c) < 2**56


def test_vmap_maps_the_black_box_and_its_estimate():
    W = np.random.default_rng(5).standard_normal((3, 2)).astype(np.float32)
    f = zo_function(lambda x: np.tanh(x @ W), n_dirs=3, rng=2)
    zs = jnp.arange(24, dtype=jnp.float32).reshape(4, 2, 3) / 10
    c = jnp.array([[1.0, 2.0], [-1.0, 0.5]])
    ys = jax.vmap(f)(zs)
    gs = jax.vmap(lambda z: _vjp(f, z, c))(zs)
    for i in range(zs.shape[0]):
        np.testing.assert_array_equal(np.asarray(ys[i]), np.asarray(f(zs[i])))
        np.testing.assert_array_equal(np.asarray(gs[i]), np.asarray(_vjp(f, zs[i], c)))


def test_output_shape_is_inferred_once_per_row_shape_or_declared():
    calls = []

    def fun(x):
        calls.append(x.shape)
        return np.argmax(x, axis=1)  # integers: the output takes the input's dtype

    f = zo_function(fun, rng=0)
    for B in (2, 5, 2):
        y = f(jnp.ones((B, 3)))
        assert y.shape == (B,)
        assert y.dtype == jnp.float32
    assert calls == [(1, 3), (2, 3), (5, 3), (2, 3)]  # zeros once, then the real calls

    for decl in [(4,), jax.ShapeDtypeStruct((4,), jnp.float32),
                 lambda s: jax.ShapeDtypeStruct(s.shape[:1], s.dtype), lambda s: s.shape[:1]]:
        calls.clear()
        f = zo_function(fun, n_dirs=2, rng=0, out_shape=decl)
        g = _vjp(f, jnp.ones((4, 3)), jnp.ones(4))
        assert g.shape == (4, 3)
        assert calls[0] == (4, 3)  # no call on zeros


def test_import_zoopt_does_not_import_jax():
    code = "import sys, zoopt; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_doctests():
    result = doctest.testmod(zoopt.jax, optionflags=doctest.ELLIPSIS
                             | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# -- STAT ---------------------------------------------------------------------------------

def test_smooth_layer_agrees_with_autodiff_within_spec_variance(x64):
    """fun(z) = sin(z) @ W: with sigma = 1e-3 one term is u u^T a_b up to O(sigma^2), so
    (SPEC 2) coordinate j of row b has variance (||a_b||^2 + a_bj^2) / n and
    E||g_b - a_b||^2 = (k + 1)||a_b||^2 / n (k, not B k: the rows are estimated apart).
    Independent estimates at one point come from independent keys (rng=r)."""
    gen = np.random.default_rng(6)
    B, k, m, n, R = 3, 5, 2, 4, 600
    W = gen.standard_normal((k, m))
    z = jnp.asarray(gen.standard_normal((B, k)))
    c = jnp.asarray(gen.standard_normal((B, m)))
    a = np.asarray(_vjp(lambda x: jnp.sin(x) @ W, z, c))  # exact autodiff
    est = np.array([np.asarray(_vjp(zo_function(lambda x: np.sin(x) @ W, n_dirs=n, rng=r,
                                                out_shape=(B, m)), z, c))
                    for r in range(R)])
    norm2 = np.sum(a * a, axis=1, keepdims=True)
    se = np.sqrt((norm2 + a * a) / n / R)
    assert np.all(np.abs(est.mean(axis=0) - a) <= 5 * se), (est.mean(axis=0), a, se)
    err = np.sum((est - a) ** 2, axis=(1, 2))
    want = (k + 1) * norm2.sum() / n
    assert abs(err.mean() - want) <= 5 * err.std(ddof=1) / np.sqrt(R), (err.mean(), want)


# -- inside a model ----------------------------------------------------------------------

def test_sgd_through_an_argmax_layer_learns_a_classifier():
    """logits = X @ P -> one-hot argmax (no gradient) -> -accuracy.  Starting from P = 0
    (every example in class 0), jitted SGD on the zeroth-order gradient reaches the
    accuracy of the labelling model."""
    gen = np.random.default_rng(0)
    N, d, C = 96, 4, 3
    X = jnp.asarray(gen.standard_normal((N, d)), dtype=jnp.float32)
    T = jax.nn.one_hot(jnp.argmax(X @ jnp.asarray(gen.standard_normal((d, C))), axis=1), C)

    def one_hot_argmax(Z):
        return np.eye(Z.shape[1], dtype=Z.dtype)[np.argmax(Z, axis=1)]

    hard = zo_function(one_hot_argmax, sigma=0.5, n_dirs=16, rng=0)

    def loss(P):
        return -jnp.mean(jnp.sum(hard(X @ P) * T, axis=1))

    step = jax.jit(jax.value_and_grad(loss))
    P = jnp.zeros((d, C))
    first, _ = step(P)
    assert float(first) == pytest.approx(-float(jnp.mean(T[:, 0])))
    for _ in range(10):
        _, g = step(P)
        P = P - 5.0 * g
    assert float(first) > -0.5
    assert float(loss(P)) < -0.9


# -- bad input ----------------------------------------------------------------------------

W32 = np.ones((3, 2), dtype=np.float32)


def _linear(x):
    return x @ W32


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"sigma": 0.0}, ValueError, "'sigma' parameter of zo_function"),
    ({"sigma": -1.0}, ValueError, "'sigma'"),
    ({"n_dirs": 0}, ValueError, "'n_dirs'"),
    ({"n_dirs": 2.5}, TypeError, "'n_dirs'"),
    ({"method": "backward"}, ValueError, "'method'.*'central', 'forward'"),
    ({"dist": "sphere"}, ValueError, "'dist'.*batched=True"),
    ({"dist": "orthogonal"}, ValueError, "'dist'"),
    ({"batched": 1}, TypeError, "'batched'"),
    ({"batch_size": 0}, ValueError, "'batch_size'"),
    ({"rng": np.random.RandomState(0)}, TypeError, "RandomState"),
    ({"out_shape": "(2, 3)"}, TypeError, "'out_shape'"),
    ({"out_shape": (2, -1)}, TypeError, "'out_shape'"),
    ({"out_shape": jax.ShapeDtypeStruct((2,), jnp.int32)}, TypeError, "floating dtype"),
])
def test_bad_options_raise_at_creation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        zo_function(_linear, **kwargs)


def test_fun_must_be_callable():
    with pytest.raises(TypeError, match="'fun' parameter of zo_function must be callable"):
        zo_function(3)


def test_bad_inputs_raise_when_called():
    f = zo_function(_linear, rng=0)
    with pytest.raises(TypeError, match=r"'z' parameter of zo_function\(_linear\) must be an "
                                        "array of float32 or float64. Got dtype int32"):
        f(jnp.ones((2, 3), dtype=jnp.int32))
    with pytest.raises(TypeError, match="Got dtype complex64"):
        f(jnp.ones((2, 3), dtype=jnp.complex64))
    with pytest.raises(TypeError, match="Got dtype float16"):
        f(jnp.ones((2, 3), dtype=jnp.float16))
    with pytest.raises(ValueError, match="must have a batch axis"):
        f(jnp.float32(1.0))
    with pytest.raises(ValueError, match="must not be empty"):
        f(jnp.ones((0, 3)))
    with pytest.raises(ValueError, match="rounds to 0"):
        zo_function(_linear, sigma=1e-50)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="must keep the batch axis"):
        zo_function(lambda x: x.sum(), rng=0)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"must keep the batch axis.*declared"):
        zo_function(_linear, rng=0, out_shape=(3, 2))(jnp.ones((2, 3)))


def test_black_box_returning_non_real_numbers():
    def fun(x):
        return (x @ W32).astype(np.complex64)

    with pytest.raises(TypeError, match=r"must return real numbers\. Got dtype complex64"):
        zo_function(fun, rng=0)(jnp.ones((2, 3)))  # found by the inference call
    f = zo_function(fun, rng=0, out_shape=(2, 2))
    with pytest.raises(TypeError, match="must return real numbers"):
        f(jnp.ones((2, 3)))  # found on the forward output
    with pytest.raises(jax.errors.JaxRuntimeError, match="must return real numbers"):
        jax.jit(f)(jnp.ones((2, 3)))


def test_black_box_returning_the_wrong_shape():
    one_row = zo_function(lambda x: x[:1] @ W32, rng=0)  # right on one row of zeros only
    with pytest.raises(ValueError, match=r"returned shape \(1, 2\) where \(3, 2\) was "
                                         "expected"):
        one_row(jnp.ones((3, 3)))
    with pytest.raises(jax.errors.JaxRuntimeError, match="returned shape"):
        jax.jit(one_row)(jnp.ones((3, 3)))
    # right on the input, wrong on the probes (stacked along the batch axis)
    probes = zo_function(lambda x: x @ W32 if x.shape[0] <= 2 else (x @ W32)[:, :1],
                         n_dirs=2, rng=0)
    z = jnp.ones((2, 3))
    assert probes(z).shape == (2, 2)
    with pytest.raises(ValueError, match=r"returned shape .* on probes"):
        _vjp(probes, z, jnp.ones((2, 2)))
    with pytest.raises(jax.errors.JaxRuntimeError, match="on probes"):
        jax.jit(_vjp, static_argnums=0)(probes, z, jnp.ones((2, 2)))


def test_black_box_returning_non_finite_values_on_probes():
    f = zo_function(lambda x: np.where(x > 1.0, np.inf, x), sigma=0.5, n_dirs=8, rng=0)
    z = jnp.full((2, 3), 0.9)
    assert np.isfinite(np.asarray(f(z))).all()
    with pytest.raises(ValueError, match="non-finite values at a probe"):
        jax.grad(lambda z: jnp.sum(f(z)))(z)
