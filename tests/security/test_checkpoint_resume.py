"""A damaged checkpoint or a resume with other arguments: one line naming the file or the differences."""

from __future__ import annotations

import json
import stat

import pytest
import torch
from torch import nn

from bertkit.training import TrainConfig, Trainer
from bertkit.training.checkpoint import CheckpointError, save_weights


class Stop(Exception):
    pass


def _run(out, *, fail_at=None, resume=False, lr=1e-2, resume_args=None):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    calls = {"n": 0}

    def loss_fn(m, idx):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            raise Stop()
        return nn.functional.cross_entropy(m(x[idx]), y[idx])

    config = TrainConfig(epochs=2, lr=lr, seed=1, checkpoint_every=1, encoder_prefix="none.", resume_args=resume_args or {})
    trainer = Trainer(model, lambda epoch: [list(range(i, i + 8)) for i in range(0, 32, 8)], loss_fn, None, config, out_dir=out)
    return trainer.fit(resume=resume)


@pytest.fixture
def killed_run(tmp_path):
    """A run stopped mid-epoch, leaving OUT/checkpoint."""
    with pytest.raises(Stop):
        _run(tmp_path, fail_at=3, resume_args={"train_layers": 2, "base": "tiny"})
    assert (tmp_path / "checkpoint" / "state.json").is_file()
    return tmp_path


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "state.json"])
def test_truncated_checkpoint_names_the_file(killed_run, name):
    file = killed_run / "checkpoint" / name
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        _run(killed_run, resume=True, resume_args={"train_layers": 2, "base": "tiny"})
    message = str(info.value)
    assert str(file) in message and "without --resume to start over" in message
    assert "\n" not in message


def test_resume_with_changed_arguments_refused(killed_run):
    with pytest.raises(CheckpointError) as info:
        _run(killed_run, resume=True, lr=5e-3, resume_args={"train_layers": 3, "base": "tiny"})
    message = str(info.value)
    assert "train_layers 2 -> 3" in message and "lr 0.01 -> 0.005" in message and "base" not in message


def test_resume_with_same_arguments_continues(killed_run):
    result = _run(killed_run, resume=True, resume_args={"train_layers": 2, "base": "tiny"})
    assert result.resumed_at is not None and result.steps == 8


def test_old_checkpoint_without_arguments_still_resumes(killed_run):
    state = killed_run / "checkpoint" / "state.json"
    meta = json.loads(state.read_text())
    meta["state"]["extra"].pop("args")
    state.write_text(json.dumps(meta))
    assert _run(killed_run, resume=True, lr=5e-3).resumed_at is not None


def test_checkpoint_cli_message_is_one_line(killed_run, capsys):
    """What the CLI prints for a CheckpointError (a BertkitError): one line, exit 2."""
    from bertkit.cli import app as cli_app

    (killed_run / "checkpoint" / "model.safetensors").write_bytes(b"\x00" * 5)

    def train_command():
        _run(killed_run, resume=True, resume_args={"train_layers": 2, "base": "tiny"})

    cli_app.app.command("h1-resume-probe")(train_command)
    try:
        code = cli_app.main(["h1-resume-probe"])
    finally:
        cli_app.app.registered_commands.pop()
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "model.safetensors" in err


def test_weight_files_are_world_readable(tmp_path):
    """head.safetensors and friends: the mode a plain open() gives (0644 under umask 022), not 0600."""
    from bertkit.io.atomic import FILE_MODE

    save_weights(nn.Linear(2, 2), tmp_path / "head.safetensors")
    assert stat.S_IMODE((tmp_path / "head.safetensors").stat().st_mode) == FILE_MODE
    assert FILE_MODE & 0o044  # readable by group/others under the usual umask


def test_lora_adapters_are_world_readable(tmp_path, tiny_encoder):
    import copy

    from bertkit.classification.lora import add_lora, save_lora
    from bertkit.io.atomic import FILE_MODE

    encoder = copy.copy(tiny_encoder)
    encoder.model = copy.deepcopy(tiny_encoder.model)
    save_lora(add_lora(encoder, rank=2), tmp_path / "adapter")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "adapter").iterdir()}
    assert modes and all(m == FILE_MODE for m in modes.values()), modes


def test_every_model_directory_file_is_world_readable(tmp_path):
    """finish_writing (the last step of saving any model directory) fixes 0600 files from libraries."""
    import os

    from bertkit.engine.onnx_export import ExportInfo
    from bertkit.io.atomic import FILE_MODE
    from bertkit.modeldir import finish_writing

    (tmp_path / "model.onnx").write_bytes(b"graph")
    os.chmod(tmp_path / "model.onnx", 0o600)
    info = ExportInfo(kind="embedding", model_file="model.onnx", dtype="fp32", inputs=["input_ids"], outputs=["vector"],
                      max_length=8, content_hash="abc", optimized=False)
    finish_writing(tmp_path, info)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert all(m == FILE_MODE for m in modes.values()), modes
