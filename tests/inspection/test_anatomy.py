from bertkit.encoder import load_model
from bertkit.inspection import describe_model, token_table


def test_counts_add_up_and_freezing_shows(tiny_bert):
    loaded = load_model(tiny_bert)
    model = loaded.model
    for p in model.embeddings.position_embeddings.parameters():
        p.requires_grad = False
    a = describe_model(model)
    assert a.total_params == sum(p.numel() for p in model.parameters())
    assert a.trainable_params == a.total_params - 64 * 32
    assert a.tree.params == sum(c.params for c in a.tree.children)
    position = next(e for e in a.embeddings if e.role == "position")
    assert position.shape == [64, 32] and not position.trainable
    assert next(e for e in a.embeddings if e.role == "token type").trainable


def test_token_table_for_a_pair(tiny_bert):
    loaded = load_model(tiny_bert)
    rows = token_table(loaded.tokenizer, "Hi there", "General Kenobi")
    assert [r.token for r in rows] == ["[CLS]", "hi", "there", "[SEP]", "general", "ken", "##ob", "##i", "[SEP]"]
    assert [r.token_type for r in rows] == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert rows[1].span == (0, 2) and rows[0].span is None and rows[0].special
    assert all(r.mask == 1 for r in rows)
