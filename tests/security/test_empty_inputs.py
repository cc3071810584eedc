"""Empty input gives an empty result, never an IndexError (issue 25, item 13): an empty list
or an empty numpy array to ``Embedder.embed`` is a (0, dim) float32 array, and every
predictor's batch methods return empty results."""

from __future__ import annotations

import numpy as np
import pytest
from hf_tiny import save_checkpoint


@pytest.fixture(scope="module")
def embedder(tiny_bert):
    from bertkit import Embedder

    return Embedder(tiny_bert, backend="torch", dtype="fp32")


@pytest.mark.parametrize("empty", [[], (), np.array([]), np.array([], dtype=str)], ids=["list", "tuple", "float-array", "str-array"])
def test_embed_of_nothing_is_a_0_by_dim_float32_array(embedder, empty):
    vectors = embedder.embed(empty)
    assert vectors.shape == (0, embedder.dim) and vectors.dtype == np.float32


def test_the_other_embedder_methods_take_nothing_too(embedder):
    assert embedder.embed_words([]) == []
    assert list(embedder.embed_stream([])) == []
    assert embedder.count_tokens([]) == []
    assert embedder.predict_batch([]) == []


def test_an_onnx_embedder_gives_the_same_empty_array(tiny_bert):
    from bertkit import Embedder

    vectors = Embedder(tiny_bert, backend="onnx", dtype="fp32").embed([])
    assert vectors.shape[0] == 0 and vectors.dtype == np.float32


def test_every_predictor_answers_nothing_with_nothing(tmp_path):
    from bertkit import Classifier, Reader, Tagger

    clf = Classifier.load(save_checkpoint(tmp_path / "cls", "classifier"), backend="torch", dtype="fp32")
    assert clf.predict([]) == [] and clf.predict_proba([]).shape == (0, len(clf.labels))
    reader = Reader.load(save_checkpoint(tmp_path / "qa", "qa"), backend="torch", dtype="fp32")
    assert reader.answer([], []) == [] and reader.predict_batch([]) == []
    tagger = Tagger.load(save_checkpoint(tmp_path / "tag", "tagger"), backend="torch", dtype="fp32")
    assert tagger.predict([]) == [] and tagger.tag_words([]) == ([], []) and tagger.predict_batch([]) == []
