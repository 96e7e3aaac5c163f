"""Random projections that preserve distances: Gaussian, sparse and SRHT.

A random linear map :math:`A \\in \\mathbb R^{k \\times m}` with
:math:`E\\|Ax\\|^2 = \\|x\\|^2` keeps all pairwise distances of ``N`` points
within a factor :math:`1 \\pm \\varepsilon` once ``k`` exceeds about
:math:`\\log N / \\varepsilon^2` (Johnson and Lindenstrauss 1984; the
constants below are scikit-learn's, :func:`jl_min_dim`).  For entries
:math:`A_{ij} = s_{ij} / \\sqrt k` with i.i.d. :math:`s`, :math:`E s^2 = 1` and
:math:`\\kappa = E s^4`,

.. math::

    \\operatorname{Var}\\|Ax\\|^2 = \\frac{1}{k}\\Big(2\\|x\\|^4
        + (\\kappa - 3)\\sum_j x_j^4\\Big),

so Gaussian entries (:math:`\\kappa = 3`) and the sparse ones of Achlioptas
(2003) and Li, Hastie and Church (2006) (:math:`\\kappa = 1/\\rho` for density
:math:`\\rho`) differ only through the fourth moments of ``x``.

* :class:`GaussianRandomProjection` -- dense ``N(0, 1/k)`` entries.
* :class:`SparseRandomProjection` -- entries ``+-1/sqrt(rho k)`` with
  probability ``rho / 2`` each, else 0; ``density="auto"`` is
  ``rho = 1/sqrt(m)`` (Li et al.'s very sparse projection).
* :class:`SRHT` -- ``sqrt(m'/k) R H D``: random signs ``D``, the orthonormal
  Walsh-Hadamard transform ``H`` of the input zero-padded to ``m'`` (the next
  power of 2), and ``k`` of its ``m'`` outputs sampled without replacement by
  ``R`` (Ailon and Chazelle 2009; Tropp 2011).  It costs
  ``O(m' log m')`` per row through :func:`fwht` and stores ``m + k`` numbers
  instead of ``k m``.

All three follow scikit-learn's estimator protocol (``fit``, ``transform``,
``fit_transform``, ``get_params``, ``set_params``; they work inside
:class:`sklearn.pipeline.Pipeline` and with :func:`sklearn.base.clone`), keep
float32 data in float32, and draw their matrices from zoopt's counter-based
streams (kind 4 of :mod:`zoopt.random`): the same ``rng`` gives the same
matrix, whatever the thread count.  Unlike scikit-learn, asking for more
components than features is an error rather than a warning.

References
----------
.. [1] W. B. Johnson and J. Lindenstrauss, "Extensions of Lipschitz mappings
   into a Hilbert space", Contemp. Math. 26 (1984).
.. [2] D. Achlioptas, "Database-friendly random projections", J. Comput.
   Syst. Sci. 66 (2003).
.. [3] P. Li, T. J. Hastie and K. W. Church, "Very sparse random
   projections", KDD (2006).
.. [4] N. Ailon and B. Chazelle, "The fast Johnson-Lindenstrauss transform and
   approximate nearest neighbors", SIAM J. Comput. 39 (2009).
.. [5] J. A. Tropp, "Improved analysis of the subsampled randomized Hadamard
   transform", Adv. Adapt. Data Anal. 3 (2011).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from zoopt import _backend
from zoopt._backend import backend_of, is_device_array
from zoopt._threads import get_num_threads
from zoopt._validation import _fmt
from zoopt.random import (
    KIND_PROJECTION,
    _block_counters,
    _check_array_size,
    _check_coordinates,
    _counter_words,
    _max_coordinates,
    _Stream,
    key_from_rng,
    philox4x32,
)

__all__ = [
    "SRHT",
    "GaussianRandomProjection",
    "NotFittedError",
    "SparseRandomProjection",
    "fwht",
    "jl_min_dim",
]


class NotFittedError(ValueError, AttributeError):
    """A projection used before ``fit`` (like scikit-learn's, a ValueError and an
    AttributeError)."""


# -- the transform itself ------------------------------------------------------

def fwht(X: Any, *, norm: str | None = None) -> np.ndarray:
    """Fast Walsh-Hadamard transform along the last axis.

    Parameters
    ----------
    X : array_like, shape (..., n)
        Finite real data; ``n`` must be a power of 2.  float32 and float64 are
        kept; integers and bools are transformed exactly in int64.
    norm : {None, "ortho"}, optional
        ``None`` (default): the unnormalized transform ``X @ H_n`` with
        Sylvester's Hadamard matrix ``H_n`` (entries +-1, natural order, as
        ``scipy.linalg.hadamard``); ``"ortho"``: divided by ``sqrt(n)``, which
        makes it orthonormal and its own inverse (integers then give float64).

    Returns
    -------
    Y : ndarray, shape (..., n)
        A new array.

    Raises
    ------
    ValueError
        ``n`` not a power of 2, non-finite data, bad ``norm``.
    TypeError
        Non-real data.

    Notes
    -----
    ``n log2 n`` additions per row, in place in one buffer, rows in parallel.
    ``fwht(fwht(X)) == n X`` (exactly, for integers).

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.projection import fwht
    >>> fwht(np.array([1, 0, 0, 0]))
    array([1, 1, 1, 1])
    >>> fwht(np.array([1.0, 2.0, 3.0, 4.0]))
    array([10., -2., -4.,  0.])
    """
    caller = "fwht"
    if norm not in (None, "ortho"):
        raise ValueError(f"The 'norm' parameter of fwht must be None or 'ortho'. Got {norm!r}.")
    backend = backend_of(X)
    xp = backend.xp
    arr = X if is_device_array(X) else np.asarray(X)
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 2**63:
        raise ValueError(f"The 'X' parameter of {caller} holds uint64 values that int64 cannot "
                         "hold. Pass floats.")
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind != "f" or arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"The 'X' parameter of {caller} must be a real array (float32, float64 or "
            f"integers). Got dtype {arr.dtype} instead."
        )
    if arr.ndim == 0:
        raise ValueError(f"The 'X' parameter of {caller} must have at least one axis. Got a "
                         "scalar.")
    n = arr.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(
            f"The last axis of the 'X' parameter of {caller} must have a power-of-2 length "
            f"(pad with zeros). Got length {n}."
        )
    if arr.dtype.kind == "f" and not bool(xp.isfinite(arr).all()):
        raise ValueError(f"The 'X' parameter of {caller} must be finite.")
    if arr.dtype.kind == "i" and arr.size:
        big = int(xp.abs(arr.astype(np.float64)).max())
        if big * n >= 2**63:
            raise ValueError(f"The 'X' parameter of {caller} holds integers up to {big}; with "
                             f"length {n} the transform could exceed int64. Pass floats.")
    out = xp.array(arr, order="C", copy=True)
    backend.projection.fwht_rows(out.reshape(-1, n), get_num_threads())
    if norm == "ortho":
        out = out / np.sqrt(n) if out.dtype.kind == "i" else out * out.dtype.type(1 / np.sqrt(n))
    return out


def jl_min_dim(n_samples: Any, eps: Any = 0.1) -> Any:
    """Components that keep ``n_samples`` points within distortion ``eps``.

    ``4 log(n_samples) / (eps^2 / 2 - eps^3 / 3)``, truncated to an integer:
    the bound of Dasgupta and Gupta (2003), with the constants scikit-learn's
    ``johnson_lindenstrauss_min_dim`` uses (same values).

    Parameters
    ----------
    n_samples : int or array_like of int
        Number of points, > 0.
    eps : float or array_like of float, optional
        Largest relative distortion of squared distances, in (0, 1) (default
        0.1).  Arrays broadcast against ``n_samples``.

    Returns
    -------
    k : int or ndarray of int64

    Raises
    ------
    ValueError
        ``n_samples <= 0`` or ``eps`` outside (0, 1).

    Examples
    --------
    >>> from zoopt.projection import jl_min_dim
    >>> jl_min_dim(2000, eps=0.1)
    6515
    >>> jl_min_dim([1000, 10**6], eps=0.5).tolist()
    [331, 663]
    """
    e = np.asarray(eps, dtype=np.float64) if _is_real(eps) else None
    if e is None or not np.isfinite(e).all() or (e <= 0).any() or (e >= 1).any():
        raise ValueError(
            f"The 'eps' parameter of jl_min_dim must be in the range (0, 1). Got {_fmt(eps)}."
        )
    n = np.asarray(n_samples)
    if n.dtype.kind not in "iu" or n.dtype == bool or (n <= 0).any():
        raise ValueError(
            "The 'n_samples' parameter of jl_min_dim must be an int > 0 (or an array of "
            f"them). Got {_fmt(n_samples)}."
        )
    k = (4.0 * np.log(n) / (e**2 / 2.0 - e**3 / 3.0)).astype(np.int64)
    return int(k) if k.ndim == 0 else k


def _is_real(x: Any) -> bool:
    arr = np.asarray(x)
    return arr.dtype.kind in "iuf" and arr.dtype != bool


# -- scikit-learn protocol --------------------------------------------------------

class _Projection:
    """Parameters, validation and the fit/transform skeleton of the projections."""

    _param_names: tuple[str, ...] = ("n_components", "eps", "rng")
    n_components_: int
    n_features_in_: int

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as a dict (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params: Any) -> Any:
        """Set constructor parameters by name; returns ``self``."""
        for name, value in params.items():
            if name not in self._param_names:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}. Valid parameters "
                    f"are {list(self._param_names)}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6 asks estimators for tags
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]))

    # -- fit / transform ------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> Any:
        """Draw the projection for data shaped like ``X`` (only its shape is used).

        Parameters
        ----------
        X : array_like or scipy sparse matrix, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        caller = f"{type(self).__name__}.fit"
        return self._fit_checked(self._check_X(X, caller), caller)

    def _fit_checked(self, X: Any, caller: str) -> Any:
        n_samples, m = X.shape
        eps = self._check_eps(caller)
        k = self._check_n_components(n_samples, m, eps, caller)
        self._check_more(caller)
        self._check_features(m, k, caller)
        key = key_from_rng(self.rng, caller)  # type: ignore[attr-defined]
        self.__dict__.pop("_device_cache", None)  # parameters of the previous fit
        self._draw(key, m, k)
        self.n_components_ = k
        self.n_features_in_ = m
        return self

    def transform(self, X: Any) -> Any:
        """Project ``X``.

        Parameters
        ----------
        X : array_like or scipy sparse matrix, shape (n_samples, n_features)
            Finite data with the ``n_features`` seen by ``fit``.

        Returns
        -------
        Y : ndarray, shape (n_samples, n_components_)
            float32 for float32 input, float64 otherwise.
        """
        caller = f"{type(self).__name__}.transform"
        if not hasattr(self, "n_components_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call 'fit' with appropriate "
                "data before 'transform'."
            )
        X = self._check_X(X, caller)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is fitted for "
                f"{self.n_features_in_} features ({caller})."
            )
        return self._apply(X)

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """``fit(X)`` then ``transform(X)`` (X checked once)."""
        caller = f"{type(self).__name__}.fit_transform"
        X = self._check_X(X, caller)
        return self._fit_checked(X, caller)._apply(X)

    # -- validation -----------------------------------------------------------------

    @staticmethod
    def _check_X(X: Any, caller: str) -> Any:
        if _is_sparse(X):
            if X.ndim != 2 or X.dtype.kind not in "biuf":
                raise ValueError(f"The 'X' parameter of {caller} must be a 2-D real matrix.")
            X = X.tocsr()
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
            if not np.isfinite(X.data).all():
                raise ValueError(f"The 'X' parameter of {caller} must be finite (it has NaN "
                                 "or infinite entries).")
        else:
            if is_device_array(X):
                return _check_shape(_check_device_X(X, caller), caller)
            X = np.asarray(X)
            if X.dtype.kind not in "biuf":
                raise TypeError(f"The 'X' parameter of {caller} must be a real array. Got "
                                f"dtype {X.dtype} instead.")
            if X.ndim != 2:
                raise ValueError(
                    f"The 'X' parameter of {caller} must be a 2-D array of shape (n_samples, "
                    f"n_features). Got shape {X.shape} instead (reshape a single sample "
                    "with X.reshape(1, -1))."
                )
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
            if not _all_finite(X):
                raise ValueError(f"The 'X' parameter of {caller} must be finite (it has NaN "
                                 "or infinite entries).")
            X = np.ascontiguousarray(X)
        return _check_shape(X, caller)

    def _check_eps(self, caller: str) -> float:
        eps = self.eps  # type: ignore[attr-defined]
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < float(eps) < 1:
            raise ValueError(f"The 'eps' parameter of {caller} must be a float in the range "
                             f"(0, 1). Got {eps!r} instead.")
        return float(eps)

    def _check_n_components(self, n_samples: int, m: int, eps: float, caller: str) -> int:
        k = self.n_components  # type: ignore[attr-defined]
        if isinstance(k, str) and k == "auto":
            k = jl_min_dim(n_samples, eps)
            if k > m:
                raise ValueError(
                    f"{caller}: eps={eps} and n_samples={n_samples} need n_components={k} "
                    f"(jl_min_dim), more than the n_features={m} of X: a random projection "
                    "cannot reduce this data at that distortion. Pass a larger eps or an int "
                    "n_components."
                )
            return max(int(k), 1)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
            raise ValueError(f"The 'n_components' parameter of {caller} must be 'auto' or an "
                             f"int >= 1. Got {k!r} instead.")
        if int(k) > m:
            raise ValueError(
                f"The 'n_components' parameter of {caller} must be at most n_features = {m} "
                f"(a projection reduces dimension). Got {int(k)}."
            )
        return int(k)

    def _check_more(self, caller: str) -> None:
        pass

    def _check_features(self, m: int, k: int, caller: str) -> None:
        """Refuse ``m`` features that the matrix's stream rows cannot cover."""

    def _draw(self, key: np.ndarray, m: int, k: int) -> None:
        raise NotImplementedError

    def _apply(self, X: Any) -> Any:
        raise NotImplementedError


def _on_backend(obj: Any, backend: Any, name: str, make: Any) -> Any:
    """``make()`` for ``backend``, made once per fitted projection and kept."""
    cache = obj.__dict__.setdefault("_device_cache", {})
    device = backend.xp.cuda.Device().id if backend.xp is not np else None
    key = (backend.name, device, name, getattr(obj, "n_components_", None),
           getattr(obj, "n_features_in_", None))
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _check_shape(X: Any, caller: str) -> Any:
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"The 'X' parameter of {caller} must have at least one sample and one "
                         f"feature. Got shape {X.shape}.")
    return X


def _check_device_X(X: Any, caller: str) -> Any:
    """``_check_X`` for a CuPy array (the checks run on the device)."""
    import cupy

    if X.dtype.kind not in "biuf":
        raise TypeError(f"The 'X' parameter of {caller} must be a real array. Got dtype "
                        f"{X.dtype} instead.")
    if X.ndim != 2:
        raise ValueError(f"The 'X' parameter of {caller} must be a 2-D array of shape "
                         f"(n_samples, n_features). Got shape {X.shape} instead.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if not bool(cupy.isfinite(X).all()):
        raise ValueError(f"The 'X' parameter of {caller} must be finite (it has NaN or "
                         "infinite entries).")
    return cupy.ascontiguousarray(X)


def _all_finite(X: np.ndarray) -> bool:
    """Whether X has no NaN or infinity, without a boolean copy of X in the common case:
    a finite sum means finite entries; an overflowing sum gets the full check."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X, dtype=np.float64)):
            return True
    return bool(np.isfinite(X).all())


def _is_sparse(X: Any) -> bool:
    mod = type(X).__module__
    if not mod.startswith("scipy.sparse"):
        return False
    import scipy.sparse

    return bool(scipy.sparse.issparse(X))


class GaussianRandomProjection(_Projection):
    """Project with a dense matrix of ``N(0, 1/n_components)`` entries.

    Parameters
    ----------
    n_components : int or "auto", optional
        Output dimension ``k``; ``"auto"`` (default) is
        ``jl_min_dim(n_samples, eps)`` for the data given to ``fit``.
    eps : float, optional
        Distortion for ``"auto"``, in (0, 1) (default 0.1).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key (see :func:`zoopt.random.key_from_rng`).

    Attributes
    ----------
    n_components_ : int
    n_features_in_ : int
    components_ : ndarray, shape (n_components_, n_features_in_)
        The matrix (float64); row ``i`` is normal stream row ``i`` of kind 4
        at step 0, times ``1 / sqrt(k)``.

    See Also
    --------
    SparseRandomProjection, SRHT

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.projection import GaussianRandomProjection
    >>> X = np.random.default_rng(0).standard_normal((100, 1000))
    >>> Y = GaussianRandomProjection(n_components=50, rng=0).fit_transform(X)
    >>> Y.shape
    (100, 50)
    """

    components_: np.ndarray

    def __init__(self, n_components: int | str = "auto", *, eps: float = 0.1,
                 rng: Any = None) -> None:
        self.n_components = n_components
        self.eps = eps
        self.rng = rng

    def _check_features(self, m: int, k: int, caller: str) -> None:
        _check_coordinates(m, "The 'X' parameter", caller, "normal", np.float64, "features")
        _check_array_size((k, m), np.float64, "The 'n_components' and 'X' parameters", caller)

    def _draw(self, key: np.ndarray, m: int, k: int) -> None:
        stream = _Stream(key, 0, "normal", np.dtype(np.float64), m, kind=KIND_PROJECTION)
        C = np.empty((k, m), dtype=np.float64)
        stream.fill(0, C, np.empty(0))
        C *= 1.0 / np.sqrt(k)
        self.components_ = C
        self._key = key
        self._c32: np.ndarray | None = None

    def _apply(self, X: Any) -> Any:
        backend = backend_of(X)
        if backend.xp is not np:  # the same matrix, drawn on the device (same bits)
            C = _on_backend(self, backend, "components_", lambda: self._fill(backend))
            return X @ C.T.astype(X.dtype)
        C = self.components_
        if X.dtype == np.float32:
            if self._c32 is None or self._c32.shape != C.shape:
                self._c32 = C.astype(np.float32)
            C = self._c32
        Y = X @ C.T
        return np.asarray(Y)

    def _fill(self, backend: Any) -> Any:
        k, m = self.components_.shape
        stream = _Stream(self._key, 0, "normal", np.dtype(np.float64), m, kind=KIND_PROJECTION,
                         backend=backend)
        C = backend.xp.empty((k, m), dtype=np.float64)
        stream.fill(0, C, backend.xp.empty(0))
        C *= 1.0 / np.sqrt(k)
        return C


_MAX_SPARSE_FEATURES = (1 << 31) - 1  # column indices are int32


class SparseRandomProjection(_Projection):
    """Project with a sparse matrix of ``+-1 / sqrt(density k)`` entries.

    Each entry is ``-1/sqrt(rho k)`` or ``+1/sqrt(rho k)`` with probability
    ``rho / 2`` each and 0 otherwise (Achlioptas 2003 for ``rho = 1/3``; Li,
    Hastie and Church 2006 for ``rho = 1/sqrt(m)``).

    Parameters
    ----------
    n_components : int or "auto", optional
        Output dimension ``k`` (default ``"auto"``, see
        :class:`GaussianRandomProjection`).
    density : float or "auto", optional
        ``rho`` in (0, 1]; ``"auto"`` (default) is ``1 / sqrt(n_features)``.
    eps : float, optional
        Distortion for ``"auto"``, in (0, 1) (default 0.1).
    dense_output : bool, optional
        For scipy sparse input, return a dense array (default False: sparse
        in, sparse out).  Dense input always gives dense output.
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key.

    Attributes
    ----------
    n_components_, n_features_in_ : int
    density_ : float
        The density used: ``2 t / 2**32`` for the integer threshold ``t``
        nearest to ``rho 2**31`` (entry ``j`` of row ``i`` is -1 when word
        ``j`` of stream row ``i`` is below ``t``, +1 when below ``2 t``).
    components_ : scipy.sparse.csr_array, shape (n_components_, n_features_in_)
        The matrix (built on access; needs scipy).

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.projection import SparseRandomProjection
    >>> X = np.random.default_rng(0).standard_normal((100, 10000))
    >>> proj = SparseRandomProjection(n_components=200, rng=0).fit(X)
    >>> proj.transform(X).shape, round(proj.density_, 4)
    ((100, 200), 0.01)
    """

    _param_names = ("n_components", "density", "eps", "dense_output", "rng")
    density_: float

    def __init__(self, n_components: int | str = "auto", *, density: float | str = "auto",
                 eps: float = 0.1, dense_output: bool = False, rng: Any = None) -> None:
        self.n_components = n_components
        self.density = density
        self.eps = eps
        self.dense_output = dense_output
        self.rng = rng

    def _check_more(self, caller: str) -> None:
        dens = self.density
        if not (isinstance(dens, str) and dens == "auto") and (
            isinstance(dens, bool) or not isinstance(dens, numbers.Real) or not 0 < dens <= 1
        ):
            raise ValueError(f"The 'density' parameter of {caller} must be 'auto' or a float "
                             f"in the range (0, 1]. Got {dens!r} instead.")
        if not isinstance(self.dense_output, bool | np.bool_):
            raise TypeError(f"The 'dense_output' parameter of {caller} must be a bool. Got "
                            f"{self.dense_output!r} instead.")

    def _check_features(self, m: int, k: int, caller: str) -> None:
        if m > _MAX_SPARSE_FEATURES:
            raise ValueError(
                f"The 'X' parameter of {caller} must have at most 2**31 - 1 = "
                f"{_MAX_SPARSE_FEATURES} features: the sparse matrix stores its column "
                f"indices as int32. Got {m} features instead."
            )

    def _draw(self, key: np.ndarray, m: int, k: int) -> None:
        from zoopt._cy import projection as kernels

        rho = 1.0 / np.sqrt(m) if isinstance(self.density, str) else float(self.density)
        half = int(min(max(round(rho * 2.0**31), 1), 1 << 31))
        self.density_ = 2.0 * half / 2.0**32
        c2, c3 = _counter_words(0, KIND_PROJECTION)
        self._words = (int(key[0]), int(key[1]), c2, c3, k, m, half)
        self._indptr, self._indices, self._signs = kernels.sparse_signs(
            *self._words, get_num_threads())
        self._scale = 1.0 / np.sqrt(self.density_ * k)

    @property
    def components_(self) -> Any:
        if not hasattr(self, "_indptr"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet.")
        import scipy.sparse

        data = self._signs.astype(np.float64) * self._scale
        return scipy.sparse.csr_array((data, self._indices, self._indptr),
                                      shape=(self.n_components_, self.n_features_in_))

    def _apply(self, X: Any) -> Any:
        if _is_sparse(X):
            C = self.components_
            Y = X @ C.T.astype(X.dtype)
            return Y.toarray() if self.dense_output else Y
        backend = backend_of(X)
        pattern = ((self._indptr, self._indices, self._signs) if backend.xp is np else
                   _on_backend(self, backend, "pattern", lambda: backend.projection.sparse_signs(
                       *self._words, get_num_threads())))
        out = backend.xp.empty((X.shape[0], self.n_components_), dtype=X.dtype)
        backend.projection.sparse_rows(X, *pattern, self._scale, out, get_num_threads())
        return out


def _check_srht_length(m: int, what: str, caller: str, unit: str) -> None:
    """Refuse an SRHT of more inputs than its stream rows cover."""
    # The sampled rows come from the words of one stream row: all m' of them (m' the
    # power of 2 >= m), or, when k <= m' / 2, batches of doubling size until k distinct
    # values have come: fewer than 2 m' + k + 68 < 3 m' words unless m' draws give fewer
    # than m' / 2 distinct values (they give about (1 - 1/e) m', with a standard
    # deviation below sqrt(m')).
    words = _max_coordinates("words")
    limit = words // 4
    if m > limit:
        raise ValueError(
            f"{what} of {caller} must have at most 2**{limit.bit_length() - 1} = {limit} "
            f"{unit}: the randomized Hadamard transform samples its rows from one row of "
            f"zoopt's streams, which has 2**{words.bit_length() - 1} distinct words (more "
            f"would repeat them). Got {m} instead."
        )


def _srht_parts(key: np.ndarray, step: int, m: int, k: int,
                backend: Any = None) -> tuple[Any, np.ndarray, int]:
    """Signs ``(m,)`` (float64 +-1, drawn on ``backend``), the ``k`` sampled rows (sorted,
    int64, on the host) and the padded length ``m'`` of an SRHT drawn from kind 4 at
    ``step``."""
    padded = 1 << max(0, (m - 1).bit_length())
    signs = _Stream(key, step, "rademacher", np.dtype(np.float64), m, kind=KIND_PROJECTION,
                    backend=backend)
    xp = signs.backend.xp
    s = xp.empty((1, m), dtype=np.float64)
    signs.fill(0, s, xp.empty(0))
    # rows: the first k distinct values of words w_t mod m' (exactly uniform, m' a power
    # of 2), word t being word t % 4 of block (t // 4, 1, c2, c3)
    c2, c3 = _counter_words(step, KIND_PROJECTION)
    if 2 * k > padded:
        # most rows: the first k of a permutation, by sorting one word per row (ties by
        # row index); the draw-until-distinct loop below would need about m' ln m' words
        nb = (padded + 3) // 4
        words = philox4x32(_block_counters(0, nb, 2, c2, c3), key).ravel()[:padded]
        return s[0], np.sort(np.argsort(words, kind="stable")[:k]).astype(np.int64), padded
    chosen = np.empty(0, dtype=np.int64)
    t0, want = 0, k + 64
    while chosen.size < k:
        nb = (want + 3) // 4
        words = philox4x32(_block_counters(t0 // 4, nb, 1, c2, c3), key).ravel().astype(
            np.int64) & (padded - 1)
        seq = np.concatenate([chosen, words])
        _, first = np.unique(seq, return_index=True)
        chosen = seq[np.sort(first)][:k]
        t0 += 4 * nb
        want = 2 * want
    return s[0], np.sort(chosen), padded


class SRHT(_Projection):
    """Subsampled randomized Hadamard transform ``sqrt(m'/k) R H D``.

    Random signs, the orthonormal Walsh-Hadamard transform of the rows
    zero-padded to ``m'`` (the next power of 2 >= n_features), then ``k`` of the
    ``m'`` outputs sampled without replacement: ``O(m' log m')`` per row
    and ``m + k`` stored numbers.

    Parameters
    ----------
    n_components : int or "auto", optional
        Output dimension ``k`` (default ``"auto"``, see
        :class:`GaussianRandomProjection`).
    eps : float, optional
        Distortion for ``"auto"``, in (0, 1) (default 0.1).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key.

    Attributes
    ----------
    n_components_, n_features_in_ : int
    padded_ : int
        ``m'``.
    signs_ : ndarray, shape (n_features_in_,)
        The diagonal of ``D`` (+-1.0): Rademacher stream of kind 4, row 0.
    rows_ : ndarray of int64, shape (n_components_,)
        The sampled rows of ``H D x``, sorted: the first ``k`` distinct values
        of the words of kind 4, row 1, modulo ``m'`` (for ``k > m'/2``: the
        ``k`` rows with the smallest words of kind 4, row 2).

    Notes
    -----
    Unbiased like the others: :math:`E\\|Ax\\|^2 = \\|x\\|^2`.  Scipy sparse
    input is densified a block of rows at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.projection import SRHT
    >>> X = np.random.default_rng(0).standard_normal((100, 1000))
    >>> Y = SRHT(n_components=64, rng=0).fit_transform(X)
    >>> Y.shape, Y.dtype
    ((100, 64), dtype('float64'))
    """

    padded_: int
    signs_: np.ndarray
    rows_: np.ndarray

    def __init__(self, n_components: int | str = "auto", *, eps: float = 0.1,
                 rng: Any = None) -> None:
        self.n_components = n_components
        self.eps = eps
        self.rng = rng

    def _check_features(self, m: int, k: int, caller: str) -> None:
        _check_srht_length(m, "The 'X' parameter", caller, "features")

    def _draw(self, key: np.ndarray, m: int, k: int) -> None:
        self.signs_, self.rows_, self.padded_ = _srht_parts(key, 0, m, k)

    def _apply(self, X: Any) -> Any:
        backend = backend_of(X)
        kernels, xp = backend.projection, backend.xp
        out_dtype = X.dtype
        signs, rows = self.signs_.astype(out_dtype), self.rows_
        if xp is not np:  # the m signs and k rows, copied to the device once
            signs = _on_backend(self, backend, f"signs_{out_dtype}", lambda: xp.asarray(signs))
            rows = _on_backend(self, backend, "rows", lambda: xp.asarray(self.rows_))
        scale = 1.0 / np.sqrt(self.n_components_)
        out = xp.empty((X.shape[0], self.n_components_), dtype=out_dtype)
        if _is_sparse(X):
            step = max(1, (16 << 20) // (8 * X.shape[1]))
            for i0 in range(0, X.shape[0], step):
                block = np.ascontiguousarray(X[i0 : i0 + step].toarray())
                kernels.srht_rows(block, signs, self.rows_, scale, self.padded_,
                                  out[i0 : i0 + step], get_num_threads())
            return out
        kernels.srht_rows(X, signs, rows, scale, self.padded_, out, get_num_threads())
        return out


class _Subspace:
    """The random subspace of one estimate: ``P = D H^T R^T / sqrt(k)`` restricted to the
    first ``d`` coordinates (an SRHT's transpose), ``E P P^T = I``; applied, never stored."""

    def __init__(self, key: np.ndarray, step: int, d: int, k: int, backend: Any = None):
        self.backend = _backend.cpu() if backend is None else backend
        self.signs, rows, self.padded = _srht_parts(key, step, d, k, self.backend)
        self.rows = self.backend.xp.asarray(rows)  # k indices: to the device, if any
        self.d, self.k = d, k
        self.scale = 1.0 / np.sqrt(k)

    def lift(self, Z: Any) -> Any:
        """``Z @ P^T``: rows of ``Z`` ``(B, k)`` mapped to ``(B, d)``, in Z's dtype."""
        xp = self.backend.xp
        Z = xp.ascontiguousarray(Z)
        out = xp.empty((Z.shape[0], self.d), dtype=Z.dtype)
        self.backend.projection.srht_lift_rows(Z, self.signs.astype(Z.dtype), self.rows,
                                               self.scale, self.padded, out, get_num_threads())
        return out

    def matrix(self) -> Any:
        """``P`` itself, ``(d, k)`` (for tests and inspection)."""
        return self.lift(self.backend.xp.eye(self.k)).T
