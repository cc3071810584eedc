"""Loading BERT-family encoders and running them in length-sorted batches.

Names load on first use, so the torch-free modules here (``batching``'s numpy padding,
``textcut``, ``fingerprint``) import without torch (the warm ONNX fast path needs them).
"""

from __future__ import annotations

from bertkit.io.lazy import lazy_exports

# public name -> the module that defines it
_EXPORTS = {
    "DTYPES": "bertkit.encoder.encoder",
    "Encoder": "bertkit.encoder.encoder",
    "EncoderOutput": "bertkit.encoder.encoder",
    "Windows": "bertkit.encoder.encoder",
    "resolve_device": "bertkit.encoder.encoder",
    "DEFAULT_MODEL_NAME": "bertkit.encoder.loading",
    "default_model_dir": "bertkit.encoder.loading",
    "load_model": "bertkit.encoder.loading",
    "resolve_model_dir": "bertkit.encoder.loading",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
