"""Models back out to the ecosystem: transformers task directories and sentence-transformers
directories (ONNX export lives in the engine: ``bertkit.embeddings.engine``)."""

from bertkit.export.hf import HFExport, export_hf
from bertkit.export.st import STExport, export_sentence_transformers
from bertkit.export.writing import check_new_directory, new_directory

__all__ = ["HFExport", "STExport", "export_hf", "export_sentence_transformers", "check_new_directory", "new_directory"]
