"""Print the README's set-up commands, one per line: the ```bash blocks of its "## Set-up" section.

CI runs exactly these, so the README and CI cannot drift apart.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def setup_commands(readme: str) -> list[str]:
    section = re.search(r"^## Set-up.*?$(.*?)(?=^## )", readme, flags=re.S | re.M)
    if section is None:
        return []
    blocks = re.findall(r"^```bash\n(.*?)^```", section.group(1), flags=re.S | re.M)
    return [" ".join(b.split()) for b in blocks]


if __name__ == "__main__":
    for command in setup_commands(Path(sys.argv[1]).read_text(encoding="utf-8")):
        print(command)
