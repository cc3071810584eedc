"""Reading inputs and writing outputs, always atomically.

Names load on first use, so the CLI's argument checks (readers, atomic outputs) do not\npull in numpy or pyarrow.
"""

from __future__ import annotations

import importlib

# public name -> the module that defines it
_EXPORTS = {
    "OutputError": "bertkit.io.atomic",
    "atomic_path": "bertkit.io.atomic",
    "atomic_write_bytes": "bertkit.io.atomic",
    "atomic_write_text": "bertkit.io.atomic",
    "check_not_input": "bertkit.io.atomic",
    "check_output": "bertkit.io.atomic",
    "read_records": "bertkit.io.readers",
    "read_texts": "bertkit.io.readers",
    "write_embeddings": "bertkit.io.writers",
    "write_word_vectors": "bertkit.io.writers",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    """Import a public name on first use (PEP 562), then keep it as a plain attribute."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
