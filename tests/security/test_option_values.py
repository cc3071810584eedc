"""Float options refuse nan/inf; --stride must let windows advance."""

from __future__ import annotations

import pytest
import typer.main

from bertkit.cli.app import app, main
from bertkit.cli.options import finite


def _float_options():
    """(command path, option name, callback) for every float option of every command."""
    found = []

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + [name])
        for param in getattr(command, "params", []):
            descriptor = getattr(param, "type_descriptor", None)
            annotation = getattr(descriptor, "annotation", None)
            if annotation is float or str(annotation) in ("typing.Optional[float]", "float | None"):
                found.append((" ".join(path), param.opts[0], param.callback))

    walk(typer.main.get_command(app), [])
    return found


def test_every_float_option_is_checked_for_finite_values():
    options = _float_options()
    assert any(opt == "--null-threshold" for _, opt, _ in options)
    unchecked = [f"{cmd} {opt}" for cmd, opt, cb in options if cb is None]
    assert not unchecked, f"float options without callback=finite: {unchecked}"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_null_threshold_nan_refused(value, capsys):
    code = main(["qa", "ask", "-q", "who?", "-c", "me", f"--null-threshold={value}"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--null-threshold" in lines[0] and "not a finite number" in lines[0], err


def test_finite_passes_numbers():
    assert finite(0.5) == 0.5 and finite(None) is None and finite(-3.0) == -3.0


@pytest.mark.parametrize("cmd", [["classify", "train", "--train", "x.csv", "--out", "o", "--lr", "nan"],
                                 ["qa", "train", "--train", "x.json", "--out", "o", "--lr", "inf"]])
def test_training_floats_refused(cmd, capsys):
    assert main(cmd) == 2
    assert "not a finite number" in capsys.readouterr().err


@pytest.mark.parametrize("stride, max_length", [(16, 16), (15, 16), (40, 16)])
def test_stride_not_below_max_length_is_one_line(tmp_path, tiny_bert, capsys, stride, max_length):
    (tmp_path / "in.txt").write_text("word " * 100 + "\n")
    code = main(["embed", str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.npy"), "--model", str(tiny_bert), "--backend", "torch",
                 "--long", "window", "--stride", str(stride), "--max-length", str(max_length)])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"stride {stride}" in lines[0] and f"max_length {max_length}" in lines[0], err
    assert not (tmp_path / "o.npy").exists()


def test_largest_valid_stride_works(tmp_path, tiny_bert, capsys):
    (tmp_path / "in.txt").write_text("word " * 100 + "\n")
    code = main(["embed", str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.npy"), "--model", str(tiny_bert), "--backend", "torch",
                 "--long", "window", "--stride", "13", "--max-length", "16"])
    assert code == 0, capsys.readouterr().err
