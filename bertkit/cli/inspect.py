"""``bertkit inspect``: what a model is made of and what it sees."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from bertkit.cli.options import JsonOpt, ModelOpt, out_console
from bertkit.errors import UsageError
from bertkit.modeldir.paths import DEFAULT_MODEL_NAME


def _fmt(n: int) -> str:
    return f"{n:,}"


def inspect_command(
    model: Optional[str] = ModelOpt,
    text: Optional[str] = typer.Option(None, "--text", help="Show how this text is tokenized."),
    pair: Optional[str] = typer.Option(None, "--pair", help="A second segment: [CLS] text [SEP] pair [SEP]."),
    depth: int = typer.Option(3, "--depth", min=1, max=8, help="Module tree depth."),
    as_json: bool = JsonOpt,
) -> None:
    """Show a model's parts (embedding tables, layers, parameter counts) and its view of a text."""
    if pair is not None and text is None:
        raise UsageError("--pair needs --text (the first segment)")
    from bertkit.encoder.loading import load_model
    from bertkit.inspection import describe_model, token_table

    loaded = load_model(model)
    anatomy = describe_model(loaded.model, max_depth=depth)
    rows = []
    if text is not None:
        rows = token_table(loaded.tokenizer, text, pair, max_length=loaded.max_length, config=loaded.model.config,
                           position_offset=anatomy.position_offset)
    if as_json:
        result = {"model": str(loaded.path), "has_pooler": loaded.has_pooler, "max_length": loaded.max_length, **anatomy.to_dict()}
        if text is not None:
            result["tokens"] = [r.to_dict() for r in rows]
        out_console.print_json(json.dumps(result))
        return

    label = f"{DEFAULT_MODEL_NAME} (packaged)" if model is None else loaded.path.name
    out_console.print(f"[bold]{escape(label)}[/bold]  {escape(str(loaded.path))}")
    out_console.print(
        f"{anatomy.architecture} ({anatomy.model_type}): {anatomy.num_layers} layers, hidden {anatomy.hidden_size}, "
        f"{anatomy.num_heads} heads, feed-forward {anatomy.intermediate_size}, max length {loaded.max_length}; "
        f"{_fmt(anatomy.total_params)} parameters, {_fmt(anatomy.trainable_params)} trainable; "
        f"pooler: {'yes (trained)' if loaded.has_pooler else 'none'}"
    )
    token_types = "none" if not anatomy.token_types else f"{anatomy.token_types} (type_vocab_size)"
    out_console.print(f"positions: {anatomy.positions}; token types: {token_types}")
    for note in anatomy.notes:
        out_console.print(f"- {escape(note)}")
    table = Table(title=escape(f"Embedding layer: {anatomy.embedding_summary}"))
    for col in ("part", "role", "shape", "parameters", "trainable"):
        table.add_column(col, justify="right" if col == "parameters" else "left", overflow="fold")
    for e in anatomy.embeddings:
        table.add_row(e.name, e.role, " x ".join(map(str, e.shape)), _fmt(e.params), "yes" if e.trainable else "no")
    out_console.print(table)

    tree = Tree(f"{anatomy.architecture}  {_fmt(anatomy.tree.params)}")

    def add(node, branch):
        for child in node.children:
            frozen = "" if child.trainable == child.params else f"  ({_fmt(child.trainable)} trainable)"
            add(child, branch.add(f"{child.name.split('.')[-1]}: {child.kind}  {_fmt(child.params)}{frozen}"))

    add(anatomy.tree, tree)
    out_console.print(tree)

    if rows:
        out_console.print(_token_view(rows, anatomy))


def _token_view(rows, anatomy) -> Table:
    """The "What the model sees" table: a type column only for a model with token types, the
    position column named by how positions enter (learned table, rotary, relative)."""
    position = "position" if anatomy.positions in ("learned", "sinusoidal") else f"position ({anatomy.positions})"
    columns = ["#", "token", "id", *(["type"] if anatomy.token_types else []), position, "mask", "chars"]
    tok = Table(title="What the model sees" + ("" if anatomy.token_types else " (no token types: segments split by the separators)"))
    for col in columns:
        tok.add_column(col)
    for r in rows:
        chars = "" if r.span is None else f"{r.span[0]}-{r.span[1]}"
        types = [str(r.token_type)] if anatomy.token_types else []
        tok.add_row(str(r.index), escape(r.token), str(r.id), *types, str(r.position), str(r.mask), chars)
    return tok
