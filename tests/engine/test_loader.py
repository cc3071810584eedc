"""The one loader: what a source is (bertkit, transformers task checkpoint, sentence-transformers,
bare encoder, default), one line for the wrong kind, and the runtime choice kept once."""

from __future__ import annotations

import json

import pytest
from hf_tiny import save_checkpoint

from bertkit.engine.loader import ModelSource, load_on_runtime, resolve_source
from bertkit.engine.runtime import Probe, Runtime
from bertkit.errors import ModelLoadError, UsageError


def test_defaults_and_bertkit_directories():
    source = resolve_source(None, "classifier")
    assert source.format == "bertkit" and source.task == "classifier" and source.default
    assert resolve_source(None, "qa").task == "qa"
    assert resolve_source(None, "embeddings").format == "sentence-transformers"  # the packaged MiniLM has modules.json
    with pytest.raises(UsageError, match="no tagger is shipped with bertkit; give --model DIR"):
        resolve_source(None, "tagger")


@pytest.mark.parametrize("task, arch", [("classifier", "BertForSequenceClassification"), ("qa", "BertForQuestionAnswering"),
                                        ("tagger", "BertForTokenClassification")])
def test_transformers_task_checkpoints_are_recognised(tmp_path, task, arch):
    source = resolve_source(save_checkpoint(tmp_path / task, task), task)
    assert (source.format, source.task, source.architecture) == ("hf-task", task, arch)


def test_the_wrong_kind_of_directory_is_refused_in_one_line(tiny_bert, tmp_path):
    with pytest.raises(ModelLoadError, match="is a bare encoder \\(no task head\\), not a QA reader; train one with: bertkit qa train"):
        resolve_source(tiny_bert, "qa")
    with pytest.raises(ModelLoadError, match="BertForTokenClassification checkpoint, not a classifier"):
        resolve_source(save_checkpoint(tmp_path / "tag", "tagger"), "classifier")
    with pytest.raises(ModelLoadError, match="is a QA reader directory, not a classifier"):
        resolve_source(resolve_source(None, "qa").path, "classifier")
    assert resolve_source(tiny_bert, "embeddings").format == "hf-encoder"  # any encoder embeds


def test_missing_and_empty_directories_go_to_the_task_reader(tmp_path):
    assert resolve_source(tmp_path / "nope", "classifier").format == "bertkit"
    assert resolve_source(tmp_path, "qa").format == "bertkit"  # its reader says "not a bertkit qa model directory"


def test_load_on_runtime_builds_once_and_keeps_the_probed_model(tmp_path):
    built = []

    class FakeEncoder:
        dtype = "fp32"

    def build(device, torch_dtype, runtime):
        built.append((device, torch_dtype))
        return [FakeEncoder()]

    def resolve(backend, dtype, device, *, model, probe):
        probe("cpu")
        return Runtime("torch", "bf16", "cpu", "probed")

    import bertkit.engine.loader as loader

    original = loader.probe_encoder
    loader.probe_encoder = lambda encoder: Probe(1.0, 2.0, 1.0)
    try:
        runtime, model = load_on_runtime(ModelSource(tmp_path, "bertkit", "qa"), "auto", "auto", "auto", build, lambda m: m, resolve=resolve)
    finally:
        loader.probe_encoder = original
    assert built == [("cpu", "fp32")]  # built once, for the probe, and kept
    assert runtime.dtype == "bf16" and model[0].dtype == "bf16"  # bf16 autocast over the same weights
    runtime, _ = load_on_runtime(ModelSource(tmp_path, "bertkit", "qa"), "torch", "fp32", "cpu", build, lambda m: m)
    assert built[-1] == ("cpu", "fp32") and len(built) == 2 and runtime.reason == "asked"


def test_a_broken_bertkit_config_is_left_to_the_reader(tmp_path):
    (tmp_path / "bertkit.json").write_text("{not json")
    assert resolve_source(tmp_path, "classifier").task == "unknown"
    (tmp_path / "bertkit.json").write_text(json.dumps({"task": "tagger"}))
    with pytest.raises(ModelLoadError, match="is a tagger directory, not a classifier"):
        resolve_source(tmp_path, "classifier")


def _hf_dir(path, architecture: str, labels: int, *, cross_encoder: bool = False, modules: bool = False):
    """A config-only directory (the loader reads JSON only): what CrossEncoder.save writes, when asked."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "bert",
                                                  "id2label": {str(i): f"LABEL_{i}" for i in range(labels)}}))
    if modules or cross_encoder:  # sentence-transformers 6 writes modules.json for a CrossEncoder too
        (path / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "Transformer"}]))
    if cross_encoder:
        (path / "config_sentence_transformers.json").write_text(json.dumps({"model_type": "CrossEncoder", "activation_fn": None}))
    return path


def test_cross_encoders_and_one_output_checkpoints_are_rerankers(tmp_path):
    ce = resolve_source(_hf_dir(tmp_path / "ce", "BertForSequenceClassification", 1, cross_encoder=True), "reranker")
    assert (ce.format, ce.task, ce.cross_encoder, ce.architecture) == ("hf-task", "reranker", True, "BertForSequenceClassification")
    plain = resolve_source(_hf_dir(tmp_path / "plain", "RobertaForSequenceClassification", 1), "reranker")
    assert (plain.format, plain.task, plain.cross_encoder) == ("hf-task", "reranker", False)
    nli = resolve_source(_hf_dir(tmp_path / "nli", "BertForSequenceClassification", 3, cross_encoder=True), "classifier")
    assert (nli.task, nli.cross_encoder) == ("classifier", True)  # an NLI cross-encoder classifies pairs
    assert resolve_source(nli.path, "reranker").task == "classifier"  # the reranker counts the outputs and says so
    embedder = resolve_source(_hf_dir(tmp_path / "st", "BertModel", 0, modules=True), "embeddings")
    assert embedder.format == "sentence-transformers"
    shipped = resolve_source(None, "reranker")
    assert (shipped.format, shipped.task, shipped.default) == ("bertkit", "reranker", True)  # its bertkit.json says "rerank"


def test_a_reranker_is_not_a_classifier(tmp_path):
    with pytest.raises(ModelLoadError, match=r"ce is a sentence-transformers CrossEncoder with one output \(a relevance score\), "
                                             r"not a classifier; rank with it instead: bertkit rerank rank --model DIR"):
        resolve_source(_hf_dir(tmp_path / "ce", "BertForSequenceClassification", 1, cross_encoder=True), "classifier")
    with pytest.raises(ModelLoadError, match="BertForSequenceClassification checkpoint with one output"):
        resolve_source(_hf_dir(tmp_path / "plain", "BertForSequenceClassification", 1), "classifier")
    with pytest.raises(ModelLoadError, match="is a reranker directory, not a classifier"):
        resolve_source(resolve_source(None, "reranker").path, "classifier")
