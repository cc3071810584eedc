"""`bertkit embed` as a user runs it: every input and output format, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from bertkit.cli.app import main


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "t.txt").write_text("first text\n\nthird one\n")
    (tmp_path / "t.csv").write_text('id,body\n1,"first, text"\n2,second\n')
    (tmp_path / "t.tsv").write_text("text\tlabel\nfirst\t1\nsecond\t0\n")
    (tmp_path / "t.jsonl").write_text('{"text": "first"}\n{"text": "second"}\n')
    return tmp_path


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("name, extra, rows", [("t.txt", [], 3), ("t.csv", ["--text-column", "body"], 2), ("t.tsv", [], 2), ("t.jsonl", [], 2)])
@pytest.mark.parametrize("ext", [".npy", ".parquet", ".jsonl"])
def test_formats(inputs, tiny_bert, capsys, name, extra, rows, ext):
    out = inputs / f"out{ext}"
    code, _, err = run(["embed", inputs / name, "-o", out, "--model", tiny_bert, *extra], capsys)
    assert code == 0, err
    assert f"wrote {out}" in err and f"{rows} texts" in err and "texts/s" in err
    if ext == ".npy":
        vecs = np.load(out)
    elif ext == ".parquet":
        vecs = np.array(pq.read_table(out).column("vector").to_pylist())
    else:
        vecs = np.array([json.loads(l)["vector"] for l in out.read_text().splitlines()])
    assert vecs.shape == (rows, 32)


def test_rows_match_library_and_options(inputs, tiny_bert, capsys):
    from bertkit import Embedder

    out = inputs / "v.npy"
    code, _, err = run(
        ["embed", inputs / "t.txt", "-o", out, "--model", tiny_bert, "--pooling", "mean+max", "--layers", "-2:", "--normalize", "--batch-size", "2"],
        capsys,
    )
    assert code == 0, err
    expected = Embedder(tiny_bert, pooling="mean+max", layers="-2:", normalize=True).embed(["first text", "", "third one"])
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_tokens_and_long_windows(inputs, tiny_bert, capsys):
    out = inputs / "w.jsonl"
    code, _, err = run(["embed", inputs / "t.txt", "-o", out, "--model", tiny_bert, "--tokens"], capsys)
    assert code == 0, err
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert rows[0]["words"] == ["first", "text"] and len(rows[0]["vectors"]) == 2 and rows[1]["words"] == []
    long = inputs / "long.txt"
    long.write_text(" ".join(["word"] * 100) + "\nshort\n")
    code, _, err = run(["embed", long, "-o", inputs / "l.npy", "--model", tiny_bert, "--max-length", "16"], capsys)
    assert code == 0 and "1 cut to max length" in err and "--long window" in err
    code, _, err = run(["embed", long, "-o", inputs / "l.npy", "--model", tiny_bert, "--max-length", "16", "--long", "window"], capsys)
    assert code == 0 and "1 split into windows" in err


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_stdin(tiny_bert, tmp_path):
    out = tmp_path / "s.npy"
    proc = subprocess.run(
        [sys.executable, "-m", "bertkit", "embed", "-", "-o", str(out), "--model", str(tiny_bert)],
        input=b"one\ntwo\n", capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert np.load(out).shape == (2, 32)


BAD = [
    (["embed", "{d}/missing.txt", "-o", "{d}/o.npy"], "missing.txt: no such file"),
    (["embed", "{d}/empty.txt", "-o", "{d}/o.npy"], "empty.txt: no texts found"),
    (["embed", "{d}/t.csv", "-o", "{d}/o.npy"], "unknown column 'text'; columns in the header: id, body"),
    (["embed", "{d}/bad.txt", "-o", "{d}/o.npy"], "bad.txt, line 2: not valid UTF-8"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--pooling", "avg"], "unknown pooling 'avg'; valid options: cls, mean"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--layers", "-1:x"], "malformed layer spec '-1:x'"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--layers", "12"], "layer 12 out of range"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--model", "{d}/nomodel"], "nomodel does not exist"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.csv"], "unsupported output extension '.csv'"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--tokens"], "unsupported word-vector output"),
    (["embed", "{d}/t.xml", "-o", "{d}/o.npy"], "unsupported input extension '.xml'"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--dtype", "int3"], "unknown dtype 'int3'; valid options: auto, fp32, bf16, fp16, int8"),
    (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--long", "chop"], "unknown --long mode 'chop'"),
    (["embed", "{d}/t.txt"], "Missing option '--output'"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_input_one_line_exit_2_no_output(inputs, tiny_bert, capsys, argv, message):
    (inputs / "empty.txt").write_text("")
    (inputs / "bad.txt").write_bytes(b"ok\n\xff\xfe\n")
    argv = [a.format(d=inputs) for a in argv]
    if "--model" not in argv:
        argv += ["--model", str(tiny_bert)]
    code, out, err = run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bertkit: error:"), err
    assert message in lines[0]
    assert "Traceback" not in err + out
    assert not list(inputs.glob("o.*")) and not list(inputs.glob(".o.*"))


def test_existing_output_survives_a_failed_run(inputs, tiny_bert, capsys):
    out = inputs / "keep.npy"
    np.save(out, np.ones(3))
    code, _, _ = run(["embed", inputs / "missing.txt", "-o", out, "--model", tiny_bert], capsys)
    assert code == 2 and np.array_equal(np.load(out), np.ones(3))


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_console_script_error_has_no_traceback(tmp_path):
    proc = subprocess.run(["bertkit", "embed", str(tmp_path / "x.txt"), "-o", str(tmp_path / "o.npy")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"bertkit: error: {tmp_path / 'x.txt'}: no such file"
