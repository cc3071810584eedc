from __future__ import annotations

import json

from bertkit.cli.app import main


def test_inspect_json_on_default_model(capsys):
    assert main(["inspect", "--json", "--text", "Who wrote it?", "--pair", "Tolstoy did."]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["num_layers"] == 6 and data["hidden_size"] == 384
    roles = {e["role"]: e for e in data["embeddings"]}
    assert roles["word"]["shape"] == [30522, 384]
    assert roles["position"]["shape"] == [512, 384] and roles["position"]["trainable"]
    assert roles["token type"]["shape"] == [2, 384] and roles["token type"]["trainable"]
    tokens = data["tokens"]
    assert tokens[0]["token"] == "[CLS]" and tokens[-1]["token"] == "[SEP]"
    seps = [t["index"] for t in tokens if t["token"] == "[SEP]"]
    assert all(t["token_type"] == (0 if t["index"] <= seps[0] else 1) for t in tokens)
    assert [t["position"] for t in tokens] == list(range(len(tokens)))


def test_inspect_tables(tiny_bert, capsys):
    assert main(["inspect", "--model", str(tiny_bert), "--text", "hello there"]) == 0
    out = capsys.readouterr().out
    for part in ("word_embeddings", "position_embeddings", "token_type_embeddings", "What the model sees", "[CLS]", "hello"):
        assert part in out


def test_inspect_errors(tmp_path, capsys):
    assert main(["inspect", "--pair", "x"]) == 2
    assert "--pair needs --text" in capsys.readouterr().err
    assert main(["inspect", "--model", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
