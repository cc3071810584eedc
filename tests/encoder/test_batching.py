import torch

from bertkit.encoder.batching import length_sorted_batches, pad_batch


def test_batches_cover_every_index_once_sorted_by_length():
    lengths = [5, 1, 9, 3, 9, 2, 7]
    batches = length_sorted_batches(lengths, 3)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert all(len(b) <= 3 for b in batches)


def test_token_budget_bounds_padded_tokens():
    lengths = [10, 10, 10, 4, 4, 4, 4, 4, 100]
    batches = length_sorted_batches(lengths, 64, max_tokens=20)
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 20 or len(b) == 1
    assert [8] in batches  # an item over the budget still gets its own batch


def test_pad_batch_right_pads():
    feats = [{"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1]}, {"input_ids": [4], "attention_mask": [1]}]
    out = pad_batch(feats, pad_token_id=0, keys=["input_ids", "attention_mask"])
    assert out["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert out["input_ids"].dtype == torch.int64


def test_pad_batch_rounds_the_width_up_to_a_multiple_within_the_cap():
    from bertkit.encoder.batching import pad_batch

    feats = [{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1]}, {"input_ids": [5], "attention_mask": [1]}]
    plain = pad_batch(feats, 0, ["input_ids", "attention_mask"])
    wide = pad_batch(feats, 0, ["input_ids", "attention_mask"], multiple=16, cap=10)
    assert plain["input_ids"].shape == (2, 3) and wide["input_ids"].shape == (2, 10)
    assert (wide["input_ids"][:, :3] == plain["input_ids"]).all() and wide["attention_mask"][:, 3:].sum() == 0
    assert pad_batch(feats, 0, ["input_ids"], multiple=16, cap=64)["input_ids"].shape == (2, 16)
