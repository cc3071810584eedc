"""PyTorch building blocks: contextual word embeddings and conventional heads (BiLSTM, CNN, CRF)."""

from bertkit.nn.cnn import KimCNN
from bertkit.nn.contextual import ContextualEmbedding, WordSplit, split_words
from bertkit.nn.crf import CRF, transition_constraints
from bertkit.nn.layermix import LAYER_COMBINES, LayerMix
from bertkit.nn.lstm import BiLSTM
from bertkit.nn.subwords import SUBWORD_RULES

__all__ = [
    "ContextualEmbedding", "WordSplit", "split_words", "LAYER_COMBINES", "LayerMix", "SUBWORD_RULES",
    "BiLSTM", "KimCNN", "CRF", "transition_constraints",
]
