"""Validation of public arguments, in one place (messages name the parameter,
the function, what was expected and what was given)."""

from __future__ import annotations

import contextlib
import contextvars
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

__all__: list[str] = []

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fmt(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_int(value: Any, name: str, caller: str, *, low: int | None = None,
              high: int | None = None) -> int:
    """An integer in [low, high] (bools refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The {name!r} parameter of {caller} must be an int"
            f"{_range_text(low, high)}. Got {_fmt(value)} instead."
        )
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(
            f"The {name!r} parameter of {caller} must be an int"
            f"{_range_text(low, high)}. Got {value!r} instead."
        )
    return value


def _range_text(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    return f" in the range [{lo}, {hi}]"


def check_positive_float(value: Any, name: str, caller: str) -> float:
    """A finite real number > 0."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The {name!r} parameter of {caller} must be a float in the range (0, inf). "
            f"Got {_fmt(value)} instead."
        )
    out = float(value)
    if not (np.isfinite(out) and out > 0.0):
        raise ValueError(
            f"The {name!r} parameter of {caller} must be a float in the range (0, inf). "
            f"Got {value!r} instead."
        )
    return out


def check_float(value: Any, name: str, caller: str, *, low: float = -np.inf,
                high: float = np.inf, low_open: bool = False, high_open: bool = False,
                finite: bool = True) -> float:
    """A real number (bools refused) in the interval from ``low`` to ``high``, each end
    closed unless ``low_open`` / ``high_open``; NaN always refused, +-inf unless
    ``finite=False``."""
    lo, hi = ("(" if low_open else "[") + f"{low:g}", f"{high:g}" + (")" if high_open else "]")
    what = f"a {'finite ' if finite else ''}float in the range {lo}, {hi}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"The {name!r} parameter of {caller} must be {what}. "
                        f"Got {_fmt(value)} instead.")
    out = float(value)
    bad = (np.isnan(out) or (finite and np.isinf(out))
           or out < low or (low_open and out == low)
           or out > high or (high_open and out == high))
    if bad:
        raise ValueError(f"The {name!r} parameter of {caller} must be {what}. "
                         f"Got {value!r} instead.")
    return out


def check_choice(value: Any, name: str, caller: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"The {name!r} parameter of {caller} must be one of {options}. "
            f"Got {_fmt(value)} instead."
        )
    return value


def check_bool(value: Any, name: str, caller: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"The {name!r} parameter of {caller} must be a bool. Got {_fmt(value)} instead."
        )
    return bool(value)


def check_callable(value: Any, name: str, caller: str) -> Callable[..., Any]:
    if not callable(value):
        raise TypeError(
            f"The {name!r} parameter of {caller} must be callable. Got {_fmt(value)} instead."
        )
    return value


def check_float_dtype(dtype: Any, name: str, caller: str) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    # ``dt is None`` first: NumPy compares None equal to float64, so an unparseable
    # string ("float23") would pass the membership test
    if dt is None or dt not in _FLOAT_DTYPES:
        raise TypeError(
            f"The {name!r} parameter of {caller} must be float32 or float64. "
            f"Got {_fmt(dtype)} instead."
        )
    return dt


def check_point(x: Any, name: str, caller: str) -> Any:
    """A non-empty, finite, 1-D real array; float32 and float64 are kept,
    integers and bools become float64.  A CuPy array stays one (checked on the
    device: only the verdict and the first bad indices come back)."""
    from zoopt._backend import array_module

    xp = array_module(x)
    arr = x if xp is not np else np.asarray(x)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"The {name!r} parameter of {caller} must be a real array of float32 or float64 "
            f"(integers are converted to float64). Got dtype {arr.dtype} instead."
        )
    if arr.ndim != 1:
        raise ValueError(
            f"The {name!r} parameter of {caller} must be a 1-D array of shape (d,). "
            f"Got shape {arr.shape} instead."
        )
    if arr.size == 0:
        raise ValueError(f"The {name!r} parameter of {caller} must not be empty. Got shape (0,).")
    finite = xp.isfinite(arr)
    if not bool(finite.all()):
        bad = xp.flatnonzero(~finite)
        first = bad[:5] if xp is np else bad[:5].get()
        raise ValueError(
            f"The {name!r} parameter of {caller} must be finite. Got non-finite values at "
            f"indices {first.tolist()}{' ...' if bad.size > 5 else ''}."
        )
    return xp.ascontiguousarray(arr)


# The name errors give for the estimators: their own, or what the user called when an
# optimizer runs them (``minimize(method='es')`` rather than the internal ``gaussian``).
_CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("zoopt_caller",
                                                                     default=None)


def caller_name(own: str) -> str:
    return _CALLER.get() or own


@contextlib.contextmanager
def called_as(name: str) -> Iterator[None]:
    """Inside the block, the estimators name ``name`` in their errors."""
    token = _CALLER.set(name)
    try:
        yield
    finally:
        _CALLER.reset(token)
