"""Loading and launching zoopt's CUDA kernels with CuPy.

The source is compiled by NVRTC with zoopt's options (:mod:`zoopt._gpu._nvrtc`;
not by CuPy, which would add ``-ftz=true``), for the device's architecture when
NVRTC knows it (a cubin), else as PTX for the newest architecture it knows
(the driver compiles that).  The binary is cached on disk, keyed by the source,
the options and the NVRTC version, and loaded as a ``cupy.RawModule``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from zoopt._gpu import _nvrtc

__all__: list[str] = []

BLOCK = 256  # threads per block
MAX_BLOCKS = (1 << 31) - 1  # grid-stride loops cover the rest


def cache_dir() -> Path:
    root = os.environ.get("ZOOPT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "zoopt")
    path = Path(root) / "kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError:
        user = os.getuid() if hasattr(os, "getuid") else 0
        path = Path(tempfile.gettempdir()) / f"zoopt-kernels-{user}"
        path.mkdir(parents=True, exist_ok=True)
    return path


def target(cc: int) -> tuple[str, str]:
    """(NVRTC -arch value, output kind) for a device of compute capability ``cc``."""
    known = _nvrtc.supported_archs()
    if cc in known:
        return f"sm_{cc}", "cubin"
    older = [a for a in known if a <= cc]
    if not older:
        raise RuntimeError(
            f"NVRTC {_nvrtc.version()} does not compile for compute capability {cc} "
            f"(it knows {known})."
        )
    return f"compute_{max(older)}", "ptx"


def _nvcc_build(name: str, cc: int, path: Path) -> Path:
    """The same build with nvcc, for a machine whose CUDA has nvcc but no NVRTC."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        raise _nvrtc.NVRTCError("neither NVRTC nor nvcc is available to compile zoopt's "
                                "GPU kernels; install NVRTC with `pip install "
                                "nvidia-cuda-nvrtc` (part of zoopt's gpu extra).")
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    subprocess.run([nvcc, "-cubin", f"-arch=sm_{cc}", "-fmad=false", "-ftz=false",
                    "-prec-div=true", "-prec-sqrt=true", f"-I{_nvrtc.GPU_DIR}",
                    str(_nvrtc.GPU_DIR / f"{name}.cu"), "-o", str(tmp)],
                   check=True, capture_output=True)
    os.replace(tmp, path)
    return path


def binary_path(name: str, cc: int) -> Path:
    """Compile ``<name>.cu`` for compute capability ``cc`` (or reuse the cached build)."""
    try:
        arch, kind = target(cc)
    except _nvrtc.NVRTCError:
        path = cache_dir() / f"{name}-sm_{cc}-nvcc-{_source_hash(name)}.cubin"
        return path if path.exists() else _nvcc_build(name, cc, path)
    build = hashlib.sha256(repr((_nvrtc.OPTIONS, arch, _nvrtc.version())).encode())
    path = cache_dir() / f"{name}-{arch}-{_source_hash(name)}-{build.hexdigest()[:8]}.{kind}"
    if not path.exists():
        data = _nvrtc.compile_source(name, arch, output=kind)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def _source_hash(name: str) -> str:
    h = hashlib.sha256((_nvrtc.GPU_DIR / f"{name}.cu").read_bytes())
    for hname, text in _nvrtc.headers().items():
        h.update(hname.encode())
        h.update(text)
    return h.hexdigest()[:20]


def grid_blocks(n_items: int, block: int, max_blocks: int) -> int:
    """Blocks of a launch over ``n_items`` (0: no launch; the kernels loop over the rest)."""
    return 0 if n_items <= 0 else min(-(-n_items // block), max_blocks)


class CupyLauncher:
    """``launch(name, n_items, args)`` for the kernels of ``<source>.cu`` on the current
    CuPy device, on its current stream."""

    def __init__(self, source: str):
        self.source = source
        self._modules: dict[int, Any] = {}
        self._functions: dict[tuple[int, str], Any] = {}

    def module(self) -> Any:
        import cupy

        dev = cupy.cuda.Device()
        if dev.id not in self._modules:
            cc = int(dev.compute_capability)
            self._modules[dev.id] = cupy.RawModule(path=str(binary_path(self.source, cc)))
        return self._modules[dev.id]

    def function(self, name: str) -> Any:
        import cupy

        key = (cupy.cuda.Device().id, name)
        if key not in self._functions:
            self._functions[key] = self.module().get_function(name)
        return self._functions[key]

    def __call__(self, name: str, n_items: int, args: tuple[Any, ...]) -> None:
        blocks = grid_blocks(n_items, BLOCK, MAX_BLOCKS)
        if blocks:
            self.function(name)((blocks,), (BLOCK,), args)
