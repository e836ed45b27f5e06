#!/usr/bin/env bash
# The one prepared GPU check (issue 5, item 7). Run from the repository root on a machine with a
# CUDA GPU and the [train] extra installed:
#
#     bash bench/gpu_check.sh [RESULTS_DIR]
#
# 1. the experiment on the GPU (bf16 autocast): both configs of examples/experiment/, same table;
# 2. training throughput (tokens/s, MFU) of a 0.51B-parameter Llama built from a config;
# 3. the trained-positions loss bench on the GPU (time and peak memory from the CUDA allocator).
# Everything lands in RESULTS_DIR (default: $OUT if set, else bench/results-gpu), with the GPU named.
# Record the figures, with the device, in docs/benchmarks.md.
set -euo pipefail

results="${1:-${OUT:-bench/results-gpu}}"
mkdir -p "$results"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU here')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$results/gpu.csv"

echo "== 1. experiment on the GPU"
time python -m lossmask train examples/experiment/legacy-roles.toml examples/experiment/sampled.toml \
  --device cuda --output-dir "$results/experiment" --no-progress 2>&1 | tee "$results/experiment.log"

echo "== 2. throughput of a >= 0.5B model built from a config"
python bench/throughput.py --preset 0.5b --device cuda --seq-len 2048 --micro-batch 8 --steps 10 \
  --json "$results/throughput.json" 2>&1 | tee "$results/throughput.log"
python bench/throughput.py --preset 0.5b --device cuda --seq-len 2048 --micro-batch 8 --steps 10 \
  --density 0.25 --json "$results/throughput-density25.json" 2>&1 | tee -a "$results/throughput.log"

echo "== 3. loss bench on the GPU"
python bench/loss_bench.py --device cuda --hidden 1024 --positions 16384 --repeats 10 \
  --json "$results/loss_bench.json" 2>&1 | tee "$results/loss_bench.log" || true

echo "results in $results"
