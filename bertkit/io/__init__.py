"""Reading inputs and writing outputs, always atomically."""

from bertkit.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from bertkit.io.readers import read_records, read_texts
from bertkit.io.writers import write_embeddings, write_word_vectors

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_records",
    "read_texts",
    "write_embeddings",
    "write_word_vectors",
]
