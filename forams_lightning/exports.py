"""A package's public names, imported on first use (PEP 562): `import forams_lightning.library` stays as cheap as
the command's `--help` and `--version` need (no torch), and `from forams_lightning.library import load_library`
imports only the module that defines it. Each concept package lists its API three times, as a test checks they
agree: in `__all__`, by module for this loader, and as imports for type checkers."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, api: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any],
                                                                         Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for `package`, whose `api` maps each sub-module to the public names it defines."""
    where = {name: module for module, names in api.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # looked up once
        return value

    def __dir__() -> list[str]:
        return sorted(set(where) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
