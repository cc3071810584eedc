"""Generic training machinery shared by every task: the one bundle of training arguments
(:class:`TrainArgs`), optimizer and schedule, checkpoints and resume, the Trainer loop,
seeded length-grouped batches, curves, the output directory's lock."""

from bertkit.training.args import TRAIN_FLAGS, TrainArgs
from bertkit.training.batches import grouped_batches
from bertkit.training.checkpoint import TrainState, find_checkpoint, load_checkpoint, load_weights, save_checkpoint, save_weights
from bertkit.training.loop import TrainConfig, Trainer, TrainResult, freeze_prefix
from bertkit.training.optim import build_optimizer, build_param_groups, layer_depth, linear_schedule
from bertkit.training.plots import plot_training_curves
from bertkit.training.seed import epoch_rng, seed_everything

__all__ = [
    "TrainArgs",
    "TRAIN_FLAGS",
    "grouped_batches",
    "TrainState",
    "find_checkpoint",
    "load_checkpoint",
    "load_weights",
    "save_checkpoint",
    "save_weights",
    "TrainConfig",
    "Trainer",
    "TrainResult",
    "freeze_prefix",
    "build_optimizer",
    "build_param_groups",
    "layer_depth",
    "linear_schedule",
    "plot_training_curves",
    "epoch_rng",
    "seed_everything",
]
