"""Flags as a user types them: on/off flags, "did you mean", .parquet as input."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bertkit.cli.app import main


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, message", [
    (["embed", "x.txt", "-o", "y.npy", "--normalize", "true"],
     "--normalize is an on/off flag and takes no value: write --normalize (on) or --no-normalize (off), not --normalize true"),
    (["embed", "x.txt", "-o", "y.npy", "--normalize=False"], "not --normalize=False"),
    (["classify", "predict", "--explain", "yes", "a film"], "--explain is an on/off flag and takes no value: write --explain (on) or leave it out (off)"),
])
def test_flag_given_a_value_is_one_clear_line(args, message, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("bertkit: error:")


def test_flags_are_shown_in_their_on_off_shape(capsys):
    code, out, _ = run(["embed", "--help"], capsys)
    assert code == 0 and "--normalize / --no-normalize" in out and "<bool>" not in out


def test_a_flag_value_after_double_dash_is_an_argument(capsys, tmp_path):
    # after "--" every word is an argument, so "true" is refused as a missing file, not as a flag value
    code, _, err = run(["embed", "-o", tmp_path / "y.npy", "--", "true"], capsys)
    assert code == 2 and "on/off flag" not in err


@pytest.mark.parametrize("args, hint", [
    (["embed", "x.txt", "-o", "y.npy", "--pooling", "maen"], "did you mean 'mean'?"),
    (["embed", "x.txt", "-o", "y.npy", "--backend", "onx"], "did you mean 'onnx'?"),
    (["embed", "x.txt", "-o", "y.npy", "--dtype", "fp23"], "did you mean 'fp32'?"),
    (["embedd", "x.txt"], "Did you mean 'embed'?"),
    (["classify", "prdict"], "Did you mean 'predict'?"),
])
def test_unknown_values_suggest_the_closest(args, hint, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and hint in err and err.count("\n") == 1


def test_unknown_command_without_a_close_one_lists_the_commands(capsys):
    code, _, err = run(["zzz"], capsys)
    assert code == 2 and "valid commands: embed, inspect" in err


def test_unknown_column_suggests_the_closest(tmp_path, tiny_bert, capsys):
    (tmp_path / "t.csv").write_text("id,texts\n1,hello\n")
    code, _, err = run(["embed", tmp_path / "t.csv", "-o", tmp_path / "o.npy", "-m", tiny_bert], capsys)
    assert code == 2 and "unknown column 'text'" in err and "did you mean 'texts'?" in err


def test_parquet_is_an_input_as_well_as_an_output(tmp_path, tiny_bert, capsys):
    code, _, err = run(["embed", "-m", tiny_bert, _txt(tmp_path, "one\ntwo\nthree\n"), "-o", tmp_path / "v.parquet"], capsys)
    assert code == 0, err
    # the output of one command (text + vector columns) is the input of the next
    code, _, err = run(["embed", "-m", tiny_bert, tmp_path / "v.parquet", "-o", tmp_path / "again.npy"], capsys)
    assert code == 0, err
    first = np.stack(pq.read_table(tmp_path / "v.parquet").column("vector").to_pylist())
    np.testing.assert_allclose(np.load(tmp_path / "again.npy"), first, rtol=1e-5, atol=1e-6)


def test_parquet_input_errors_name_file_row_and_column(tmp_path, tiny_bert, capsys):
    pq.write_table(pa.table({"body": ["a", None]}), tmp_path / "p.parquet")
    code, _, err = run(["embed", "-m", tiny_bert, tmp_path / "p.parquet", "-o", tmp_path / "o.npy"], capsys)
    assert code == 2 and "unknown column 'text'; columns in the file: body" in err
    code, _, err = run(["embed", "-m", tiny_bert, tmp_path / "p.parquet", "--text-column", "body", "-o", tmp_path / "o.npy"], capsys)
    assert code == 2 and "p.parquet, row 2: column 'body' must hold strings or numbers, got null" in err
    (tmp_path / "bad.parquet").write_text("not parquet")
    code, _, err = run(["embed", "-m", tiny_bert, tmp_path / "bad.parquet", "-o", tmp_path / "o.npy"], capsys)
    assert code == 2 and "bad.parquet: not a readable Parquet file" in err and not (tmp_path / "o.npy").exists()


def _txt(tmp_path, text: str):
    path = tmp_path / "in.txt"
    path.write_text(text)
    return path
