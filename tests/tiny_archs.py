"""Tiny random encoders of every supported architecture, each with its own small fast tokenizer.

``make_arch(dest, arch)`` saves, in milliseconds, a 2-layer model of hidden size 32 built
from the architecture's transformers config, and beside it a tokenizer of the kind the
architecture ships with (WordPiece for BERT / DistilBERT / ELECTRA / ModernBERT, byte-level
BPE for RoBERTa, SentencePiece-style Unigram for ALBERT and DeBERTa-v2), trained on a
small fixed corpus (vocabulary of a few hundred pieces). Used by the session fixtures of
``tests/conftest.py`` (``tiny_arch``, one directory per architecture).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

__all__ = ["ARCHS", "CORPUS", "make_arch"]

ARCHS = ("bert", "distilbert", "roberta", "electra", "albert", "deberta-v2", "modernbert")

CORPUS = [
    "Who wrote War and Peace? Leo Tolstoy wrote War and Peace, published in 1869.",
    "A gorgeous, witty film that stays with you. The plot is a mess and the acting is worse.",
    "The stock market fell 3.2% on Monday after the announcement.",
    "Barack Obama was born in Hawaii and lived in Chicago with Michelle.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
    "Hello there, general Kenobi! It is not that the movie is bad.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "In 1969, Neil Armstrong became the first person to walk on the Moon.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "one two three four five six seven eight nine ten good great awful dull",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?'\"()-%$&",
]

_COMMON = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64}


def _config(arch: str, vocab_size: int, pad_id: int, special: dict[str, int]):
    import transformers as tf

    common = {**_COMMON, "vocab_size": vocab_size, "pad_token_id": pad_id}
    if arch == "bert":
        return tf.BertConfig(**common)
    if arch == "distilbert":
        return tf.DistilBertConfig(vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64, pad_token_id=pad_id)
    if arch == "roberta":
        return tf.RobertaConfig(**common, type_vocab_size=1, bos_token_id=special["<s>"], eos_token_id=special["</s>"])
    if arch == "electra":
        return tf.ElectraConfig(**common, embedding_size=16)
    if arch == "albert":
        return tf.AlbertConfig(**common, embedding_size=16, num_hidden_groups=1, inner_group_num=1)
    if arch == "deberta-v2":
        # DeBERTa-v3's shape: relative positions only (no absolute table), no token types
        return tf.DebertaV2Config(
            **common, type_vocab_size=0, relative_attention=True, position_biased_input=False, pos_att_type=["p2c", "c2p"],
            max_relative_positions=-1, position_buckets=16, norm_rel_ebd="layer_norm", share_att_key=True,
        )
    if arch == "modernbert":
        return tf.ModernBertConfig(
            vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, pad_token_id=pad_id, cls_token_id=special["[CLS]"], sep_token_id=special["[SEP]"],
            bos_token_id=special["[CLS]"], eos_token_id=special["[SEP]"], global_attn_every_n_layers=2, local_attention=16,
        )
    raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHS)}")


def _wordpiece(input_names: list[str]):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    return BertTokenizer(vocab=tok.get_vocab(), model_input_names=input_names)


def _byte_bpe():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import RobertaTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    state = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    return RobertaTokenizer(vocab=state["vocab"], merges=merges)


def _unigram(arch: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import AlbertTokenizer, DebertaV2Tokenizer

    specials = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"] if arch == "albert" else ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    texts = [t.lower() for t in CORPUS] if arch == "albert" else CORPUS
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=400, special_tokens=specials, unk_token=specials[1]))
    vocab = [tuple(p) for p in json.loads(tok.to_str())["model"]["vocab"]]
    if arch == "albert":
        return AlbertTokenizer(vocab=vocab)
    return DebertaV2Tokenizer(vocab=vocab, unk_id=1)


def _tokenizer(arch: str):
    if arch in ("bert", "electra"):
        return _wordpiece(["input_ids", "token_type_ids", "attention_mask"])
    if arch in ("distilbert", "modernbert"):
        return _wordpiece(["input_ids", "attention_mask"])
    if arch == "roberta":
        return _byte_bpe()
    return _unigram(arch)


def make_arch(dest: Path, arch: str, *, seed: int = 0) -> Path:
    """Save a tiny random ``arch`` encoder (AutoModel layout, safetensors) and its tokenizer in ``dest``."""
    from transformers import AutoModel

    dest.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(arch)
    vocab = tokenizer.get_vocab()
    config = _config(arch, len(vocab), tokenizer.pad_token_id, vocab)
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    return dest
