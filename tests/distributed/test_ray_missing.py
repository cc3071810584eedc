"""Without Ray, --engine ray is one line saying how to install it, and exit code 2."""

import sys

import pytest

from bertkit.cli.app import main
from bertkit.distributed.ray_env import RAY_MISSING


@pytest.mark.parametrize("argv", [
    ["embed", "{input}", "-o", "{out}", "--engine", "ray"],
    ["classify", "predict", "--input", "{input}", "-o", "{out}", "--engine", "ray"],
    ["qa", "ask", "--input", "{input}", "-o", "{out}", "--engine", "ray"],
])
def test_engine_ray_without_ray(tmp_path, monkeypatch, capsys, argv):
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    (tmp_path / "in.txt").write_text("a text\n")
    args = [a.format(input=tmp_path / "in.txt", out=tmp_path / "out") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"bertkit: error: {RAY_MISSING}\n"
    assert err == 'bertkit: error: --engine ray needs Ray; install with pip install "bertkit[ray]"\n'
    assert not (tmp_path / "out").exists()


def test_unknown_engine(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("a text\n")
    assert main(["embed", str(tmp_path / "in.txt"), "-o", str(tmp_path / "o"), "--engine", "spark"]) == 2
    assert "unknown --engine 'spark'; valid options: local, ray" in capsys.readouterr().err
