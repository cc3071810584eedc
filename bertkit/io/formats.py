"""Output formats for vectors, chosen by the file extension and validated before any work."""

from __future__ import annotations

from pathlib import Path

from bertkit.errors import UsageError

__all__ = ["OUTPUT_FORMATS", "WORD_FORMATS", "output_format"]

OUTPUT_FORMATS = (".npy", ".parquet", ".jsonl")
WORD_FORMATS = (".parquet", ".jsonl")


def output_format(path: str, *, words: bool = False) -> str:
    """The output format from the extension, validated before any work is done."""
    suffix = Path(path).suffix.lower()
    valid = WORD_FORMATS if words else OUTPUT_FORMATS
    if suffix not in valid:
        what = "word-vector output (--tokens)" if words else "output"
        raise UsageError(f"{path}: unsupported {what} extension {suffix or '(none)'!r}; valid: {', '.join(valid)}")
    return suffix
