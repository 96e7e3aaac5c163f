"""The Python snippets of the README run (in order, sharing one namespace)."""

import importlib.util
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
# blocks that need an optional framework run only where it is installed
OPTIONAL = ("torch", "jax")


def test_readme_python_blocks_run():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    ns: dict = {}
    ran = 0
    gpu_blocks = 0
    for code in blocks:
        if re.search(r"^\s*import cupy\b", code, re.M):
            gpu_blocks += 1
            if not _has_gpu():
                continue
        needs = [m for m in OPTIONAL if re.search(rf"^\s*(import|from) {m}\b", code, re.M)]
        if any(importlib.util.find_spec(m) is None for m in needs):
            continue
        exec(compile(code, str(README), "exec"), ns)
        ran += 1
    assert gpu_blocks == 1
    # one block each for torch and JAX, skipped where the framework is missing
    missing = sum(importlib.util.find_spec(m) is None for m in OPTIONAL)
    assert ran >= len(blocks) - missing - (0 if _has_gpu() else gpu_blocks)


def _has_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver or no device
        return False
