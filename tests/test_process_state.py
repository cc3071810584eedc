"""Nothing process-wide changes: after ``import bertkit`` and predictor calls, the environment,
logger levels and filters, warning filters and the progress-bar setting are as before, and
huggingface_hub still reaches a (local) URL: bertkit's offline loading is per call
(``local_files_only=True``), never ``HF_HUB_OFFLINE`` for the whole program."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

CHILD = r"""
import json, logging, os, sys, warnings

def state():
    import transformers.utils.logging as hf_logging
    loggers = {name: (logging.getLogger(name).level, len(logging.getLogger(name).filters),
                      [len(h.filters) for h in logging.getLogger(name).handlers])
               for name in ("", "transformers", "huggingface_hub", "onnxruntime")}
    return {"env": dict(os.environ), "loggers": loggers, "warnings": [repr(f) for f in warnings.filters],
            "bars": hf_logging.is_progress_bar_enabled()}

# the libraries bertkit builds on set their own filters when first imported: import them
# first, so what is compared is what bertkit does
import numpy, torch, transformers, tokenizers, safetensors, onnx, onnxruntime  # noqa: E401
import onnxruntime.transformers.optimizer, onnxruntime.quantization  # noqa: E401
from pathlib import Path
from hf_tiny import CONTEXTS, QUESTIONS, TEXTS, save_checkpoint  # the test's own helpers, and their checkpoints
model, out = Path(sys.argv[1]), Path(sys.argv[2])
classifier, reader = save_checkpoint(out / "cls", "classifier"), save_checkpoint(out / "qa", "qa")
before = state()
import bertkit
emb = bertkit.Embedder(model, backend="torch", dtype="fp32")
emb.embed(["a text", "another one"])
bertkit.Embedder(model, backend="onnx", dtype="fp32").embed(["a text"])
bertkit.Classifier.load(classifier, backend="torch", dtype="fp32").predict(TEXTS)
bertkit.Reader.load(reader, backend="torch", dtype="fp32").answer(QUESTIONS, CONTEXTS)
after = state()

import huggingface_hub
response = huggingface_hub.get_session().get(sys.argv[3], timeout=10)
print(json.dumps({"before": before, "after": after, "status": response.status_code, "body": response.text}))
"""


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        body = b"hello from a local server"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def local_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/info"
    server.shutdown()
    server.server_close()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_import_and_predictor_calls_change_no_process_state(tiny_bert, tmp_path, local_url):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    env["BERTKIT_CACHE"] = str(tmp_path / "cache")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    run = subprocess.run([sys.executable, "-c", CHILD, str(tiny_bert), str(tmp_path), local_url],
                         capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    before, after = result["before"], result["after"]
    assert after["env"] == before["env"], {k for k in set(before["env"]) ^ set(after["env"])}
    assert after["loggers"] == before["loggers"]
    assert after["warnings"] == before["warnings"]
    assert after["bars"] == before["bars"]
    assert result["status"] == 200 and result["body"] == "hello from a local server"
