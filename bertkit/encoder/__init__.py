"""Loading BERT-family encoders and running them in length-sorted batches."""

from bertkit.encoder.encoder import DTYPES, Encoder, EncoderOutput, Windows, resolve_device
from bertkit.encoder.loading import DEFAULT_MODEL_NAME, default_model_dir, load_model, resolve_model_dir

__all__ = [
    "DTYPES",
    "Encoder",
    "EncoderOutput",
    "Windows",
    "resolve_device",
    "DEFAULT_MODEL_NAME",
    "default_model_dir",
    "load_model",
    "resolve_model_dir",
]
