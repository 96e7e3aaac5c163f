"""NVRTC through ctypes: compile zoopt's ``.cu`` sources to PTX or cubin with
zoopt's own options.

CuPy appends ``-ftz=true`` to whatever options it is given when it compiles
source (NVRTC takes the last of conflicting options), which would flush float32
subnormals and change bits; so the kernels are compiled here, with
:data:`OPTIONS`, and the result is loaded as a module.  NVRTC runs without a
GPU or a driver, so the build is checked on any machine that has the library
(the ``nvidia-cuda-nvrtc`` wheel, or a CUDA toolkit).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

__all__: list[str] = []

GPU_DIR = Path(__file__).resolve().parent

# No contraction into FMA (the CPU build has -ffp-contract=off), no flushing of
# subnormals, IEEE division and square root: the arithmetic of the C kernels.
OPTIONS = ("--fmad=false", "--ftz=false", "--prec-div=true", "--prec-sqrt=true",
           "-std=c++17")


class NVRTCError(RuntimeError):
    """NVRTC is missing or refused a source."""


def _candidates() -> list[str]:
    found: list[str] = []
    try:  # where CuPy itself finds it (cuda-pathfinder: wheels, conda, CUDA_PATH, ...)
        from cuda.pathfinder import load_nvidia_dynamic_lib

        found.append(load_nvidia_dynamic_lib("nvrtc").abs_path)
    except Exception:  # not installed, or it found none: the searches below
        pass
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for pattern in ("cu1*/lib/libnvrtc.so*", "cuda_nvrtc/lib/libnvrtc.so*",
                        "cu1*/bin/nvrtc64_*.dll", "cuda_nvrtc/bin/nvrtc64_*.dll"):
            found += sorted(p for p in glob.glob(os.path.join(root, pattern))
                            if "builtins" not in p and ".alt." not in p)
    for var in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(var):
            found += sorted(glob.glob(os.path.join(os.environ[var], "lib64", "libnvrtc.so*")))
    found += sorted(glob.glob("/usr/local/cuda/lib64/libnvrtc.so*"))
    name = ctypes.util.find_library("nvrtc")
    if name:
        found.append(name)
    return found


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """The NVRTC shared library (raises :class:`NVRTCError` if there is none)."""
    errors = []
    for path in _candidates():
        try:
            # NVRTC dlopens its builtins by name: load the ones beside it first
            for b in sorted(glob.glob(os.path.join(os.path.dirname(path),
                                                   "libnvrtc-builtins.so*"))):
                if ".alt." not in b:
                    ctypes.CDLL(b, mode=ctypes.RTLD_GLOBAL)
            lib = ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            continue
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        return lib
    raise NVRTCError(
        "zoopt's GPU kernels are compiled by NVRTC, which was not found. Install it with "
        "`pip install nvidia-cuda-nvrtc` (part of zoopt's gpu extra)."
        + (f" Tried: {'; '.join(errors)}" if errors else "")
    )


def version() -> tuple[int, int]:
    lib = library()
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(lib, lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
    return major.value, minor.value


def _check(lib: ctypes.CDLL, status: int, what: str, log: str = "") -> None:
    if status != 0:
        msg = lib.nvrtcGetErrorString(status).decode()
        raise NVRTCError(f"{what} failed: {msg}" + (f"\n{log}" if log else ""))


def headers() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(GPU_DIR.glob("*.h"))}


def compile_source(name: str, arch: str, *, options: tuple[str, ...] = OPTIONS,
                   output: str = "cubin") -> bytes:
    """Compile ``<name>.cu`` for ``arch`` (e.g. ``"sm_90"`` for a cubin,
    ``"compute_90"`` for PTX) and return the binary (``output`` "cubin" or "ptx")."""
    lib = library()
    src = (GPU_DIR / f"{name}.cu").read_bytes()
    hdrs = headers()
    n = len(hdrs)
    hsrc = (ctypes.c_char_p * n)(*hdrs.values())
    hnames = (ctypes.c_char_p * n)(*(k.encode() for k in hdrs))
    prog = ctypes.c_void_p()
    _check(lib, lib.nvrtcCreateProgram(ctypes.byref(prog), src, f"{name}.cu".encode(), n,
                                       hsrc, hnames), "nvrtcCreateProgram")
    try:
        opts = [*options, f"-arch={arch}"]
        copts = (ctypes.c_char_p * len(opts))(*(o.encode() for o in opts))
        status = lib.nvrtcCompileProgram(prog, len(opts), copts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, buf)
        _check(lib, status, f"NVRTC compiling {name}.cu for {arch}",
               buf.value.decode(errors="replace"))
        getsize, get = ((lib.nvrtcGetCUBINSize, lib.nvrtcGetCUBIN) if output == "cubin"
                        else (lib.nvrtcGetPTXSize, lib.nvrtcGetPTX))
        _check(lib, getsize(prog, ctypes.byref(size)), f"nvrtcGet{output.upper()}Size")
        out = ctypes.create_string_buffer(size.value)
        _check(lib, get(prog, out), f"nvrtcGet{output.upper()}")
        return out.raw
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def supported_archs() -> list[int]:
    lib = library()
    n = ctypes.c_int()
    _check(lib, lib.nvrtcGetNumSupportedArchs(ctypes.byref(n)), "nvrtcGetNumSupportedArchs")
    arr = (ctypes.c_int * n.value)()
    _check(lib, lib.nvrtcGetSupportedArchs(arr), "nvrtcGetSupportedArchs")
    return list(arr)
