"""A process SIGKILLed at any step of saving a model directory leaves the old model or the new
one, complete and verified, never a mix; a training run killed while saving resumes.

Each case is a real subprocess whose ``bertkit.modeldir.directory._save_step`` hook (a no-op
in production) kills the process at one named step of the save.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from bertkit.modeldir import read_model_dir

REPO = Path(__file__).resolve().parents[2]
EXCHANGE_STEPS = ["files", "complete", "exchanged", "removed"]
RENAME_STEPS = ["files", "complete", "aside", "renamed", "removed"]

# Runs a command with the save hook armed: argv = step, exchange (1/0), then the command's own.
KILLER = textwrap.dedent("""
    import os, signal, sys
    from bertkit.modeldir import directory
    step, exchange = sys.argv[1], sys.argv[2] == "1"
    def die(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)
    directory._save_step = die
    if not exchange:
        directory.exchange_paths = lambda a, b: False
    sys.argv = sys.argv[:1] + sys.argv[3:]
    body = os.path.join(os.path.dirname(os.path.abspath(__file__)), "body.py")
    exec(compile(open(body).read(), body, "exec"))
""")

TOY_BODY = textwrap.dedent("""
    import sys
    from dataclasses import dataclass
    from typing import ClassVar
    from bertkit.modeldir import finish_writing, start_writing, writing_model_dir

    @dataclass
    class Toy:
        TASK: ClassVar[str] = "toy"
        SCHEMA_VERSION: ClassVar[int] = 1
        version: int = 0

    target, version = sys.argv[1], int(sys.argv[2])
    with writing_model_dir(target) as work:
        start_writing(work)
        (work / "weights.safetensors").write_bytes(bytes([version]) * 64)
        (work / "vocab.txt").write_text(f"v{version}")
        finish_writing(work, Toy(version))
""")


def _scripts(tmp_path: Path, body: str) -> Path:
    (tmp_path / "body.py").write_text(body)
    (tmp_path / "killer.py").write_text(KILLER)
    return tmp_path / "killer.py"


def _run(script: Path, step: str, exchange: bool, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(script), step, "1" if exchange else "0", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@dataclass
class Toy:
    TASK: ClassVar[str] = "toy"
    SCHEMA_VERSION: ClassVar[int] = 1
    version: int = 0


def _toy_version(target: Path) -> int:
    config = read_model_dir(target, Toy)  # verifies the manifest: a mix is refused
    assert (target / "vocab.txt").read_text() == f"v{config.version}"
    return config.version


@pytest.mark.parametrize("exchange, step", [(True, s) for s in EXCHANGE_STEPS]  # the fallback of two renames: slow (3 processes each)
                         + [pytest.param(False, s, marks=pytest.mark.slow) for s in RENAME_STEPS])
def test_a_kill_at_each_step_leaves_the_old_or_the_new_model(tmp_path, exchange, step):
    script = _scripts(tmp_path, TOY_BODY)
    target = tmp_path / "model"
    assert _run(script, "never", exchange, str(target), "1").returncode == 0
    proc = _run(script, step, exchange, str(target), "2")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if not target.exists():  # two renames, killed between them: the next writer puts it back
        assert step == "aside" and not exchange
        from bertkit.io.atomic import output_lock
        from bertkit.modeldir import recover_interrupted_save

        with output_lock(target):
            recover_interrupted_save(target)
    version = _toy_version(target)
    assert version == (2 if step in ("exchanged", "renamed", "removed", "aside") else 1), step
    # the next save is clean, and leaves nothing hidden beside the model but its lock
    assert _run(script, "never", exchange, str(target), "3").returncode == 0
    assert _toy_version(target) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".model")) == [".model.lock"]


def test_a_failed_save_leaves_the_old_model_and_no_work_directory(tmp_path):
    script = _scripts(tmp_path, TOY_BODY.replace('(work / "vocab.txt")', 'raise SystemExit(3); (work / "vocab.txt")'))
    target = tmp_path / "model"
    (tmp_path / "body_ok.py").write_text(TOY_BODY)
    subprocess.run([sys.executable, str(tmp_path / "body_ok.py"), str(target), "1"], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    assert _run(script, "never", True, str(target), "2").returncode == 3
    assert _toy_version(target) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


TRAIN_BODY = textwrap.dedent("""
    import sys
    from bertkit.cli.app import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    sys.path.insert(0, str(REPO / "tests" / "classification"))
    from tiny_data import make_tiny_bert, sentiment_rows, write_rows

    root = tmp_path_factory.mktemp("save-kill")
    bert = make_tiny_bert(root / "bert")
    train = write_rows(root / "train.csv", sentiment_rows(24))
    dev = write_rows(root / "dev.csv", sentiment_rows(8))
    return root, ["classify", "train", "--train", str(train), "--dev", str(dev), "--base", str(bert),
                  "--epochs", "1", "--batch-size", "8", "--lr", "1e-3"]


@pytest.mark.slow  # two CLI training processes per step: about 15 s each on 2 cores
@pytest.mark.parametrize("step", EXCHANGE_STEPS)
def test_classify_train_killed_while_saving_over_a_model_then_resumed(trained, tmp_path, step):
    from bertkit.classification.modeldir import read_verified

    root, args = trained
    script = _scripts(tmp_path, TRAIN_BODY)
    out = tmp_path / "model"
    first = _run(script, "never", True, *args, "--out", str(out), "--seed", "1")
    assert first.returncode == 0, first.stderr
    old = json.loads((out / "manifest.json").read_text())
    killed = _run(script, step, True, *args, "--out", str(out), "--seed", "2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    read_verified(out)  # the old model or the new one: complete and verified
    swapped = json.loads((out / "manifest.json").read_text()) != old
    assert swapped == (step in ("exchanged", "removed")), step
    if not swapped:
        assert (out / ".train" / "checkpoint" / "state.json").is_file()  # outlived the interrupted save
    resumed = _run(script, "never", True, *args, "--out", str(out), "--seed", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    if not swapped:
        assert "resumed from checkpoint" in resumed.stderr
    read_verified(out)
    assert json.loads((out / "bertkit.json").read_text())["training"]["seed"] == 2
    assert not (out / ".train").exists()
