"""`bertkit export --format hf`: classifier, reader and tagger directories that transformers
loads unchanged (AutoModelFor... and pipeline), with the predictor's outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bertkit.cli.app import main

TEXTS = ["a gorgeous, witty film", "the plot is a mess and the acting is worse", "Obama visited Paris"]
LABELS = ["negative", "positive", "neutral"]


@pytest.fixture(autouse=True)
def _quiet(one_thread, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))


def _classifier_dir(dest, tiny_bert, *, pooling="pooler", lora=False, standardize=False, seed=0):
    from bertkit.classification.config import ClassifierConfig, EncoderSpec
    from bertkit.classification.model import HeadSpec, PoolingHead
    from bertkit.classification.modeldir import save_single
    from bertkit.encoder import Encoder

    torch.manual_seed(seed)
    encoder = Encoder(tiny_bert, device="cpu")
    spec = HeadSpec(pooling=pooling, standardize=standardize)
    head = PoolingHead(spec, encoder.hidden_size, encoder.num_layers, len(LABELS))
    torch.nn.init.normal_(head.classifier.weight, std=2.0)
    if standardize:
        head.feature_mean.normal_()
        head.feature_std.uniform_(0.5, 2.0)
    peft = None
    if lora:
        from bertkit.classification.lora import add_lora

        peft = add_lora(encoder, rank=2)
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.5)  # a trained adapter: the merge must change the weights
    config = ClassifierConfig(labels=LABELS, max_length=32, mode="finetune" if lora else "features",
                              encoder=EncoderSpec("included", adapter="lora" if lora else None), head=spec)
    return save_single(dest, config, head, encoder, peft_model=peft)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("lora, standardize", [(False, True), (True, False)])
def test_classifier_exports_to_transformers(tiny_bert, tmp_path, capsys, lora, standardize):
    import transformers

    from bertkit.classification.classifier import load_classifier

    src = _classifier_dir(tmp_path / "clf", tiny_bert, lora=lora, standardize=standardize)
    out = tmp_path / "hf"
    capsys.readouterr()
    assert main(["export", "--format", "hf", str(src), str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"wrote {out}: BertForSequenceClassification") and len(err.strip().splitlines()) == 1, err
    want = load_classifier(src, backend="torch", dtype="fp32", device="cpu").predict_proba(TEXTS)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert model.config.id2label == dict(enumerate(LABELS)) and model.config.label2id["neutral"] == 2
    tok = transformers.AutoTokenizer.from_pretrained(out)
    with torch.no_grad():
        got = model(**tok(TEXTS, padding=True, return_tensors="pt")).logits.softmax(-1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    pipe = transformers.pipeline("text-classification", model=str(out), device="cpu")
    best = [LABELS[i] for i in want.argmax(1)]
    assert [r["label"] for r in pipe(TEXTS)] == best
    assert not [p for p in tmp_path.glob(".hf.*") if p.suffix != ".lock"]  # built beside OUT, renamed: no temporary left (the output lock file stays, as for every writer)


def test_heads_transformers_cannot_express_are_refused_in_one_line(tiny_bert, tmp_path, capsys):
    src = _classifier_dir(tmp_path / "mean", tiny_bert, pooling="mean")
    capsys.readouterr()
    code = main(["export", "--format", "hf", str(src), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "head is a linear layer on pooling 'mean'" in err and "only a linear head on --pooling pooler exports exactly" in err
    assert not (tmp_path / "out").exists()


def test_the_shipped_sentiment_model_is_refused_before_loading(tmp_path, capsys):
    from bertkit.modeldir import default_model_dir

    code = main(["export", "--format", "hf", str(default_model_dir("classifier")), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "pooling 'mean'" in err and len(err.strip().splitlines()) == 1


def test_reader_exports_to_transformers(tiny_bert, tmp_path):
    import transformers

    from bertkit.encoder import Encoder
    from bertkit.qa.model import QAModel
    from bertkit.qa.modeldir import QAConfig, save_qa_model
    from bertkit.qa.reader import load_reader

    torch.manual_seed(0)
    qa = QAModel(Encoder(tiny_bert, device="cpu"))
    torch.nn.init.normal_(qa.head.linear.weight, std=1.0)
    src = save_qa_model(qa, QAConfig(base_model=str(tiny_bert), max_length=64, doc_stride=16), tmp_path / "qa")
    out = tmp_path / "hf-qa"
    assert main(["export", "--format", "hf", "--model", str(src), "--out", str(out)]) == 0
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(out).eval()
    tok = transformers.AutoTokenizer.from_pretrained(out)
    batch = tok(["Who wrote it?"], ["Leo Tolstoy wrote War and Peace."], return_tensors="pt")
    reader = load_reader(src, backend="torch", dtype="fp32", device="cpu")
    with torch.no_grad():
        start, end = reader.model({k: v for k, v in batch.items() if k in reader.model.wrapped.input_keys})
        ref = model(**batch)
    np.testing.assert_allclose(ref.start_logits.numpy(), start.numpy(), atol=1e-4)
    np.testing.assert_allclose(ref.end_logits.numpy(), end.numpy(), atol=1e-4)
    # transformers 5 removed the question-answering pipeline; AutoModelForQuestionAnswering is its loader now
    assert "question-answering" not in transformers.pipelines.SUPPORTED_TASKS


def _tagger_dir(dest, tiny_bert, head="linear"):
    from bertkit.encoder import Encoder
    from bertkit.nn.contextual import ContextualEmbedding
    from bertkit.tagging.model import TaggerModel, TaggerSpec
    from bertkit.tagging.modeldir import save_tagger

    torch.manual_seed(0)
    spec = TaggerSpec(labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], mode="finetune", head=head, max_length=64)
    embedding = ContextualEmbedding(encoder=Encoder(tiny_bert, device="cpu"), layers="-1", subword="first", cache=False, trainable=True)
    model = TaggerModel(spec, embedding)
    torch.nn.init.normal_(model.proj.weight, std=2.0)
    return save_tagger(dest, model, {}, {})


def test_tagger_exports_to_transformers(tiny_bert, tmp_path):
    import transformers

    from bertkit.tagging.tagger import load_tagger

    src = _tagger_dir(tmp_path / "tag", tiny_bert)
    out = tmp_path / "hf-tag"
    assert main(["export", "--format", "hf", str(src), str(out)]) == 0
    model = transformers.AutoModelForTokenClassification.from_pretrained(out).eval()
    assert model.config.id2label[1] == "B-PER"
    words = "Obama visited Paris yesterday".split()
    with torch.no_grad():
        emissions, _ = load_tagger(src, backend="torch", dtype="fp32", device="cpu").model.emissions([words])  # (1, W, L)
    probs = emissions.softmax(-1).numpy()
    tok = transformers.AutoTokenizer.from_pretrained(out)
    enc = tok(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        scores = model(**enc).logits[0].softmax(-1).numpy()
    first = [enc.word_ids(0).index(w) for w in range(len(words))]
    np.testing.assert_allclose(scores[first], np.asarray(probs[0]), atol=1e-4)
    entities = transformers.pipeline("token-classification", model=str(out), aggregation_strategy="first", device="cpu")("Obama visited Paris")
    assert isinstance(entities, list)


def test_crf_tagger_is_refused(tiny_bert, tmp_path, capsys):
    src = _tagger_dir(tmp_path / "crf", tiny_bert, head="crf")
    capsys.readouterr()
    code = main(["export", "--format", "hf", str(src), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "head is 'crf'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "--format", "hf", "{tiny}", "{d}/o"], "already a Hugging Face directory"),
        (["export", "--format", "hf", "{d}/o"], "--format hf needs MODEL_DIR"),
        (["export", "--format", "hf", "{tiny}", "{d}/o", "--pooling", "mean"], "--pooling, --normalize and --layers apply to embedders"),
        (["export", "{tiny}", "{d}/full"], "is a directory that is not empty"),
        (["export", "{tiny}", "{d}/o", "--out", "{d}/p"], "give MODEL_DIR and OUT"),
    ],
)
def test_bad_export_requests(tiny_bert, tmp_path, capsys, argv, message):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    code = main([a.format(d=tmp_path, tiny=tiny_bert) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine" and not (tmp_path / "o").exists()
    assert json.loads((tiny_bert / "config.json").read_text())  # the source is untouched
