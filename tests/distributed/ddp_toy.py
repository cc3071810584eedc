"""Run by test_torchrun.py (under torchrun, or alone): train the toy model with the shared Trainer.

    ddp_toy.py OUT [--merge K] [--fail-at N] [--resume]

``--merge K`` joins K consecutive batches into one (a single process seeing what K ranks see
in one step); ``--fail-at N`` exits every process at its N-th loss call, like a kill.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import TinyModel, make_data  # noqa: E402

from bertkit.training import TrainConfig, Trainer, grouped_batches, save_weights  # noqa: E402


def build(merge: int = 1, fail_at: int | None = None):
    torch.manual_seed(0)
    model = TinyModel()
    model.dropout.p = 0.0  # no randomness: one process and N ranks must agree to rounding
    ids, labels = make_data(64)
    calls = {"n": 0}

    def batches(epoch):
        b = grouped_batches([5] * len(ids), 4, seed=7, epoch=epoch)
        return [sum(b[i : i + merge], []) for i in range(0, len(b), merge)]

    def loss_fn(m, idx):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            os._exit(3)
        return F.cross_entropy(m(ids[idx]), labels[idx])

    def evaluate(m):
        return {"accuracy": (m(ids).argmax(-1) == labels).float().mean().item()}

    config = TrainConfig(epochs=3, lr=1e-2, seed=3, checkpoint_every=2)
    return model, batches, loss_fn, evaluate, config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--merge", type=int, default=1)
    parser.add_argument("--fail-at", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, batches, loss_fn, evaluate, config = build(args.merge, args.fail_at)
    result = Trainer(model, batches, loss_fn, evaluate, config, out_dir=args.out).fit(resume=args.resume)
    rank = int(os.environ.get("RANK", 0))
    save_weights(model, args.out / f"final-{rank}.safetensors")  # every rank: all must end equal
    if rank == 0:
        (args.out / "result.json").write_text(json.dumps({
            "steps": result.steps, "examples": result.examples, "resumed_at": result.resumed_at,
            "history": result.history, "world_size": result.extra["world_size"],
        }))


if __name__ == "__main__":
    main()
