"""JAX bridge: black boxes inside differentiable JAX programs.

``import zoopt.jax`` (JAX is imported here, never by ``import zoopt``).

:func:`zo_function` wraps a function that JAX cannot differentiate (NumPy
code, a simulator, a rounding or argmax layer, a metric) in a
:func:`jax.custom_vjp` function.  Its forward pass runs the black box on the
host through :func:`jax.pure_callback`; its backward pass receives the
cotangent ``v`` of the black box's output and returns a zeroth-order estimate
of the vector-Jacobian product ``J^T v``, computed on the host from values of
the black box only (the estimator is shared with :mod:`zoopt.torch`).

The estimate lives in the black box's *input* space: JAX's own autodiff
carries it through everything before the black box (the output-space policy
gradient).  The variance of the estimate therefore grows
with the size of one row of the black box's input, not with the number of
parameters of the model that produces it, which is what makes zeroth-order
estimation usable for a small non-differentiable part of a large model.

JAX functions must be pure, so the random directions of a backward pass are
not drawn from a state: they are a function of the stream key (fixed when the
function is made) and of the values ``z`` and ``v`` of that backward pass
(see :func:`zo_function`, Notes).
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from zoopt._bridge import VJPEstimator
from zoopt._validation import check_callable

__all__ = ["zo_function"]

_CALLER = "zo_function"
_INPUT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _step_of(z: Any, v: Any) -> int:
    """The stream step of the backward pass at input ``z`` with cotangent ``v``."""
    z = np.asarray(z)
    v = np.asarray(v)
    head = f"{z.dtype.str}{z.shape}|{v.dtype.str}{v.shape}|".encode()
    digest = hashlib.blake2b(head + z.tobytes() + v.tobytes(), digest_size=7).digest()
    return int.from_bytes(digest, "little")  # < 2**56, the range of steps


def _is_concrete(*arrays: Any) -> bool:
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def _fun_name(fun: Any) -> str:
    return str(getattr(fun, "__name__", type(fun).__name__))


class _Shape:
    """How the output's shape and dtype are found: declared or inferred (cached)."""

    def __init__(self, fun: Callable[..., Any], out_shape: Any, batched: bool, where: str):
        self.fun = fun
        self.out_shape = out_shape
        self.batched = batched
        self.where = where
        self._inferred: dict[tuple[Any, ...], tuple[tuple[int, ...], np.dtype[Any]]] = {}

    def of(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> jax.ShapeDtypeStruct:
        """The output's ShapeDtypeStruct for an input of this shape and dtype."""
        if self.out_shape is None:
            out, out_dtype, source = self._infer(shape, dtype)
        else:
            decl = self.out_shape
            if callable(decl) and not isinstance(decl, jax.ShapeDtypeStruct):
                decl = decl(jax.ShapeDtypeStruct(shape, dtype))
            out, out_dtype = _declared(decl, dtype, self.where)
            source = "declared by out_shape"
        if self.batched and (len(out) == 0 or out[0] != shape[0]):
            raise ValueError(
                f"The function passed to {_CALLER} (batched=True) must keep the batch axis: "
                f"input shape {shape}, output shape {out} ({source}). Pass batched=False if "
                "the rows of its input are not independent."
            )
        return jax.ShapeDtypeStruct(out, out_dtype)

    def _infer(self, shape: tuple[int, ...], dtype: np.dtype[Any]
               ) -> tuple[tuple[int, ...], np.dtype[Any], str]:
        # batched: one row of zeros is enough, and the result serves every batch size
        probe = (1, *shape[1:]) if self.batched else shape
        cache_key = (probe, dtype.str)
        if cache_key not in self._inferred:
            out = np.asarray(self.fun(np.zeros(probe, dtype=dtype)))
            _check_real(out)
            self._inferred[cache_key] = (out.shape, _output_dtype(out.dtype, dtype))
        out_shape, out_dtype = self._inferred[cache_key]
        source = f"inferred from its output on zeros of shape {probe}"
        if self.batched:
            if len(out_shape) == 0 or out_shape[0] != 1:
                raise ValueError(
                    f"The function passed to {_CALLER} (batched=True) must keep the batch "
                    f"axis: on zeros of shape {probe} it returned shape {out_shape}. Pass "
                    "batched=False if the rows of its input are not independent."
                )
            return (shape[0], *out_shape[1:]), out_dtype, source
        return out_shape, out_dtype, source


def _check_real(out: np.ndarray) -> None:
    if out.dtype.kind not in "biuf":
        raise TypeError(f"The function passed to {_CALLER} must return real numbers. "
                        f"Got dtype {out.dtype}.")


def _output_dtype(out: np.dtype[Any], z: np.dtype[Any]) -> np.dtype[Any]:
    """Floating outputs keep their dtype (as far as JAX can hold it); integers and
    bools take the input's, so that the output has a cotangent."""
    if out.kind != "f":
        return z
    return np.dtype(jax.dtypes.canonicalize_dtype(out))


def _declared(decl: Any, dtype: np.dtype[Any], where: str
              ) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """``out_shape`` (or what its callable returned) as a shape and a dtype."""
    if isinstance(decl, jax.ShapeDtypeStruct):
        out_dtype = np.dtype(decl.dtype)
        if out_dtype.kind != "f":
            raise TypeError(
                f"The 'out_shape' parameter of {where} must declare a floating dtype (the "
                f"output needs a cotangent). Got dtype {out_dtype} instead."
            )
        return tuple(int(s) for s in decl.shape), np.dtype(
            jax.dtypes.canonicalize_dtype(out_dtype))
    if (isinstance(decl, tuple | list)
            and all(isinstance(s, numbers.Integral) and not isinstance(s, bool | np.bool_)
                    and int(s) >= 0 for s in decl)):
        return tuple(int(s) for s in decl), dtype
    raise TypeError(
        f"The 'out_shape' parameter of {where} must be a tuple of non-negative ints, a "
        "jax.ShapeDtypeStruct, or a callable mapping the input's jax.ShapeDtypeStruct to "
        f"one of these. Got {decl!r} instead."
    )


def _check_out_shape_option(out_shape: Any) -> Any:
    if out_shape is None or callable(out_shape):
        return out_shape
    _declared(out_shape, np.dtype(np.float64), _CALLER)  # raises if malformed
    return out_shape


def zo_function(fun: Callable[..., Any], *, method: str = "central", dist: str = "normal",
                sigma: float = 1e-3, n_dirs: int = 32, rng: Any = None, batched: bool = True,
                batch_size: int | None = None, out_shape: Any = None
                ) -> Callable[[Any], jax.Array]:
    r"""Make a black box differentiable in JAX by zeroth-order estimation.

    Parameters
    ----------
    fun : callable
        ``fun(z)`` maps a NumPy array to an array-like of real numbers; it is
        called on the host (through :func:`jax.pure_callback` under
        transformations) and must not use JAX transformations itself.  With
        ``batched=True`` (default) the first axis is a batch of independent
        rows, like a layer: row ``b`` of the output depends on row ``b`` of
        the input only, and ``fun`` must accept any number of rows (the probes
        of several directions are stacked along that axis).
    method : {"central", "forward"}, optional
        Finite differences: antithetic pairs (default, ``2 n_dirs`` probes
        per row) or one-sided (``n_dirs``; reuses the forward output).
    dist : {"normal", "rademacher", "sphere", "orthogonal"}, optional
        Directions (default normal); ``"sphere"`` and ``"orthogonal"`` only
        with ``batched=False``.
    sigma : float, optional
        Step of the differences, > 0, in the units of ``z`` (default 1e-3).
    n_dirs : int, optional
        Directions per backward pass, >= 1 (default 32).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key, drawn once here (SPEC 7): an int makes every
        gradient reproducible across runs.
    batched : bool, optional
        Per-row estimates (default True) or one estimate for the whole input
        (then :func:`zoopt.grad` of ``<v, fun(z)>``).
    batch_size : int, optional
        Most probe rows per call of ``fun`` (default: what fits in 16 MiB).
    out_shape : tuple of int, jax.ShapeDtypeStruct or callable, optional
        The shape (and, for a ``ShapeDtypeStruct``, the floating dtype) of
        ``fun``'s output, or a callable mapping the input's
        ``jax.ShapeDtypeStruct`` to one of these.  Default: inferred by
        calling ``fun`` once on zeros, per distinct input shape and dtype
        (see Notes).  A tuple gives the output the input's dtype.

    Returns
    -------
    f : callable
        ``f(z)`` for a JAX or NumPy array ``z`` of float32 or float64 (with
        a batch axis when ``batched=True``): equals ``fun(z)`` and works under
        :func:`jax.jit`, :func:`jax.grad`, :func:`jax.vjp`,
        :func:`jax.value_and_grad` and :func:`jax.vmap` (sequentially, one
        call of ``fun`` per mapped element).  Its vector-Jacobian product is
        the zeroth-order estimate of ``J^T v``, of the shape and dtype of
        ``z``.  Reverse mode only: forward mode (``jax.jvp``) and second
        derivatives are not defined.

    Raises
    ------
    ValueError
        Bad option values (here); an input without a batch axis or empty, a
        ``sigma`` that rounds to 0 in the input's dtype, an output without the
        batch axis or of another shape than declared or inferred, non-finite
        outputs on probes or a non-finite cotangent (when called).
    TypeError
        Bad option types (here); an input of another dtype than float32 or
        float64, a black box returning non-real numbers (when called).
    jax.errors.JaxRuntimeError
        Inside :func:`jax.jit`, the errors found on the host while ``f`` or
        its gradient runs (see Notes), carrying their message.

    See Also
    --------
    zoopt.grad : the estimator (``batched=False`` calls it on ``<v, fun(z)>``).
    zoopt.torch.zo_function : the same bridge for PyTorch.

    Notes
    -----
    **Devices.** ``fun`` and the estimate run on the host.  A concrete input
    that lives on a GPU is refused (it would be copied there and back);
    inside ``jax.jit`` the placement is the caller's, and on a GPU the
    callback moves the operands to the host.  For GPU arrays use CuPy arrays
    with :func:`zoopt.grad` or the torch bridge on CUDA tensors.

    **Estimate.** With ``batched=True``, ``z`` of shape ``(B, *row)`` and
    ``k`` the size of one row, direction ``i`` is stream direction ``i`` of
    length ``B k`` (:func:`zoopt.random.directions`) reshaped to ``(B, k)``,
    and row ``b`` of the estimate is

    .. math::

        \hat g_b = \frac1n \sum_{i=1}^n
        \frac{\phi_b(z + s u_i) - \phi_b(z - s u_i)}{2 s}\, u_{i,b},
        \qquad \phi_b(z) = \langle v_b, \mathrm{fun}(z)_b \rangle,

    (``method="forward"``: :math:`(\phi_b(z + s u_i) - \phi_b(z)) / s`),
    unbiased for the Gaussian-smoothed ``fun``, and exactly
    :math:`\frac1n \sum_i u_{i,b} u_{i,b}^\top J_b^\top v_b` for a linear
    ``fun``: its error grows with ``k``, not with ``B k``.

    **Randomness.** A JAX function must be pure, so the directions of a
    backward pass come from the stream key (from ``rng``, once) and the step

    ``int.from_bytes(blake2b(header + z.tobytes() + v.tobytes(), digest_size=7), "little")``

    (the header holds the dtypes and shapes of ``z`` and ``v``), a number
    below 2**56.  The same ``z`` and ``v`` always give the same estimate
    (under ``jit`` or not); any change of either gives directions that are,
    for all practical purposes, independent.  A training loop therefore
    gets fresh directions at every step because its inputs change; for
    independent estimates at one fixed point, make the function again with
    another ``rng`` (another key).

    **Output shape.** JAX needs the output's shape and dtype before ``fun``
    runs.  By default ``fun`` is called once on zeros: on one row
    ``(1, *row)`` with ``batched=True`` (the output is then
    ``(B, *out_row)``), on the whole shape otherwise; the result is cached
    per input shape and dtype.  A floating output keeps its dtype (float64
    becomes float32 while ``jax_enable_x64`` is off), integers and bools
    (an ``argmax`` or ``round`` layer) take the input's dtype.  Pass
    ``out_shape`` when ``fun`` is expensive or cannot run on zeros; with
    ``batched=True`` a tuple fixes the batch size, a callable does not.

    **Errors.** What is checked while ``f`` is traced (the input, ``out_shape``,
    the call on zeros) raises as usual.  What is checked on the host while it
    runs (the output of ``fun``, its outputs on probes, the cotangent) raises
    as usual when ``f`` or its gradient is evaluated eagerly; inside
    :func:`jax.jit`, XLA reports it as a :class:`jax.errors.JaxRuntimeError`
    whose message contains the original one.

    Examples
    --------
    A rounding layer has zero gradient almost everywhere; its smoothed version
    does not (about 1 for ``sigma=0.5``):

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from zoopt.jax import zo_function
    >>> hard_round = zo_function(np.round, sigma=0.5, n_dirs=256, rng=0)
    >>> z = jnp.array([[0.2, 1.7], [-0.4, 2.6]])
    >>> hard_round(z).tolist()
    [[0.0, 2.0], [-0.0, 3.0]]
    >>> g = jax.jit(jax.grad(lambda z: hard_round(z).sum()))(z)
    >>> g.shape, g.dtype
    ((2, 2), dtype('float32'))
    >>> bool(jnp.all(jnp.abs(g - 1.0) < 0.5))
    True
    """
    fun = check_callable(fun, "fun", _CALLER)
    est = VJPEstimator(method, dist, sigma, n_dirs, rng, batched, batch_size, _CALLER)
    out_shape = _check_out_shape_option(out_shape)
    name = _fun_name(fun)
    where = f"zo_function({name})"
    shapes = _Shape(fun, out_shape, est.batched, where)

    def host_call(x: Any, out: jax.ShapeDtypeStruct) -> np.ndarray:
        y = np.asarray(fun(np.asarray(x)))
        # same dtype as the forward output, so that forward differences compare like with like
        return y.astype(out.dtype, copy=False) if y.dtype.kind in "biuf" else y

    def host_forward(z: Any, out: jax.ShapeDtypeStruct) -> np.ndarray:
        y = host_call(z, out)
        _check_real(y)
        if y.shape != out.shape:
            raise ValueError(
                f"The function passed to {_CALLER} returned shape {y.shape} where "
                f"{out.shape} was expected (declared by out_shape, or inferred from its "
                "output on zeros)."
            )
        return y

    def host_backward(z: Any, v: Any, y: Any, out: jax.ShapeDtypeStruct) -> np.ndarray:
        z, v, y = np.asarray(z), np.asarray(v), np.asarray(y)
        g = est.estimate(lambda x: host_call(x, out), z, v, y, _step_of(z, v))
        return np.asarray(g, dtype=z.dtype)

    def forward(z: jax.Array) -> jax.Array:
        out = shapes.of(z.shape, np.dtype(z.dtype))
        if _is_concrete(z):
            return jnp.asarray(host_forward(z, out))
        return jax.pure_callback(lambda a: host_forward(a, out), out, z,
                                 vmap_method="sequential")

    @jax.custom_vjp
    def apply(z: jax.Array) -> jax.Array:
        return forward(z)

    def apply_fwd(z: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        y = forward(z)
        return y, (z, y)

    def apply_bwd(res: tuple[jax.Array, jax.Array], v: jax.Array) -> tuple[jax.Array]:
        z, y = res
        out = jax.ShapeDtypeStruct(y.shape, y.dtype)
        if _is_concrete(z, v, y):
            return (jnp.asarray(host_backward(z, v, y, out)),)
        g = jax.pure_callback(lambda a, b, c: host_backward(a, b, c, out),
                              jax.ShapeDtypeStruct(z.shape, z.dtype), z, v, y,
                              vmap_method="sequential")
        return (g,)

    apply.defvjp(apply_fwd, apply_bwd)

    def f(z: Any) -> jax.Array:
        z = _check_input(z, est, where)
        return apply(z)

    f.__name__ = f"zo_{name}"
    f.__qualname__ = f"zo_function.<locals>.zo_{name}"
    f.__doc__ = (f"{name} with a zeroth-order vector-Jacobian product "
                 f"(method={est.method!r}, dist={est.dist!r}, sigma={est.sigma!r}, "
                 f"n_dirs={est.n_dirs}, batched={est.batched}); see zoopt.jax.zo_function.")
    return f


def _check_on_host(z: Any, where: str) -> None:
    """The black box runs on the host (jax.pure_callback): refuse an array that lives on a
    GPU rather than copying it there and back behind the caller's back."""
    if isinstance(z, jax.core.Tracer):
        return  # placement is decided by the caller's jit; see zo_function's notes
    platforms = {d.platform for d in z.devices()}
    if platforms - {"cpu"}:
        raise ValueError(
            f"The 'z' parameter of {where} lives on {sorted(platforms)}; zoopt.jax evaluates "
            "the black box on the host, so it would copy z there and back. Move it "
            "explicitly (jax.device_put(z, jax.devices('cpu')[0])), or use CuPy arrays or "
            "zoopt.torch, which compute on the GPU."
        )


def _check_input(z: Any, est: VJPEstimator, where: str) -> jax.Array:
    dtype = getattr(z, "dtype", None)
    if dtype is None:
        z = jnp.asarray(z)
        dtype = z.dtype
    try:
        dt: np.dtype[Any] | None = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in _INPUT_DTYPES:
        raise TypeError(f"The 'z' parameter of {where} must be an array of float32 or "
                        f"float64. Got dtype {dtype} instead.")
    z = jnp.asarray(z)
    _check_on_host(z, where)
    dt = np.dtype(z.dtype)  # float64 becomes float32 while jax_enable_x64 is off
    if est.batched and z.ndim == 0:
        raise ValueError(f"The 'z' parameter of {where} must have a batch axis (shape "
                         "(B, ...)) with batched=True. Got a scalar (shape ()); pass "
                         "batched=False for a single point.")
    if z.size == 0:
        raise ValueError(f"The 'z' parameter of {where} must not be empty. Got shape "
                         f"{z.shape} instead.")
    if dt.type(est.sigma) == 0:
        raise ValueError(f"The 'sigma' parameter of {where} must be representable in {dt}; "
                         f"{est.sigma!r} rounds to 0.")
    return z
