"""What a model sees: tokens, ids, token types, positions and the attention mask.

Token types are shown as the model receives them: the tokenizer's where it feeds them, 0
where the model has a token-type table but the tokenizer feeds none (RoBERTa), and None
where the model has no token types at all (DistilBERT, ModernBERT, DeBERTa-v3): a pair's
segments are then told apart by the separator tokens alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["TokenRow", "token_table"]


@dataclass
class TokenRow:
    index: int
    token: str
    id: int
    token_type: int | None  # None: the model has no token types
    position: int  # the token's position id (RoBERTa offsets by padding_idx + 1; rotary / relative: its index)
    mask: int
    special: bool
    span: tuple[int, int] | None  # character span in its source text, None for special tokens

    def to_dict(self) -> dict:
        return asdict(self)


def token_table(
    tokenizer, text: str, pair: str | None = None, *, max_length: int | None = None, config=None, position_offset: int | None = None,
) -> list[TokenRow]:
    """Rows for ``[CLS] text [SEP] pair [SEP]`` exactly as the model receives them.

    ``config`` (the model's) decides whether token types exist; ``position_offset``
    defaults to RoBERTa's ``padding_idx + 1`` for its family, else 0.
    """
    from bertkit.encoder.encoder import has_token_types

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
    types: list[int | None] = list(enc.get("token_type_ids") or [0] * len(ids))
    if config is not None and not has_token_types(config):
        types = [None] * len(ids)
    elif config is not None and "token_type_ids" not in tokenizer.model_input_names:
        types = [0] * len(ids)  # not fed: the model's default, all zeros
    mask = enc.get("attention_mask") or [1] * len(ids)
    special = enc["special_tokens_mask"]
    offset = position_offset
    if offset is None:
        offset = 0
        if config is not None and getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            offset = (getattr(config, "pad_token_id", 1) or 1) + 1
    rows = []
    for i, tid in enumerate(ids):
        span = None if special[i] else tuple(enc["offset_mapping"][i])
        kind = None if types[i] is None else int(types[i])
        rows.append(TokenRow(i, tokens[i], int(tid), kind, i + offset, int(mask[i]), bool(special[i]), span))
    return rows
