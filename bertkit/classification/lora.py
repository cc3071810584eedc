"""LoRA adapters through peft: train a few small matrices instead of the whole encoder,
and ship only those (a few MB) on top of an unchanged base encoder."""

from __future__ import annotations

import warnings
from pathlib import Path

from bertkit.encoder.encoder import Encoder
from bertkit.errors import ModelLoadError
from bertkit.io.files import set_tree_modes

__all__ = ["add_lora", "save_lora", "load_lora", "LORA_TARGETS"]

# Attention projections and both feed-forward matrices of BERT-family layers.
LORA_TARGETS = ["query", "key", "value", "dense"]


def add_lora(encoder: Encoder, rank: int, alpha: float | None = None, dropout: float = 0.1):
    """Inject LoRA layers into ``encoder.model`` in place; returns the peft wrapper (for saving).

    Afterwards only the LoRA matrices of the encoder require gradients.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha or 2 * rank, lora_dropout=dropout, target_modules=LORA_TARGETS, bias="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers deprecation noise from inside peft
        return get_peft_model(encoder.model, config)


def save_lora(peft_model, directory: Path) -> None:
    """adapter_config.json + adapter_model.safetensors."""
    peft_model.save_pretrained(str(directory), safe_serialization=True)
    (directory / "README.md").unlink(missing_ok=True)  # peft's model-card stub
    set_tree_modes(directory)  # peft writes the weights 0600


def load_lora(encoder: Encoder, directory: Path) -> None:
    """Apply the adapters in ``directory`` to ``encoder.model`` and merge them (plain model after)."""
    from peft import PeftModel

    if not (directory / "adapter_model.safetensors").is_file():
        raise ModelLoadError(f"{directory}: no adapter_model.safetensors (incomplete model directory)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers deprecation noise from inside peft
        try:
            peft_model = PeftModel.from_pretrained(encoder.model, str(directory), is_trainable=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"{directory}: the LoRA adapters could not be loaded ({str(exc).splitlines()[0][:200]})") from None
        encoder.model = peft_model.merge_and_unload().to(encoder.device).eval()
