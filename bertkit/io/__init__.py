"""Reading inputs and writing outputs, always atomically.

Names load on first use, so the CLI's argument checks (readers, atomic outputs) do not\npull in numpy or pyarrow.
"""

from __future__ import annotations

from bertkit.io.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
