"""Shard plans: fixed shards by row position over .txt, .jsonl and .parquet files, dirs and globs."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bertkit.distributed.sources import find_inputs, plan_shards, read_shard
from bertkit.errors import InputError, UsageError


def _all_rows(plan):
    rows = {c: [] for c in plan.columns}
    for shard in plan.shards:
        part = read_shard(plan, shard)
        assert len(part[plan.columns[0]]) == shard.rows
        for c in plan.columns:
            rows[c] += part[c]
    return rows


def test_text_shards_cover_every_line_once(tmp_path):
    lines = [f"line {i}" if i % 7 else "" for i in range(23)]  # empty lines keep their row
    (tmp_path / "a.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = plan_shards(str(tmp_path / "a.txt"), ["text"], 5)
    assert [s.rows for s in plan.shards] == [5, 5, 5, 5, 3]
    assert [s.start for s in plan.shards] == [0, 5, 10, 15, 20]
    assert _all_rows(plan)["text"] == lines


def test_jsonl_skips_blank_lines_and_checks_fields(tmp_path):
    rows = [{"question": f"q{i}", "context": f"c {i}", "extra": i} for i in range(9)]
    text = "\n".join(json.dumps(r) + ("\n" if i == 3 else "") for i, r in enumerate(rows)) + "\n"
    (tmp_path / "qa.jsonl").write_text(text, encoding="utf-8")
    plan = plan_shards(str(tmp_path / "qa.jsonl"), ["question", "context"], 4)
    got = _all_rows(plan)
    assert got["question"] == [r["question"] for r in rows] and got["context"] == [r["context"] for r in rows]
    (tmp_path / "bad.jsonl").write_text('{"question": "q"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl, line 1: missing field 'context'"):
        plan_shards(str(tmp_path / "bad.jsonl"), ["question", "context"], 4)


def test_parquet_directory_and_glob_give_corpus_positions(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    texts = [f"text {i}" for i in range(30)]
    pq.write_table(pa.table({"text": texts[:17]}), data / "part-a.parquet", row_group_size=4)
    (data / "part-b.txt").write_text("\n".join(texts[17:]) + "\n", encoding="utf-8")
    for spec in (str(data), str(data / "part-*")):
        plan = plan_shards(spec, ["text"], 6)
        assert plan.rows == 30
        assert [(s.start, s.rows) for s in plan.shards] == [(0, 6), (6, 6), (12, 5), (17, 6), (23, 6), (29, 1)]
        assert _all_rows(plan)["text"] == texts


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        find_inputs(str(tmp_path / "missing.txt"))
    (tmp_path / "a.csv").write_text("text\nx\n")
    with pytest.raises(UsageError, match="unsupported input extension '.csv'"):
        find_inputs(str(tmp_path / "a.csv"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputError, match="no rows"):
        plan_shards(str(tmp_path / "empty.txt"), ["text"], 10)
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\n")
    with pytest.raises(InputError, match="bad.txt, line 2: not valid UTF-8"):
        plan_shards(str(tmp_path / "bad.txt"), ["text"], 10)
