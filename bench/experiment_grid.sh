#!/usr/bin/env bash
# The experiment grid at three seeds: 2 paths (GLM-4.5-shaped chat template without generation
# tags, `renderers` GLM-4.5 renderer) x 3 masks (legacy role table, "sampled", "all") x seeds
# 0, 1, 2, with the same settings as the main job's one-seed grid. Prints one table (mean
# [min–max] over seeds); writes runs/experiment-3seeds/grid.{md,json,png}. Extra arguments go to
# `lossmask experiment` (e.g. --device cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
source "${LOSSMASK_VENV:-.venv}/bin/activate"
time lossmask experiment examples/experiment/chat-template.toml examples/experiment/renderer.toml \
  --seeds 0,1,2 --eval-examples 16 --max-new-tokens 96 --output-dir runs/experiment-3seeds \
  --no-progress "$@"
