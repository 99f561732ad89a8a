#!/usr/bin/env bash
# Scans infra/ with checkov; fails on any failed check and on any template checkov could not parse (checkov
# itself exits 0 then, having scanned nothing in that file).
#
# checkov runs from its own virtual environment, .venv-checkov, created on first use: it pins packaging<24,
# which the project's pinned development set (.venv) has outgrown.
set -euo pipefail

CHECKOV_VERSION=3.3.30
PYTHON=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv-checkov"

if [ "$("$venv/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  "$PYTHON" -m venv "$venv"
  # Keep the environment out of git, like virtualenv does for its own.
  printf '*\n' > "$venv/.gitignore"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi

report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
status=0
"$venv/bin/checkov" --directory "$root/infra" --framework bicep --quiet --compact --skip-download \
  --output cli --output json --output-file-path "console,$report/results.json" || status=$?

"$venv/bin/python" - "$report/results.json" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as file:
    report = json.load(file)
summary = (report[0] if isinstance(report, list) else report)["summary"]
if summary["parsing_errors"]:
    sys.exit(f"checkov could not parse {summary['parsing_errors']} template(s) under infra/: they were not scanned")
if not summary["passed"]:
    sys.exit("checkov ran no check on infra/")
PY
exit "$status"
