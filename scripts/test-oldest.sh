#!/usr/bin/env bash
# The test suite (scripts/test.sh) on the OLDEST dependency versions pyproject.toml allows:
# every dependency of the core install and of the train and dev extras pinned to its lower bound
# (scripts/oldest_constraints.py reads them from pyproject.toml), in a venv of its own, so the
# bounds we publish are bounds we test. torch is the exception: its only wheel here is the
# 2.13.0 on local disk, so it stays 2.13.0 (an older torch cannot be installed offline).
#   bash scripts/test-oldest.sh                 # as test.sh: not slow, not lsp
#   LOSSMASK_ALL_TESTS=1 bash scripts/test-oldest.sh
# The venv is .venv-oldest (LOSSMASK_OLDEST_VENV to change it); a rerun reuses it while
# pyproject.toml is unchanged, and builds it afresh when it changed.
set -euo pipefail
cd "$(dirname "$0")/.."
constraints=$(mktemp --suffix=.txt)
trap 'rm -f "$constraints"' EXIT
python3 scripts/oldest_constraints.py > "$constraints"
echo "scripts/test-oldest.sh: lower bounds:" $(grep -v '^#' "$constraints") >&2
venv=${LOSSMASK_OLDEST_VENV:-.venv-oldest}
# Rebuilt from scratch when the bounds change, so what pip resolves around the pins (numpy, say)
# is what a fresh install would get, not what an earlier install left behind.
want=$(cat pyproject.toml "$constraints" | sha256sum | cut -d' ' -f1)
if [ -d "$venv" ] && [ "$(cat "$venv/.lossmask-installed" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
fi
# Its own mypy cache: an older mypy cannot read the cache a newer one wrote.
MYPY_CACHE_DIR="$venv/.mypy_cache" LOSSMASK_VENV=$venv LOSSMASK_CONSTRAINTS="$constraints" \
  bash scripts/test.sh "$@"
