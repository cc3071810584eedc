"""``bertkit qa ask --index`` and ``bertkit qa evaluate --open``: questions over a collection
(retrieve with a :class:`bertkit.Index`, optionally rerank, then read)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from bertkit.cli.options import err_console, flags_for, out_console, runtime_note

__all__ = ["IndexOpt", "RerankOpt", "PassagesOpt", "ask_over_index", "evaluate_open_domain", "load_rerank"]

IndexOpt = typer.Option(None, "--index", help="Answer from this index directory (bertkit index build) instead of a context.")
RerankOpt = typer.Option(None, "--rerank", help="Rerank the retrieved passages with this reranker directory ('default': the shipped one).")
PassagesOpt = typer.Option(5, "--passages", min=1, help="Passages read per question (after reranking).")


def load_rerank(rerank: Optional[str], backend: str, dtype: str, device: str):
    """The reranker named by --rerank (None: none)."""
    if rerank is None:
        return None
    from bertkit.rerank import load_reranker

    with flags_for(dtype="--dtype"):
        return load_reranker(None if rerank == "default" else rerank, backend=backend, dtype=dtype, device=device)


def _open_index(index: Path):
    from bertkit.retrieval import Index

    return Index.load(index)


def ask_over_index(question: Optional[str], index: Path, rerank: Optional[str], passages: int, reader, *, null_threshold, batch_size: int,
                   backend: str, dtype: str, device: str, as_json: bool) -> None:
    """Retrieve, (rerank,) read: print the best answer with its passage and document."""
    from bertkit.errors import UsageError

    if not question:
        raise UsageError("--index needs a question (-q)")
    idx = _open_index(index)
    reranker = load_rerank(rerank, backend, dtype, device)
    with flags_for(passages="--passages"):
        answer = reader.answer([question], index=idx, rerank=reranker, passages=passages, null_threshold=null_threshold, batch_size=batch_size)[0]
    if as_json:
        out_console.print_json(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    if answer.no_answer:
        out_console.print(f"no answer in the {len(answer.passages)} passages read")
    else:
        out_console.print(f"[bold]{escape(answer.text)}[/bold]  (score {answer.score:.2f}; document {escape(answer.doc_id)}, "
                          f"characters {answer.start}-{answer.end}; passage {escape(answer.passage_id)})")
    for p in answer.passages:
        mark = "*" if p.passage_id == answer.passage_id else " "
        rr = f" rerank {p.rerank_score:.3f}" if p.rerank_score is not None else ""
        found = escape(p.answer) if p.answer is not None else "-"
        err_console.print(f"{mark} {escape(p.passage_id)}: search {p.retrieval_score:.3f}{rr}, span {p.score:.2f}: {found}")


def evaluate_open_domain(data: Path, reader, index: Optional[Path], rerank: Optional[str], passages: int, *, null_threshold, batch_size: int,
                         backend: str, dtype: str, device: str, as_json: bool) -> None:
    """Open-domain EM/F1 (each question asked of all the file's paragraphs) beside the score
    with each question's own paragraph given."""
    from bertkit.qa.open_domain import evaluate_open
    from bertkit.qa.squad import read_squad

    squad = read_squad(data)
    if index is not None:
        idx = _open_index(index)
    else:
        from bertkit.retrieval import Index

        contexts = list(dict.fromkeys(ex.context for ex in squad.examples))
        err_console.print(f"indexing the file's {len(contexts)} paragraphs")
        idx = Index.build(contexts, [f"p{i}" for i in range(len(contexts))])
    reranker = load_rerank(rerank, backend, dtype, device)
    with flags_for(passages="--passages"):
        open_metrics = evaluate_open(reader, squad, idx, rerank=reranker, passages=passages, null_threshold=null_threshold, batch_size=batch_size)
    gold = reader.evaluate(squad, null_threshold=null_threshold, batch_size=batch_size).metrics
    result = {"open": open_metrics, "gold_paragraph": {k: gold[k] for k in ("exact_match", "f1", "exact") if k in gold}}
    err_console.print(f"{open_metrics['questions']} questions; {runtime_note(reader.runtime)}" + (f"; reranked by {escape(str(rerank))}" if rerank else ""))
    if as_json:
        out_console.print_json(json.dumps(result))
        return
    g = result["gold_paragraph"]
    out_console.print(f"open domain ({passages} passages{', reranked' if rerank else ''}): EM {open_metrics['exact_match']:.2f}, F1 {open_metrics['f1']:.2f} "
                      f"(own paragraph read for {open_metrics['own_paragraph_read']:.1f}%)")
    out_console.print(f"own paragraph given: EM {g.get('exact_match', g.get('exact', float('nan'))):.2f}, F1 {g['f1']:.2f}")
