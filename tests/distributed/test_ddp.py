"""The DDP helpers without a process group: one process is world 1 and everything is a no-op."""

from bertkit.distributed.torchrun import torchrun_argv
from bertkit.training import ddp


def test_single_process_defaults(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = ddp.setup()
    assert (info.rank, info.world, info.main, info.active) == (0, 1, True, False)
    assert ddp.broadcast({"a": 1.5}, info) == {"a": 1.5} and ddp.all_sum(2.5, info) == 2.5
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not ddp.is_main() and ddp.current().world == 2


def test_each_step_takes_one_batch_per_rank_and_wraps():
    batches = list("abcde")
    assert ddp.steps_in(5, 2) == 3 and ddp.steps_in(4, 2) == 2 and ddp.steps_in(5, 1) == 5
    ranks = [ddp.Dist(r, 2) for r in range(2)]
    assert [[ddp.rank_batch(batches, s, info) for info in ranks] for s in range(3)] == [["a", "b"], ["c", "d"], ["e", "a"]]


def test_torchrun_command_line():
    argv = torchrun_argv(2, ["classify", "train", "--train", "t.csv"])
    assert argv[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "bertkit",
                        "classify", "train", "--train", "t.csv"]
