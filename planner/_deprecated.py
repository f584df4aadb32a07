"""Old module paths of planner 0.1 (``planner.inputs``, ``planner.outputs``…), kept one release.

Each is a module in ``sys.modules`` whose names forward to their new home with a
DeprecationWarning, so ``from planner.inputs import read_facilities`` keeps working and says
where the name lives now. Public names only; remove this module in planner 0.3.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

#: old module → the modules its public names moved to
MOVED: dict[str, tuple[str, ...]] = {
    "planner.inputs": ("planner.io.files", "planner.io.facilities", "planner.io.population",
                       "planner.io.boundaries", "planner.population"),
    "planner.outputs": ("planner.io.write",),
    "planner.datums": ("planner.io.datums",),
    "planner.demand": ("planner.population",),
    "planner.scale_osm": ("planner.scale.store",),
    "planner.scale_siting": ("planner.scale.siting",),
}  # fmt: skip


class _MovedModule(types.ModuleType):
    """A stand-in for a module that moved: attribute access warns and forwards."""

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name, f"Deprecated: moved to {', '.join(targets)}.")
        self._targets = targets

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        for target in self._targets:
            module = importlib.import_module(target)
            if not attr.startswith("_") and hasattr(module, attr):
                warnings.warn(
                    f"{self.__name__}.{attr} moved to {target}.{attr}; import it from there "
                    "(or from planner). The old path goes in planner 0.3.",
                    DeprecationWarning,
                    stacklevel=2,
                )
                return getattr(module, attr)
        msg = f"module {self.__name__!r} (moved to {', '.join(self._targets)}) has no public name {attr!r}"
        raise AttributeError(msg)


def install() -> None:
    """Register the old module paths (idempotent)."""
    for old, targets in MOVED.items():
        sys.modules.setdefault(old, _MovedModule(old, targets))
