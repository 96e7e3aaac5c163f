"""Checkpoints of zoopt.minimize and optimizer states: every field checked, only known
members read (sizes from the zip directory first), temporary files of killed writers
removed, and Ctrl-C in any phase of a step resumable into the uninterrupted run."""

import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from objectives import shifted_abs

from zoopt.optimize import METHODS, minimize

ALL = ["zo-sgd", "zo-adam", "es", "spsa", "snes"]
X0 = np.linspace(-1.0, 1.5, 3)
MAXITER = 6
TESTS = os.path.dirname(os.path.abspath(__file__))


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_same_run(got, want):
    for key in ("x", "fun", "x_mean", "fun_mean", "nit", "nfev"):
        assert _same_bits(got[key], want[key]), key
    for k, v in want.state.items():
        assert _same_bits(got.state[k], v), k
    for k, v in want.history.items():
        assert _same_bits(got.history[k], v), k


def _full(method):
    return minimize(shifted_abs, X0, method=method, maxiter=MAXITER, rng=5)


# -- every field is checked ---------------------------------------------------------

def _corruptions(field, a, cls):
    """(what, value) pairs that no checkpoint (fields ``opt_*``, ``loop_*``) or state
    of optimizer ``cls`` can hold for ``field``; None stands for the field left out."""
    name = field.removeprefix("opt_")
    yield "missing", None
    if a.dtype.kind == "U":
        yield "shape", np.array([str(a), str(a)])
        yield "dtype", np.array(3)
        yield "other method", np.array("cma")
        return
    if a.dtype.kind in "iu":
        yield "shape", np.repeat(a.reshape(-1), 3)
        yield "dtype", a.astype(np.float64)
        yield "bool", np.ones(a.shape, dtype=bool)
        yield "negative", np.full(a.shape, -1, dtype=np.int64)
        if a.ndim:  # the key's words
            yield "huge", np.full(a.shape, 1 << 32, dtype=np.int64)
        elif field != "t":  # a state alone may be at any step up to 2**56
            yield "huge", np.array(10**12)
            yield "other value", a + 1  # counts of a checkpoint agree with each other
        if field == "t":
            yield "huge", np.array(1 << 57)
        return
    if field.endswith("history"):
        yield "shape", a[:, :3]
        yield "rows", a[:-1]
        yield "rows", np.concatenate([a, a[-1:]])
        for col, value in ((0, 7.0), (1, 1e9), (2, -np.inf), (2, np.nan), (0, np.inf)):
            bad = a.copy()
            bad[0, col] = value
            yield f"column {col} = {value}", bad
        bad = a.copy()
        bad[:, 1] = bad[::-1, 1]
        yield "nfev decreasing", bad
        bad = a.copy()
        bad[:, 2] = np.sort(bad[:, 2])
        bad[-1, 2] += 1.0
        yield "best increasing", bad
        yield "deflated", ("deflated", a)
        return
    yield "shape", np.append(a.reshape(-1), a.reshape(-1)[:1])
    if a.ndim:
        yield "shape", a.reshape(1, -1)
    yield "dtype", a.astype(np.float32 if a.dtype == np.float64 else np.float64)
    yield "dtype", a.astype(np.int64)
    yield "dtype", a.astype(np.complex128)
    optional = name in cls._optional  # NaN: not calibrated yet
    for value in ([np.nan] if not optional else []) + [np.inf, -np.inf]:
        bad = a.copy()
        bad.reshape(-1)[0] = value
        yield f"value {value}", bad
    if name in cls._limits:
        low, excluded = cls._limits[name]
        bad = a.copy()
        bad.reshape(-1)[0] = low - 1.0
        yield "below", bad
        if excluded:
            bad = a.copy()
            bad.reshape(-1)[0] = low
            yield "at the excluded bound", bad
    if field in ("loop_x0", "loop_best_f", "loop_fun_mean", "loop_nfev"):
        yield "other value", a + 1.0


def _write(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            how = zipfile.ZIP_STORED
            if isinstance(v, tuple):  # ("deflated", array)
                how, v = zipfile.ZIP_DEFLATED, v[1]
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(v), allow_pickle=False)
            zf.writestr(f"{k}.npy", buf.getvalue(), compress_type=how)


@pytest.mark.parametrize("method", ALL)
def test_every_checkpoint_field_is_checked(method, tmp_path):
    path = str(tmp_path / "run.npz")
    minimize(shifted_abs, X0, method=method, maxiter=3, rng=5, checkpoint=path)
    with np.load(path) as f:
        files = dict(f.items())
    assert {"opt_x", "opt_t", "opt_key", "loop_history", "loop_nit"} <= set(files)
    bad_path = str(tmp_path / "bad.npz")
    calls = []

    def fun(X):
        calls.append(len(X))
        return shifted_abs(X)

    _write(bad_path, files)  # the file as written resumes
    assert minimize(fun, X0, method=method, maxiter=4, checkpoint=bad_path).nit == 4
    calls.clear()
    n_cases = 0
    for field, a in files.items():
        for what, value in _corruptions(field, a, METHODS[method]):
            bad = {k: v for k, v in files.items() if k != field or value is not None}
            if value is not None:
                bad[field] = value
            _write(bad_path, bad)
            with pytest.raises(ValueError) as err:  # rng=None: any stream key continues
                minimize(fun, X0, method=method, maxiter=4, checkpoint=bad_path)
            msg = str(err.value)
            assert repr(bad_path) in msg, (field, what, msg)
            assert repr(field) in msg, (field, what, msg)
            assert calls == [], (field, what)
            n_cases += 1
    assert n_cases > 60


def test_checkpoint_members_that_are_no_fields_are_refused(tmp_path):
    path = str(tmp_path / "run.npz")
    minimize(shifted_abs, X0, method="es", maxiter=2, rng=5, checkpoint=path)
    with np.load(path) as f:
        files = dict(f.items())
    _write(path, {**files, "opt_buf": np.zeros(3)})  # a zo-sgd field in an es checkpoint
    with pytest.raises(ValueError, match=r"holds \['opt_buf'\], which are no fields"):
        minimize(shifted_abs, X0, method="es", maxiter=3, checkpoint=path)
    with pytest.raises(ValueError, match=r"is of method 'es'; this run uses 'zo-sgd'"):
        minimize(shifted_abs, X0, method="zo-sgd", maxiter=3, checkpoint=path)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as zf:
        zf.writestr("opt_t.npy", b"")  # one field twice
    with pytest.raises(ValueError, match="field 'opt_t' is stored twice"):
        minimize(shifted_abs, X0, method="es", maxiter=3, checkpoint=path)


def _bomb(path, files, name, header_shape, n_zeros, inside=None):
    """A checkpoint with member ``name``: an .npy header for ``header_shape`` (or the
    real member ``inside``) followed by ``n_zeros`` zero bytes, deflated (a small file
    that declares a large member)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for k, v in files.items():
            if k != name:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, v)
                zf.writestr(f"{k}.npy", buf.getvalue(), compress_type=zipfile.ZIP_STORED)
        with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
            head = io.BytesIO()
            if inside is None:
                np.lib.format.write_array_header_1_0(
                    head, {"descr": "<f8", "fortran_order": False, "shape": header_shape})
            else:
                np.lib.format.write_array(head, inside)
            fh.write(head.getvalue())
            chunk = bytes(1 << 20)
            for _ in range(n_zeros >> 20):
                fh.write(chunk)
    assert os.path.getsize(path) < n_zeros // 100


@pytest.mark.parametrize("case", ["unknown member", "trailing data", "long history"])
def test_a_small_file_declaring_a_large_member_is_refused_unread(case, tmp_path):
    path = str(tmp_path / "run.npz")
    minimize(shifted_abs, X0, method="es", maxiter=3, rng=5, checkpoint=path)
    with np.load(path) as f:
        files = dict(f.items())
    n = 40 << 20  # 40 MiB of zeros in well under 1 MiB of file
    name, shape, inside, match = {
        "unknown member": ("junk", (n // 8,), None, r"holds \['junk'\]"),
        "trailing data": ("opt_x", None, files["opt_x"], "field 'opt_x' declares"),
        "long history": ("loop_history", (n // 32, 4), None, "field 'loop_history' must be"),
    }[case]
    _bomb(path, files, name, shape, n, inside)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            minimize(shifted_abs, X0, method="es", maxiter=4, checkpoint=path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n // 10, peak  # the member was not decompressed


@pytest.mark.parametrize("method", ALL)
def test_load_state_dict_checks_every_field(method):
    cls = METHODS[method]
    opt = cls(X0, rng=3)
    for _ in range(3):
        opt.step(shifted_abs)
    state = opt.state_dict()
    target = cls(X0, rng=9)
    before = target.state_dict()
    n_cases = 0
    for field, a in state.items():
        for what, value in _corruptions(field, a, cls):
            if isinstance(value, tuple):
                continue
            bad = {k: v for k, v in state.items() if k != field or value is not None}
            if value is not None:
                bad[field] = value
            with pytest.raises(ValueError) as err:
                target.load_state_dict(bad)
            msg = str(err.value)
            assert f"{cls.__name__}.load_state_dict" in msg, (field, what, msg)
            assert repr(field) in msg, (field, what, msg)
            for k, v in target.state_dict().items():  # nothing changed
                assert _same_bits(v, before[k]), (field, what, k)
            n_cases += 1
    assert n_cases > 20
    with pytest.raises(TypeError, match="must be a dict from state_dict"):
        target.load_state_dict([1, 2])
    # an .npz of the state loads; what is no field of it is not read
    buf = io.BytesIO()
    np.savez(buf, **state, unrelated=np.zeros(5))
    buf.seek(0)
    with np.load(buf) as npz:
        target.load_state_dict(npz)
    for k, v in state.items():
        assert _same_bits(target.state_dict()[k], v), k


# -- temporary files of a killed write ----------------------------------------------

_KILLED_WRITER = """
import io, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from objectives import shifted_abs
import zoopt

real, n = np.savez, [0]

def savez(fh, **arrays):
    n[0] += 1
    if n[0] == 3:  # the third checkpoint: half written, then the process is killed
        buf = io.BytesIO()
        real(buf, **arrays)
        fh.write(buf.getvalue()[:200])
        fh.flush()
        print("writing", flush=True)
        time.sleep(300)
    real(fh, **arrays)

np.savez = savez
zoopt.minimize(shifted_abs, np.array(eval(sys.argv[3])), method="es", maxiter=6, rng=5,
               checkpoint=sys.argv[2], checkpoint_every=1)
"""


def test_temporary_files_of_a_killed_write_are_removed(tmp_path):
    path = str(tmp_path / "run.npz")
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, TESTS, path,
                             repr(X0.tolist())], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()  # SIGKILL: nothing of the writer runs after this
        proc.wait()
        proc.stdout.close()
    left = [f for f in os.listdir(tmp_path) if f != "run.npz"]
    assert len(left) == 1, left
    assert left[0].startswith(".run.npz.zoopt-tmp-"), left
    assert f"-{proc.pid}-" in left[0]
    host = left[0][len(".run.npz.zoopt-tmp-"):].split("-")[0]
    keep = [f".run.npz.zoopt-tmp-{host}-{os.getpid()}-live",  # a writer still running
            f".other.npz.zoopt-tmp-{host}-{proc.pid}-abc",  # another checkpoint's
            "notes.txt", f".run.npz.zoopt-tmp-elsewhere-{proc.pid}-new"]  # other host
    old = f".run.npz.zoopt-tmp-elsewhere-{proc.pid}-old"  # untouched for two hours
    for name in [*keep, old]:
        (tmp_path / name).write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(tmp_path / old, (two_hours_ago, two_hours_ago))
    resumed = minimize(shifted_abs, X0, method="es", maxiter=MAXITER, rng=5, checkpoint=path)
    assert sorted(os.listdir(tmp_path)) == sorted(["run.npz", *keep])
    _assert_same_run(resumed, _full("es"))  # from the second checkpoint, whole


# -- Ctrl-C in every phase ----------------------------------------------------------

_INTERRUPTED = """
import io, json, os, signal, sys
import numpy as np
# as in an interactive session (a background job may start with SIGINT ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, sys.argv[1])
from objectives import shifted_abs
import zoopt

folder, x0, maxiter = sys.argv[2], np.array(json.loads(sys.argv[3])), int(sys.argv[4])
real_savez, out = np.savez, {}
for name, method, at_call, at_write, at_nit in json.loads(sys.argv[5]):
    count = {"fun": 0, "savez": 0}

    def fun(X):
        count["fun"] += 1
        if count["fun"] == at_call:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the objective
        return shifted_abs(X)

    def savez(fh, **arrays):
        count["savez"] += 1
        if count["savez"] == at_write:  # half the file written, then Ctrl-C
            buf = io.BytesIO()
            real_savez(buf, **arrays)
            fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            fh.flush()
            os.kill(os.getpid(), signal.SIGINT)
        real_savez(fh, **arrays)

    def callback(intermediate_result):
        if intermediate_result.nit == at_nit:
            os.kill(os.getpid(), signal.SIGINT)

    np.savez = savez
    try:
        res = zoopt.minimize(fun, x0, method=method, maxiter=maxiter, rng=5,
                             checkpoint=os.path.join(folder, name + ".npz"),
                             checkpoint_every=2, callback=callback)
        out[name] = [int(res.status), int(res.nit), int(res.nfev)]
    except KeyboardInterrupt:
        out[name] = "raised"
    finally:
        np.savez = real_savez
print(json.dumps(out))
"""

# phase -> (objective call, checkpoint write, callback nit) that sends SIGINT, and the
# step the checkpoint then holds; calls: x0 is call 1, step s has its probes in call 2s
# and its mean in call 2s + 1 (after the first step's extra calls, if any); checkpoints
# are written after steps 2, 4, 6 and at the end
PHASES = {
    "x0": ((1, 0, 0), 0),
    "probes": ((6, 0, 0), 2),
    "mean": ((7, 0, 0), 2),
    "write": ((0, 2, 0), 4),  # in the checkpoint after step 4
    "callback": ((0, 0, 3), 3),
    "final write": ((7, 2, 0), 2),  # Ctrl-C in the mean, again in the final write
}


def _first_step_extra_calls(method: str) -> int:
    """Calls of the first step beyond its probes and mean (zo-sgd and spsa calibrate their
    first step with one more evaluation at x0)."""
    calls = [0]

    def counted(X):
        calls[0] += 1
        return shifted_abs(X)

    minimize(counted, X0, method=method, maxiter=1, rng=5)
    return calls[0] - 3  # x0, the probes, the mean


def test_ctrl_c_in_every_phase_resumes_into_the_uninterrupted_run(tmp_path):
    extra = {m: _first_step_extra_calls(m) for m in ALL}
    scenarios = [[f"{m}-{p}", m, PHASES[p][0][0] + (extra[m] if PHASES[p][0][0] > 1 else 0),
                  *PHASES[p][0][1:]] for m in ALL for p in PHASES]
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED, TESTS, str(tmp_path), json.dumps(X0.tolist()),
         str(MAXITER), json.dumps(scenarios)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for method in ALL:
        full = _full(method)
        for phase, (_, step) in PHASES.items():
            name = f"{method}-{phase}"
            path = str(tmp_path / f"{name}.npz")
            with np.load(path) as f:
                assert int(f["loop_nit"]) == step, name
                held = int(f["loop_nfev"])
            assert held == (0 if step == 0 else int(full.history["nfev"][step - 1])), name
            if phase == "final write":
                assert out[name] == "raised", name  # a second Ctrl-C ends the run
            else:  # the interrupted run is returned as of the step its checkpoint holds
                assert out[name] == [4, step, held], (name, out[name])
            resumed = minimize(shifted_abs, X0, method=method, maxiter=MAXITER, rng=5,
                               checkpoint=path)
            _assert_same_run(resumed, full)


@pytest.mark.parametrize("method", ["es", "zo-adam", "snes"])
@pytest.mark.parametrize("where", ["_apply", "best_probe"])
def test_ctrl_c_between_the_statements_of_a_step(method, where, tmp_path, monkeypatch):
    # a Ctrl-C can also come between two statements of the update (after x moved,
    # before t counts the step) or of the loop's bookkeeping
    cls = METHODS[method]
    original = getattr(cls, where)
    calls = []

    def interrupted(self, *args):
        out = original(self, *args)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(cls, where, interrupted)
    path = str(tmp_path / "run.npz")
    res = minimize(shifted_abs, X0, method=method, maxiter=MAXITER, rng=5, checkpoint=path)
    assert (res.status, res.nit) == (4, 2)
    monkeypatch.undo()
    resumed = minimize(shifted_abs, X0, method=method, maxiter=MAXITER, rng=5,
                       checkpoint=path)
    _assert_same_run(resumed, _full(method))


@pytest.mark.parametrize("method", ALL)
def test_a_step_never_writes_into_the_state_arrays(method):
    # what the rollback after a Ctrl-C relies on: the step rebinds its state arrays
    opt = METHODS[method](X0, rng=3)
    opt.step(shifted_abs)
    held = opt._snapshot()
    copies = {k: np.copy(v) for k, v in held.items() if isinstance(v, np.ndarray)}
    opt.step(shifted_abs)
    assert copies
    for k, v in copies.items():
        assert _same_bits(held[k], v), k


# -- the torch bridge ---------------------------------------------------------------

def test_zo_optimizer_load_state_dict_checks_its_fields():
    torch = pytest.importorskip("torch")
    from zoopt.torch import ZOOptimizer

    w = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 4, dtype=torch.float64))

    def loss():
        return (w * w).sum()

    opt = ZOOptimizer([w], lr=0.1, sigma=1e-2, n_dirs=2, rule="adam", rng=0)
    for _ in range(3):
        opt.step(loss)
    opt.accumulate(loss)
    good = opt.state_dict()
    target = ZOOptimizer([w], lr=0.1, sigma=1e-2, n_dirs=2, rule="adam", rng=9)

    def edited(path, value):
        state = {**good, "zoopt": dict(good["zoopt"]), "state": {0: dict(good["state"][0])},
                 "param_groups": [dict(g) for g in good["param_groups"]]}
        *parents, last = path
        node = state
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
        return state

    cases = [
        (("zoopt",), None, "'zoopt'"), (("zoopt", "t"), -1, "'zoopt.t'"),
        (("zoopt", "t"), 1 << 60, "'zoopt.t'"), (("zoopt", "t"), 3.0, "'zoopt.t'"),
        (("zoopt", "t"), True, "'zoopt.t'"), (("zoopt", "key"), [1], "'zoopt.key'"),
        (("zoopt", "key"), [1, 1 << 32], "'zoopt.key'"), (("zoopt", "key"), None, "'zoopt.key'"),
        (("zoopt", "key"), [1.0, 2.0], "'zoopt.key'"),
        (("zoopt", "diffs"), [float("nan")], "'zoopt.diffs'"),
        (("zoopt", "diffs"), "0.5", "'zoopt.diffs'"),
        (("param_groups", 0, "lr"), -1.0, "['lr']"),
        (("param_groups", 0, "betas"), (0.9, 1.5), "['betas']"),
        (("state", 0, "step"), -1, "['step']"), (("state", 0, "step"), 10**6, "['step']"),
        (("state", 0, "exp_avg"), torch.zeros(5, dtype=torch.float64), "['exp_avg']"),
        (("state", 0, "exp_avg"), torch.full((4,), float("inf"), dtype=torch.float64),
         "['exp_avg']"),
        (("state", 0, "exp_avg_sq"), -torch.ones(4, dtype=torch.float64), "['exp_avg_sq']"),
    ]
    for path, value, field in cases:
        with pytest.raises(ValueError) as err:
            target.load_state_dict(edited(path, value))
        msg = str(err.value)
        assert "ZOOptimizer.load_state_dict" in msg, (path, value, msg)
        assert field in msg, (path, value, msg)
        assert target.t == 0, (path, value)  # nothing changed
        assert not target.state, (path, value)
    target.load_state_dict(good)
    assert target.t == opt.t
    assert np.array_equal(target.key, opt.key)
    assert target._diffs == opt._diffs
