"""The typed parts of the training options: each checks itself and names the parameter, the
mode's defaults are filled in without touching the caller's object, and the flat record that
model directories and checkpoints keep is the same as before the split."""

from __future__ import annotations

import pytest

from bertkit.classification import ClassifyData, HeadOptions, RunOptions
from bertkit.classification.options import FLAT_ORDER, flat_args, option_flags
from bertkit.cli.options import flags_for
from bertkit.errors import ParameterError, UsageError


@pytest.mark.parametrize("build, param", [
    (lambda: ClassifyData(train="t", max_train=1), "max_train"),
    (lambda: ClassifyData(train="t", label_names="0:neg"), "label_names"),
    (lambda: ClassifyData(train="t", dev="d", dev_split=0.2), "dev"),
    (lambda: HeadOptions(dropout=1.0), "dropout"),
    (lambda: HeadOptions(lora=-1), "lora"),
    (lambda: HeadOptions(train_layers=-1), "train_layers"),
    (lambda: HeadOptions(mode="features", train_layers=2), "train_layers"),
    (lambda: HeadOptions(lora=4, delta="int8"), "delta"),
    (lambda: RunOptions(epochs=0), "epochs"),
    (lambda: RunOptions(lr=0.0), "lr"),
    (lambda: RunOptions(batch_size=0), "batch_size"),
    (lambda: RunOptions(epochs=1, freeze_epochs=2), "freeze_epochs"),
    (lambda: RunOptions(layer_lr_decay=0.0), "layer_lr_decay"),
    (lambda: RunOptions(patience=-1), "patience"),  # 0 is valid: no early stopping
    (lambda: RunOptions(freeze_epochs=1).for_head(HeadOptions(mode="features")), "mode"),
])
def test_each_part_names_the_bad_parameter(build, param):
    with pytest.raises(ParameterError) as info:
        build()
    assert info.value.param == param and param in str(info.value)
    with pytest.raises(UsageError) as mapped, flags_for(**option_flags()):  # the CLI names its flag instead
        build()
    assert option_flags()[param] in str(mapped.value)


def test_mode_defaults_fill_a_copy():
    run = RunOptions(seed=3)
    finetune, features = run.for_head(HeadOptions()), run.for_head(HeadOptions(mode="features"))
    assert (finetune.epochs, finetune.lr, finetune.batch_size) == (3, 3e-5, 32)
    assert (features.epochs, features.lr, features.batch_size) == (30, 1e-3, 128)
    assert run.for_head(HeadOptions(lora=8)).lr == 5e-4
    assert run.epochs is None and run.lr is None  # the caller's object is untouched
    assert RunOptions(epochs=5).for_head(HeadOptions(mode="features")).epochs == 5
    config = finetune.train_config(metric="accuracy", num_layers=6)
    assert (config.epochs, config.lr, config.seed, config.patience, config.num_layers) == (3, 3e-5, 3, 2, 6)
    with pytest.raises(UsageError, match="for_head"):
        run.train_config()


def test_flat_record_keeps_the_former_fields_and_order():
    head = HeadOptions(mode="features", head="mlp")
    args = flat_args(ClassifyData(train="t.csv"), head, RunOptions().for_head(head), out="m", model=None)
    assert tuple(args) == FLAT_ORDER and len(FLAT_ORDER) == 38  # 36 before train_layers and delta
    assert args["dev_split"] == 0.1 and args["hidden"] == 256 and args["epochs"] == 30 and args["out"] == "m"
