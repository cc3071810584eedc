"""Shared fixtures: tiny random encoders of several families, built on the fly.

Tiny models use the packaged MiniLM WordPiece tokenizer (vocab 30,522) with a few
hidden units, so loading and running them takes milliseconds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from bertkit.encoder.loading import default_model_dir

# backend="auto" would probe bf16 and pick torch bf16 or ONNX by machine: the suite pins the
# torch fp32 reference (tests of the auto choice clear these and inject the CPU features).
os.environ.setdefault("BERTKIT_BACKEND", "torch")
os.environ.setdefault("BERTKIT_DTYPE", "fp32")

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def copy_tokenizer(dest: Path) -> None:
    src = default_model_dir()
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, dest / name)


def make_tiny(dest: Path, family: str = "bert", *, pooler: bool = True, seed: int = 0) -> Path:
    """Save a tiny random encoder of ``family`` (bert, distilbert, electra) with a tokenizer."""
    from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, ElectraConfig, ElectraModel

    torch.manual_seed(seed)
    dest.mkdir(parents=True, exist_ok=True)
    common = dict(vocab_size=30522, max_position_embeddings=64)
    if family == "bert":
        cfg = BertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64, **common)
        model = BertModel(cfg, add_pooling_layer=pooler)
    elif family == "distilbert":
        cfg = DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, **common)
        model = DistilBertModel(cfg)
    elif family == "electra":
        cfg = ElectraConfig(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **common)
        model = ElectraModel(cfg)
    else:  # pragma: no cover
        raise ValueError(family)
    model.save_pretrained(dest, safe_serialization=True)
    copy_tokenizer(dest)
    if family == "distilbert":
        import json

        tc = json.loads((dest / "tokenizer_config.json").read_text())
        tc["model_input_names"] = ["input_ids", "attention_mask"]
        (dest / "tokenizer_config.json").write_text(json.dumps(tc))
    return dest


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: tiny models gain nothing from threads, and on a shared 2-core machine threads stall."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tiny_bert"), "bert")


@pytest.fixture(scope="session")
def tiny_bert_no_pooler(tmp_path_factory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tiny_bert_np"), "bert", pooler=False)


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tiny_distilbert"), "distilbert")


@pytest.fixture(scope="session")
def tiny_electra(tmp_path_factory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tiny_electra"), "electra")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return default_model_dir()


@pytest.fixture(scope="session")
def minilm_encoder():
    from bertkit.encoder import Encoder

    return Encoder(None, device="cpu")


@pytest.fixture(scope="session")
def tiny_encoder(tiny_bert):
    from bertkit.encoder import Encoder

    return Encoder(tiny_bert, device="cpu")


@pytest.fixture(scope="session")
def tiny_arch(tmp_path_factory):
    """``tiny_arch(name) -> Path``: one tiny random model per architecture (tests/tiny_archs.py),
    built on first use and shared by the whole session."""
    from tiny_archs import make_arch

    built: dict[str, Path] = {}

    def get(arch: str) -> Path:
        if arch not in built:
            built[arch] = make_arch(tmp_path_factory.mktemp(f"tiny_{arch}"), arch)
        return built[arch]

    return get
