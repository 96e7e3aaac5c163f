"""tools/build_inplace.py (the build for machines without pip builds) uses setup.py's
Cython directives, exact-arithmetic flags, include directories and modules."""

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_assignments():
    tree = ast.parse((ROOT / "setup.py").read_text())
    env = {"DEBUG": False}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("directives", "EXACT_FLAGS", "INCLUDE"):
                found[name] = eval(compile(ast.Expression(node.value), "setup.py", "eval"), env)
    return found, tree


def test_inplace_build_agrees_with_setup_py():
    spec = importlib.util.spec_from_file_location("build_inplace",
                                                  ROOT / "tools" / "build_inplace.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    found, tree = _setup_assignments()
    assert mod.DIRECTIVES == found["directives"]
    assert mod.EXACT_FLAGS == found["EXACT_FLAGS"]
    assert [str(p.relative_to(ROOT)) for p in mod.INCLUDE] == found["INCLUDE"]
    names = {c.args[0].value.rsplit(".", 1)[1] for c in ast.walk(tree)
             if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "Extension"}
    assert names == set(mod.MODULES)
