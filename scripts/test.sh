#!/usr/bin/env bash
# The test suite: lint, format check, type check, tests.
#
# By default tests marked `slow` (> ~20 s each: the distributed and experiment runs) and `lsp`
# (they start real language servers) are deselected, so a local run stays quick. Include them with
#   LOSSMASK_ALL_TESTS=1 bash scripts/test.sh     # everything, as CI runs it (CI=true does the same)
#   bash scripts/test.sh -m slow                  # a later -m replaces the default selection
# Other arguments go to pytest as they are: `bash scripts/test.sh tests/schema -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source "${LOSSMASK_VENV:-.venv}/bin/activate"
ruff check .
ruff format --check .
mypy
markers="not slow and not lsp"
if [ "${CI:-}" = true ] || [ "${LOSSMASK_ALL_TESTS:-}" = 1 ]; then
  markers=""
fi
pytest -q ${markers:+-m "$markers"} "$@"
