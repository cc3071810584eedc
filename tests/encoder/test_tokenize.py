"""Encoder.tokenize: the Rust fast path for truncated single texts equals the tokenizer call."""

import pytest

from bertkit.encoder import Encoder

TEXTS = ["a short one", "", " ", "Naïve café, déjà vu?", "word " * 200, "two\nlines\there", "x" * 500, "UPPER lower 123"]


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_distilbert", "tiny_electra", "minilm_dir"])
def test_fast_path_matches_the_tokenizer_call(fixture, request):
    encoder = Encoder(request.getfixturevalue(fixture), device="cpu", max_length=16)
    fast = encoder.tokenize(TEXTS)
    slow = encoder.tokenize(TEXTS, truncation="longest_first")  # the transformers call
    assert fast.features == slow.features and fast.sample == slow.sample
    assert fast.truncated == slow.truncated >= 1  # "word " * 200 is cut
    assert set(fast.features[0]) == set(slow.features[0])


def test_fast_path_leaves_the_tokenizer_as_it_was(tiny_bert):
    encoder = Encoder(tiny_bert, device="cpu", max_length=16)
    backend = encoder.tokenizer._tokenizer
    backend.enable_padding(length=20)
    backend.enable_truncation(7)
    encoder.tokenize(TEXTS)
    assert backend.truncation["max_length"] == 7 and backend.padding["length"] == 20
    backend.no_padding()
    backend.no_truncation()
    encoder.tokenize(TEXTS)
    assert backend.truncation is None and backend.padding is None
