"""One bundle of training arguments: typed (pydantic), zero meaning zero (refused where it
makes no sense, never "the default"), every bad value named by field or flag, the same flags
on every train command, old spellings accepted with one notice."""

from __future__ import annotations

import pytest

from bertkit.cli.app import main
from bertkit.errors import ParameterError
from bertkit.qa.train import QATrainArgs
from bertkit.tagging.options import TagTrainOptions
from bertkit.training.args import TRAIN_FLAGS, TrainArgs


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs: must be >= 1, got 0"),
    ("lr", -1, "lr: must be > 0, got -1"),
    ("lr", float("nan"), "lr: must be a finite number"),
    ("batch_size", 0, "batch_size: must be >= 1, got 0"),
    ("warmup_ratio", 1.5, "warmup_ratio: must be <= 1, got 1.5"),
    ("weight_decay", -0.1, "weight_decay: must be >= 0"),
    ("layer_lr_decay", 0, "layer_lr_decay: must be > 0"),
    ("dtype", "bf8", "dtype: unknown value 'bf8'; valid options: fp32, bf16"),
    ("seed", "x", "seed: must be an integer"),
    ("checkpoint_every", -1, "checkpoint_every: must be >= 0"),
    ("no_such_option", 1, "no_such_option: unknown training argument"),
])
def test_bad_values_name_the_field(field, value, message):
    for cls, extra in ((TrainArgs, {}), (QATrainArgs, {}), (TagTrainOptions, {"train": "t", "out": "o"})):
        with pytest.raises(ParameterError) as info:
            cls(**extra, **{field: value})
        assert info.value.param == field and message in str(info.value), (cls, str(info.value))


def test_zero_means_zero_or_is_refused():
    tag = TagTrainOptions(train="t", out="o", dropout=0.0, patience=0)
    assert tag.dropout == 0.0 and tag.patience == 0 and tag.trainer_fields()["patience"] is None  # 0: no early stopping
    with pytest.raises(ParameterError, match="epochs: must be >= 1"):
        TagTrainOptions(train="t", out="o", epochs=0)  # was silently the mode's 20
    with pytest.raises(ParameterError, match="lr: must be > 0"):
        TagTrainOptions(train="t", out="o", lr=0.0)
    assert TrainArgs(max_grad_norm=0).with_defaults(epochs=1, lr=1e-3, batch_size=2).trainer_fields()["max_grad_norm"] is None


def test_defaults_fill_a_validated_copy():
    args = TrainArgs(seed=3)
    filled = args.with_defaults(epochs=4, lr=1e-3, batch_size=8, patience=2)
    assert args.epochs is None and (filled.epochs, filled.lr, filled.batch_size, filled.patience, filled.seed) == (4, 1e-3, 8, 2, 3)
    assert TrainArgs(epochs=7).with_defaults(epochs=4, lr=1e-3, batch_size=8).epochs == 7
    with pytest.raises(ParameterError, match="freeze_epochs"):
        TrainArgs(epochs=1, freeze_epochs=2)
    with pytest.raises(ParameterError, match="lr"):
        filled.lr = -1.0  # assignment is checked too
    assert QATrainArgs().epochs == 2 and QATrainArgs(limit=5).max_train == 5  # the former name of max_train


@pytest.mark.parametrize("command", [["classify", "train", "--train", "t.csv"], ["qa", "train", "--train", "/dev/null"],
                                     ["tag", "train", "--train", "t.conll"]])
@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "bertkit: error: --epochs: must be >= 1, got 0"),
    (["--lr", "-1"], "bertkit: error: --lr: must be > 0, got -1.0"),
    (["--batch-size", "0"], "bertkit: error: --batch-size: must be >= 1, got 0"),
    (["--warmup-ratio", "2"], "bertkit: error: --warmup-ratio: must be <= 1, got 2.0"),
    (["--dtype", "fp8"], "bertkit: error: --dtype: unknown value 'fp8'; valid options: fp32, bf16"),
])
def test_every_train_command_names_the_flag(command, flags, message, tmp_path, capsys):
    code = main([*command, "--out", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines()[-1] == message, err


def test_every_train_command_has_the_shared_flags(capsys):
    for command in (["classify", "train"], ["qa", "train"], ["tag", "train"]):
        main([*command, "--help"])
        text = capsys.readouterr().out
        for flag in ("--epochs", "--lr", "--batch-size", "--weight-decay", "--warmup-ratio", "--max-grad-norm", "--freeze-epochs",
                     "--layer-lr-decay", "--patience", "--dtype", "--seed", "--checkpoint-every", "--resume", "--max-train",
                     "--threads"):
            assert flag in text, (command, flag)
    assert set(TRAIN_FLAGS) >= {"epochs", "lr", "batch_size", "warmup_ratio", "resume"}


def test_old_qa_flags_are_accepted_with_one_notice(tmp_path, capsys):
    code = main(["qa", "train", "--train", "/dev/null", "--out", str(tmp_path / "o"), "--warmup", "0.2", "--limit", "3", "--epochs", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bertkit: warning: --warmup is deprecated; use --warmup-ratio" in err
    assert "bertkit: warning: --limit is deprecated; use --max-train" in err
    code = main(["qa", "train", "--train", "/dev/null", "--out", str(tmp_path / "o"), "--warmup", "0.2", "--warmup-ratio", "0.3"])
    assert code == 2 and "--warmup is the old name of --warmup-ratio; give --warmup-ratio only" in capsys.readouterr().err
