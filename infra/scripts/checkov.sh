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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# checkov does not evaluate Bicep expressions: `vnetEnabled ? 'Disabled' : 'Enabled'` is neither value to it (a check
# reading it fails, errs or passes by accident). So it scans two copies of infra/ with the parameter decided
# (infra/scripts/bicep_variant.py), the `true` one without the skips that hold only with vnetEnabled false; together
# they are every deployment the templates describe.
scan() {
  label=$1
  directory=$2
  status=0
  echo "checkov: infra/ ($label)"
  "$venv/bin/checkov" --directory "$directory" --framework bicep --quiet --compact --skip-download \
    --output cli --output json --output-file-path "console,$work/$label.json" || status=$?
  # Called in an `||` list, where errexit is off: each status is kept by hand.
  "$venv/bin/python" - "$work/$label.json" "$label" <<'PY' || status=1
import json
import sys

with open(sys.argv[1], encoding="utf-8") as file:
    report = json.load(file)
summary = (report[0] if isinstance(report, list) else report)["summary"]
if summary["parsing_errors"]:
    sys.exit(f"checkov ({sys.argv[2]}) could not parse {summary['parsing_errors']} template(s): they were not scanned")
if not summary["passed"]:
    sys.exit(f"checkov ({sys.argv[2]}) ran no check")
print(f"checkov ({sys.argv[2]}): {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
PY
  return "$status"
}

failed=0
for enabled in false true; do
  "$venv/bin/python" "$root/infra/scripts/bicep_variant.py" "$root/infra" "$work/infra-vnet-$enabled" "$enabled"
  scan "vnetEnabled-$enabled" "$work/infra-vnet-$enabled" || failed=1
done
exit "$failed"
