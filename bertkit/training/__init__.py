"""Generic training machinery shared by classification and QA: optimizer and schedule,
checkpoints and resume, the Trainer loop, seeded length-grouped batches, curves."""

from bertkit.training.batches import grouped_batches
from bertkit.training.checkpoint import TrainState, find_checkpoint, load_checkpoint, load_weights, save_checkpoint, save_weights
from bertkit.training.loop import TrainConfig, Trainer, TrainResult, freeze_prefix
from bertkit.training.optim import build_optimizer, build_param_groups, layer_depth, linear_schedule
from bertkit.training.plots import plot_training_curves
from bertkit.training.seed import epoch_rng, seed_everything

__all__ = [
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
