"""Ray resumes never mix old and new data: a finished shard is trusted only when its key, the
sha256 of the task's options and the shard's input rows, matches; rows edited to the same
length with the file's mtime kept are recomputed."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bertkit.distributed.job import _complete, shard_key, write_shard
from bertkit.distributed.sources import plan_shards, read_shard


def _write(path, texts):
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")


def test_a_shard_is_complete_only_for_the_rows_and_options_it_was_made_from(tmp_path):
    source = tmp_path / "in.txt"
    _write(source, ["alpha one", "beta two", "gamma three"])
    plan = plan_shards(str(source), ["text"], 2)
    shard = plan.shards[0]
    options = {"task": "embed", "pooling": "mean"}
    key = shard_key(options, read_shard(plan, shard))
    out = tmp_path / "out"
    out.mkdir()
    write_shard(out, shard, {"vector": np.zeros((2, 3), dtype=np.float32)}, key)
    assert _complete(out, shard, key)
    assert not _complete(out, shard, shard_key({**options, "pooling": "max"}, read_shard(plan, shard)))

    stat = source.stat()
    _write(source, ["alpha ONE", "beta two", "gamma three"])  # same length, mtime put back
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replan = plan_shards(str(source), ["text"], 2)
    assert replan.fingerprint() == plan.fingerprint()  # what the former check looked at: unchanged
    assert not _complete(out, replan.shards[0], shard_key(options, read_shard(replan, replan.shards[0])))


def test_keys_separate_values_and_columns():
    assert shard_key({}, {"text": ["ab", "c"]}) != shard_key({}, {"text": ["a", "bc"]})
    assert shard_key({}, {"a": ["x"], "b": ["y"]}) != shard_key({}, {"a": ["y"], "b": ["x"]})


@pytest.mark.slow  # a local Ray
def test_ray_rerun_recomputes_edited_rows(ray_local, tiny_bert, tmp_path, capsys):
    import bertkit
    from bertkit.cli.app import main
    from bertkit.distributed import read_output

    texts = [f"row {i} about cats" for i in range(30)]
    source = tmp_path / "in.txt"
    _write(source, texts)
    out = tmp_path / "out"
    argv = ["embed", str(source), "-o", str(out), "--engine", "ray", "--model", str(tiny_bert), "--shard-rows", "10",
            "--workers", "1", "--backend", "torch", "--dtype", "fp32"]
    assert main(argv) == 0
    capsys.readouterr()
    stat = source.stat()
    edited = list(texts)
    edited[3], edited[4] = "row 3 about dogs", "row 4 about owls"  # same lengths
    _write(source, edited)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert main(argv) == 0
    assert "(2 already complete, skipped)" in capsys.readouterr().err  # shard 0 recomputed, 1 and 2 kept
    vectors = np.asarray(read_output(out)["vector"].to_pylist(), dtype=np.float32)
    reference = bertkit.Embedder(str(tiny_bert), backend="torch", dtype="fp32", device="cpu").embed(edited)
    assert np.abs(vectors - reference).max() < 1e-4

    _write(source, edited[:15])  # fewer rows now: no shard of the longer input is left over
    assert main(argv) == 0
    assert read_output(out).num_rows == 15
