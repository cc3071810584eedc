"""Start-up as a user meets it: --help and bad flags never load torch or transformers.

Each check runs in a fresh interpreter (the test process has torch loaded already) and
reports which heavy modules the command imported and whether it changed the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "onnxruntime", "numpy", "pyarrow", "tokenizers", "sentence_transformers")

PROBE = """
import json, os, sys
before = dict(os.environ)
from bertkit.cli.app import main
code = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"code": code, "heavy": heavy, "env": changed}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def probe(args: list[str], cwd) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)
    return {**json.loads(done.stderr.strip().splitlines()[-1]), "stdout": done.stdout, "stderr": done.stderr}


@pytest.mark.parametrize("args, code", [
    (["--help"], 0),
    (["embed", "--help"], 0),
    (["classify", "predict", "--help"], 0),
    (["qa", "ask", "--help"], 0),
    (["export", "--help"], 0),
    (["embed", "x.txt", "-o", "y.npy", "--pooling", "avg"], 2),
    (["embed", "x.txt", "-o", "y.npy", "--normalize", "true"], 2),
    (["embed", "x.txt", "-o", "y.npy", "--backend", "tensorrt"], 2),
    (["embed", "x.txt", "-o", "y.npy", "--long", "wrap"], 2),
    (["embedd", "x.txt"], 2),
    (["classify", "predict", "--backend", "onx", "a text"], 2),
])
def test_help_and_bad_flags_load_no_heavy_library(tmp_path, args, code):
    result = probe(args, tmp_path)
    assert result["code"] == code, result["stderr"]
    assert result["heavy"] == [], f"bertkit {' '.join(args)} imported {result['heavy']}"
    assert result["env"] == [], f"bertkit {' '.join(args)} changed environment variables {result['env']}"


def test_import_bertkit_is_lazy_and_changes_no_env(tmp_path):
    code = ("import os, sys; before = dict(os.environ); import bertkit; "
            "assert dict(os.environ) == before, 'import bertkit changed the environment'; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(%r)))" % (HEAVY,))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_public_names_still_import():
    import bertkit
    from bertkit import Embedder, nn  # noqa: F401  (the documented spellings)

    for name in bertkit.__all__:
        assert getattr(bertkit, name) is not None, name
    assert set(bertkit.__all__) <= set(dir(bertkit))
    assert bertkit.Embedder is Embedder and hasattr(nn, "BiLSTM")
    with pytest.raises(AttributeError):
        bertkit.no_such_name  # noqa: B018
