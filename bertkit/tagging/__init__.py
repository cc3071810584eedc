"""Token classification (named-entity tagging): CoNLL data, BIO/BIOES, entity metrics,
features and finetune training, the Tagger predictor."""

from bertkit.tagging.conll import TagData, read_conll
from bertkit.tagging.metrics import entity_report
from bertkit.tagging.model import TaggerModel, TaggerSpec
from bertkit.tagging.options import TagTrainOptions
from bertkit.tagging.schemes import detect_scheme, entity_spans
from bertkit.tagging.tagger import Entity, Tagger, load_tagger
from bertkit.tagging.train import TagTrainReport, train_tagger

__all__ = [
    "TagData", "read_conll", "entity_report", "TaggerModel", "TaggerSpec", "TagTrainOptions", "detect_scheme",
    "entity_spans", "Entity", "Tagger", "load_tagger", "TagTrainReport", "train_tagger",
]
