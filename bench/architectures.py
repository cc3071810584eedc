"""Every architecture x task x backend against transformers' own forward (and sentence-transformers).

For each architecture (BERT, DistilBERT, RoBERTa, ELECTRA, ALBERT, DeBERTa-v2, ModernBERT) a
tiny random model of the test suite's (tests/tiny_archs.py: 2 layers, hidden 32, its own
tokenizer) is saved as a bare encoder and as transformers task checkpoints
(``AutoModelFor{SequenceClassification,QuestionAnswering,TokenClassification}``,
``initializer_range`` 0.3 so outputs are far from uniform), then run through bertkit on torch
fp32 and ONNX fp32:

- embeddings: every pooling at once (cls, mean, max, min, mean_sqrt_len, weighted_layer,
  attention, and pooler where the checkpoint has one) against AutoModel's hidden states
  pooled in numpy (max |diff|), and mean pooling against sentence-transformers'
  Transformer + Pooling (worst cosine);
- classifier: probabilities against transformers' softmax(logits);
- reader: start and end logits of every window (real tokens) against transformers' on the same ids;
- tagger: per-word tag probabilities (of the chosen tag) against transformers' softmax at each word's first piece;
- plus the ONNX fusion each export got (``ExportInfo.fusion``).

    python bench/architectures.py            # replaces the "Architectures" section of BENCHMARKS.md
    python bench/architectures.py modernbert # one architecture, printed only
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from tiny_archs import ARCHS, make_arch

TEXTS = ["Who wrote War and Peace?", " ".join(["A gorgeous, witty film that stays with you."] * 2), "hello", ""]
QUESTIONS = ["Where was Marie Curie born?", "Where does the Amazon end?"]
CONTEXTS = ["Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in 1903.",
            "The Amazon river flows through Brazil. It ends in the Atlantic Ocean after 6,400 km."]
WORDS = [["i", "met", "Bob", "in", "Paris", "."], ["Carol", "Smith", "lives", "in", "New", "York"]]
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
POOLINGS = ["cls", "mean", "max", "min", "mean_sqrt_len", "weighted_layer", "attention"]


def pooled_reference(path: Path) -> dict[str, np.ndarray]:
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    enc = tok(TEXTS, padding=True, truncation=True, max_length=60, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
    mask = enc["attention_mask"].unsqueeze(-1).bool()
    last, count = out.last_hidden_state, mask.sum(1).float()
    mixed = torch.stack(out.hidden_states[max(1, (len(out.hidden_states) - 1) // 2):]).mean(0)
    ref = {"cls": last[:, 0], "mean": (last * mask).sum(1) / count, "max": last.masked_fill(~mask, -torch.inf).max(1).values,
           "min": last.masked_fill(~mask, torch.inf).min(1).values, "mean_sqrt_len": (last * mask).sum(1) / count.sqrt(),
           "weighted_layer": (mixed * mask).sum(1) / count}
    ref["attention"] = ref["mean"]
    if getattr(out, "pooler_output", None) is not None:
        ref["pooler"] = out.pooler_output
    return {k: v.float().numpy() for k, v in ref.items()}


def last_fusion() -> str:
    from bertkit.engine.onnx_export import cache_root, read_export_info

    entries = sorted((d for d in cache_root().iterdir() if not d.name.startswith(".")), key=lambda d: d.stat().st_mtime)
    return read_export_info(entries[-1]).fusion or ""


def embeddings(path: Path, backend: str) -> dict:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    import bertkit

    ref = pooled_reference(path)
    names = POOLINGS + (["pooler"] if "pooler" in ref else [])
    got = bertkit.Embedder(path, pooling="+".join(names), backend=backend, dtype="fp32", device="cpu", max_length=60).embed(TEXTS)
    diff = float(np.abs(got - np.concatenate([ref[n] for n in names], axis=1)).max())
    first = Transformer(str(path), max_seq_length=60)
    st = SentenceTransformer(modules=[first, Pooling(first.get_word_embedding_dimension(), "mean")], device="cpu").encode(TEXTS)
    mean = got[:, names.index("mean") * st.shape[1]:(names.index("mean") + 1) * st.shape[1]]
    cosine = float(((mean * st).sum(1) / np.linalg.norm(mean, axis=1) / np.linalg.norm(st, axis=1)).min())
    return {"max_abs_diff": diff, "st_cosine": cosine, "poolings": "+".join(names)}


def task_checkpoint(path: Path, kind: str, out: Path):
    from transformers import (
        AutoConfig,
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    labels = {"classifier": ["negative", "neutral", "positive"], "qa": ["start", "end"], "tagger": TAGS}[kind]
    cls = {"classifier": AutoModelForSequenceClassification, "qa": AutoModelForQuestionAnswering, "tagger": AutoModelForTokenClassification}[kind]
    config = AutoConfig.from_pretrained(path, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                        label2id={k: i for i, k in enumerate(labels)}, initializer_range=0.3)
    torch.manual_seed(1)
    model = cls.from_config(config).eval()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(path).save_pretrained(out)
    return model, AutoTokenizer.from_pretrained(out)


def classifier(model, tok, out: Path, backend: str) -> dict:
    import bertkit

    enc = tok(TEXTS, padding=True, truncation=True, max_length=60, return_tensors="pt")
    with torch.no_grad():
        want = torch.softmax(model(**enc).logits, -1).numpy()
    got = bertkit.load_classifier(out, backend=backend, dtype="fp32").predict_proba(TEXTS)
    return {"max_abs_diff": float(np.abs(got - want).max())}


def reader(model, tok, out: Path, backend: str) -> dict:
    import bertkit

    preds = bertkit.load_reader(out, backend=backend, dtype="fp32").predictions(QUESTIONS, CONTEXTS)
    worst = 0.0
    for w, feature in enumerate(preds.features.windows.features):
        inputs = {k: torch.tensor([v]) for k, v in feature.items() if k in tok.model_input_names}
        with torch.no_grad():
            ref = model(**inputs)
        real = np.array(feature["attention_mask"], dtype=bool)
        for mine, theirs in ((preds.start_logits[w], ref.start_logits[0]), (preds.end_logits[w], ref.end_logits[0])):
            worst = max(worst, float(np.abs(mine[: len(real)][real] - theirs.numpy()[real]).max()))
    return {"max_abs_diff": worst}


def tagger(model, tok, out: Path, backend: str) -> dict:
    import bertkit

    _, scores = bertkit.load_tagger(out, backend=backend, dtype="fp32").tag_words(WORDS)
    worst = 0.0
    for words, mine in zip(WORDS, scores):
        enc = tok(words, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            probs = torch.softmax(model(**enc).logits[0], -1).numpy()  # (T, C)
        ids = enc.word_ids()
        first = [ids.index(i) for i in range(len(words))]
        mine = np.asarray(mine)  # (n_words,) the chosen tag's probability, or (n_words, C)
        theirs = probs[first] if mine.ndim == 2 else probs[first].max(-1)
        worst = max(worst, float(np.abs(mine - theirs).max()))
    return {"max_abs_diff": worst}


def run_arch(arch: str, root: Path) -> list[dict]:
    rows = []
    base = make_arch(root / arch, arch)
    for task in ("embeddings", "classifier", "qa", "tagger"):
        ckpt = None if task == "embeddings" else task_checkpoint(base, task, root / f"{arch}-{task}")
        for backend in ("torch", "onnx"):
            start = time.perf_counter()
            try:
                if task == "embeddings":
                    row = embeddings(base, backend)
                else:
                    row = {"classifier": classifier, "qa": reader, "tagger": tagger}[task](*ckpt, root / f"{arch}-{task}", backend)
                if backend == "onnx":
                    row["fusion"] = last_fusion()
            except Exception as exc:  # noqa: BLE001 - a failure is a result of the table
                row = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
            rows.append({"arch": arch, "task": task, "backend": backend, "seconds": round(time.perf_counter() - start, 2), **row})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| architecture | task | backend | max abs diff vs transformers | sentence-transformers cosine | ONNX fusion |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        diff = r.get("error") or f"{r['max_abs_diff']:.1e}"
        cosine = f"{r['st_cosine']:.6f}" if "st_cosine" in r else ""
        fusion = r.get("fusion", "")
        fusion = "fused" if fusion.startswith("fused") else ("not fused (no ORT patterns)" if "no patterns" in fusion else fusion[:40])
        lines.append(f"| {r['arch']} | {r['task']} | {r['backend']} | {diff} | {cosine} | {fusion} |")
    return "\n".join(lines)


def write_benchmarks(rows: list[dict], versions: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    worst = max((r["max_abs_diff"] for r in rows if "max_abs_diff" in r), default=float("nan"))
    errors = sum("error" in r for r in rows)
    section = (
        "## Architectures (bench/architectures.py)\n\n"
        "Every architecture through every predictor on torch fp32 and ONNX fp32, against transformers' own forward "
        "(`python bench/architectures.py`; tiny random models of the test suite, 2 layers, hidden 32, each with its own "
        "tokenizer; task heads are transformers `AutoModelFor...` checkpoints loaded as they are). Embeddings: every pooling "
        "at once against AutoModel's hidden states pooled in numpy, and mean pooling against sentence-transformers "
        "(worst cosine over the texts). Classifier: probabilities; QA: start/end logits of every window; tagger: per-word "
        f"tag probabilities. Worst difference over the table: {worst:.1e}; {errors} failures. {versions}.\n\n"
        "ONNX Runtime's transformer optimiser fuses attention, LayerNorm and GELU only for the model types it was written "
        "for (BERT, DistilBERT, RoBERTa, ELECTRA, ALBERT), and only when the fused graph gives the plain graph's outputs; "
        "DeBERTa-v2 and ModernBERT run the plain graph, said in one line at export and recorded in `ExportInfo.fusion`.\n\n"
        + table(rows) + "\n"
    )
    pattern = re.compile(r"^## Architectures \(bench/architectures.py\)\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    from bertkit.io.atomic import atomic_write_text

    atomic_write_text(path, text)


def main() -> None:
    import onnxruntime
    import sentence_transformers
    import transformers

    archs = sys.argv[1:] or list(ARCHS)
    unknown = sorted(set(archs) - set(ARCHS))
    if unknown:
        raise SystemExit(f"unknown architecture(s) {', '.join(unknown)}; valid: {', '.join(ARCHS)}")
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BERTKIT_CACHE"] = str(Path(tmp) / "cache")  # this script's own process: a fresh export cache
        rows = [row for arch in archs for row in run_arch(arch, Path(tmp))]
    versions = (f"transformers {transformers.__version__}, sentence-transformers {sentence_transformers.__version__}, "
                f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    if archs == list(ARCHS):
        write_benchmarks(rows, versions)
        print("wrote the Architectures section of BENCHMARKS.md")
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
