"""Result containers: dicts with attribute access, as scipy's OptimizeResult."""

from __future__ import annotations

from typing import Any

__all__ = ["EstimateInfo"]


class _Bunch(dict):  # type: ignore[type-arg]
    """A dict whose keys are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return list(self.keys())

    def __repr__(self) -> str:
        if not self:
            return f"{type(self).__name__}()"
        width = max(len(k) for k in self) + 1
        lines = []
        for k, v in self.items():
            text = repr(v).replace("\n", "\n" + " " * (width + 2))
            lines.append(f"{k.rjust(width)}: {text}")
        return "\n".join(lines)


class EstimateInfo(_Bunch):
    """What an estimate evaluated: ``nfev``, ``fx``, ``values`` and the
    settings used (``method``, ``dist``, ``sigma``, ``n_dirs``, ``step``)."""
