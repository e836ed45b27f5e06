#!/usr/bin/env bash
# The experiment grid, the one command every published experiment figure comes from:
# 2 paths (GLM-4.5-shaped chat template without generation tags, `renderers` GLM-4.5 renderer)
# x 3 masks (legacy role table, "sampled", "all") x seeds 0, 1, 2, two cells at a time on one
# torch thread each. Prints the table over seeds (mean [min–max]), one table per seed, the time
# (wall, and CPU per cell) and the environment line (commit, Python, torch, transformers,
# renderers, device, threads, load average, figure-code hash); writes the same to
# runs/experiment-3seeds/grid.{md,json,png}.
#
# Later arguments win (click takes the last value of an option; --mask and --set add to these):
#   bash bench/experiment_grid.sh                         # the 3-seed table (docs/benchmarks.md)
#   bash bench/experiment_grid.sh --seeds 0 --output-dir runs/experiment   # the main job's grid
#   bash bench/experiment_grid.sh --device cuda --jobs 6  # bench/gpu_check.sh, on a GPU
# Everything that decides a figure (configs, steps, seeds, eval examples, token budget) is here or
# in examples/experiment/*.toml, so the main job, this bench and the GPU check cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${LOSSMASK_PYTHON:-${LOSSMASK_VENV:-.venv}/bin/python}"
"$py" -m lossmask experiment examples/experiment/chat-template.toml \
  examples/experiment/renderer.toml \
  --seeds 0,1,2 --eval-examples 32 --max-new-tokens 96 --jobs 2 \
  --output-dir runs/experiment-3seeds --no-progress "$@"
