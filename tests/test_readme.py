"""The README's console examples are what the program prints (bench/readme.py runs them).

The fast tests pin the checker's matching rules; the slow one runs every checkable block
of README.md with the real packaged models (minutes on a laptop CPU).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import readme  # noqa: E402


def test_blocks_commands_and_skip_markers_are_parsed():
    text = "\n".join([
        "```console", "$ bertkit embed a.txt -o a.npy \\", "    --pooling cls", "wrote a.npy", "$ ls", "```", "",
        "<!-- readme-check: skip (trains for an hour) -->", "```console", "$ bertkit qa train", "```",
    ])
    first, second = readme.parse(text)
    assert [c.text for c in first.commands] == ["bertkit embed a.txt -o a.npy --pooling cls", "ls"]
    assert first.commands[0].expected == ["wrote a.npy"] and first.skip is None
    assert second.skip == "trains for an hour"


@pytest.mark.parametrize("shown, printed, same", [
    ("wrote a.npy (3 x 384); 3 texts, 18 tokens, 0.02 s, 144.7 texts/s", "wrote a.npy (3 x 384); 3 texts, 18 tokens, 1.50 s, 2.0 texts/s", True),
    ("3 texts, 18 tokens", "3 texts, 19 tokens", False),  # counts are exact
    ("score 12.3125, p=0.8668", "score 12.3001, p=0.8700", True),  # within 1%
    ("score 12.3125, p=0.8668", "score 12.15625, p=0.9078", False),  # the drift issue 26 found
    ("accuracy 0.9010", "accuracy 0.9030", True),
    ("accuracy 0.9010", "accuracy 0.8800", False),
    ("all-MiniLM-L6-v2 (packaged)  /.../model", "all-MiniLM-L6-v2 (packaged)  /venv/lib/gt/model", True),
    ("; runtime torch bf16 on cpu (auto: native bf16 CPU)", "; runtime onnx fp32 on cpu (auto: no native bf16 on this CPU)", True),
    ('"vectors": [[-1.2054228, ...', '"vectors": [[-1.2054228, 0.5, 0.25]]}', True),
    ("wrote explain_1.png", "wrote why.png", False),
])
def test_line_rules(shown, printed, same):
    assert readme._line_matches(shown, printed) is same


def test_a_gap_line_stands_for_any_number_of_lines():
    shown = ["┏━━┓", "│ 0  │ [CLS] │", "│ ...   │", "│ 7  │ [SEP] │", "└──┘"]
    assert readme.match(shown, ["┏━━┓", "│ 0  │ [CLS] │", "│ 1  │ a │", "│ 2  │ b │", "│ 7  │ [SEP] │", "└──┘"]) is None
    assert readme.match(shown, ["┏━━┓", "│ 0  │ [CLS] │", "│ 7  │ [SEP] │", "└──┘"]) is None
    assert readme.match(shown, ["┏━━┓", "│ 0  │ [CLS] │", "└──┘"]) is not None
    assert readme.match(["a", "b"], ["a", "b", "c"]) is not None  # output the README does not show is a difference


def test_every_skipped_block_says_why():
    blocks = readme.parse(readme.README.read_text())
    assert blocks, "README.md has no console examples"
    assert all(b.skip is None or b.skip.strip() for b in blocks)


@pytest.mark.slow
def test_readme_console_examples_match_the_program():
    failures, ran, skipped = readme.check(readme.README.read_text(), shared_data=False)  # tests never read ../shared/data
    assert ran, "no README block was checked"
    assert not failures, "\n\n".join(failures)


def test_progress_lines_of_a_slow_run_are_not_output_to_compare():
    assert readme.PROGRESS_LINE.match("classifying: 576/1,000 texts (58%), 318 tokens/s, about 44 s left")
    assert not readme.PROGRESS_LINE.match("1000 examples: accuracy 0.9010, macro-F1 0.9008")
