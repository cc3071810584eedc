"""``--head bilstm | cnn``: conventional networks over token states, as a learned pooling.

The classifier head stays ``pooling -> dropout -> linear``; for these heads its pooling
is a small network over the (cached, in features mode) token states of the selected
layers:

* ``bilstm``: a BiLSTM over the tokens, then the spec's statistic pooling (mean, max,
  ...) over the BiLSTM states;
* ``cnn``: Kim (2014): parallel convolutions of widths 3, 4, 5, ReLU, max over time.

Being a pooling with parameters, it reads cached token states and trains with AdamW in
features mode like ``attention`` does, and runs unchanged behind the encoder at prediction.
"""

from __future__ import annotations

from bertkit.embeddings.pooling import Pooling, PoolingInput, PoolingOutput, build_pooling
from bertkit.errors import UsageError, choice_error
from bertkit.nn.cnn import KimCNN
from bertkit.nn.lstm import BiLSTM

__all__ = ["HEADS", "SEQUENCE_HEADS", "SequencePooling", "sequence_pooling"]

HEADS = ("linear", "mlp", "bilstm", "cnn")
SEQUENCE_HEADS = ("bilstm", "cnn")
_INNER = ("mean", "max", "min", "mean_sqrt_len", "cls", "attention")


class SequencePooling(Pooling):
    """A BiLSTM (+ statistic pooling) or Kim-CNN over token states. # (B, T, H) -> (B, D)"""

    window_rule = "mean"

    def __init__(self, kind: str, hidden_size: int, inner: str, size: int) -> None:
        super().__init__(hidden_size)
        self.kind = kind
        self.inner_spec = inner
        if kind == "bilstm":
            self.network = BiLSTM(hidden_size, size)
            self.inner = build_pooling(inner, self.network.output_dim, 1)
        else:
            self.network = KimCNN(hidden_size, filters=size)
            self.inner = None

    @property
    def output_dim(self) -> int:
        return self.inner.output_dim if self.inner is not None else self.network.output_dim

    @property
    def spec(self) -> str:
        return f"{self.kind}({self.inner_spec})" if self.inner is not None else self.kind

    def forward(self, inputs: PoolingInput) -> PoolingOutput:
        tokens, mask = inputs.tokens.float(), inputs.mask.bool()
        if self.inner is None:
            return PoolingOutput(self.network(tokens, mask))
        states = self.network(tokens, mask)  # (B, T, 2h)
        return self.inner(PoolingInput(states, inputs.mask))


def sequence_pooling(kind: str, pooling: str, hidden_size: int, size: int) -> SequencePooling:
    if kind not in SEQUENCE_HEADS:
        raise choice_error("sequence head", kind, SEQUENCE_HEADS)
    if kind == "bilstm" and pooling not in _INNER:
        raise UsageError(f"--head bilstm pools its states with --pooling {pooling!r}, which it cannot use; valid: {', '.join(_INNER)}")
    if size < 1:
        raise UsageError(f"--head {kind} size must be >= 1, got {size}")
    return SequencePooling(kind, hidden_size, pooling, size)
