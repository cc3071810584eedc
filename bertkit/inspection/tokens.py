"""What a model sees: tokens, ids, token types, positions and the attention mask."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["TokenRow", "token_table"]


@dataclass
class TokenRow:
    index: int
    token: str
    id: int
    token_type: int
    position: int  # the position id the model adds (RoBERTa offsets by padding_idx + 1)
    mask: int
    special: bool
    span: tuple[int, int] | None  # character span in its source text, None for special tokens

    def to_dict(self) -> dict:
        return asdict(self)


def token_table(tokenizer, text: str, pair: str | None = None, *, max_length: int | None = None, config=None) -> list[TokenRow]:
    """Rows for ``[CLS] text [SEP] pair [SEP]`` exactly as the model receives them."""
    enc = tokenizer(
        text,
        pair,
        truncation="only_second" if pair is not None else True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_token_type_ids=True,
    )
    ids = enc["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    types = enc.get("token_type_ids") or [0] * len(ids)
    mask = enc.get("attention_mask") or [1] * len(ids)
    special = enc["special_tokens_mask"]
    offset = 0
    if config is not None and getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        offset = (getattr(config, "pad_token_id", 1) or 1) + 1
    rows = []
    for i, tid in enumerate(ids):
        span = None if special[i] else tuple(enc["offset_mapping"][i])
        rows.append(TokenRow(i, tokens[i], int(tid), int(types[i]), i + offset, int(mask[i]), bool(special[i]), span))
    return rows
