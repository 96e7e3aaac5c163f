"""Run zoopt's CUDA kernels on the host: the same ``.cu`` files compiled by g++
behind ``gpu_emu/cuda_emu.h``, launched through ctypes with the grid and the
argument array a CUDA launch would get (see ``cuda_emu.h`` for what this proves)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from zoopt._gpu._cupy import grid_blocks

ROOT = Path(__file__).resolve().parents[1]
GPU_DIR = ROOT / "src" / "zoopt" / "_gpu"
EMU_DIR = Path(__file__).resolve().parent / "gpu_emu"
# one emulation source per .cu file: gpu_emu/emu_<name>.cpp includes <name>.cu
SOURCES = {name: EMU_DIR / f"emu_{name}.cpp"
           for name in ("streams", "policy", "metrics", "projection")}

FLAGS = ["-std=c++20", "-O2", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra",
         "-Werror", "-Wno-unknown-pragmas", "-shared", "-fPIC"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]

_CTYPES = {np.dtype(np.uint32): ctypes.c_uint32, np.dtype(np.int32): ctypes.c_int32,
           np.dtype(np.int64): ctypes.c_int64, np.dtype(np.float32): ctypes.c_float,
           np.dtype(np.float64): ctypes.c_double}


def compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++"))


def build(name: str, out_dir: Path, *, sanitize: bool = False) -> Path:
    """Compile the emulation of ``<name>.cu`` into a shared library in ``out_dir``."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++) for the host emulation")
    lib = out_dir / f"emu_{name}{'_san' if sanitize else ''}.so"
    flags = [f for f in FLAGS if not (sanitize and f == "-O2")]
    cmd = [cxx, *flags, *(SANITIZE if sanitize else []), f"-I{EMU_DIR}", f"-I{GPU_DIR}",
           "-DZOOPT_DEVICE_EMULATION", str(SOURCES[name]), "-o", str(lib)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return lib


def kernel_names(name: str) -> list[str]:
    """The kernels ``<name>.cu`` defines, as NVRTC sees them (the PTX entries)."""
    from zoopt._gpu import _nvrtc

    ptx = _nvrtc.compile_source(name, "compute_80", output="ptx").decode()
    return sorted(set(re.findall(r"\.entry\s+(\w+)\s*\(", ptx)))


class EmuLauncher:
    """A ``launch(name, n_items, args)`` for :class:`zoopt._gpu._streams.StreamKernels`
    that runs the host build.  ``block`` threads per block, at most ``max_blocks`` blocks
    (fewer blocks than items exercise the kernels' grid-stride loops)."""

    def __init__(self, lib_path: Path, *, block: int = 128, max_blocks: int = 1 << 20):
        self.lib = ctypes.CDLL(str(lib_path))
        self.block = block
        self.max_blocks = max_blocks
        self.calls: list[str] = []

    def __call__(self, name: str, n_items: int, args: tuple) -> None:
        fn = getattr(self.lib, f"emu_{name}")
        keep = []
        ptrs = (ctypes.c_void_p * len(args))()
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, f"argument {i} of {name} is not contiguous"
                val = ctypes.c_void_p(a.ctypes.data)
            elif isinstance(a, np.generic):
                val = _CTYPES[a.dtype](a.item())
            else:
                raise TypeError(f"argument {i} of {name}: {type(a).__name__} is not a "
                                "device array or a typed NumPy scalar")
            keep.append(val)
            ptrs[i] = ctypes.cast(ctypes.pointer(val), ctypes.c_void_p)
        blocks = grid_blocks(n_items, self.block, self.max_blocks)  # as the CuPy launcher
        self.calls.append(name)
        if not blocks:
            return
        grid = (ctypes.c_uint * 3)(blocks, 1, 1)
        blk = (ctypes.c_uint * 3)(self.block, 1, 1)
        fn(grid, blk, ptrs)
