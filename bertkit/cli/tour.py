"""``bertkit tour``: a short run through each job on the default model.

Each section is a small function over the library API; the classification and QA
sections join once their shipped models exist.
"""

from __future__ import annotations

import math
from typing import Optional

from rich.table import Table

from bertkit.cli.options import ModelOpt, out_console

SENTENCES = [
    "A gorgeous, witty film that stays with you.",
    "The movie was a delight from start to finish.",
    "A dull, lifeless mess of a film.",
    "The stock market fell sharply on Monday.",
]


def tour_embeddings(model: Optional[str]) -> None:
    from bertkit.embeddings import Embedder

    out_console.rule("[bold]1. Embeddings")
    base = Embedder(model, pooling="mean", normalize=True)
    name = "all-MiniLM-L6-v2" if model is None else base.encoder.path.name
    out_console.print(f"Cosine similarity of sentence 1 to the others, for several poolings ({name}):")
    table = Table()
    table.add_column("pooling")
    table.add_column("dim", justify="right")
    for i in range(1, len(SENTENCES)):
        table.add_column(f"vs {i + 1}", justify="right")
    for pooling in ("mean", "cls", "max", "mean_sqrt_len", "mean+max", "weighted_layer"):
        emb = Embedder(pooling=pooling, normalize=True, encoder=base.encoder)
        v = emb.embed(SENTENCES)
        sims = v[1:] @ v[0]
        table.add_row(pooling, str(v.shape[1]), *[f"{s:.3f}" for s in sims])
    out_console.print(table)
    for i, s in enumerate(SENTENCES, 1):
        out_console.print(f"  {i}. {s}")
    words = base.embed_words(["Unbelievably charming."])[0]
    out_console.print(f"Word vectors from sub-word pieces: {words.words} -> {words.vectors.shape}")


def tour_inspect(model: Optional[str]) -> None:
    from bertkit.cli.inspect import inspect_command

    out_console.rule("[bold]2. Inspect")
    inspect_command(model=model, text="Who wrote War and Peace?", pair="Tolstoy wrote it.", depth=1, as_json=False)


def _recipe(config) -> str:
    """'all-MiniLM-L6-v2 + LoRA adapters + attention pooling' from a classifier's config."""
    if config.mode == "features":
        changed = "frozen encoder"
    elif config.encoder.adapter == "delta":
        changed = f"fine-tuned, stored as {config.training.get('delta') or 'weight'} deltas"
    else:
        changed = "LoRA adapters" if config.encoder.adapter == "lora" else "fine-tuned encoder"
    return f"all-MiniLM-L6-v2 + {changed} + {config.head.pooling} pooling"


def tour_classification(model: Optional[str]) -> None:
    from bertkit.classification import load_classifier

    out_console.rule("[bold]3. Classification")
    clf = load_classifier(None)  # the shipped model is built on the packaged encoder; --model does not apply
    out_console.print(f"The shipped sentiment model ({_recipe(clf.config)}, trained on SST-2):")
    table = Table()
    table.add_column("sentence")
    table.add_column("label")
    table.add_column("probability", justify="right")
    for text, pred in zip(SENTENCES, clf.predict(SENTENCES)):
        table.add_row(text, pred.label, f"{pred.top[0][1]:.3f}")
    out_console.print(table)
    ex = clf.explain(SENTENCES[2])
    weights = "  ".join(f"{t} {w:+.2f}" for t, w in zip(ex.tokens, ex.weights))
    what = ("Attention-pooling weight" if ex.method == "attention"
            else "Occlusion: how much the label's log-odds drop without each token")
    out_console.print(f"{what}, sentence 3 (bertkit classify predict --explain):\n  {weights}")


QA_CONTEXT = (
    "The Amazon River in South America is the largest river by discharge volume of water in the world. "
    "It flows through Peru, Colombia and Brazil and empties into the Atlantic Ocean. "
    "The first European to travel its length was Francisco de Orellana, in 1542."
)
QA_QUESTIONS = [
    "Who was the first European to travel the Amazon?",
    "When did Orellana travel the river?",
    "Which countries does the Amazon flow through?",
    "How many people live in Brazil?",
]


def tour_qa(model: Optional[str]) -> None:
    from bertkit.qa import answer_questions, load_qa_model

    out_console.rule("[bold]4. Question answering")
    qa, config = load_qa_model(None)  # the shipped model is built on the packaged encoder; --model does not apply
    out_console.print(
        "The shipped QA model (all-MiniLM-L6-v2 + span head, trained on SQuAD 2.0), as in bertkit qa ask. "
        f"It says 'no answer' when the null score beats the best span by more than its threshold ({config.null_threshold:.2f}, "
        f"chosen on held-out SQuAD 2.0 questions, half of them unanswerable: it abstains often; on text that usually holds "
        f"the answer pass --null-threshold 0). Context:\n  {QA_CONTEXT}"
    )
    preds = answer_questions(qa, config, QA_QUESTIONS, [QA_CONTEXT] * len(QA_QUESTIONS), null_threshold=math.inf)
    table = Table()
    for column in ("question", "best span", "probability", "null odds", "answer"):
        table.add_column(column, justify="left" if column in ("question", "best span", "answer") else "right")
    for question, d in zip(QA_QUESTIONS, preds.decoded):
        span = d.answer  # the best span (every question is decoded with an infinite threshold)
        odds = d.null_score - d.best_span_score if d.best_span_score is not None else math.inf
        verdict = "(no answer)" if span is None or odds > config.null_threshold else span.text
        cells = (span.text, f"{span.probability:.2f}") if span is not None else ("", "")
        table.add_row(question, *cells, f"{odds:.2f}", verdict)
    out_console.print(table)


SECTIONS = [tour_embeddings, tour_inspect, tour_classification, tour_qa]


def tour_command(model: Optional[str] = ModelOpt) -> None:
    """A short tour of bertkit's jobs on the default model (or --model)."""
    import numpy as np

    with np.printoptions(precision=3, suppress=True):  # restored after: no process-wide state
        for section in SECTIONS:
            section(model)
