"""The last unclean inputs (issue 25, items 6, 7 and 15): a huge line, lone surrogates and
invalid UTF-8, and ``--layers`` with ``--pooling pooler``."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from bertkit.cli.app import main
from bertkit.encoder.textcut import PrefixCutter
from bertkit.errors import InputError, ParameterError

WORDS = ["the", "cat", "sat", "on", "mat", "naïve", "café", "déjà-vu", "2024", "3.14", "!!!", "—", "東京", "emoji😀",
         "Supercalifragilisticexpialidocious" * 4, "x" * 150, "", "  ", "\t", "U.S.A.", "don't", "e\u0301"]


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(200, 2000))) for _ in range(n)]


def _tokenizers():
    """WordPiece (the packaged MiniLM), byte-level BPE and Unigram with Metaspace, as the three families ship."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from bertkit.modeldir import default_model_dir

    corpus = [" ".join(WORDS)] * 20 + _texts(5, 99)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>", "<unk>"], show_progress=False))
    bpe.post_processor = processors.RobertaProcessing(("</s>", 1), ("<s>", 0))
    uni = Tokenizer(models.Unigram())
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=200, special_tokens=["[CLS]", "[SEP]", "<unk>"], unk_token="<unk>", show_progress=False))
    uni.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 0), ("[SEP]", 1)])
    return {"wordpiece": Tokenizer.from_file(str(default_model_dir() / "tokenizer.json")), "bpe": bpe, "unigram": uni}


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("max_length", [16, 64, 256])
def test_cut_then_tokenise_gives_the_ids_of_tokenise_then_truncate(max_length):
    for name, tok in _tokenizers().items():
        cutter = PrefixCutter(tok, max_length)
        truncating = tok.__class__.from_str(tok.to_str())
        truncating.no_padding()
        truncating.enable_truncation(max_length)
        texts = _texts(30, max_length)
        cut = cutter.cut(texts)
        assert sum(len(c) < len(t) for c, t in zip(cut, texts)) >= 20, name  # most were long enough to cut
        for full, short in zip(texts, cut):
            a, b = truncating.encode(full), truncating.encode(short)
            assert a.ids == b.ids and a.offsets == b.offsets, (name, full[:60])
            assert bool(a.overflowing) == bool(b.overflowing)


def test_short_texts_are_never_touched():
    cutter = PrefixCutter(_tokenizers()["wordpiece"], 256)
    texts = ["a" * cutter.limit, "short"]
    assert cutter.cut(texts) is texts


def test_a_50_mb_line_is_tokenised_in_a_fraction_of_the_time(tiny_encoder):
    line = ("The quick brown fox jumps over the lazy dog, again and again. " * 810_000)[:50_000_000]
    start = time.perf_counter()
    windows = tiny_encoder.tokenize([line])
    elapsed = time.perf_counter() - start
    assert windows.truncated == 1 and len(windows.features[0]["input_ids"]) == tiny_encoder.max_length
    assert windows.features[0]["input_ids"] == tiny_encoder.tokenize([line[:5000]]).features[0]["input_ids"]
    assert elapsed < 5  # whole, this line took over a minute and gigabytes


def test_a_line_over_the_limit_is_refused_with_file_and_line(tmp_path, monkeypatch, tiny_bert, capsys):
    from bertkit.io import readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1000)
    src = tmp_path / "big.jsonl"
    src.write_text('{"text": "ok"}\n' + json.dumps({"text": "x" * 2000}) + "\n")
    with pytest.raises(InputError, match=r"big.jsonl, line 2: longer than 1,000 bytes"):
        list(readers.iter_texts(str(src)))
    ok = tmp_path / "ok.txt"
    ok.write_text("a" * 999 + "\nb\n")  # exactly at the limit with its newline: still read
    assert [len(t) for t in readers.iter_texts(str(ok))] == [999, 1]


def test_a_lone_surrogate_is_a_typed_error_naming_the_row(tiny_bert):
    from bertkit import Embedder

    emb = Embedder(tiny_bert, device="cpu")
    with pytest.raises(InputError, match=r"^text 1 has an invalid character U\+D800 at position 4"):
        emb.embed(["fine", "abc \ud800 def"])
    with pytest.raises(InputError, match=r"^text 5 has an invalid character"):
        list(emb.embed_stream(["ok"] * 5 + ["\udcff"], chunk_size=2))  # the row in the whole stream
    with pytest.raises(InputError, match="text 0"):
        emb.encoder.tokenize(["\ud800"])  # every task tokenises through the encoder
    with pytest.raises(InputError, match="second text 0"):
        emb.encoder.tokenize(["fine"], ["\udfff"])
    assert emb.embed(["a \U0001F600 pair is fine"]).shape == (1, 32)


def test_a_surrogate_escape_in_jsonl_is_one_error_line(tiny_bert, tmp_path, capsys):
    src = tmp_path / "s.jsonl"
    src.write_text('{"text": "ok"}\n{"text": "abc \\ud800 def"}\n{"text": "\\ud83d\\ude00 a pair"}\n')
    code = main(["embed", str(src), "-o", str(tmp_path / "o.npy"), "--model", str(tiny_bert)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "bertkit: error:" in err and "s.jsonl, line 2: field 'text' has an invalid character U+D800" in err
    assert not (tmp_path / "o.npy").exists()


def test_invalid_utf8_in_argv_is_one_error_line(tiny_bert, tmp_path):
    """Bytes that are not UTF-8 reach Python's argv as lone surrogates (surrogateescape)."""
    code = (
        "import sys; from bertkit.cli.app import main; "
        f"sys.exit(main(['inspect', '--model', {str(tiny_bert)!r}, '--text', 'caf' + b'\\xe9'.decode('utf-8', 'surrogateescape')]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("bertkit: error:") and "is not valid UTF-8 text (U+DCE9)" in lines[0], proc.stderr


def test_layers_with_pooler_pooling_are_refused(tiny_bert, tmp_path, capsys):
    from bertkit import Embedder

    with pytest.raises(ParameterError, match="layers '-2' do not apply to pooling 'pooler'") as info:
        Embedder(tiny_bert, pooling="pooler", layers="-2", device="cpu")
    assert info.value.param == "layers"
    assert Embedder(tiny_bert, pooling="pooler", layers="-1", device="cpu").dim == 32  # the last layer is what it reads
    (tmp_path / "t.txt").write_text("a\n")
    code = main(["embed", str(tmp_path / "t.txt"), "-o", str(tmp_path / "o.npy"), "--model", str(tiny_bert), "--pooling", "pooler", "--layers", "-4:"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--layers '-4:' do not apply to --pooling 'pooler'" in err
