"""`bench/engine.py --parts tasks`: classify predict and QA on every bertkit backend, against
transformers' pipelines, in one run.

- classify predict: the shipped sentiment model on SST-2 dev sentences (torch fp32, onnx
  fp32, onnx int8) against transformers' text-classification pipeline (the installed
  transformers) running BertForSequenceClassification on the same LoRA-merged encoder
  weights. The shipped head pools with learned attention, which transformers has no
  class for, so the peer's head reads the pooler output instead: the same encoder
  arithmetic, labels not comparable. Accuracy is bertkit's on the sentences' labels.
- QA: the packaged QA model on long dev-v1.1 contexts (bench/qa.py's set) against the
  transformers 4.57 question-answering pipeline with the same weights; answers compared
  with the pipeline's and with bertkit torch fp32's, F1 against the references. An int8
  export refused by the gate is also timed with the gate bypassed in a throw-away cache,
  to show what it would cost and gain.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path

import torch

from report import DATA, machine, write_section


def _sst2(n: int) -> tuple[list[str], list[str]]:
    with open(DATA / "sst2" / "dev.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    return [r["sentence"] for r in rows], ["positive" if r["label"] == "1" else "negative" for r in rows]


def _hf_classifier(clf, dest: Path) -> Path:
    """BertForSequenceClassification with the classifier's encoder weights (safetensors)."""
    from transformers import BertConfig, BertForSequenceClassification

    encoder, heads = clf.groups[0]
    config = BertConfig.from_dict({**encoder.model.config.to_dict(), "num_labels": len(clf.labels)})
    model = BertForSequenceClassification(config)
    model.bert.load_state_dict(encoder.model.state_dict(), strict=False)
    model.classifier.load_state_dict(heads[0].classifier.state_dict())
    model.save_pretrained(dest, safe_serialization=True)
    encoder.tokenizer.save_pretrained(dest)
    return dest


def _timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start


def classify_rows(n: int, tmp: Path) -> list[str]:
    from transformers import pipeline

    from bertkit.classification import load_classifier

    texts, labels = _sst2(n)
    rows = ["| run | sentences/s | vs pipeline (default batch 1) | accuracy |", "|---|---:|---:|---:|"]
    hf_dir = _hf_classifier(load_classifier(), tmp / "hf-sentiment")
    peer = pipeline("text-classification", model=str(hf_dir), tokenizer=str(hf_dir), device=-1)
    peer_times = {}
    for bs in (1, 32):
        peer(texts[:16], batch_size=bs)
        _, peer_times[bs] = _timed(peer, texts, batch_size=bs)
    base = peer_times[1]
    rows.append(f"| transformers text-classification pipeline, batch_size=1 (default) | {n / base:,.0f} | 1.00x | (other head) |")
    rows.append(f"| transformers text-classification pipeline, batch_size=32 | {n / peer_times[32]:,.0f} | {base / peer_times[32]:.2f}x | (other head) |")
    for backend, dtype in (("torch", "fp32"), ("onnx", "fp32"), ("onnx", "int8")):
        clf = load_classifier(backend=backend, dtype=dtype, device="cpu")
        clf.predict(texts[:16])  # warm-up; builds, vets and caches an export
        preds, seconds = _timed(clf.predict, texts, batch_size=32)
        acc = sum(p.label == y for p, y in zip(preds, labels)) / n
        rows.append(f"| bertkit classify predict, {backend} {dtype} | {n / seconds:,.0f} | {base / seconds:.2f}x | {100 * acc:.2f}% |")
        print(rows[-1], flush=True)
    return rows


def qa_rows(n: int, threads: int, tmp: Path) -> list[str]:
    import qa as qa_bench  # bench/qa.py: the long-context set, the HF export and the pipeline peer

    import bertkit.qa.engine as qa_engine
    from bertkit.errors import UsageError
    from bertkit.qa import answer_questions, load_qa_model
    from bertkit.qa.metric import squad_v1

    questions, contexts, references = qa_bench.long_context_set(n)
    model, config = load_qa_model(None, device="cpu")
    peer = qa_bench.peer(qa_bench.export_hf(model, tmp / "hf-qa"), questions, contexts, threads, 1, tmp)
    peer_answers = [a[0].strip() for a in peer["answers"]]
    refs = {str(i): r for i, r in enumerate(references)}

    def f1(answers):
        return squad_v1(refs, {str(i): a for i, a in enumerate(answers)})["f1"]

    rows = [
        "| run | questions/s | vs pipeline | same answer as pipeline | same answer as bertkit torch fp32 | F1 |",
        "|---|---:|---:|---:|---:|---:|",
        f"| transformers {peer['version']} question-answering pipeline (batch_size=1, default) | {n / peer['seconds']:.1f} | 1.00x | | | {f1(peer_answers):.1f} |",
    ]
    reference = None
    for backend, dtype in (("torch", "fp32"), ("onnx", "fp32"), ("onnx", "int8")):
        label = f"bertkit qa, {backend} {dtype}"
        try:
            engine = qa_engine.SpanEngine(model, config, backend=backend, dtype=dtype) if backend == "onnx" else None
        except UsageError as exc:
            rows.append(f"| {label}: **refused by the int8 gate** ({exc}) | | | | | |")
            engine = _bypassed_int8(model, config, qa_engine)
            label += ", gate bypassed (throw-away cache) to measure it"
        answer_questions(model, config, questions[:4], contexts[:4], engine=engine)  # warm-up
        preds, seconds = _timed(answer_questions, model, config, questions, contexts, batch_size=32,
                                null_threshold=float("inf"), engine=engine)
        answers = [d.answer.text.strip() if d.answer else "" for d in preds.decoded]
        reference = reference or answers
        same_peer = sum(a == b for a, b in zip(answers, peer_answers)) / n
        same_ref = sum(a == b for a, b in zip(answers, reference)) / n
        rows.append(f"| {label} | {n / seconds:.1f} | {peer['seconds'] / seconds:.2f}x | {100 * same_peer:.1f}% | {100 * same_ref:.1f}% | {f1(answers):.1f} |")
        print(rows[-1], flush=True)
    return rows


def _bypassed_int8(model, config, qa_engine):
    """The int8 engine with the calibration gate skipped, built in a temporary cache."""
    saved_cache, saved_gate = os.environ.get("BERTKIT_CACHE"), qa_engine.metric_gate
    os.environ["BERTKIT_CACHE"] = tempfile.mkdtemp(prefix="bertkit-bypass-")
    qa_engine.metric_gate = lambda *a: None
    try:
        return qa_engine.SpanEngine(model, config, backend="onnx", dtype="int8")
    finally:
        qa_engine.metric_gate = saved_gate
        if saved_cache is None:
            os.environ.pop("BERTKIT_CACHE", None)
        else:
            os.environ["BERTKIT_CACHE"] = saved_cache


def tasks_part(args, tmp: Path) -> None:
    threads = torch.get_num_threads()
    classify = classify_rows(args.n, tmp)
    qa = qa_rows(args.qa, threads, tmp)
    body = "\n".join([
        "## Inference engine: classification and QA (bench/engine.py --parts tasks)",
        "",
        f"Command: `python bench/engine.py --parts tasks --n {args.n} --qa {args.qa}`  ",
        f"Machine: {machine()}. One process, each run after a warm-up; ONNX exports built and vetted before timing.",
        "",
        f"**classify predict**, the shipped sentiment model on {args.n} SST-2 dev sentences. The pipeline runs "
        "BertForSequenceClassification on the same (LoRA-merged) encoder weights with a linear head on the pooler output, "
        "since transformers has no attention-pooling head: the same encoder work, labels not comparable.",
        "",
        *classify,
        "",
        f"**QA**, the packaged QA model on {args.qa} dev-v1.1 questions, each with its paragraph and the paragraphs around it "
        "(several 384-token windows per question), no 'no answer'; the pipeline gets the same weights.",
        "",
        *qa,
    ])
    write_section("engine-tasks", body)
    print(body, flush=True)
