"""Run the README's console examples and check that the program still prints what they show.

Every ```console block of README.md is a list of ``$ command`` lines (``\\`` continues a
line), each followed by the output it shows. The checker runs each block in a fresh
temporary directory (with the small input files the examples name, see ``FILES``, and
``../shared`` pointing at the shared data), one bash process per command with the
block's earlier variable assignments (``C="..."``) in front, stdout and stderr as one stream
(unbuffered, so in the order a terminal shows them),
``COLUMNS=100``, and compares what comes out with what the README shows:

- lines are compared after trailing spaces are stripped; blank lines are ignored;
- ``...`` inside a line matches any text; a line that holds only ``...`` (table borders
  aside) matches any number of lines, none included;
- times and rates (a number before ``s``, ``ms``, ``min``, ``texts/s``, ``tokens/s``,
  ``x fp32``) match any number, and so does the runtime note (``runtime ...`` up to
  ``;`` or the end of the line: the backend ``auto`` picks depends on the CPU);
- every other number with a decimal point matches within 1% (or 2 in its last shown
  digit, whichever is larger): the same model on another CPU or backend moves the last
  digits; integers (counts, ids, offsets) must be equal;
- progress lines (``embedding: 8,192/20,000 texts (41%), ...``, written once a minute off a
  terminal, so only by a slow run) are dropped from the output first;
- a command shown without output is only run: it must exit with 0;
- a command's exit status must be 0 unless its output shows ``bertkit: error:`` (then 2).

A block preceded by ``<!-- readme-check: skip (reason) -->`` is not run (training for
hours, a server); ``--list`` shows which and why.

    python bench/readme.py              # every checkable block; exit 1 on a difference
    python bench/readme.py --list       # the blocks, and the reason each skipped one is
    python bench/readme.py --line 407   # only the block that starts on that README line (repeatable)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
SKIP = re.compile(r"<!--\s*readme-check:\s*skip\s*\((?P<reason>[^)]*)\)\s*-->")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=(\"[^\"]*\"|'[^']*'|\S*)$")

# The small inputs the examples name (what they show was produced from these).
FILES = {
    "reviews.txt": "A gorgeous, witty film.\nLoved it.\nToo long.\n",
    "a.jsonl": '{"text": "a line without a body field"}\n',
    "article.txt": "The Royal Observatory was founded in 1675 by King Charles II.\n",
    "questions.jsonl": (
        '{"id": "a0", "question": "Which countries does the Amazon flow through?", "context": "The Amazon River in South America is the '
        'largest river by discharge volume of water in the world. It flows through Peru, Colombia and Brazil and empties into the '
        'Atlantic Ocean."}\n'
        '{"id": "a1", "question": "How many people live in Brazil?", "context": "The Amazon River in South America is the largest '
        'river by discharge volume of water in the world. It flows through Peru, Colombia and Brazil and empties into the Atlantic Ocean."}\n'
    ),
}

TIMING = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?=\s*(?:s\b|ms\b|min\b|texts/s|tokens/s|tok/s|x fp32))")
RUNTIME = re.compile(r"runtime [^;\n]*")
PROGRESS_LINE = re.compile(r"^[\w ]+: [\d,]+/[\d,]+ \w+ \(\d+%\)")  # bertkit.io.progress.JobProgress.line
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")


@dataclass
class Command:
    line: int  # README line of the ``$``
    text: str  # the command, continuation lines joined
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int  # README line of the opening fence
    commands: list[Command]
    skip: str | None = None  # the reason, for a block marked not checkable


def parse(text: str) -> list[Block]:
    """Every ```console block, its commands and their shown output."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = SKIP.search(before)
        start, commands, i = i + 1, [], i + 1
        while i < len(lines) and not lines[i].startswith("```"):
            row = lines[i]
            if row.startswith("$ "):
                command, number = row[2:], i + 1
                while command.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    command = command[:-1].rstrip() + " " + lines[i].strip()
                commands.append(Command(number, command))
            elif commands:
                commands[-1].expected.append(row)
            i += 1
        blocks.append(Block(start, commands, marker.group("reason") if marker else None))
        i += 1
    return blocks


def _mask(line: str) -> str:
    return TIMING.sub("#", RUNTIME.sub("runtime ...", line))


def _close(expected: str, actual: str) -> bool:
    """Integers equal; decimals within 1% or 2 in the last shown digit."""
    if "." not in expected:
        return expected == actual
    ev, av = float(expected.replace(",", "")), float(actual.replace(",", ""))
    places = len(expected.split(".")[1].split("e")[0])
    return abs(ev - av) <= max(0.01 * abs(ev), 2 * 10 ** -places)


def _pattern(expected: str) -> tuple[re.Pattern, list[str]]:
    """The shown line as a regex: ``...`` any text, each number a group; and the numbers shown."""
    pieces, shown = [], []
    for part in expected.split("..."):
        out, last = [], 0
        for m in NUMBER.finditer(part):
            out += [re.escape(part[last:m.start()]), f"({NUMBER.pattern})"]
            shown.append(m.group())
            last = m.end()
        pieces.append("".join(out) + re.escape(part[last:]))
    return re.compile(".*?".join(pieces), re.S), shown


def _line_matches(expected: str, actual: str) -> bool:
    expected, actual = _mask(expected.rstrip()), _mask(actual.rstrip())
    pattern, shown = _pattern(expected)
    found = pattern.fullmatch(actual)
    return found is not None and all(_close(e, a) for e, a in zip(shown, found.groups()))


def _is_gap(line: str) -> bool:
    return line.strip(" │┃|").strip() == "..."


def match(expected: list[str], actual: list[str]) -> str | None:
    """None when ``actual`` shows what ``expected`` does; otherwise the first difference."""
    expected = [e for e in expected if e.strip()]
    actual = [a for a in actual if a.strip()]

    def walk(i: int, j: int) -> bool:
        while i < len(expected):
            if _is_gap(expected[i]):
                return any(walk(i + 1, k) for k in range(j, len(actual) + 1))
            if j >= len(actual) or not _line_matches(expected[i], actual[j]):
                return False
            i, j = i + 1, j + 1
        return j == len(actual)

    if walk(0, 0):
        return None
    for k, line in enumerate(expected):  # the first line that has no counterpart, for the report
        if _is_gap(line):
            break
        if k >= len(actual) or not _line_matches(line, actual[k]):
            got = actual[k] if k < len(actual) else "(no more output)"
            return f"expected: {line.rstrip()}\n     got: {got.rstrip()}"
    return f"expected {len(expected)} lines, got {len(actual)}:\n" + "\n".join(actual[:40])


def _workdir() -> Path:
    base = Path(tempfile.mkdtemp(prefix="bertkit-readme-"))
    work = base / "work"
    work.mkdir()
    if SHARED.exists():
        (base / "shared").symlink_to(SHARED)
    for name, content in FILES.items():
        (work / name).write_text(content)
    for item in ("bench", "bertkit"):  # commands that name repository paths (python bench/..., bertkit/models)
        (work / item).symlink_to(ROOT / item)
    return work


def run_block(block: Block, env: dict, timeout: int) -> list[str]:
    """The differences between the block's shown and actual output (empty: it matches)."""
    work, failures, prelude = _workdir(), [], []
    try:
        for command in block.commands:
            if ASSIGNMENT.match(command.text):
                prelude.append(command.text)
                continue
            script = "\n".join([*prelude, command.text])
            done = subprocess.run(["bash", "-c", script], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=timeout)  # one stream, in the order a terminal shows it
            output = [line for line in done.stdout.splitlines() if not PROGRESS_LINE.match(line)]
            wants_error = any("bertkit: error:" in e for e in command.expected)
            if done.returncode != (2 if wants_error else 0):
                failures.append(f"README line {command.line}: $ {command.text}\n  exit {done.returncode}: {' | '.join(output[-5:])}")
                continue
            if command.expected:
                difference = match(command.expected, output)
                if difference:
                    failures.append(f"README line {command.line}: $ {command.text}\n  {difference}")
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    return failures


def check(text: str, *, only_lines: list[int] | None = None, timeout: int = 900,
          shared_data: bool = True) -> tuple[list[str], list[Block], list[Block]]:
    """(differences, blocks run, blocks skipped) for README text.

    ``shared_data=False`` skips the blocks that read ``../shared/data`` (the test suite
    never reads it; ``python bench/readme.py`` runs them)."""
    blocks = parse(text)
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
    for key in ("BERTKIT_BACKEND", "BERTKIT_DTYPE"):  # the README shows the user's default: auto
        env.pop(key, None)
    env["BERTKIT_CACHE"] = env.get("BERTKIT_README_CACHE", str(Path(tempfile.gettempdir()) / "bertkit-readme-cache"))
    failures, ran, skipped = [], [], []
    for block in blocks:
        if only_lines and block.line not in only_lines:
            continue
        if block.skip is None and not shared_data and any("../shared" in c.text for c in block.commands):
            block.skip = "reads ../shared/data: python bench/readme.py runs it"
        if block.skip is not None:
            skipped.append(block)
            continue
        ran.append(block)
        failures += run_block(block, env, timeout)
    return failures, ran, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the blocks and why a skipped one is skipped")
    parser.add_argument("--line", type=int, action="append", help="only the block(s) whose fence opens on this README line")
    parser.add_argument("--readme", type=Path, default=README, help="the file to check (default: README.md)")
    args = parser.parse_args()
    text = args.readme.read_text()
    if args.list:
        for block in parse(text):
            state = f"skip ({block.skip})" if block.skip is not None else "checked"
            print(f"line {block.line}: {len(block.commands)} commands, {state}: $ {block.commands[0].text[:60] if block.commands else ''}")
        return
    failures, ran, skipped = check(text, only_lines=args.line)
    for failure in failures:
        print(failure, end="\n\n")
    print(f"{len(ran)} blocks run, {len(skipped)} skipped, {len(failures)} differences")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
