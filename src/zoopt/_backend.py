"""Which kernel set serves an array: NumPy arrays go to the compiled CPU
kernels; other array types are refused (nothing is copied between host and
device behind the user's back)."""

from __future__ import annotations

from typing import Any, NoReturn

__all__: list[str] = []


def unsupported_backend(x: Any, name: str, caller: str) -> NoReturn:
    kind = f"{type(x).__module__}.{type(x).__name__}"
    raise TypeError(
        f"The {name!r} parameter of {caller} is a {kind}; this build of zoopt computes on "
        "NumPy arrays only. Copy it to the host explicitly (for CuPy: x.get()) if that is "
        "what you want."
    )
