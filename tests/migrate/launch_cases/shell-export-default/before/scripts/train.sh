#!/bin/bash
set -euo pipefail
export CFG_DIR="${CFG_DIR:-configs}"
uv run sft @ "$CFG_DIR/base.toml" @ "${CFG_DIR}/over.toml" --max-steps 10
