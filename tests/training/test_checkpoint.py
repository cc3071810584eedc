import json

import torch

from bertkit.training import TrainState, find_checkpoint, load_checkpoint, plot_training_curves, save_checkpoint
from bertkit.training.optim import build_optimizer, build_param_groups, linear_schedule
from training_helpers import TinyModel, make_data


def _trained():
    model = TinyModel()
    opt = build_optimizer(build_param_groups(model, lr=1e-2, weight_decay=0.01), 1e-2)
    sched = linear_schedule(opt, 2, 10)
    ids, labels = make_data()
    for _ in range(3):
        torch.nn.functional.cross_entropy(model(ids), labels).backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_checkpoint_roundtrip_without_pickle(tmp_path):
    model, opt, sched = _trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched, TrainState(epoch=1, step_in_epoch=2, best_metric=0.5))
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["model.safetensors", "optimizer.safetensors", "state.json"]
    json.loads((tmp_path / "ck" / "state.json").read_text())

    model2 = TinyModel()
    opt2 = build_optimizer(build_param_groups(model2, lr=1e-2, weight_decay=0.01), 1e-2)
    sched2 = linear_schedule(opt2, 2, 10)
    state = load_checkpoint(tmp_path / "ck", model2, opt2, sched2)
    assert (state.epoch, state.step_in_epoch, state.best_metric) == (1, 2, 0.5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, model2.state_dict()[k])
    s1, s2 = opt.state_dict(), opt2.state_dict()
    for idx in s1["state"]:
        for name, value in s1["state"][idx].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(s2["state"][idx][name]))
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_checkpoint_replaced_atomically(tmp_path):
    model, opt, sched = _trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched, TrainState(epoch=0))
    save_checkpoint(tmp_path / "ck", model, opt, sched, TrainState(epoch=1))
    assert find_checkpoint(tmp_path / "ck") == tmp_path / "ck"
    assert not any(p.name.endswith(".tmp") or p.name.endswith(".old") for p in tmp_path.iterdir())
    # A kill between the two renames leaves only the previous checkpoint as ck.old: it is found.
    (tmp_path / "ck").rename(tmp_path / "ck.old")
    assert find_checkpoint(tmp_path / "ck") == tmp_path / "ck.old"


def test_training_curves_png(tmp_path):
    history = [{"epoch": 1, "train_loss": 1.0, "accuracy": 0.5, "frozen": True}, {"epoch": 2, "train_loss": 0.5, "accuracy": 0.8, "frozen": False}]
    path = plot_training_curves(history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
