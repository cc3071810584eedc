"""``bertkit inspect`` describes each architecture as it is: its tables, how positions enter,
whether token types exist (tiny random models of every family, tests/tiny_archs.py)."""

from __future__ import annotations

import json

import pytest
from tiny_archs import ARCHS

from bertkit.cli.app import main
from bertkit.encoder import load_model
from bertkit.inspection import describe_model, token_table

# arch -> (roles of its input parts, positions, token-type rows, position offset, words in its summary)
EXPECTED = {
    "bert": (["word", "position", "token type", "layer norm"], "learned", 2, 0, ["three learned tables"]),
    "distilbert": (["word", "position", "layer norm"], "learned", 0, 0, ["two learned tables", "no token types"]),
    "roberta": (["word", "token type", "layer norm", "position"], "learned", 1, 2, ["ids from 2", "one row"]),
    "electra": (["word", "position", "token type", "layer norm", "projection"], "learned", 2, 0, ["of size 16", "projection to 32"]),
    "albert": (["word", "position", "token type", "layer norm", "projection"], "learned", 2, 0, ["of size 16", "projection to 32"]),
    "deberta-v2": (["word", "layer norm", "relative position", "relative norm"], "relative", 0, 0,
                   ["word table alone", "relative positions", "no token types"]),
    "modernbert": (["word", "layer norm"], "rotary", 0, 0, ["word table alone", "rotary", "no token types"]),
}


@pytest.mark.parametrize("arch", ARCHS)
def test_anatomy_of_each_architecture(tiny_arch, arch):
    roles, positions, types, offset, words = EXPECTED[arch]
    anatomy = describe_model(load_model(tiny_arch(arch)).model)
    assert [e.role for e in anatomy.embeddings] == roles
    assert (anatomy.positions, anatomy.token_types, anatomy.position_offset) == (positions, types, offset)
    assert "three learned tables" not in anatomy.embedding_summary or arch in ("bert", "roberta", "electra", "albert")
    for word in words:
        assert word in anatomy.embedding_summary, (arch, anatomy.embedding_summary)
    assert anatomy.total_params == anatomy.tree.params == sum(c.params for c in anatomy.tree.children)


def test_architecture_notes(tiny_arch):
    notes = {arch: describe_model(load_model(tiny_arch(arch)).model).notes for arch in ("albert", "modernbert", "deberta-v2", "bert")}
    assert "share 1 set(s) of weights" in notes["albert"][0]
    assert "local attention (window 16)" in notes["modernbert"][0]
    assert "disentangled attention" in notes["deberta-v2"][0]
    assert notes["bert"] == []


@pytest.mark.parametrize("arch", ARCHS)
def test_token_types_only_where_the_model_has_them(tiny_arch, arch):
    loaded = load_model(tiny_arch(arch))
    rows = token_table(loaded.tokenizer, "Who wrote it?", "Tolstoy.", config=loaded.model.config)
    types = [r.token_type for r in rows]
    if EXPECTED[arch][2] == 0:  # DeBERTa-v3's tokenizer makes 0/1 ids, which its model ignores
        assert types == [None] * len(rows)
    elif "token_type_ids" not in loaded.tokenizer.model_input_names:
        # RoBERTa (one row) and ALBERT (transformers 5's AlbertTokenizer feeds no token types): zeros, as transformers runs it
        assert arch in ("roberta", "albert") and types == [0] * len(rows)
    else:
        assert set(types) == {0, 1} and types[0] == 0 and types[-1] == 1
    assert [r.position for r in rows] == [i + EXPECTED[arch][3] for i in range(len(rows))]


@pytest.mark.parametrize("arch", ARCHS)
def test_inspect_json(tiny_arch, arch, capsys):
    assert main(["inspect", "--model", str(tiny_arch(arch)), "--json", "--text", "Who wrote it?", "--pair", "Tolstoy."]) == 0
    data = json.loads(capsys.readouterr().out)
    roles, positions, types, offset, _ = EXPECTED[arch]
    assert (data["positions"], data["token_types"], data["position_offset"]) == (positions, types, offset)
    assert [e["role"] for e in data["embeddings"]] == roles
    assert (data["tokens"][0]["token_type"] is None) == (types == 0)


@pytest.mark.parametrize(("arch", "header", "absent"), [
    ("bert", "│ type │ position │", "no token types"),
    ("distilbert", "│ position │", "│ type │"),
    ("deberta-v2", "│ position (relative) │", "│ type │"),
    ("modernbert", "│ position (rotary) │", "│ type │"),
])
def test_inspect_text(tiny_arch, arch, header, absent, capsys):
    assert main(["inspect", "--model", str(tiny_arch(arch)), "--text", "Who wrote it?", "--pair", "Tolstoy.", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(header in " ".join(line.split()).replace("┃", "│") for line in lines), out
    assert absent not in out.replace("┃", "│").replace("  ", " ")
    assert f"positions: {EXPECTED[arch][1]}" in out
    if EXPECTED[arch][2] == 0:
        assert "What the model sees (no token types" in out and "the sum of three" not in out
