"""Rewrite the allowed regions of `location` in infra/main.bicep from the regions Azure lists for Flex Consumption.

    az functionapp list-flexconsumption-locations --query "[].name" -o tsv | python3 infra/scripts/flex_regions.py

The list comes from the cloud the Azure CLI is set to (`az cloud set`), so run it there for Azure Government or Azure
China. Names are read from standard input, one per line or separated by blanks; canary regions (`*euap`) are left out.
The `@allowed([...])` block between `// flex-regions:start` and `// flex-regions:end` is replaced, sorted.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAIN_BICEP = Path(__file__).resolve().parents[1] / "main.bicep"
BLOCK = re.compile(r"(// flex-regions:start\n)@allowed\(\[\n.*?\n\]\)\n(// flex-regions:end)", re.DOTALL)
REGION = re.compile(r"^[a-z][a-z0-9]*$")


def regions_of(text: str) -> list[str]:
    names = {name.strip().lower() for name in text.split()}
    bad = sorted(name for name in names if not REGION.match(name))
    if bad:
        raise ValueError(f"not region names: {', '.join(bad)}")
    return sorted(name for name in names if not name.endswith("euap"))


def rewrite(template: str, regions: list[str]) -> str:
    if not regions:
        raise ValueError("no region given")
    allowed = "".join(f"  '{region}'\n" for region in regions)
    rewritten, count = BLOCK.subn(lambda match: f"{match[1]}@allowed([\n{allowed}])\n{match[2]}", template)
    if count != 1:
        raise ValueError("main.bicep has no `// flex-regions:start` ... `// flex-regions:end` block")
    return rewritten


def main(stdin: str, path: Path = MAIN_BICEP) -> int:
    try:
        path.write_text(rewrite(path.read_text(encoding="utf-8"), regions_of(stdin)), encoding="utf-8")
    except ValueError as problem:
        print(f"flex_regions: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.stdin.read()))
