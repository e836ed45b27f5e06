#!/usr/bin/env bash
# Create .venv and install lossmask with everything its commands and tests use.
# Idempotent: re-running skips the install while pyproject.toml (and the constraints) are unchanged.
# LOSSMASK_CONSTRAINTS=FILE installs under a pip constraints file (scripts/test-oldest.sh pins
# every dependency to its lower bound that way).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${LOSSMASK_VENV:-.venv}
# Torch first, pinned: a bare `torch` requirement resolved on its own can pull a multi-GB CUDA
# build. On a GPU machine, install the CUDA torch you want into the venv before running this.
TORCH_SPEC=${LOSSMASK_TORCH:-torch==2.13.0}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.lossmask-installed"
CONSTRAINTS=${LOSSMASK_CONSTRAINTS:-}
want=$(cat pyproject.toml ${CONSTRAINTS:+"$CONSTRAINTS"} | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC"
fi
"$VENV/bin/python" -m pip install --quiet ${CONSTRAINTS:+-c "$CONSTRAINTS"} -e ".[train,dev]"
echo "$want" > "$stamp"
