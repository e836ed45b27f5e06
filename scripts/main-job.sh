#!/usr/bin/env bash
# The main job on embedded defaults (no network, no downloads at run time):
# validate the bundled configs, show what `lossmask migrate` would change in the legacy ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source "${LOSSMASK_VENV:-.venv}/bin/activate"

echo "== lossmask validate examples/configs/v2"
lossmask validate examples/configs/v2

echo
echo "== lossmask migrate --diff examples/configs/legacy   (writes nothing)"
lossmask migrate --diff examples/configs/legacy
