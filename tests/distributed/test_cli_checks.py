"""--engine ray refuses what it cannot do before starting anything (Ray installed, never started)."""

import pytest

from bertkit.cli.app import main

pytest.importorskip("ray")


@pytest.mark.parametrize("argv, message", [
    (["embed", "{input}", "-o", "{out}", "--engine", "ray", "--tokens"], "--tokens does not work with --engine ray"),
    (["classify", "predict", "a text", "-o", "{out}", "--engine", "ray"], "TEXT arguments does not work with --engine ray"),
    (["qa", "ask", "--input", "{input}", "-o", "{out}", "--engine", "ray", "--question", "q"], "--question does not work with --engine ray"),
    (["qa", "ask", "--input", "{input}", "--engine", "ray"], "--engine ray needs -o OUTDIR"),
    (["embed", "-", "-o", "{out}", "--engine", "ray"], "not stdin"),
])
def test_refused_in_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "in.txt").write_text("a text\n")
    args = [a.format(input=tmp_path / "in.txt", out=tmp_path / "out") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("bertkit: error: ")
    assert not (tmp_path / "out").exists()
