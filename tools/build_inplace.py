"""Build zoopt's compiled kernels in place (src/zoopt/_cy/*.so) without pip or
setuptools: Cython to C, then the C compiler, all extensions in parallel.

For machines that cannot run an isolated pip build (no package registry, an old
or missing setuptools): ``python tools/build_inplace.py [module ...]``, then use zoopt with
``PYTHONPATH=src``.  The compiler flags and Cython directives are those of
setup.py (the tests check that the two agree).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["streams", "metrics", "bleu", "projection", "policy"]
DIRECTIVES = {"language_level": 3, "boundscheck": False, "wraparound": False,
              "initializedcheck": False, "cdivision": True, "embedsignature": True}
EXACT_FLAGS = ["-ffp-contract=off", "-fno-math-errno"]
INCLUDE = [ROOT / "src_cy", ROOT / "src" / "zoopt" / "_gpu"]


def build(module: str, build_dir: Path, cc: str) -> Path:
    c_file = build_dir / f"{module}.c"
    directives = ",".join(f"{k}={v}" for k, v in DIRECTIVES.items())
    subprocess.run([sys.executable, "-m", "cython", "-X", directives,
                    *(f"-I{p}" for p in INCLUDE), str(ROOT / "src_cy" / f"{module}.pyx"),
                    "-o", str(c_file)], check=True)
    target = ROOT / "src" / "zoopt" / "_cy" / f"{module}{sysconfig.get_config_var('EXT_SUFFIX')}"
    subprocess.run([cc, "-shared", "-fPIC", "-O3", *EXACT_FLAGS, "-fopenmp",
                    f"-I{sysconfig.get_paths()['include']}", *(f"-I{p}" for p in INCLUDE),
                    str(c_file), "-o", str(target)], check=True)
    return target


def main(argv: list[str]) -> int:
    cc = os.environ.get("CC", "gcc")
    modules = argv or MODULES
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        print(f"build_inplace: unknown modules {unknown}; expected some of {MODULES}",
              file=sys.stderr)
        return 2
    build_dir = ROOT / "build" / "inplace"
    build_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(len(modules)) as pool:
        for path in pool.map(lambda m: build(m, build_dir, cc), modules):
            print(f"built {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
