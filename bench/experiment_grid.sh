#!/usr/bin/env bash
# The experiment grid, the one command every published experiment figure comes from:
# 2 paths (GLM-4.5-shaped chat template without generation tags, `renderers` GLM-4.5 renderer)
# x 3 masks (legacy role table, "sampled", "all") x seeds 0, 1, 2, two cells at a time on one
# torch thread each. Prints the table over seeds (mean [min–max]), one table per seed, the time
# (wall, and CPU per cell) and the environment line (commit, Python, torch, transformers,
# renderers, device, threads, load average, figure-code hash); writes the same to
# <output-dir>/grid.{md,json,png}.
#
#   bash bench/experiment_grid.sh               # the configs' budget (stopping and counting)
#   bash bench/experiment_grid.sh --arguments   # the budget that reads the arguments
#
# --arguments (first) trains ARGUMENT_STEPS steps of 16 instead of the configs' 600 of 8, on
# the embedded model made twice as deep (examples/experiment/model-4-layers: 4 layers instead of
# 2, all else the same; at this budget 2 layers left 5-18% of tool turns per seed with a wrong
# city, 4 layers 5-9%: docs/benchmarks.md), the legacy and "sampled" cells only (the figures the
# experiment decides on; "all" would add a training per seed), into runs/experiment-arguments. Later arguments win (click takes an option's
# last value; --mask and --set add to these):
#   bash bench/experiment_grid.sh --seeds 0 --mask legacy --mask sampled \
#     --output-dir runs/experiment                     # the main job's grid (scripts/main-job.sh)
#   bash bench/experiment_grid.sh --device cuda --jobs 6   # bench/gpu_check.sh, on a GPU
# Everything that decides a figure (configs, steps, seeds, eval examples, token budget) is here or
# in examples/experiment/*.toml, so the main job, this bench and the GPU check cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${LOSSMASK_PYTHON:-${LOSSMASK_VENV:-.venv}/bin/python}"
ARGUMENT_STEPS=3000
budget=(--output-dir runs/experiment-3seeds)
if [ "${1:-}" = "--arguments" ]; then
  shift
  budget=(--set "max_steps=$ARGUMENT_STEPS" --set data.batch_size=16
    --set model.name=examples/experiment/model-4-layers
    --set data.micro_batch_size=16 --mask legacy --mask sampled
    --output-dir runs/experiment-arguments)
fi
"$py" -m lossmask experiment examples/experiment/chat-template.toml \
  examples/experiment/renderer.toml \
  --seeds 0,1,2 --eval-examples 32 --max-new-tokens 96 --jobs 2 --no-progress \
  "${budget[@]}" "$@"
