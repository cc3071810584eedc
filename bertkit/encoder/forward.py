"""The one model forward: padded ids through the Hugging Face model, into an EncoderOutput.

Torch inference and training (:meth:`Encoder.forward`) and every graph exported to ONNX
(:class:`bertkit.engine.graph.EncoderGraph`) call :func:`run_encoder`, so the two
backends cannot drift apart: what is read from the model (hidden states of every layer,
the pooler output) is decided here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

__all__ = ["EncoderOutput", "run_encoder"]


@dataclass
class EncoderOutput:
    last_hidden_state: Tensor  # (B, T, H)
    attention_mask: Tensor  # (B, T)
    hidden_states: tuple[Tensor, ...] | None = None  # (L+1) x (B, T, H)
    pooler_output: Tensor | None = None  # (B, H)


def run_encoder(model: nn.Module, inputs: dict[str, Tensor], *, hidden_states: bool, pooler: bool) -> EncoderOutput:
    """Run ``model`` on the padded id tensors. # (B, T) each -> EncoderOutput

    ``hidden_states``: also return every layer's states (embedding output first);
    ``pooler``: return the model's pooler output (only for a checkpoint with trained
    pooler weights; None otherwise). ``inputs`` must hold ``attention_mask``.
    """
    out = model(**inputs, output_hidden_states=hidden_states, return_dict=True)
    return EncoderOutput(
        last_hidden_state=out.last_hidden_state,
        attention_mask=inputs["attention_mask"],
        hidden_states=tuple(out.hidden_states) if hidden_states else None,
        pooler_output=getattr(out, "pooler_output", None) if pooler else None,
    )
