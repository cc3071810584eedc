"""Reading inputs and writing outputs, always atomically."""

from bertkit.io.atomic import OutputError, atomic_path, atomic_write_bytes, atomic_write_text, check_not_input, check_output
from bertkit.io.readers import read_records, read_texts
from bertkit.io.writers import write_embeddings, write_word_vectors

__all__ = [
    "OutputError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_not_input",
    "check_output",
    "read_records",
    "read_texts",
    "write_embeddings",
    "write_word_vectors",
]
