"""Start-up: how long the README's one-line commands take, end to end, as a user runs them.

Each command runs as a subprocess (a fresh interpreter, as from a shell) ``--repeats``
times; the table reports the median and the range of wall-clock seconds. The first
embed / classify run against an empty cache is timed once on its own: it pays for the
one-off work (the ONNX export of the ``auto`` backend, or on a native-bf16 CPU / GPU the
runtime probe) that later runs read from ``$BERTKIT_CACHE``.

    python bench/startup.py                # writes its section of BENCHMARKS.md
    python bench/startup.py --repeats 3 --no-write

Goals (issue 26): ``bertkit --help`` < 0.5 s; a one-line embed and classify predict
< 2 s once the cache is warm. The machine is shared: the section records the load
average next to the numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section  # noqa: E402

BERTKIT = [sys.executable, "-m", "bertkit"]

# (label, arguments, stdin, goal in seconds or None)
COMMANDS = [
    ("bertkit --help", ["--help"], None, 0.5),
    ("bertkit embed --help", ["embed", "--help"], None, 0.5),
    ("bertkit embed x.txt -o y.npy --pooling avg (refused)", ["embed", "x.txt", "-o", "y.npy", "--pooling", "avg"], None, 0.5),
    ('echo "one line" | bertkit embed - -o one.npy', ["embed", "-", "-o", "one.npy"], "one line\n", 2.0),
    ('bertkit classify predict "a gorgeous, witty film"', ["classify", "predict", "a gorgeous, witty film"], None, 2.0),
]
FIRST_RUN = {3, 4}  # indices of the commands whose first run (empty cache) is reported apart


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown CPU"


def timed(args: list[str], stdin: str | None, cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(BERTKIT + args, input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 2):
        raise SystemExit(f"bertkit {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds


def measure(repeats: int) -> tuple[list[tuple[str, list[float], float | None]], dict[str, float], str]:
    work = Path(tempfile.mkdtemp(prefix="bertkit-startup-"))
    env = {**os.environ, "BERTKIT_CACHE": str(work / "cache")}
    env.pop("BERTKIT_BACKEND", None), env.pop("BERTKIT_DTYPE", None)  # the user's default: auto
    try:
        first = {COMMANDS[i][0]: timed(COMMANDS[i][1], COMMANDS[i][2], work, env) for i in sorted(FIRST_RUN)}
        rows = []
        for label, args, stdin, goal in COMMANDS:
            rows.append((label, [timed(args, stdin, work, env) for _ in range(repeats)], goal))
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, first, load


def render(rows, first, load: str, repeats: int) -> str:
    lines = [
        "## Start-up (bench/startup.py)",
        "",
        f"`python bench/startup.py --repeats {repeats}` on {cpu_model()} ({os.cpu_count()} CPUs; {load} when it finished; "
        "the machine is shared, so a busy moment shows as a wide range). Wall-clock seconds of each command as a subprocess "
        "from a shell, backend and dtype `auto`, a fresh `BERTKIT_CACHE`:",
        "",
        "| command | median s | range s | goal |",
        "|---|---:|---:|---|",
    ]
    for label, times, goal in rows:
        med = statistics.median(times)
        verdict = "" if goal is None else f"< {goal} s: {'met' if med < goal else 'not met'}"
        lines.append(f"| `{label.replace('|', chr(92) + '|')}` | {med:.2f} | {min(times):.2f}-{max(times):.2f} | {verdict} |")
    lines += ["", "First run against the empty cache (one-off work: the ONNX export of the `auto` backend, "
              "or the runtime probe on a native-bf16 CPU or GPU; later runs read it from the cache):", ""]
    lines += [f"- `{label}`: {seconds:.2f} s" for label, seconds in first.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args()
    rows, first, load = measure(args.repeats)
    text = render(rows, first, load, args.repeats)
    print(text)
    if not args.no_write:
        write_section("startup", text)


if __name__ == "__main__":
    main()
