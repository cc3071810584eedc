import pytest
import torch

from bertkit.training import TrainConfig, Trainer, grouped_batches
from training_helpers import TinyModel, make_data


class Interrupt(Exception):
    pass


def _setup(seed_model=0, fail_at=None, epochs=3, **cfg):
    torch.manual_seed(seed_model)
    model = TinyModel()
    ids, labels = make_data()
    lengths = [5] * len(ids)
    calls = {"n": 0}

    def batches(epoch):
        return grouped_batches(lengths, 8, seed=7, epoch=epoch)

    def loss_fn(m, idx):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            raise Interrupt()
        return torch.nn.functional.cross_entropy(m(ids[idx]), labels[idx])

    def evaluate(m):
        return {"accuracy": (m(ids).argmax(-1) == labels).float().mean().item()}

    config = TrainConfig(epochs=epochs, lr=1e-2, seed=3, checkpoint_every=2, **cfg)
    return model, batches, loss_fn, evaluate, config


def test_fit_learns_and_records_history(tmp_path):
    model, batches, loss_fn, evaluate, config = _setup(epochs=8)
    result = Trainer(model, batches, loss_fn, evaluate, config, out_dir=tmp_path).fit()
    assert len(result.history) == 8
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best_metric == max(h["accuracy"] for h in result.history)
    assert (tmp_path / "history.json").is_file()
    assert not (tmp_path / "checkpoint").exists()  # removed after a finished run


def test_resume_after_interrupt_matches_uninterrupted_run(tmp_path):
    model, batches, loss_fn, evaluate, config = _setup()
    Trainer(model, batches, loss_fn, evaluate, config, out_dir=tmp_path / "a").fit()
    reference = {k: v.clone() for k, v in model.state_dict().items()}

    # Killed mid-epoch 2 (6 batches per epoch; step 9 fails, the last checkpoint is at step 8).
    model, batches, loss_fn, evaluate, config = _setup(fail_at=9)
    with pytest.raises(Interrupt):
        Trainer(model, batches, loss_fn, evaluate, config, out_dir=tmp_path / "b").fit()
    assert (tmp_path / "b" / "checkpoint" / "state.json").is_file()

    model, batches, loss_fn, evaluate, config = _setup(seed_model=99)  # different init: all must come from the checkpoint
    result = Trainer(model, batches, loss_fn, evaluate, config, out_dir=tmp_path / "b").fit(resume=True)
    assert result.resumed_at == (1, 2)
    assert len(result.history) == 3
    for k, v in model.state_dict().items():
        assert torch.equal(v, reference[k]), k


def test_freeze_epochs_keep_encoder_unchanged(tmp_path):
    model, batches, loss_fn, evaluate, config = _setup(epochs=2, freeze_epochs=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Trainer(model, batches, loss_fn, None, config).fit()
    after = model.state_dict()
    for k in before:
        if k.startswith("encoder."):
            assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again at the end


def test_unfreezes_after_freeze_epochs():
    model, batches, loss_fn, evaluate, config = _setup(epochs=2, freeze_epochs=1)
    before = model.encoder["layer"][0][0].weight.clone()
    result = Trainer(model, batches, loss_fn, evaluate, config).fit()
    assert [h["frozen"] for h in result.history] == [True, False]
    assert not torch.equal(before, model.encoder["layer"][0][0].weight)


def test_early_stopping_and_best_weights_restored(tmp_path):
    model, batches, loss_fn, _, config = _setup(epochs=6, patience=1)
    scores = iter([0.5, 0.7, 0.6, 0.9, 0.9, 0.9])
    snapshots = []

    def evaluate(m):
        snapshots.append(m.head.weight.detach().clone())
        return {"accuracy": next(scores)}

    result = Trainer(model, batches, loss_fn, evaluate, config, out_dir=tmp_path).fit()
    assert result.stopped_early and len(result.history) == 3
    assert result.best_epoch == 2
    assert torch.equal(model.head.weight, snapshots[1])


def test_bf16_autocast_runs():
    model, batches, loss_fn, evaluate, config = _setup(epochs=1, dtype="bf16")
    result = Trainer(model, batches, loss_fn, evaluate, config).fit()
    assert result.steps == 6 and result.history[0]["train_loss"] > 0


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="freeze_epochs"):
        TrainConfig(epochs=1, freeze_epochs=2)
    with pytest.raises(ValueError, match="dtype"):
        TrainConfig(dtype="fp8")


def test_default_freeze_hook_keeps_deliberately_frozen_parameters_frozen():
    import torch.nn as nn

    from bertkit.training.loop import freeze_prefix

    model = nn.Module()
    model.encoder = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model.head = nn.Linear(2, 1)
    model.encoder[0].weight.requires_grad_(False)  # the caller froze this on purpose
    hook = freeze_prefix("encoder.")
    hook(model, True)
    assert not any(p.requires_grad for p in model.encoder.parameters()) and model.head.weight.requires_grad
    hook(model, False)
    assert not model.encoder[0].weight.requires_grad
    assert model.encoder[0].bias.requires_grad and model.encoder[1].weight.requires_grad


def test_progress_lines_for_logs_without_a_bar(tmp_path):
    model, batches, loss_fn, evaluate, config = _setup(epochs=1)
    lines: list[str] = []
    Trainer(model, batches, loss_fn, evaluate, config, log=lines.append, log_every=0.0).fit()
    progress = [line for line in lines if " steps, train loss " in line]
    # 6 batches per epoch: a line after steps 1..5 (the epoch's end has its own line)
    assert [line.split(": ")[1].split(" ")[0] for line in progress] == [f"{i}/6" for i in range(1, 6)]
    assert all(line.startswith("epoch 1/1: ") and "min left in the epoch" in line for line in progress)


def test_no_progress_lines_with_a_bar_or_when_off(tmp_path):
    for kwargs in ({"progress": True, "log_every": 0.0}, {"log_every": None}):
        model, batches, loss_fn, evaluate, config = _setup(epochs=1)
        lines: list[str] = []
        Trainer(model, batches, loss_fn, evaluate, config, log=lines.append, **kwargs).fit()
        assert not [line for line in lines if " steps, train loss " in line]
