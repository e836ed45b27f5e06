"""The loss step four ways, side by side: full logits, trained positions, chunked, Liger's fused CE.

The loss step is the LM head plus cross-entropy, forward and backward, from the decoder's hidden
states: the part whose cost these methods change. Methods:

- `full`: logits at every position, then ignore-index CE (the conventional step; the reference);
- `trained`: gather the trained positions, then head + CE over them at once
  (`trained_positions_loss_sum`, `fused_lm_head_token_chunk_size = "disabled"`);
- `chunked`: the same gather, head + CE `--chunk-size` positions at a time, gradients computed per
  chunk (`chunked_trained_positions_loss_sum`, the trainer's default);
- `liger`: `liger-kernel`'s `LigerFusedLinearCrossEntropyLoss` over all positions (Triton, CUDA
  only; skipped with the reason otherwise).

Targets for `chunked` at every density d: peak memory at most 0.25x the full-logits step, time at
most (d + 0.1) x the full-logits step plus 10%, loss and gradients equal to the full step's to
1e-5 (relative, gradients as max |difference| / max |reference|). Exit status 1 when one is missed.

The memory target has a geometry: every method holds the head weight's gradient (vocab x hidden
fp32, 128 MiB at 32768 x 1024), so no chunk size takes the chunked step below it, and its ratio to
the full step is at least weight gradient / full step. At 2048 positions, hidden 1024, the full
step holds 773 MiB (floor 0.17; chunked measured 0.21-0.24x); at 512 positions 211 MiB (floor
0.61; chunked measured 0.64-0.79x). The 0.25x target is applied only when positions >= 2 x hidden;
below that the bench reports the ratio and says so (`--positions 512`).

    python bench/loss_bench.py                      # vocab 32768, hidden 1024, 2048 positions
    python bench/loss_bench.py --json out.json      # also write the figures
    python bench/loss_bench.py --device cuda        # on a GPU (memory from the CUDA allocator)

Time: on CPU, the child's CPU time (user + system) on `--threads` torch threads (default 1): on a
shared machine other jobs stretch wall time by whatever share of the cores they take, while the
CPU time of a single-threaded run stays the work done. On CUDA, wall time after a synchronize.
Median of `--repeats`.

Memory, and why it is measured this way: each (method, density) runs in a fresh subprocess. On
CUDA the figure is the caching allocator's peak over what was allocated before the timed steps.
On CPU torch allocates through glibc malloc, which tracemalloc does not see; the child runs with
`MALLOC_MMAP_THRESHOLD_=131072`, so every block of 128 KiB or more is its own mapping, returned to
the OS when freed, and the resident set follows live tensor memory. The child resets the kernel's
peak-RSS mark (`/proc/self/clear_refs`, "5") right before the timed steps and reads `VmHWM`
afterwards: the figure is the peak resident set during the steps minus the resident set before
them. Inputs, the head weight and warm-up are outside it; the weight's gradient is inside it for
every method (each method must produce it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from proc_status import status_kib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DENSITIES = (0.10, 0.25, 0.50, 1.00)
METHODS = ("full", "trained", "chunked", "liger")
MEMORY_TARGET = 0.25
TIME_SLACK = 1.10
EQUAL_TO = 1e-5


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def liger_skip_reason(device: str) -> str | None:
    if not device.startswith("cuda"):
        return "liger-kernel's fused linear CE is a Triton kernel: it needs a CUDA device"
    try:
        import liger_kernel  # noqa: F401
    except ImportError:
        return "liger-kernel is not installed (pip install liger-kernel)"
    return None


def measure_one(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from lossmask.reference_trainer.loss import (
        IGNORE_INDEX,
        chunked_trained_positions_loss_sum,
        full_logits_loss_sum,
        trained_positions_loss_sum,
    )

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    batch, seq = 2, args.positions // 2
    hidden = torch.randn(batch, seq, args.hidden, device=device, requires_grad=True)
    head = torch.nn.Linear(args.hidden, args.vocab, bias=False).to(device)
    labels = torch.randint(0, args.vocab, (batch, seq), device=device)
    # Exactly round(density * positions) trained positions, the same ones for every method.
    order = torch.randperm(batch * seq, generator=torch.Generator().manual_seed(1))
    untrained = order[round(args.density * batch * seq) :].to(device)
    labels.view(-1)[untrained] = IGNORE_INDEX

    def loss_sum(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if args.method == "full":
            return full_logits_loss_sum(h, head, y)[0]
        if args.method == "trained":
            return trained_positions_loss_sum(h, head, y)[0]
        if args.method == "chunked":
            return chunked_trained_positions_loss_sum(h, head, y, args.chunk_size)[0]
        from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

        fused = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="sum")
        return fused(head.weight, h.reshape(-1, h.shape[-1]), y.reshape(-1))

    count = max(int((labels != IGNORE_INDEX).sum()), 1)

    def step(positions: slice = slice(None)) -> float:
        hidden.grad = None
        head.weight.grad = None
        loss = loss_sum(hidden[:, positions], labels[:, positions]) / count
        loss.backward()
        return float(loss)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    # Warm up on a few positions: kernels, thread pools and other one-time allocations happen here.
    step(slice(0, 8))
    hidden.grad = None
    head.weight.grad = None
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    else:
        base = status_kib("VmRSS") / 1024
        _reset_peak_rss()
    times = []
    for _ in range(args.repeats):
        start = clock()
        loss = step()
        sync()
        times.append(clock() - start)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = status_kib("VmHWM") / 1024
    assert hidden.grad is not None and head.weight.grad is not None
    torch.save({"hidden": hidden.grad.cpu(), "weight": head.weight.grad.cpu()}, args.grads_to)
    return {"seconds": statistics.median(times), "peak_mib": max(peak - base, 0.0), "loss": loss}


def run_child(args: argparse.Namespace, method: str, density: float, grads_to: Path) -> Any:
    command = [sys.executable, __file__, "--child", method, str(density), str(grads_to)]
    for option in ("vocab", "hidden", "positions", "repeats", "device", "chunk_size", "threads"):
        command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    # glibc: each block >= 128 KiB its own mapping, unmapped on free (see the module docstring).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def gradient_difference(reference: Path, other: Path) -> float:
    """Largest |difference| over both gradients, relative to the reference's largest entry."""
    import torch

    a, b = torch.load(reference), torch.load(other)
    return max(
        float((a[key] - b[key]).abs().max() / a[key].abs().max().clamp_min(1e-30))
        for key in ("hidden", "weight")
    )


def memory_target_applies(positions: int, hidden: int) -> bool:
    """The 0.25x memory claim's geometry (see the module docstring)."""
    return positions >= 2 * hidden


def compare(
    density: float, method: str, cell: dict[str, Any], full: dict[str, Any], memory_target: bool
) -> None:
    cell["time_ratio"] = cell["seconds"] / full["seconds"]
    cell["memory_ratio"] = cell["peak_mib"] / full["peak_mib"] if full["peak_mib"] else 0.0
    cell["loss_diff"] = abs(cell["loss"] - full["loss"]) / abs(full["loss"])
    if method == "chunked":
        cell["time_target"] = (density + 0.1) * TIME_SLACK
        cell["ok"] = (
            cell["time_ratio"] <= cell["time_target"]
            and (not memory_target or cell["memory_ratio"] <= MEMORY_TARGET)
            and cell["loss_diff"] <= EQUAL_TO
            and cell["grad_diff"] <= EQUAL_TO
        )


def main() -> int:
    from lossmask.reference_trainer.loss import DEFAULT_TOKEN_CHUNK_SIZE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--positions", type=int, default=2048, help="tokens per step (even)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_TOKEN_CHUNK_SIZE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.method, args.density, args.grads_to = (
            args.child[0],
            float(args.child[1]),
            args.child[2],
        )
        print(json.dumps(measure_one(args)))
        return 0

    print(
        f"loss step (LM head + CE, fwd+bwd) on {args.device}: vocab {args.vocab}, hidden "
        f"{args.hidden}, {args.positions} positions, chunk {args.chunk_size}, "
        f"median of {args.repeats}, "
        + ("wall time" if args.device.startswith("cuda") else f"CPU time, {args.threads} thread(s)")
    )
    memory_target = memory_target_applies(args.positions, args.hidden)
    if not memory_target:
        print(
            f"memory: no target at {args.positions} positions < 2 x hidden {args.hidden}: the "
            "head weight's gradient, held by every method, dominates (see the docstring)"
        )
    skip = liger_skip_reason(args.device)
    methods = [m for m in METHODS if m != "liger" or skip is None]
    if skip is not None:
        print(f"liger: skipped: {skip}")
    print(
        "| density | method | s | time × full | MiB | memory × full | loss diff | grad diff | ok |"
    )
    print("|" + "---|" * 9)
    rows: list[dict[str, Any]] = []
    all_ok = True
    with tempfile.TemporaryDirectory() as folder:
        for density in DENSITIES:
            cells = {}
            for method in methods:
                grads = Path(folder) / f"{method}.pt"
                cells[method] = run_child(args, method, density, grads)
            for method in methods:
                cell = cells[method]
                cell["grad_diff"] = gradient_difference(
                    Path(folder) / "full.pt", Path(folder) / f"{method}.pt"
                )
                compare(density, method, cell, cells["full"], memory_target)
                all_ok &= cell.get("ok", True)
                verdict = "" if "ok" not in cell else ("yes" if cell["ok"] else "NO")
                print(
                    f"| {density:.0%} | {method} | {cell['seconds']:.3f} "
                    f"| {cell['time_ratio']:.3f} "
                    f"| {cell['peak_mib']:.0f} | {cell['memory_ratio']:.3f} "
                    f"| {cell['loss_diff']:.1e} | {cell['grad_diff']:.1e} | {verdict} |",
                    flush=True,
                )
            rows.append({"density": density, **cells})
    if args.json is not None:
        keys = ("vocab", "hidden", "positions", "chunk_size", "repeats", "device", "threads")
        payload = {
            "settings": {k: getattr(args, k) for k in keys},
            "liger_skipped": skip,
            "memory_target_applies": memory_target,
        }
        args.json.write_text(json.dumps({**payload, "rows": rows}, indent=2) + "\n")
    memory = f"memory <= {MEMORY_TARGET}x full" if memory_target else "memory: no target"
    print(
        f"chunked targets: {memory}, time <= (density + 0.1) x "
        f"{TIME_SLACK} x full, loss and gradients equal to {EQUAL_TO} (relative)"
    )
    print("all targets met" if all_ok else "TARGET MISSED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
