import pytest
import torch

from bertkit.training import build_param_groups, grouped_batches, layer_depth, linear_schedule
from training_helpers import TinyModel


def test_layer_depth():
    assert layer_depth("encoder.embeddings.word_embeddings.weight", 6) == 0
    assert layer_depth("encoder.encoder.layer.0.attention.self.query.weight", 6) == 1
    assert layer_depth("encoder.encoder.layer.5.output.dense.bias", 6) == 6
    assert layer_depth("head.weight", 6) is None


def test_param_groups_decay_exclusions_and_layer_decay():
    model = TinyModel()
    groups = build_param_groups(model, lr=1.0, weight_decay=0.1, layer_lr_decay=0.5, num_layers=2)
    by_param = {id(p): g for g in groups for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert by_param[id(model.head.weight)]["lr"] == 1.0
    assert by_param[id(model.head.weight)]["weight_decay"] == 0.1
    assert by_param[id(model.head.bias)]["weight_decay"] == 0.0
    assert by_param[id(model.encoder["layer"][1][1].weight)]["weight_decay"] == 0.0  # LayerNorm
    assert by_param[id(model.encoder["layer"][1][0].weight)]["lr"] == 1.0  # top layer
    assert by_param[id(model.encoder["layer"][0][0].weight)]["lr"] == 0.5
    assert by_param[id(model.encoder["embeddings"].weight)]["lr"] == 0.25
    with pytest.raises(ValueError):
        build_param_groups(model, lr=1.0, weight_decay=0.0, layer_lr_decay=1.5)


def test_linear_schedule_warms_up_then_decays():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = linear_schedule(opt, warmup_steps=4, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    peak = lrs.index(max(lrs))
    assert peak == 4 and lrs[:5] == sorted(lrs[:5]) and lrs[4:] == sorted(lrs[4:], reverse=True)
    assert sched.get_last_lr()[0] == 0.0


def test_grouped_batches_seeded_and_complete():
    lengths = [(i * 7) % 23 + 1 for i in range(200)]
    a = grouped_batches(lengths, 16, seed=1, epoch=0, pool=4)
    assert a == grouped_batches(lengths, 16, seed=1, epoch=0, pool=4)
    assert a != grouped_batches(lengths, 16, seed=1, epoch=1, pool=4)
    assert sorted(i for b in a for i in b) == list(range(200))
    assert max(len(b) for b in a) == 16
