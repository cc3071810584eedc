"""Lazy package exports (PEP 562): a package names its public names and the modules that
define them; each is imported on first use and then kept as a plain attribute.

Used by the packages whose ``__init__`` must stay cheap to import (the CLI's argument checks
and ``--help`` never load torch, numpy or pyarrow)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps name -> defining module;
    ``namespace`` is the package's ``globals()``, where a loaded name is kept."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
