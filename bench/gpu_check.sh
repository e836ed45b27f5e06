#!/usr/bin/env bash
# The one prepared GPU check. From a checkout, on a machine with a CUDA GPU:
#
#     bash bench/gpu_check.sh [--tiny] [RESULTS_DIR]
#
# 1. the experiment on the GPU (bf16 autocast): both configs of examples/experiment/, its table;
# 2. training throughput, MFU and peak memory of a 0.6B-parameter Llama built from a config
#    (bench/throughput.py), at 100% and 25% trained positions, chunked LM head;
# 3. the loss-step bench on the GPU (bench/loss_bench.py; Liger's fused CE too if installed).
#
# It ends with one table, and RESULTS_DIR (default: $OUT if set, else bench/results-gpu) gets
# exactly two files: gpu_check.log (everything printed) and gpu_check.json (the figures).
# Scratch outputs (checkpoints, per-part JSON) go to a temporary folder that is removed.
#
# Python: the project's venv. scripts/bootstrap.sh creates ${LOSSMASK_VENV:-.venv} on first use
# (install the CUDA torch you want into it first); LOSSMASK_PYTHON=/path/to/python skips that.
#
# Memory: the throughput run takes micro-batches of 2 x 2048 tokens, 4 per optimizer step. By
# estimate (fp32 weights, gradients and AdamW state ~9.6 GB, activations under bf16 autocast ~8 GB)
# it needs about 18-20 GB, sized for a 24 GB GPU; the old single micro-batch of 8 x 2048 needed
# ~40-45 GB. The estimate is not measured yet: the table reports the allocator's peak.
#
# --tiny: the same script on CPU with tiny sizes (tiny model, a 2-step experiment, small loss
# bench), to test the script itself on a machine without a GPU. Its figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

tiny=0
if [ "${1:-}" = "--tiny" ]; then
  tiny=1
  shift
fi
results="${1:-${OUT:-bench/results-gpu}}"
mkdir -p "$results"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if [ -n "${LOSSMASK_PYTHON:-}" ]; then
  py=$LOSSMASK_PYTHON
else
  bash scripts/bootstrap.sh
  py="${LOSSMASK_VENV:-.venv}/bin/python"
fi

exec > >(tee "$results/gpu_check.log") 2>&1

if [ "$tiny" = 1 ]; then
  device=cpu
  experiment_flags=(--set max_steps=2 --eval-examples 2 --max-new-tokens 8)
  throughput_flags=(--preset tiny --seq-len 256 --micro-batch 2 --grad-accum 2 --steps 2)
  loss_flags=(--vocab 2048 --hidden 64 --positions 256 --repeats 1)
else
  device=cuda
  "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU here')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  experiment_flags=()
  throughput_flags=(--preset 0.5b --seq-len 2048 --micro-batch 2 --grad-accum 4 --steps 10)
  loss_flags=(--hidden 1024 --positions 16384 --repeats 10)
fi
"$py" -c "import sys, torch; print(f'python {sys.executable}, torch {torch.__version__}')"

echo "== 1. the experiment grid (2 paths x 3 masks, seed 0) on $device"
started=$(date +%s)
experiment_rc=0
"$py" -m lossmask experiment examples/experiment/chat-template.toml \
  examples/experiment/renderer.toml --seeds 0 --device "$device" \
  --output-dir "$scratch/experiment" --no-progress "${experiment_flags[@]}" || experiment_rc=$?
echo "$(($(date +%s) - started))" > "$scratch/experiment_seconds"

echo "== 2. training throughput (tokens/s, MFU, peak memory)"
for density in 1.0 0.25; do
  "$py" bench/throughput.py --device "$device" "${throughput_flags[@]}" --density "$density" \
    --json "$scratch/throughput-$density.json"
done

echo "== 3. the loss step on $device"
loss_rc=0
"$py" bench/loss_bench.py --device "$device" "${loss_flags[@]}" \
  --json "$scratch/loss_bench.json" || loss_rc=$?

echo "== summary"
"$py" - "$scratch" "$results/gpu_check.json" "$experiment_rc" "$loss_rc" <<'PY'
import json
import sys
from pathlib import Path

scratch, out = Path(sys.argv[1]), Path(sys.argv[2])
throughput = [json.loads((scratch / f"throughput-{d}.json").read_text()) for d in ("1.0", "0.25")]
loss = json.loads((scratch / "loss_bench.json").read_text())
summary = {
    "device": throughput[0]["device"],
    "experiment": {
        "exit_code": int(sys.argv[3]),
        "seconds": int((scratch / "experiment_seconds").read_text()),
    },
    "throughput": throughput,
    "loss_bench": {**loss, "exit_code": int(sys.argv[4])},
}
out.write_text(json.dumps(summary, indent=2) + "\n")


def percent(value):
    return "n/a" if value is None else f"{value:.1%}"


def gib(value):
    return "n/a" if value is None else f"{value:.1f}"


print(f"| {summary['device']} | figure |")
print("|---|---|")
print(f"| experiment grid, six cells (exit {sys.argv[3]}) | {summary['experiment']['seconds']} s |")
for run in throughput:
    print(
        f"| throughput, {run['parameters'] / 1e6:,.0f}M params, density {run['density']:.0%} "
        f"| {run['tokens_per_s']:,.0f} tok/s, MFU {percent(run['mfu'])}, "
        f"peak {gib(run['peak_memory_gib'])} GiB |"
    )
for row in loss["rows"]:
    for method in ("trained", "chunked", "liger"):
        if method in row:
            cell = row[method]
            print(
                f"| loss step, {method}, density {row['density']:.0%} "
                f"| {cell['time_ratio']:.2f}x time, {cell['memory_ratio']:.2f}x memory of full |"
            )
if loss.get("liger_skipped"):
    print(f"| liger | skipped: {loss['liger_skipped']} |")
print(f"results: {out} and {out.with_suffix('.log')}")
PY
