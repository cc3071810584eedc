"""A model directory cannot exhaust memory before any check (issue 25, item 3): its
config.json is checked against the safetensors headers (shapes, sizes; metadata only) and
against the memory available BEFORE anything is allocated, and refused with one line.

The CLI runs in a subprocess under an address-space limit (RLIMIT_AS), so a check that
came too late would fail there (or be killed), not pass by luck."""

from __future__ import annotations

import pytest
import json
import os
import shutil
import subprocess
import sys
import textwrap

LIMITED = textwrap.dedent("""
    import resource, sys
    limit, model, texts, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    if limit > 0:  # before anything heavy: the whole run is bounded
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from bertkit.cli.app import main
    if limit < 0:  # a limit just above what the process holds now: room for -limit bytes more
        from bertkit.encoder.loading import load_tokenizer
        from bertkit.encoder.sizecheck import expected_shapes
        expected_shapes(load_tokenizer(model).config)  # the tokenizer and the imports the check needs, first
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size - limit, resource.RLIM_INFINITY))
    sys.exit(main(["embed", texts, "-o", out, "--model", model]))
""")


def _run(limit: int, model, tmp_path):
    """``bertkit embed --model MODEL`` under RLIMIT_AS ``limit`` (0: none; < 0: room for -limit bytes)."""
    texts = tmp_path / "in.txt"
    texts.write_text("one text\n")
    env = {**os.environ, "BERTKIT_CACHE": str(tmp_path / "cache"), "BERTKIT_BACKEND": "torch", "BERTKIT_DTYPE": "fp32"}
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), str(model), str(texts), str(tmp_path / "out.npy")],
                          capture_output=True, text=True, env=env, timeout=240)


def _with_config(tiny_bert, tmp_path, **changes):
    model = tmp_path / "model"
    shutil.copytree(tiny_bert, model)
    config = json.loads((model / "config.json").read_text())
    config.update(changes)
    (model / "config.json").write_text(json.dumps(config))
    return model


def _one_error_line(run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("bertkit: error: "), run.stderr[-2000:]
    return lines[0]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_a_config_far_larger_than_its_weights_is_refused_before_allocating(tiny_bert, tmp_path):
    model = _with_config(tiny_bert, tmp_path, num_hidden_layers=100, hidden_size=8192, num_attention_heads=64, intermediate_size=32768)
    line = _one_error_line(_run(3 * 2**30, model, tmp_path))  # 3 GiB: the claimed model is ~300 GiB
    assert "config.json implies" in line and "does not match the weights" in line


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_more_layers_than_the_weights_hold_is_refused(tiny_bert, tmp_path):
    model = _with_config(tiny_bert, tmp_path, num_hidden_layers=100)
    line = _one_error_line(_run(3 * 2**30, model, tmp_path))
    assert "config.json describes" in line and "the safetensors files hold only" in line


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_a_model_that_does_not_fit_in_the_memory_left_is_refused(tmp_path):
    import torch
    from hf_tiny import copy_tokenizer
    from transformers import BertConfig, BertModel

    model = tmp_path / "big"
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=1, num_attention_heads=12, intermediate_size=768,
                        max_position_embeddings=64)
    BertModel(config).save_pretrained(str(model))  # ~25M parameters: ~100 MB in fp32, and as much mapped from the file
    copy_tokenizer(model)
    line = _one_error_line(_run(-(64 * 2**20), model, tmp_path))  # 64 MiB of room
    assert "of memory" in line and "is available" in line


def test_the_check_reads_headers_only_and_passes_a_sound_model(tiny_bert):
    from transformers import AutoConfig

    from bertkit.encoder.sizecheck import check_weights_fit, header_shapes

    shapes = header_shapes(tiny_bert)
    assert shapes["embeddings.word_embeddings.weight"] == (30522, 32)
    total = check_weights_fit(tiny_bert, AutoConfig.from_pretrained(tiny_bert))
    assert total == sum(int(torch_numel(s)) for s in shapes.values())


def torch_numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_under_the_same_limit_a_sound_tiny_model_embeds(tiny_bert, tmp_path):
    run = _run(3 * 2**30, tiny_bert, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
