"""Ray Data in local mode: results equal the single-process path, shards resume, a killed
worker is survived. One local Ray (2 CPUs) is shared by the module."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import pytest

from bertkit.cli.app import main
from bertkit.distributed import EmbedTask, JobOptions, answer_dataset, embed_dataset, read_output, run_job

pytestmark = pytest.mark.slow
TORCH = dict(backend="torch", dtype="fp32", device="cpu")


def _texts(n):
    words = ["cats", "dogs", "a film", "the weather", "music", "long trains"]
    return [f"text {i}: " + " ".join(words[j % len(words)] for j in range(i % 9 + 1)) for i in range(n)]


def _cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_embed_dataset_equals_single_process(ray_local, tiny_bert):
    import bertkit

    texts = _texts(40)
    ds = ray_local.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    rows = embed_dataset(ds, model=str(tiny_bert), workers=2, batch_size=8, **TORCH).take_all()
    rows.sort(key=lambda r: r["id"])
    assert [r["text"] for r in rows] == texts
    reference = bertkit.Embedder(str(tiny_bert), **TORCH).embed(texts)
    assert _cosines(np.stack([r["vector"] for r in rows]), reference).min() >= 0.99999


def test_cli_embed_shards_resume_and_match(ray_local, tiny_bert, tmp_path, capsys):
    import bertkit

    texts = _texts(53)
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["embed", str(tmp_path / "in.txt"), "-o", str(out), "--engine", "ray", "--model", str(tiny_bert),
            "--shard-rows", "10", "--workers", "2", "--backend", "torch", "--dtype", "fp32"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "53 rows in 6 shards (0 already complete, skipped)" in err and "2 workers" in err
    table = read_output(out)
    assert table["id"].to_pylist() == list(range(53))
    reference = bertkit.Embedder(str(tiny_bert), **TORCH).embed(texts)
    assert _cosines(np.asarray(table["vector"].to_pylist(), dtype=np.float32), reference).min() >= 0.99999

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert main(argv) == 0  # everything done: nothing rewritten
    assert "6 of 6 shards already complete" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == before

    (out / "part-000002.parquet").unlink()  # as if killed before that shard was renamed into place
    (out / ".part-000002.parquet.999.tmp").write_bytes(b"half a file")
    assert main(argv) == 0
    assert "5 of 6 shards already complete" in capsys.readouterr().err
    assert not list(out.glob(".*.tmp"))
    assert read_output(out).equals(table)

    assert main(argv[:-4] + ["--backend", "torch", "--dtype", "fp32", "--pooling", "max"]) == 2  # other options, same OUTDIR
    assert "holds shards of another run" in capsys.readouterr().err


def test_cli_classify_and_answer_match_the_predictors(ray_local, tmp_path, capsys):
    import bertkit

    texts = ["a gorgeous, witty film", "a dull, tedious mess", "the best thing this year", "i wanted my money back"] * 3
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    assert main(["classify", "predict", "--input", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "c"), "--engine", "ray",
                 "--shard-rows", "5", "--workers", "1", "--backend", "torch", "--dtype", "fp32"]) == 0
    got = read_output(tmp_path / "c")
    clf = bertkit.load_classifier(**TORCH)
    expected = clf.predict(texts)
    assert got["label"].to_pylist() == [p.label for p in expected]
    assert np.allclose(got["probability"].to_numpy(), [p.probabilities[p.label] for p in expected], atol=1e-5)

    context = "The Amazon flows through Peru, Colombia and Brazil. Francisco de Orellana travelled its length in 1542."
    questions = ["Who travelled the Amazon?", "When did Orellana travel the river?", "Which countries does it flow through?"]
    qa = [{"question": q, "context": context} for q in questions]
    ds = ray_local.data.from_items([{"id": i, **r} for i, r in enumerate(qa)])
    rows = sorted(answer_dataset(ds, workers=1, **TORCH).take_all(), key=lambda r: r["id"])
    answers = bertkit.load_reader(**TORCH).answer(questions, [context] * 3)
    assert [r["answer"] for r in rows] == [a.text for a in answers]
    assert [(r["start"], r["end"]) for r in rows] == [(a.start, a.end) for a in answers]


@dataclass
class KillOnce(EmbedTask):
    """Embeds, but the first batch to see no marker file kills its own worker process."""

    marker: str = ""

    def apply(self, predictor, batch):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().apply(predictor, batch)


def test_a_killed_worker_is_retried(ray_local, tiny_bert, tmp_path):
    import bertkit

    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    texts = _texts(30)
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    task = KillOnce("text", "vector", str(tiny_bert), dict(TORCH), marker=str(tmp_path / "killed"))
    summary = run_job(task, str(tmp_path / "in.txt"), tmp_path / "out", JobOptions(workers=2, shard_rows=4))
    assert (tmp_path / "killed").exists()  # a worker did die
    assert summary.written_rows == 30 and summary.shards == 8
    table = read_output(tmp_path / "out")
    assert table["id"].to_pylist() == list(range(30))
    reference = bertkit.Embedder(str(tiny_bert), **TORCH).embed(texts)
    assert _cosines(np.asarray(table["vector"].to_pylist(), dtype=np.float32), reference).min() >= 0.99999


def test_killed_run_then_rerun_gives_every_row_once(ray_local, tiny_bert, tmp_path, capsys):
    texts = _texts(400)
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["embed", str(tmp_path / "in.txt"), "-o", str(out), "--engine", "ray", "--model", str(tiny_bert),
            "--shard-rows", "10", "--workers", "1", "--backend", "torch", "--dtype", "fp32"]
    address = ray_local.get_runtime_context().gcs_address
    proc = subprocess.Popen([sys.executable, "-m", "bertkit", *args, "--address", address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not list(out.glob("part-*.parquet")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver dies mid-run; Ray then stops its actors
    proc.wait()
    done = len(list(out.glob("part-*.parquet")))
    assert 0 < done < 40
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().err
    table = read_output(out)
    assert table.num_rows == 400 and table["id"].to_pylist() == list(range(400))
    files = sorted(out.glob("part-*.parquet"))
    assert len(files) == 40 and all(pq.ParquetFile(f).metadata.num_rows == 10 for f in files)
    assert not list(out.glob(".*.tmp"))
