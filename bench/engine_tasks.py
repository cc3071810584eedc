"""`bench/engine.py --parts tasks`: classify predict and QA on every bertkit backend, against
transformers' pipelines, in one run.

Each task also runs bertkit's default (no backend/dtype: ``auto``) beside every explicit
configuration, with the runtime the default chose.

- classify predict: the shipped sentiment model on SST-2 dev-sentences.tsv (default, torch
  fp32, torch bf16, onnx fp32, onnx int8) against transformers' text-classification pipeline (the installed
  transformers) running BertForSequenceClassification on the same encoder weights (the
  shipped deltas applied to the packaged encoder). BertForSequenceClassification's head
  reads the pooler output, not the shipped head's pooling (mean), so the peer's linear
  layer is the shipped one on another vector: the same encoder arithmetic, labels not
  comparable. Accuracy is bertkit's on the sentences' labels.
- QA: the packaged QA model on long dev-v1.1 contexts (bench/qa.py's set) against the
  transformers 4.57 question-answering pipeline with the same weights; answers compared
  with the pipeline's and with bertkit torch fp32's, F1 against the references (the pipeline
  runs only where .bench_venv/tf457 is installed, see bench/qa.py). An int8
  export refused by the gate is reported as refused.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import torch

from report import DATA, machine, write_section


def _sst2(n: int) -> tuple[list[str], list[str]]:
    with open(DATA / "sst2" / "dev-sentences.tsv", encoding="utf-8") as fh:
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
    times = {}
    for backend, dtype in RUNS:
        clf = load_classifier(backend=backend, dtype=dtype, device="cpu")
        clf.predict(texts[:16])  # warm-up; builds, vets and caches an export
        preds, seconds = _timed(clf.predict, texts, batch_size=32)
        times[(backend, dtype)] = seconds
        acc = sum(p.label == y for p, y in zip(preds, labels)) / n
        rows.append(f"| bertkit classify predict, {_name(backend, dtype, clf.runtime)} | {n / seconds:,.0f} | {base / seconds:.2f}x | {100 * acc:.2f}% |")
        print(rows[-1], flush=True)
    return rows + ["", _verdict(times)]


RUNS = (("torch", "fp32"), ("auto", "auto"), ("torch", "bf16"), ("onnx", "fp32"), ("onnx", "int8"))


def _verdict(seconds: dict) -> str:
    """The default's time against the fastest explicit run (int8 only when asked: not a candidate)."""
    if ("auto", "auto") not in seconds:
        return ""
    explicit = {k: v for k, v in seconds.items() if k != ("auto", "auto") and k[1] != "int8"}
    fastest = min(explicit, key=explicit.get)
    gap = seconds[("auto", "auto")] / explicit[fastest] - 1
    return f"Default: {100 * gap:+.1f}% time against the fastest explicit configuration ({' '.join(fastest)}; goal: within 5%)."


def _name(backend: str, dtype: str, runtime) -> str:
    return f"default (auto: {runtime.backend} {runtime.dtype})" if backend == "auto" else f"{backend} {dtype}"


def qa_rows(n: int, threads: int, tmp: Path) -> list[str]:
    import qa as qa_bench  # bench/qa.py: the long-context set, the HF export and the pipeline peer

    from bertkit.errors import UsageError
    from bertkit.qa.metric import squad_v1
    from bertkit.qa.reader import Reader

    questions, contexts, references = qa_bench.long_context_set(n)
    refs = {str(i): r for i, r in enumerate(references)}

    def f1(answers):
        return squad_v1(refs, {str(i): a for i, a in enumerate(answers)})["f1"]

    rows = [
        "| run | questions/s | vs pipeline | same answer as pipeline | same answer as bertkit torch fp32 | F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    peer = None
    if qa_bench.PEER_PATH.is_dir():
        peer = qa_bench.peer(qa_bench.export_hf(Reader.load(backend="torch", dtype="fp32", device="cpu").model, tmp / "hf-qa"),
                             questions, contexts, threads, 1, tmp)
        rows.append(f"| transformers {peer['version']} question-answering pipeline (batch_size=1, default) | {n / peer['seconds']:.1f} | 1.00x | | | {f1([a[0].strip() for a in peer['answers']]):.1f} |")
    peer_answers = [a[0].strip() for a in peer["answers"]] if peer else None
    reference, times = None, {}
    for backend, dtype in RUNS:
        try:
            reader = Reader.load(backend=backend, dtype=dtype, device="cpu")
        except UsageError as exc:
            rows.append(f"| bertkit qa, {backend} {dtype}: **refused by the int8 gate** ({exc}) | | | | | |")
            continue
        label = f"bertkit qa, {_name(backend, dtype, reader.runtime)}"
        reader.answer(questions[:4], contexts[:4])  # warm-up
        preds, seconds = _timed(reader.answer, questions, contexts, null_threshold=float("inf"))
        times[(backend, dtype)] = seconds
        answers = [(a.text or "").strip() for a in preds]
        reference = reference or (answers if backend == "torch" and dtype == "fp32" else None)
        same_peer = f"{100 * sum(a == b for a, b in zip(answers, peer_answers)) / n:.1f}%" if peer else "n/a"
        same_ref = f"{100 * sum(a == b for a, b in zip(answers, reference)) / n:.1f}%" if reference else "(first run)"
        vs = f"{peer['seconds'] / seconds:.2f}x" if peer else "n/a"
        rows.append(f"| {label} | {n / seconds:.1f} | {vs} | {same_peer} | {same_ref} | {f1(answers):.1f} |")
        print(rows[-1], flush=True)
    return rows + ["", _verdict(times)]


def tasks_part(args, tmp: Path) -> None:
    from bertkit.engine.runtime import cpu_features

    for name in ("BERTKIT_BACKEND", "BERTKIT_DTYPE"):  # measure the real default
        os.environ.pop(name, None)
    threads = torch.get_num_threads()
    classify = classify_rows(args.n, tmp)
    qa = qa_rows(args.qa, threads, tmp)
    body = "\n".join([
        "## Inference engine: classification and QA (bench/engine.py --parts tasks)",
        "",
        f"Command: `python bench/engine.py --parts tasks --n {args.n} --qa {args.qa}`  ",
        f"Machine: {machine()}. CPU features: {cpu_features().summary()}. One process, each run after a warm-up; "
        "ONNX exports built and vetted (and the auto probe cached) before timing.",
        "",
        f"**classify predict**, the shipped sentiment model on {args.n} SST-2 dev-sentences.tsv sentences. The pipeline runs "
        "BertForSequenceClassification on the same encoder weights (the shipped deltas applied) with the shipped linear layer "
        "on the pooler output, as that class has no other pooling: the same encoder work, labels not comparable.",
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
