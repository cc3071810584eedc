"""transformers ``AutoModelForTokenClassification`` directories load as they are: each word's
tag logits (its first piece's) within 1e-4 of transformers' own forward (torch and ONNX),
and through ``bertkit tag predict --model DIR``."""

from __future__ import annotations

import json

import pytest
import torch
from hf_tiny import TAGS, TEXTS, reference, save_checkpoint

from bertkit import ModelLoadError, Tagger
from bertkit.cli.app import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("hf-tag") / "model", "tagger")


def _first_piece_logits(checkpoint, words: list[list[str]]) -> list[torch.Tensor]:
    model, tokenizer = reference(checkpoint, "tagger")
    enc = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits  # (B, T, C)
    out = []
    for b, sentence in enumerate(words):
        first: dict[int, int] = {}
        for k, w in enumerate(enc.word_ids(b)):
            if w is not None:
                first.setdefault(w, k)
        out.append(logits[b, [first[w] for w in range(len(sentence))]])  # (W, C)
    return out


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_tag_logits_match_transformers(checkpoint, backend, one_thread):
    tagger = Tagger.load(checkpoint, backend=backend, dtype="fp32")
    assert tagger.runtime.backend == backend and tagger.labels == TAGS
    words = tagger.model.embedding.split(TEXTS).words
    with torch.no_grad():
        emissions, mask = tagger.model.emissions(words)  # (B, W, C)
    for b, want in enumerate(_first_piece_logits(checkpoint, words)):
        assert (emissions[b, : len(words[b])] - want).abs().max() < 1e-4
    assert want.abs().max() > 0.5  # logits of some size: the comparison means something


def test_cli_tags_with_a_transformers_directory(checkpoint, capsys):
    code = main(["tag", "predict", TEXTS[1], "--model", str(checkpoint), "--json", "--backend", "torch", "--dtype", "fp32"])
    out, err = capsys.readouterr()
    assert code in (0, None), err
    expected = [e.to_dict() for e in Tagger.load(checkpoint, backend="torch", dtype="fp32").predict([TEXTS[1]])[0]]
    got = json.loads(out.strip().splitlines()[-1])
    entities = got["entities"] if isinstance(got, dict) else got
    assert [e["text"] for e in entities] == [e["text"] for e in expected]


def test_labels_outside_bio_are_refused_in_one_line(tmp_path):
    from hf_tiny import copy_tokenizer
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                        id2label={0: "LABEL_0", 1: "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1})
    BertForTokenClassification(config).save_pretrained(str(tmp_path))
    copy_tokenizer(tmp_path)
    with pytest.raises(ModelLoadError, match="bertkit tags with BIO or BIOES labels"):
        Tagger.load(tmp_path, backend="torch", dtype="fp32")
