#!/usr/bin/env bash
# The main job on embedded defaults (no network, no downloads at run time):
#  1. validate the bundled configs;
#  2. show what `lossmask migrate` would change in the bundled legacy configs (writes nothing);
#  3. show and audit which tokens train, legacy role table vs "sampled", on bundled GLM-4.5 data;
#  4. the experiment grid at seed 0: 2 paths x 3 masks (cells that train token-identical samples
#     train once: three trainings, two at a time on one torch thread each), how each model stops
#     (tables, one PNG, the environment line). Its cells are the seed-0 cells of
#     bench/experiment_grid.sh, which runs seeds 0, 1, 2 with the same flags.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source "${LOSSMASK_VENV:-.venv}/bin/activate"

step() { printf '\n== %s\n' "$*"; }

step "lossmask validate examples/configs/v2 examples/configs/show examples/experiment"
lossmask validate examples/configs/v2 examples/configs/show examples/experiment

step "lossmask migrate --reader prime-rl-pre-2988 --diff examples/configs/legacy   (writes nothing)"
lossmask migrate --reader prime-rl-pre-2988 --diff examples/configs/legacy

step "lossmask show: one conversation, \"sampled\" on the GLM-4.5 renderer vs the legacy table"
lossmask show examples/configs/show/glm-sampled.toml --data examples/data/weather-tools.jsonl \
  --index 1 --compare examples/configs/show/glm-legacy-roles.toml

step "lossmask audit: stop tokens trained where turns end, over the bundled data set"
lossmask audit examples/configs/show/glm-legacy-roles.toml examples/configs/show/glm-sampled.toml \
  --data examples/data/weather-tools.jsonl

step "lossmask experiment: paths x masks at seed 0, outputs in runs/experiment (grid.md, grid.png)"
bash bench/experiment_grid.sh --seeds 0 --output-dir runs/experiment
