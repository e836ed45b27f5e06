#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, format check, type check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source "${LOSSMASK_VENV:-.venv}/bin/activate"
ruff check .
ruff format --check .
mypy
pytest -q "$@"
