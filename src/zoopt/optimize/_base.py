"""Ask/tell optimizers over zoopt's estimators: the common machinery.

Every optimizer is a small update rule on top of :func:`zoopt.grad` or
:func:`zoopt.policy.gaussian` at step ``t`` of its stream; nothing here
re-implements the weighted sum.  ``ask``/``tell`` reuse the very same call:
``ask`` runs the estimator with an objective that records the probes (all
weights are then zero, so the weighted sum is skipped), and ``tell`` runs it
again with an objective that replays the told values.  A loop of ask/tell is
therefore the same computation, bit for bit, as :meth:`Optimizer.step` and as
:func:`zoopt.minimize`.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from zoopt._backend import backend_of, is_device_array
from zoopt._validation import called_as, check_choice, check_point
from zoopt.random import _MAX_STEP, _StreamKey, directions, key_from_rng

__all__ = ["OptimizeResult", "Optimizer"]


class OptimizeResult(dict[str, Any]):
    """The result of :func:`zoopt.minimize`: a dict with attribute access and
    scipy's field names (``x, fun, nit, nfev, success, status, message``).

    ``x`` and ``fun`` are the best point evaluated and its value; ``x_mean``
    is the optimizer's final point (the mean of its search distribution) and
    ``fun_mean`` its value when it was evaluated.  Where scipy is installed,
    the results of :func:`zoopt.minimize` are also instances of
    ``scipy.optimize.OptimizeResult``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __dir__(self) -> list[str]:
        return list(self.keys())

    def __repr__(self) -> str:
        if not self:
            return "OptimizeResult()"
        width = max(len(k) for k in self) + 1
        lines = []
        for k, v in self.items():
            text = _summary(v).replace("\n", "\n" + " " * (width + 2))
            lines.append(f"{k.rjust(width)}: {text}")
        return "\n".join(lines)


_RESULT_CLASS: list[type[OptimizeResult]] = []  # made on the first result


def _result_class() -> type[OptimizeResult]:
    """The class of minimize's results: OptimizeResult, and where scipy is installed a
    subclass of ``scipy.optimize.OptimizeResult`` too.  scipy is imported here, on the
    first result, not with zoopt: importing scipy.optimize takes longer than zoopt."""
    if not _RESULT_CLASS:
        try:
            from scipy.optimize import OptimizeResult as ScipyResult
        except ImportError:
            _RESULT_CLASS.append(OptimizeResult)
        else:
            both = type("_ScipyOptimizeResult", (OptimizeResult, ScipyResult),
                        {"__module__": __name__, "__doc__": OptimizeResult.__doc__})
            _RESULT_CLASS.append(both)
    return _RESULT_CLASS[0]


def __getattr__(name: str) -> Any:
    if name == "_ScipyOptimizeResult":  # what pickle looks up for such a result
        return _result_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _summary(v: Any) -> str:
    """A short text for a result field: long arrays by their ends and shape, dicts of
    arrays (the state, the history) by their keys; the data itself stays in the result."""
    if isinstance(v, dict):
        inner = ", ".join(f"{k}: {_entry(a)}" for k, a in v.items())
        return "{" + inner + "}"
    return _brief(v, full_up_to=8)


def _entry(a: Any) -> str:
    shape = getattr(a, "shape", None)
    if shape is None or getattr(a, "size", 2) <= 1:
        return repr(a.item() if hasattr(a, "item") and getattr(a, "size", 0) == 1 else a)
    return f"<{a.dtype} {shape}>"


def _brief(v: Any, full_up_to: int = 0) -> str:
    shape = getattr(v, "shape", None)
    if shape is None or getattr(v, "size", 0) <= full_up_to:
        text = repr(v)
        return text if len(text) <= 80 or shape is None else f"array(shape={shape})"
    kind = type(v).__module__.split(".")[0]
    flat = v.reshape(-1)
    ends = (f"[{', '.join(f'{float(a):.6g}' for a in flat[:3])}, ..., "
            f"{', '.join(f'{float(a):.6g}' for a in flat[-3:])}]"
            if v.dtype.kind in "biuf" and v.size > 6 else "")
    where = "" if kind == "numpy" else f"{kind} "
    return f"{where}array({ends}{', ' if ends else ''}shape={shape}, dtype={v.dtype})"


# -- checked state fields ----------------------------------------------------------
# numpy writes the .npy header of these fields in under 256 bytes (version 1.0 pads it
# to a multiple of 64): reading 4096 bytes of a member always gives its whole header
_NPY_HEADER_MAX = 4096


class _Field(NamedTuple):
    """What one field of a state or of a checkpoint must be."""

    shape: tuple[int, ...]
    dtype: Any  # a NumPy dtype, "int" (any integer dtype) or "str"
    low: float = -math.inf
    low_open: bool = False  # values > low rather than >= low
    high: float = math.inf
    finite: bool = True  # no +-inf
    nan: bool = False  # NaN allowed (a value not known yet)


def _expected(spec: _Field) -> str:
    if spec.dtype == "str":
        return "a string"
    kind = "an integer" if spec.dtype == "int" else f"a {np.dtype(spec.dtype)}"
    what = f"{kind} scalar" if spec.shape == () else f"{kind} array of shape {spec.shape}"
    rules = []
    if spec.dtype != "int":
        rules.append("finite values" if spec.finite else "values not NaN")
        if spec.nan:
            rules[-1] += " (or NaN)"
    if spec.low > -math.inf or spec.low_open:
        rules.append(f"{'>' if spec.low_open else '>='} {spec.low:g}")
    if spec.high < math.inf:
        rules.append(f"<= {spec.high:.0f}")
    return what + (f" of {', '.join(rules)}" if rules else "")


def _field_error(where: str, field: str, spec: _Field, got: str) -> ValueError:
    return ValueError(f"{where}: field {field!r} must be {_expected(spec)}. Got {got} "
                      "instead.")


def _check_layout(dtype: np.dtype, shape: tuple[int, ...], spec: _Field, where: str,
                  field: str) -> None:
    if spec.dtype == "str":
        ok = dtype.kind == "U"
    elif spec.dtype == "int":
        ok = dtype.kind in "iu"
    else:
        ok = dtype == np.dtype(spec.dtype)
    if not ok or tuple(shape) != spec.shape:
        raise _field_error(where, field, spec, f"dtype {dtype}, shape {tuple(shape)}")


def _check_field(value: Any, spec: _Field, where: str, field: str) -> np.ndarray:
    """``value`` as an array after checking its dtype, shape and values against ``spec``."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise _field_error(where, field, spec, f"a {type(value).__name__}") from None
    _check_layout(a.dtype, a.shape, spec, where, field)
    if spec.dtype == "str":
        return a
    if spec.dtype == "int":  # counts and keys: a few numbers, compared exactly
        ints = [int(v) for v in a.reshape(-1).tolist()]
        out = [v for v in ints if v < spec.low or v > spec.high]
        if out:
            raise _field_error(where, field, spec, str(out[0]) if a.ndim == 0 else str(ints))
        return a
    nan = np.isnan(a)
    inf = np.isinf(a)
    with np.errstate(invalid="ignore"):
        low_ok = (a > spec.low) if spec.low_open else (a >= spec.low)
        bad = (nan & (not spec.nan)) | (inf & spec.finite) | (~nan & ~(low_ok & (a <= spec.high)))
    if bad.any():
        idx = np.flatnonzero(bad)
        got = (repr(float(a)) if a.ndim == 0 else
               f"{a.reshape(-1)[idx[:3]].tolist()} at indices {idx[:5].tolist()}")
        raise _field_error(where, field, spec, got)
    return a


def _zip_members(zf: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """The members of an ``.npz`` by field name, from its zip directory alone."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if name in out:
            raise ValueError(f"{where}: field {name!r} is stored twice.")
        out[name] = info
    return out


def _read_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str,
                 field: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """Shape, dtype, Fortran order and header length of a member, from its first bytes."""
    try:
        with zf.open(info) as fh:
            buf = io.BytesIO(fh.read(_NPY_HEADER_MAX))
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                buf, max_header_size=_NPY_HEADER_MAX)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                buf, max_header_size=_NPY_HEADER_MAX)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except Exception as exc:  # any fault of the file: a message that names the field
        raise ValueError(f"{where}: field {field!r} could not be read ({exc}).") from None
    return tuple(shape), np.dtype(dtype), bool(fortran), buf.tell()


def _read_field(zf: zipfile.ZipFile, info: zipfile.ZipInfo, spec: _Field, where: str,
                field: str, stored: bool = False) -> np.ndarray:
    """One member of an ``.npz``, checked against ``spec``: its header's shape and dtype,
    then the size its zip entry declares, before any of its data is decompressed (a
    small file cannot make the reader allocate more than the field itself needs)."""
    if info.compress_type not in ((zipfile.ZIP_STORED,) if stored else
                                  (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)):
        how = "stored uncompressed (as np.savez writes it)" if stored else "stored or deflated"
        raise ValueError(f"{where}: field {field!r} must be {how}; its zip entry uses "
                         f"compression method {info.compress_type}.")
    shape, dtype, fortran, offset = _read_header(zf, info, where, field)
    _check_layout(dtype, shape, spec, where, field)
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != offset + nbytes:
        raise ValueError(f"{where}: field {field!r} declares {info.file_size} bytes in the "
                         f"zip directory; a {dtype} array of shape {shape} takes "
                         f"{offset + nbytes}.")
    try:
        with zf.open(info) as fh:
            fh.read(offset)
            data = fh.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{len(data)} of {nbytes} bytes of data")
        arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    except Exception as exc:  # truncated data, a bad CRC, a broken deflate stream
        raise ValueError(f"{where}: field {field!r} could not be read ({exc}).") from None
    return _check_field(np.array(arr, order="C"), spec, where, field)


class _Recorder:
    """Objective that records the probes it is given and returns zeros."""

    def __init__(self) -> None:
        self.points: list[np.ndarray] = []

    def __call__(self, X: Any) -> np.ndarray:
        self.points.append(X.copy())
        return np.zeros(len(X))


class _Replay:
    """Objective that returns told values in order."""

    def __init__(self, values: np.ndarray):
        self.values = values
        self.pos = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        B = len(X)
        if self.pos + B > len(self.values):
            raise ValueError("tell() got fewer values than ask() returned probes.")
        out = self.values[self.pos : self.pos + B]
        self.pos += B
        return out


class _Negated:
    """``-fun``, picklable (for executors)."""

    def __init__(self, fun: Callable[..., Any]):
        self.fun = fun

    def __call__(self, X: Any) -> Any:
        out = self.fun(X)
        if is_device_array(out):  # a GPU objective's values stay where they are
            return -out.astype(np.float64)
        return -np.asarray(out, dtype=np.float64)


class Optimizer:
    """Base of the ask/tell optimizers (see the subclasses for the methods).

    Subclasses define ``name``, ``_arrays`` (the names of their state arrays)
    and ``_estimate`` / ``_apply``.
    """

    name: ClassVar[str] = ""
    _arrays: ClassVar[tuple[str, ...]] = ()
    _scalars: ClassVar[tuple[str, ...]] = ()
    # what a loaded state may hold: state arrays are float64 of shape (d,) (those in
    # _like_x have x's dtype), finite, above the lower bounds (value, excluded) in
    # _limits; the scalars in _optional may be NaN (None)
    _limits: ClassVar[dict[str, tuple[float, bool]]] = {}
    _like_x: ClassVar[tuple[str, ...]] = ()
    _optional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, x0: Any, *, rng: Any = None):
        caller = type(self).__name__
        self.x = check_point(x0, "x0", caller).copy()
        # where the state lives: NumPy for a NumPy x0, the device for a CuPy x0
        self.backend = backend_of(self.x)
        self.xp = self.backend.xp
        self.key = key_from_rng(rng, caller)
        self.t = 0
        self._pending: tuple[int, int] | None = None  # (step, number of probes) of ask()
        self._caller = f"{caller}.step"  # the name errors of the estimators give
        self.last: dict[str, Any] = {}

    # -- what subclasses implement -----------------------------------------
    def _estimate(self, fun: Callable[..., Any], **kw: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def _apply(self, est: Any) -> None:
        raise NotImplementedError

    def evals_per_step(self) -> int:
        """Objective evaluations the next :meth:`step` makes."""
        raise NotImplementedError

    # -- the loop ------------------------------------------------------------
    @property
    def _rng(self) -> _StreamKey:
        return _StreamKey(self.key)

    def step(self, fun: Callable[..., Any], *, vectorized: bool = True,
             batch_size: int | None = None, executor: Any = None,
             nan_policy: str = "raise") -> Any:
        """One estimate at step ``t`` and one update; returns the estimate's info."""
        if self.t > _MAX_STEP:
            raise OverflowError(f"{type(self).__name__} ran out of stream steps.")
        nan_policy = check_choice(nan_policy, "nan_policy", "step", ("raise", "worst"))
        with called_as(self._caller):
            est, info = self._estimate(fun, vectorized=vectorized, batch_size=batch_size,
                                       executor=executor, nan_policy=nan_policy)
        self._apply(est)
        self.t += 1
        self._pending = None
        return info

    def ask(self) -> np.ndarray:
        """The probes of the next step, shape ``(B, d)``: evaluate them and pass
        the values to :meth:`tell`, in the same order."""
        rec = _Recorder()
        with called_as(self._caller):
            self._estimate(rec, vectorized=True, batch_size=None, executor=None,
                           nan_policy="raise")
        points = self.xp.concatenate(rec.points)
        self._pending = (self.t, len(points))
        return points

    def tell(self, values: Any) -> Any:
        """Update with the values of the probes that :meth:`ask` returned."""
        if self._pending is None or self._pending[0] != self.t:
            raise RuntimeError(f"{type(self).__name__}.tell() must follow ask().")
        v = np.asarray(self.backend.to_host(values) if is_device_array(values) else values,
                       dtype=np.float64).reshape(-1)
        if v.size != self._pending[1]:
            raise ValueError(f"tell() needs {self._pending[1]} values (one per probe of "
                             f"ask()). Got {v.size}.")
        replay = _Replay(v)
        info = self.step(replay)
        if replay.pos != v.size:  # pragma: no cover - the estimator is deterministic
            raise RuntimeError("tell(): the probes did not match those of ask().")
        return info

    # -- best probe ------------------------------------------------------------
    def _record(self, x: np.ndarray, values: np.ndarray, fx: float | None, dist: str,
                sigma: Any, antithetic: bool, step: int) -> None:
        """Remember the last estimate's probes (by index) to rebuild the best one."""
        self.last = {"x": x, "values": values, "fx": fx, "dist": dist, "sigma": sigma,
                     "antithetic": antithetic, "step": step,
                     "lowrank": getattr(self, "_lowrank", None) if dist == "lowrank" else None}

    def best_probe(self) -> tuple[float, np.ndarray] | None:
        """The lowest value among the last estimate's probes and its point,
        regenerated from the stream (no probe is kept in memory)."""
        if not self.last:
            return None
        L = self.last
        vals = np.asarray(L["values"], dtype=np.float64)
        vals2 = vals.reshape(vals.shape[0], -1)
        cand = []
        if vals2.size and np.isfinite(vals2).any():
            flat = np.where(np.isfinite(vals2), vals2, np.inf)
            i, col = (int(k) for k in np.unravel_index(int(np.argmin(flat)), flat.shape))
            cand.append((float(flat[i, col]), i, col))
        if L["fx"] is not None and np.isfinite(L["fx"]):
            cand.append((float(L["fx"]), -1, 0))
        if not cand:
            return None
        f, i, col = min(cand)
        x = L["x"]
        if i < 0:
            return f, x.copy()
        low = L.get("lowrank")
        extra = {} if low is None else {"shape": low[:2], "rank": low[2]}
        v = directions(1, x.size, dist=L["dist"], rng=self._rng, step=L["step"],
                       dtype=x.dtype, start=i, like=x, **extra)[0]
        s = L["sigma"]
        sv = (s * v) if hasattr(s, "shape") and s.shape else x.dtype.type(s) * v
        return f, (x - sv) if col == 1 else (x + sv)

    # -- checkpoints -----------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """The whole state as plain arrays (``np.savez`` them; no pickle)."""
        host = self.backend.to_host  # checkpoints are host arrays, whatever the backend
        out = {"method": np.array(self.name), "t": np.array(self.t, dtype=np.int64),
               "key": self.key.copy(), "x": np.array(host(self.x), copy=True)}
        for k in self._arrays:
            out[k] = np.array(host(getattr(self, k)), copy=True)
        for k in self._scalars:
            val = getattr(self, k)
            out[k] = np.array(np.nan if val is None else val, dtype=np.float64)
        return out

    def _state_fields(self) -> dict[str, _Field]:
        """What each field of :meth:`state_dict` must be, for this optimizer."""
        d, xd = self.x.size, self.x.dtype
        fields = {"method": _Field((), "str"), "t": _Field((), "int", 0, high=_MAX_STEP + 1),
                  "key": _Field((2,), "int", 0, high=(1 << 32) - 1), "x": _Field((d,), xd)}
        for k in self._arrays:
            low, excluded = self._limits.get(k, (-math.inf, False))
            fields[k] = _Field((d,), xd if k in self._like_x else np.dtype(np.float64), low,
                               excluded)
        for k in self._scalars:
            low, excluded = self._limits.get(k, (-math.inf, False))
            fields[k] = _Field((), np.dtype(np.float64), low, excluded,
                               nan=k in self._optional)
        return fields

    def load_state_dict(self, state: Any) -> None:
        """Restore a state from :meth:`state_dict` (or an ``.npz`` loaded with
        ``np.load``).

        Every field is checked (shape, dtype, values) before anything changes; a state
        of another method or dimension is refused.  Keys that are no field of the
        state are ignored (not read).

        Raises
        ------
        TypeError
            If ``state`` is not a mapping.
        ValueError
            If a field is missing or not what :meth:`state_dict` writes; the message
            names the field.
        """
        caller = f"{type(self).__name__}.load_state_dict"
        where = f"The 'state' parameter of {caller}"
        fields = self._state_fields()
        read: Callable[[str], np.ndarray]
        if isinstance(state, np.lib.npyio.NpzFile):  # the zip directory first
            zf = state.zip
            if zf is None:
                raise ValueError(f"{where} is a closed .npz file.")
            members = _zip_members(zf, where)
            names: Any = members

            def read(k: str) -> np.ndarray:
                return _read_field(zf, members[k], fields[k], where, k)
        elif isinstance(state, Mapping):
            names = state

            def read(k: str) -> np.ndarray:
                return _check_field(state[k], fields[k], where, k)
        else:
            raise TypeError(f"{where} must be a dict from state_dict() (or an .npz loaded "
                            f"with np.load). Got {type(state).__name__} instead.")
        if "method" not in names:
            raise ValueError(f"{where} is not a zoopt optimizer state: it has no field "
                             "'method'.")
        method = str(read("method"))
        if method != self.name:
            raise ValueError(f"{where} is of method {method!r}, not {self.name!r} (field "
                             "'method').")
        missing = [k for k in fields if k not in names]
        if missing:
            raise ValueError(f"{where} lacks the fields {missing}.")
        self._set_state({k: read(k) for k in fields})

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Take a state whose fields are checked (:meth:`_state_fields`)."""
        # a checkpoint resumes on this optimizer's backend (explicitly copied there)
        self.x = self.xp.array(state["x"], copy=True)
        self.t = int(state["t"])
        self.key = np.array(state["key"], dtype=np.uint32)
        for k in self._arrays:
            setattr(self, k, self.xp.array(state[k], copy=True))
        for k in self._scalars:
            val = float(state[k])
            setattr(self, k, None if np.isnan(val) else val)
        self._pending = None
        self.last = {}

    def _snapshot(self) -> dict[str, Any]:
        """The state as it is now, by reference: the update rules rebind their arrays
        (they never write into them), so no copy is needed."""
        names = ("x", "t", "key", "last", "_pending", *self._arrays, *self._scalars)
        return {k: getattr(self, k) for k in names}

    def _restore(self, snapshot: dict[str, Any]) -> None:
        """Go back to a :meth:`_snapshot`."""
        for k, v in snapshot.items():
            setattr(self, k, v)
