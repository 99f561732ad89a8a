"""Copy infra/ with the `vnetEnabled` parameter decided, for checkov (infra/scripts/checkov.sh).

checkov reads Bicep with pycep and does not evaluate expressions: `vnetEnabled ? 'Disabled' : 'Enabled'` is neither
value to it, so one scan of infra/ proves nothing about either deployment. This writes a copy of infra/ in which
every `vnetEnabled ? A : B` is A (or B), every `param vnetEnabled bool` defaults to the value, and, for `true`, the
`//checkov:skip=` comments marked `(vnetEnabled false)` are dropped, so checkov must pass those checks outright.

    python3 infra/scripts/bicep_variant.py SOURCE_DIR TARGET_DIR true|false

A `vnetEnabled ?` whose branches are not single values (a quoted string, true, false, null, [], a number or a name)
is an error, so that no use of the parameter is silently left for checkov to misread.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

OPERAND = r"(?:'[^'\n]*'|true|false|null|\[\]|-?\d+|[A-Za-z_][\w.]*)"
TERNARY = re.compile(rf"\bvnetEnabled\s*\?\s*(?P<yes>{OPERAND})\s*:\s*(?P<no>{OPERAND})")
PARAMETER = re.compile(
    r"^(?P<head>[ \t]*param[ \t]+vnetEnabled[ \t]+bool)\b(?:[ \t]*=[ \t]*(?:true|false))?[ \t]*$", re.MULTILINE
)
OFF_ONLY_SKIP = re.compile(r"^\s*//checkov:skip=[^\n]*\(vnetEnabled false\)[^\n]*\n", re.MULTILINE)


def render(text: str, enabled: bool) -> str:
    """The template `text` with vnetEnabled decided."""
    text = TERNARY.sub(lambda match: match["yes"] if enabled else match["no"], text)
    if re.search(r"\bvnetEnabled\s*\?", text):
        raise ValueError("a `vnetEnabled ? A : B` whose branches are not single values")
    text = PARAMETER.sub(lambda match: f"{match['head']} = {'true' if enabled else 'false'}", text)
    return OFF_ONLY_SKIP.sub("", text) if enabled else text


def main(arguments: list[str]) -> int:
    if len(arguments) != 3 or arguments[2] not in ("true", "false"):
        print(__doc__, file=sys.stderr)
        return 2
    source, target, enabled = Path(arguments[0]), Path(arguments[1]), arguments[2] == "true"
    shutil.copytree(source, target, dirs_exist_ok=True)
    for path in sorted(target.rglob("*.bicep")):
        try:
            path.write_text(render(path.read_text(encoding="utf-8"), enabled), encoding="utf-8")
        except ValueError as problem:
            print(f"{path.relative_to(target)}: {problem}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
