r"""Random directions on the unit sphere and the law of the angle between two of them.

:func:`uniform` and :func:`random_orthogonal` materialize unit directions from
zoopt's counter-based streams (:mod:`zoopt.random`): uniform on the sphere
:math:`S^{d-1}`, or orthonormal frames distributed by the Haar measure.  The
other functions describe the angle :math:`\Theta` between two independent
uniformly random directions of :math:`\mathbb{R}^d` -- for instance a random
search direction and the gradient -- without drawing any ``d``-dimensional
vector.

Angle law
---------
Fix one direction (the law is rotation invariant) and write the other in
hyperspherical coordinates: its first angle is :math:`\Theta`, and the surface
element of :math:`S^{d-1}` is :math:`\sin^{d-2}\varphi_1 \sin^{d-3}\varphi_2
\cdots d\varphi_1 \cdots d\varphi_{d-1}`.  Integrating out the other angles
gives the density on :math:`[0, \pi]` (Su, see References)

.. math::

    p_d(\theta) = \frac{\Gamma(d/2)}{\Gamma((d-1)/2)\sqrt{\pi}} \sin^{d-2}\theta ,

uniform for ``d = 2``, ``sin(theta) / 2`` for ``d = 3``, and concentrated
around :math:`\pi/2` with variance about :math:`1/d` in high dimension: two
random directions are almost orthogonal.  The cosine :math:`\eta = \cos\Theta`
has density proportional to :math:`(1 - \eta^2)^{(d-3)/2}`, that is
:math:`(1 + \eta)/2 \sim \mathrm{Beta}((d-1)/2, (d-1)/2)`, which gives the
distribution function :func:`angle_cdf` as a regularized incomplete beta
function.

Counter layout of :func:`sample_angles`
---------------------------------------
Sample ``i`` is a pure function of the stream key and ``i``: it does not
depend on how many samples are drawn.  Its words come from Philox4x32-10
(:func:`zoopt.random.philox4x32`) with the counter

====  ==================================================================
word  meaning
====  ==================================================================
c0    sample index ``i``
c1    rejection round ``r`` (0, 1, 2, ...) of the gamma variate
c2    part: ``0`` the normal of the gamma attempt, ``1`` its acceptance
      uniform, ``2`` the normal ``Z`` (round 0 only), ``3`` the uniform of
      the shape boost (round 0 only, ``d = 2``)
c3    ``KIND_ANGLE << 24`` (:data:`zoopt.random.KIND_ANGLE`)
====  ==================================================================

The block's word pair ``(w0, w1)`` gives the open uniform
``u = (2 k + 1) 2^-53`` with ``k`` the top 52 bits of ``(w0 << 32 | w1)``
(every value exact, never 0 or 1, as in the float64 directions of
:mod:`zoopt.random`); ``(w2, w3)`` gives ``t`` likewise.  A normal is
``sqrt(-2 ln u) cos(2 pi t)`` (Box-Muller); a uniform uses ``u`` only.  The
transforms use NumPy's elementary functions, so the last bit of a sample may
differ between platforms.

References
----------
.. [1] Su Jianlin, "n维空间下两个随机向量的夹角分布" (The distribution of the
   angle between two random vectors in n-dimensional space), Scientific
   Spaces, https://kexue.fm/archives/7076.
.. [2] G. Marsaglia and W. W. Tsang, "A simple method for generating gamma
   variables", ACM Transactions on Mathematical Software 26(3), 363-372
   (2000).
.. [3] NIST Digital Library of Mathematical Functions, https://dlmf.nist.gov/,
   section 8.17 (incomplete beta function) and 5.11 (asymptotic expansions of
   the gamma function).
.. [4] W. J. Lentz, "Generating Bessel functions in Mie scattering
   calculations using continued fractions", Applied Optics 15(3), 668-671
   (1976); the modified algorithm of I. J. Thompson and A. R. Barnett,
   Journal of Computational Physics 64, 490-509 (1986).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from zoopt._validation import check_float_dtype, check_int
from zoopt.random import (
    KIND_ANGLE,
    _check_array_size,
    _check_coordinates,
    _check_step,
    _orthonormal_rows,
    _StreamKey,
    directions,
    key_from_rng,
    philox4x32,
)

__all__ = ["angle_cdf", "angle_moments", "angle_pdf", "random_orthogonal", "sample_angles",
           "uniform"]

_MAX_N = (1 << 32) - 1  # c0 (and the direction index of zoopt.random) is 32 bits
_MAX_D = 1 << 53  # (d - 1) / 2 and d - 2 stay exact in float64
_MAX_D_CDF = 1 << 40  # the continued fraction needs about 5.5 ((d - 1) / 2)^(1/3) iterations


def _check_d(d: Any, caller: str, high: int | None = _MAX_D) -> int:
    return check_int(d, "d", caller, low=2, high=high)


def _check_n(n: Any, caller: str) -> int:
    return check_int(n, "n", caller, low=1, high=_MAX_N)


def _check_theta(theta: Any, caller: str) -> tuple[np.ndarray, bool]:
    """``theta`` as a float64 array (NaN refused) and whether it was a scalar."""
    arr = np.asarray(theta)
    if arr.dtype.kind in "biuf":
        arr = arr.astype(np.float64)
    else:
        raise TypeError(
            f"The 'theta' parameter of {caller} must be a real number or an array of real "
            f"numbers. Got dtype {arr.dtype} instead."
        )
    if np.isnan(arr).any():
        bad = np.flatnonzero(np.isnan(arr))
        raise ValueError(
            f"The 'theta' parameter of {caller} must not contain NaN. Got NaN at flat "
            f"indices {bad[:5].tolist()}{' ...' if bad.size > 5 else ''}."
        )
    return arr, arr.ndim == 0


def _out(arr: np.ndarray, scalar: bool) -> Any:
    return float(arr) if scalar else arr


# ----------------------------------------------------------------- directions

def uniform(n: int, d: int, *, rng: Any = None, step: int = 0,
            dtype: Any = np.float64, like: Any = None) -> Any:
    """Unit vectors uniform on the sphere :math:`S^{d-1}`.

    Row ``i`` is the normal direction ``i`` of the stream divided by its norm:
    exactly ``zoopt.random.directions(n, d, dist="sphere", rng=rng,
    step=step, dtype=dtype)``, the directions :func:`zoopt.grad` uses with
    ``dist="sphere"``.

    Parameters
    ----------
    n : int
        Number of vectors, 1 to 2**32 - 1.
    d : int
        Dimension, at least 2.
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key (see :func:`zoopt.random.key_from_rng`).
    step : int, optional
        Step counter of the stream, 0 to 2**56 - 1 (default 0).
    dtype : {numpy.float64, numpy.float32}, optional
        float32 and float64 are different streams (default float64).
    like : array, optional
        A CuPy array here makes ``V`` a CuPy array computed on the device, with
        the same bits (default None: NumPy), as in :func:`zoopt.random.directions`.

    Returns
    -------
    V : ndarray or cupy.ndarray, shape (n, d)
        Unit rows (norm 1 up to the rounding of ``dtype``).

    Raises
    ------
    TypeError
        If ``n``, ``d`` or ``step`` is not an int, ``dtype`` is not float32 or
        float64, or ``rng`` is of an unsupported type.
    ValueError
        If ``n``, ``d`` or ``step`` is out of range.

    See Also
    --------
    zoopt.random.directions : all the stream directions.
    random_orthogonal : orthonormal rows.
    sample_angles : angles between random directions, without the vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.sphere import uniform
    >>> V = uniform(1000, 5, rng=0)
    >>> V.shape
    (1000, 5)
    >>> bool(np.allclose(np.linalg.norm(V, axis=1), 1.0))
    True
    """
    caller = "uniform"
    n = _check_n(n, caller)
    d = _check_d(d, caller, high=None)
    step = _check_step(step, caller)
    dt = check_float_dtype(dtype, "dtype", caller)
    _check_coordinates(d, "The 'd' parameter", caller, "sphere", dt)
    _check_array_size((n, d), dt, "The 'n' and 'd' parameters", caller)
    key = key_from_rng(rng, caller)
    return directions(n, d, dist="sphere", rng=_StreamKey(key), step=step, dtype=dt, like=like)


def random_orthogonal(d: int, n: int | None = None, *, rng: Any = None) -> np.ndarray:
    """Orthonormal rows distributed by the Haar measure.

    The ``n`` standard normal directions of the stream, in blocks of ``d``
    (rows ``b d .. b d + d - 1``), are made orthonormal by a QR decomposition
    with the signs fixed so that ``diag(R) > 0``: each block is then the first
    rows of a Haar-distributed orthogonal matrix (Stewart 1980), and distinct
    blocks are independent.  Row ``i`` is ``directions(n, d,
    dist="orthogonal", rng=rng)[i]`` divided by its norm.

    Parameters
    ----------
    d : int
        Dimension, at least 2.
    n : int, optional
        Number of rows, 1 to 2**32 - 1 (default ``d``: a square orthogonal
        matrix).  When ``n > d`` the rows come in independent orthonormal
        blocks of ``d`` (the last one possibly shorter).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key (see :func:`zoopt.random.key_from_rng`).

    Returns
    -------
    V : ndarray of float64, shape (n, d)

    Raises
    ------
    TypeError
        If ``d`` or ``n`` is not an int, or ``rng`` is of an unsupported type.
    ValueError
        If ``d`` or ``n`` is out of range.

    See Also
    --------
    zoopt.random.directions : ``dist="orthogonal"`` keeps the normal norms.
    uniform : independent unit rows.

    Notes
    -----
    A square ``V`` is uniformly distributed on the orthogonal group: each
    entry has mean 0 and variance ``1 / d``.

    References
    ----------
    .. [1] G. W. Stewart, "The efficient generation of random orthogonal
       matrices with an application to condition estimators", SIAM Journal on
       Numerical Analysis 17(3), 403-409 (1980).
    .. [2] F. Mezzadri, "How to generate random matrices from the classical
       compact groups", Notices of the AMS 54(5), 592-604 (2007).

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.sphere import random_orthogonal
    >>> Q = random_orthogonal(4, rng=0)
    >>> bool(np.allclose(Q @ Q.T, np.eye(4)))
    True
    >>> V = random_orthogonal(3, 6, rng=0)   # two independent frames of R^3
    >>> bool(np.allclose(V[3:] @ V[3:].T, np.eye(3)))
    True
    """
    caller = "random_orthogonal"
    d = _check_d(d, caller, high=None)
    _check_coordinates(d, "The 'd' parameter", caller, "normal", np.float64)
    if n is None:
        n = d
        _check_array_size((n, d), np.float64, "The 'd' parameter (with n = d)", caller)
    else:
        n = _check_n(n, caller)
        _check_array_size((n, d), np.float64, "The 'n' and 'd' parameters", caller)
    key = key_from_rng(rng, caller)
    G = directions(n, d, dist="normal", rng=_StreamKey(key))
    return _orthonormal_rows(G)


# ------------------------------------------------------------------ angle law

# ln Gamma(x + 1/2) - ln Gamma(x) ~ ln(x) / 2 + sum_m c_m x^(1 - 2m), with
# c_m = (2^(1-2m) - 2) B_2m / (2m (2m - 1)): the difference of the shifted
# Stirling series ln Gamma(x + h) ~ (x + h - 1/2) ln x - x + ln(2 pi) / 2
# + sum_k (-1)^k B_k(h) / (k (k - 1) x^(k-1)) (DLMF 5.11.8) at h = 1/2 and
# h = 0, using B_k(1/2) = (2^(1-k) - 1) B_k (DLMF 24.4.27).
_BERNOULLI_EVEN = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
                   Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6))
_HALF_RATIO_COEFS = tuple(
    float((Fraction(1, 2 ** (2 * m - 1)) - 2) * b / (2 * m * (2 * m - 1)))
    for m, b in enumerate(_BERNOULLI_EVEN, start=1)
)  # -1/8, 1/192, -1/640, 17/14336, ...
_HALF_RATIO_ASYMPTOTIC = 10.0  # first omitted term < 1e-16 from here on


def _log_gamma_half_ratio(x: float) -> float:
    """``ln Gamma(x + 1/2) - ln Gamma(x)`` for ``x > 0``, to a few ulp.

    The asymptotic series avoids the cancellation of two large ``lgamma``
    values (``lgamma(5e5)`` is ``6e6``: its rounding alone is ``1e-9``)."""
    if x < _HALF_RATIO_ASYMPTOTIC:
        return math.lgamma(x + 0.5) - math.lgamma(x)
    inv = 1.0 / x
    inv2 = inv * inv
    s = 0.0
    for c in reversed(_HALF_RATIO_COEFS):
        s = s * inv2 + c
    return 0.5 * math.log(x) + s * inv


def _log_norm_const(d: int) -> float:
    """``ln C_d = ln Gamma(d/2) - ln Gamma((d-1)/2) - ln(pi) / 2``."""
    return _log_gamma_half_ratio((d - 1) / 2.0) - 0.5 * math.log(math.pi)


def _log_sin(theta: np.ndarray) -> np.ndarray:
    """``ln sin(theta)`` for ``theta`` in ``[0, pi]``, to a few ulp of the result.

    Near ``pi / 2``, ``sin(theta)`` rounds to about 1 and ``ln`` of it keeps only
    its absolute error (``1e-16``, which ``d - 2 = 1e6`` would turn into a
    relative error of ``1e-10``): there ``ln(1 - cos^2)`` / 2 with ``log1p`` is
    used instead, ``cos(theta)`` being accurate to a few ulp.  ``-inf`` at 0
    and ``pi``."""
    c = np.cos(theta)
    mid = np.abs(c) < 0.5  # theta in (pi/3, 2 pi/3): sin(theta) > 0.86
    with np.errstate(divide="ignore"):
        return np.where(mid, 0.5 * np.log1p(-c * c), np.log(np.sin(theta)))


def angle_pdf(theta: Any, d: int) -> Any:
    r"""Density of the angle between two independent uniform directions of R^d.

    .. math::

        p_d(\theta) = \frac{\Gamma(d/2)}{\Gamma((d-1)/2)\sqrt{\pi}}
        \sin^{d-2}\theta, \qquad 0 \le \theta \le \pi,

    and 0 outside :math:`[0, \pi]`.

    Parameters
    ----------
    theta : float or array_like of float
        Angles in radians (any real values; infinities allowed, NaN refused).
    d : int
        Dimension, 2 to 2**53.

    Returns
    -------
    p : float or ndarray of float64
        A float for a scalar ``theta``, else an array of the shape of
        ``theta``.

    Raises
    ------
    TypeError
        If ``d`` is not an int or ``theta`` is not real.
    ValueError
        If ``d`` is out of range or ``theta`` contains NaN.

    See Also
    --------
    angle_cdf, sample_angles, angle_moments

    Notes
    -----
    Computed as ``exp(ln C_d + (d - 2) ln sin(theta))`` with ``ln C_d`` from
    an asymptotic series of :math:`\ln\Gamma(x + 1/2) - \ln\Gamma(x)` for
    large ``d``, so that the result keeps its relative accuracy for any
    ``d``.  The derivation is in the module notes.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.sphere import angle_pdf
    >>> round(angle_pdf(1.0, 2) * np.pi, 12)    # uniform for d = 2
    1.0
    >>> round(angle_pdf(np.pi / 2, 3), 12)      # sin(theta) / 2 for d = 3
    0.5
    >>> angle_pdf([-1.0, 0.0, 4.0], 5)          # 0 outside [0, pi] and at the poles
    array([0., 0., 0.])
    """
    caller = "angle_pdf"
    d = _check_d(d, caller)
    th, scalar = _check_theta(theta, caller)
    inside = (th >= 0.0) & (th <= np.pi)
    out = np.zeros(th.shape, dtype=np.float64)
    log_c = _log_norm_const(d)
    if d == 2:
        out[inside] = math.exp(log_c)
    else:
        out[inside] = np.exp(log_c + (d - 2) * _log_sin(th[inside]))
    return _out(out, scalar)


_CF_TOL = 1e-15  # relative change of the last convergent
_CF_TINY = 1e-300  # the modified Lentz method's guard against zero denominators
_LOG_UNDERFLOW = -800.0  # exp(-800) times any convergent here (< e^50) is 0 in float64


def _cf_max_iter(a: float) -> int:
    # The symmetric case a = b needs the most iterations near x = 1/2: about
    # 5.5 a^(1/3) (measured from d = 100 to 1e10: 20 for d = 100, 417 for
    # d = 1e6, 8312 for d = 1e10); the cap leaves a factor of about 3.
    return 64 + 16 * math.ceil(a ** (1.0 / 3.0))


def _beta_cf(a: float, b: float, x: np.ndarray, max_iter: int) -> np.ndarray:
    """The continued fraction of the regularized incomplete beta function.

    ``I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * F`` with
    ``F = 1 / (1 + d1 / (1 + d2 / (1 + ...)))`` and (DLMF 8.17.22)
    ``d_2m = m (b - m) x / ((a + 2m - 1)(a + 2m))``,
    ``d_2m+1 = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))``, evaluated by
    the modified Lentz method on the entries not yet converged.  Converges
    fast for ``x <= (a + 1) / (a + b + 2)`` (``1/2`` when ``a = b``); the caller
    keeps ``x`` there.
    """
    x = np.asarray(x, dtype=np.float64)
    F = np.empty_like(x)
    # first step: the convergent 1 / (1 + d1) in Lentz form (f0 = 1, C = 1, D = 1 / (1 + d1))
    D = 1.0 - (a + b) * x / (a + 1.0)
    D = 1.0 / np.where(np.abs(D) < _CF_TINY, _CF_TINY, D)
    C = np.ones_like(x)
    f = D.copy()
    xs = x
    active = np.arange(x.size)
    for m in range(1, max_iter + 1):
        for coef in (m * (b - m) / ((a + 2 * m - 1.0) * (a + 2 * m)),
                     -(a + m) * (a + b + m) / ((a + 2 * m) * (a + 2 * m + 1.0))):
            dm = coef * xs
            D = 1.0 + dm * D
            D = 1.0 / np.where(np.abs(D) < _CF_TINY, _CF_TINY, D)
            C = 1.0 + dm / C
            C = np.where(np.abs(C) < _CF_TINY, _CF_TINY, C)
            delta = C * D
            f = f * delta
        done = np.abs(delta - 1.0) < _CF_TOL
        if done.any():
            F.flat[active[done]] = f[done]
            keep = ~done
            active, xs, C, D, f = active[keep], xs[keep], C[keep], D[keep], f[keep]
            if active.size == 0:
                return F
    raise RuntimeError(
        f"The continued fraction of the incomplete beta function I_x({a!r}, {b!r}) did not "
        f"converge in {max_iter} iterations for {active.size} value(s) of x (first: "
        f"{float(xs[0])!r})."
    )


def angle_cdf(theta: Any, d: int) -> Any:
    r"""Distribution function of the angle between two independent uniform directions.

    :math:`P(\Theta \le \theta) = I_{\sin^2(\theta/2)}(a, a)` with
    :math:`a = (d - 1)/2`, the regularized incomplete beta function, since
    :math:`(1 - \cos\Theta)/2 \sim \mathrm{Beta}(a, a)`.  It is 0 for
    :math:`\theta < 0` and 1 for :math:`\theta > \pi`.

    Parameters
    ----------
    theta : float or array_like of float
        Angles in radians (any real values; infinities allowed, NaN refused).
    d : int
        Dimension, 2 to 2**40 (about 1.1e12).

    Returns
    -------
    F : float or ndarray of float64
        A float for a scalar ``theta``, else an array of the shape of
        ``theta``.

    Raises
    ------
    TypeError
        If ``d`` is not an int or ``theta`` is not real.
    ValueError
        If ``d`` is out of range or ``theta`` contains NaN.
    RuntimeError
        If the continued fraction does not converge (not expected for any
        ``d`` in range; near :math:`\pi/2` the number of iterations grows like
        :math:`d^{1/3}`: about 400 for ``d = 1e6``).

    See Also
    --------
    angle_pdf, sample_angles

    Notes
    -----
    The smaller tail is always the one computed: by the symmetry
    :math:`F(\pi - \theta) = 1 - F(\theta)`, angles above :math:`\pi/2` are
    folded to :math:`t = \pi - \theta` and :math:`1 - F(t)` is returned, so
    tiny lower tails keep their relative accuracy and upper tails their
    absolute accuracy.  With :math:`x = \sin^2(t/2) \le 1/2` (computed from
    the half angle, accurate near 0) the continued fraction DLMF 8.17.22 of
    :math:`I_x(a, a)` converges, and is evaluated with the modified Lentz
    method.  Its prefactor :math:`x^a (1 - x)^a / (a B(a, a))` equals
    :math:`p_d(t) \sin t / (d - 1)` (Legendre's duplication formula), computed
    in logarithms.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.sphere import angle_cdf
    >>> round(angle_cdf(np.pi / 2, 50), 12)
    0.5
    >>> round(angle_cdf(np.pi / 3, 3), 12)      # (1 - cos(theta)) / 2 for d = 3
    0.25
    >>> angle_cdf([-1.0, 0.0, np.pi, 4.0], 1000)
    array([0., 0., 1., 1.])
    """
    caller = "angle_cdf"
    d = _check_d(d, caller, high=_MAX_D_CDF)
    th, scalar = _check_theta(theta, caller)
    out = np.where(th > np.pi, 1.0, 0.0)
    inside = np.flatnonzero((th >= 0.0) & (th <= np.pi))
    if inside.size:
        t = th.flat[inside]
        upper = t > 0.5 * np.pi
        t = np.where(upper, np.pi - t, t)  # exact (Sterbenz) for t in [pi/2, pi]
        a = (d - 1) / 2.0
        tail = np.zeros(t.shape, dtype=np.float64)
        log_pre = _log_norm_const(d) - math.log(d - 1) + (d - 1) * _log_sin(t)  # -inf at 0
        go = log_pre > _LOG_UNDERFLOW
        if go.any():
            x = np.sin(0.5 * t[go]) ** 2
            tail[go] = np.exp(log_pre[go]) * _beta_cf(a, a, x, _cf_max_iter(a))
        out.flat[inside] = np.where(upper, 1.0 - tail, tail)
    return _out(out, scalar)


# ------------------------------------------------------------------ sampling

_PART_GAMMA_NORMAL = 0
_PART_GAMMA_UNIFORM = 1
_PART_Z = 2
_PART_BOOST = 3
_MAX_ROUNDS = 64
_CHUNK = 1 << 18  # samples per pass: bounds the temporaries, not the result
_TWO_POW_M53 = 2.0**-53


def _blocks(key: np.ndarray, idx: np.ndarray, rnd: int, part: int) -> np.ndarray:
    """Philox blocks ``(idx, rnd, part, KIND_ANGLE << 24)``, shape ``(len(idx), 4)``."""
    ctr = np.empty((idx.size, 4), dtype=np.uint32)
    ctr[:, 0] = idx
    ctr[:, 1] = rnd
    ctr[:, 2] = part
    ctr[:, 3] = KIND_ANGLE << 24
    return philox4x32(ctr, key)


def _open_uniform(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``(2 k + 1) 2^-53`` with ``k`` the top 52 bits of ``(hi << 32 | lo)``: in
    ``[2^-53, 1 - 2^-53]``, every value exact."""
    k = (hi.astype(np.uint64) << np.uint64(20)) | (lo.astype(np.uint64) >> np.uint64(12))
    return (2 * k + 1).astype(np.float64) * _TWO_POW_M53


def _uniforms(key: np.ndarray, idx: np.ndarray, rnd: int, part: int) -> np.ndarray:
    w = _blocks(key, idx, rnd, part)
    return _open_uniform(w[:, 0], w[:, 1])


def _normals(key: np.ndarray, idx: np.ndarray, rnd: int, part: int) -> np.ndarray:
    w = _blocks(key, idx, rnd, part)
    u = _open_uniform(w[:, 0], w[:, 1])
    t = _open_uniform(w[:, 2], w[:, 3])
    return np.sqrt(-2.0 * np.log(u)) * np.cos(2.0 * np.pi * t)


def _gamma(key: np.ndarray, idx: np.ndarray, alpha: float) -> np.ndarray:
    """Gamma(alpha) variates, ``alpha >= 1``, by Marsaglia and Tsang (2000):
    ``dd = alpha - 1/3``, ``c = 1 / sqrt(9 dd)``; draw ``x ~ N(0, 1)`` and
    ``u ~ U(0, 1)``, let ``v = (1 + c x)^3``; accept ``dd v`` if ``v > 0`` and
    ``u < 1 - 0.0331 x^4`` (squeeze) or ``ln u < x^2 / 2 + dd (1 - v + ln v)``.
    Rejected samples redo the attempt with the next round counter."""
    dd = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * dd)
    out = np.empty(idx.size, dtype=np.float64)
    todo = np.arange(idx.size)
    for rnd in range(_MAX_ROUNDS):
        ids = idx[todo]
        x = _normals(key, ids, rnd, _PART_GAMMA_NORMAL)
        u = _uniforms(key, ids, rnd, _PART_GAMMA_UNIFORM)
        cx = c * x
        ok = cx > -1.0
        v = (1.0 + cx) ** 3
        x2 = x * x
        accept = ok & (u < 1.0 - 0.0331 * (x2 * x2))
        check = ok & ~accept
        if check.any():
            log_v = 3.0 * np.log1p(cx[check])
            accept[check] = np.log(u[check]) < (0.5 * x2[check]
                                                + dd * (1.0 - v[check] + log_v))
        out[todo[accept]] = dd * v[accept]
        todo = todo[~accept]
        if todo.size == 0:
            return out
    raise RuntimeError(
        f"sample_angles: {todo.size} gamma variate(s) of shape {alpha!r} were rejected "
        f"{_MAX_ROUNDS} times in a row (first sample index {int(idx[todo[0]])})."
    )


def sample_angles(n: int, d: int, *, rng: Any = None) -> np.ndarray:
    r"""Angles between pairs of independent uniform directions of R^d, in O(n).

    Draws from the density :func:`angle_pdf` without any ``d``-dimensional
    vector: with ``Z ~ N(0, 1)`` and ``W ~ chi^2_{d-1} = 2 Gamma((d-1)/2)``
    independent, :math:`\cos\Theta = Z / \sqrt{Z^2 + W}` (the first coordinate
    of a normalized normal vector), returned as
    ``theta = arctan2(sqrt(W), Z)``, accurate near 0 and :math:`\pi`.

    Parameters
    ----------
    n : int
        Number of angles, 1 to 2**32 - 1.
    d : int
        Dimension, 2 to 2**53.
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key (see :func:`zoopt.random.key_from_rng`).

    Returns
    -------
    theta : ndarray of float64, shape (n,)
        Angles in :math:`[0, \pi]`.  Sample ``i`` depends only on the key and
        ``i``: ``sample_angles(m, d, rng=s)`` is a prefix of
        ``sample_angles(n, d, rng=s)`` for ``m < n``.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an int, or ``rng`` is of an unsupported type.
    ValueError
        If ``n`` or ``d`` is out of range.
    RuntimeError
        If a gamma variate is rejected 64 times in a row (probability below
        ``1e-80`` per sample).

    See Also
    --------
    angle_pdf, angle_cdf, angle_moments
    uniform : the directions themselves.

    Notes
    -----
    The gamma variates come from the method of Marsaglia and Tsang (2000),
    for the shape :math:`a = (d - 1)/2 \ge 1`; ``d = 2`` (``a = 1/2``) uses
    :math:`\mathrm{Gamma}(a) = \mathrm{Gamma}(a + 1) U^{1/a}`.  The counter
    layout is in the module notes; the cost is O(n) whatever ``d`` is.

    Examples
    --------
    >>> import numpy as np
    >>> from zoopt.sphere import sample_angles
    >>> theta = sample_angles(100_000, 10_000, rng=0)
    >>> bool(abs(theta.mean() - np.pi / 2) < 1e-3)
    True
    >>> bool(np.array_equal(sample_angles(10, 3, rng=1), sample_angles(20, 3, rng=1)[:10]))
    True
    """
    caller = "sample_angles"
    n = _check_n(n, caller)
    d = _check_d(d, caller)
    key = key_from_rng(rng, caller)
    a = (d - 1) / 2.0
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        idx = np.arange(start, min(start + _CHUNK, n), dtype=np.uint32)
        if a >= 1.0:
            g = _gamma(key, idx, a)
        else:  # d = 2: the boost Gamma(a) = Gamma(a + 1) U^(1/a)
            g = _gamma(key, idx, a + 1.0) * _uniforms(key, idx, 0, _PART_BOOST) ** (1.0 / a)
        z = _normals(key, idx, 0, _PART_Z)
        out[start : start + idx.size] = np.arctan2(np.sqrt(2.0 * g), z)
    return out


# ------------------------------------------------------------------ moments

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(32)
_GL_PANELS = 24


def angle_moments(d: int) -> tuple[float, float]:
    r"""Mean and variance of the angle between two independent uniform directions.

    Parameters
    ----------
    d : int
        Dimension, 2 to 2**53.

    Returns
    -------
    mean : float
        :math:`\pi/2` (the density is symmetric about it).
    var : float
        :math:`\mathrm{Var}\,\Theta = \int \varphi^2 \cos^{d-2}\varphi \,
        d\varphi / \int \cos^{d-2}\varphi \, d\varphi` over
        :math:`\varphi = \theta - \pi/2 \in [-\pi/2, \pi/2]`.

    Raises
    ------
    TypeError
        If ``d`` is not an int.
    ValueError
        If ``d`` is out of range.

    See Also
    --------
    angle_pdf, sample_angles

    Notes
    -----
    The ratio is computed by composite Gauss-Legendre quadrature (24 panels
    of 32 nodes) on :math:`[0, L]`, :math:`L = \min(\pi/2, 40/\sqrt{d-1})`,
    with the weights :math:`\cos^{d-2}\varphi` taken in logarithms relative
    to their maximum: beyond :math:`L` they are below :math:`e^{-790}`.  The
    relative error is below ``1e-13``; ``d = 2`` gives :math:`\pi^2/12` and
    ``d = 3`` gives :math:`\pi^2/4 - 2`.

    Near :math:`\pi/2`, :math:`\ln\sin^{d-2}\theta \approx -(d-2)\varphi^2/2`
    (Laplace's method), so :math:`\mathrm{Var}\,\Theta \approx 1/(d-2)`; the
    variance of :math:`\cos\Theta` is exactly :math:`1/d`, and
    :math:`1/(d-1)` is within 0.5 % of :math:`\mathrm{Var}\,\Theta` for
    :math:`d \ge 10`.

    Examples
    --------
    >>> from zoopt.sphere import angle_moments
    >>> mean, var = angle_moments(3)
    >>> round(var, 6), round(angle_moments(1000)[1], 6)
    (0.467401, 0.001001)
    """
    d = _check_d(d, "angle_moments")
    L = min(0.5 * math.pi, 40.0 / math.sqrt(d - 1))
    edges = np.linspace(0.0, L, _GL_PANELS + 1)
    half = 0.5 * np.diff(edges)
    phi = ((edges[:-1] + half)[:, None] + half[:, None] * _GL_NODES).ravel()
    w = (half[:, None] * _GL_WEIGHTS).ravel()
    # ln cos(phi) = ln(1 - 2 sin^2(phi / 2)), accurate for small phi (where cos(phi)
    # rounds to about 1 and d - 2 would magnify its rounding); at most 0, at phi = 0
    log_w = (d - 2) * np.log1p(-2.0 * np.sin(0.5 * phi) ** 2)
    w = w * np.exp(log_w - log_w.max())
    var = float((w * phi * phi).sum() / w.sum())
    return 0.5 * math.pi, var
