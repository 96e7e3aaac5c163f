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
    for code in blocks:
        needs = [m for m in OPTIONAL if re.search(rf"^\s*(import|from) {m}\b", code, re.M)]
        if any(importlib.util.find_spec(m) is None for m in needs):
            continue
        exec(compile(code, str(README), "exec"), ns)
        ran += 1
    assert ran >= len(blocks) - 1
