"""The Python snippets of the README run (in order, sharing one namespace)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), ns)
