"""Trained-positions-only loss vs full-logits cross-entropy: step time, peak memory, same loss.

The loss step is the LM head plus cross-entropy, forward and backward, from the decoder's hidden
states: the part whose cost the trained-positions loss changes. At mask density d it should cost
at most (d + 0.1) times the full-logits step, in time and in peak memory, and give the same loss.

    python bench/loss_bench.py                       # vocab 32768, hidden 256, 2048 positions
    python bench/loss_bench.py --json out.json       # also write the figures
    python bench/loss_bench.py --device cuda         # on a GPU (memory from the CUDA allocator)

Each (method, density) is measured in a fresh subprocess: on CPU the peak memory is the growth of
the process's peak resident set over its size before the timed steps (after a small warm-up),
with glibc told to unmap large blocks when they are freed; on CUDA it is the allocator's peak.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DENSITIES = (0.10, 0.25, 0.50, 1.00)
METHODS = ("full", "trained")


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux: the process's peak resident set so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


def measure_one(args: argparse.Namespace) -> dict[str, float]:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from lossmask.reference_trainer.loss import (
        IGNORE_INDEX,
        full_logits_loss_sum,
        trained_positions_loss_sum,
    )

    torch.manual_seed(0)
    device = torch.device(args.device)
    loss_fn = full_logits_loss_sum if args.method == "full" else trained_positions_loss_sum
    batch, seq = 2, args.positions // 2
    hidden = torch.randn(batch, seq, args.hidden, device=device, requires_grad=True)
    head = torch.nn.Linear(args.hidden, args.vocab, bias=False).to(device)
    labels = torch.randint(0, args.vocab, (batch, seq), device=device)
    # Exactly round(density * positions) trained positions, the same ones for both methods.
    order = torch.randperm(batch * seq, generator=torch.Generator().manual_seed(1))
    untrained = order[round(args.density * batch * seq) :].to(device)
    labels.view(-1)[untrained] = IGNORE_INDEX

    def step(positions: slice = slice(None)) -> float:
        hidden.grad = None
        head.weight.grad = None
        loss_sum, count = loss_fn(hidden[:, positions], head, labels[:, positions])
        loss = loss_sum / max(count, 1)
        loss.backward()
        return float(loss)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    # Warm up on a few positions only: kernels, thread pools and other one-time allocations happen
    # here, and this small step's own peak stays below the measured step's.
    step(slice(0, 8))
    hidden.grad = None
    head.weight.grad = None
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    else:
        base = _current_rss_mib()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss = step()
        sync()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**20) if device.type == "cuda" else _peak_rss_mib()
    grad_norm = float(head.weight.grad.norm()) + float(hidden.grad.norm())
    return {
        "seconds": statistics.median(times),
        "peak_mib": max(peak - base, 0.0),
        "loss": loss,
        "grad_norm": grad_norm,
    }


def run_child(args: argparse.Namespace, method: str, density: float) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        method,
        str(density),
        "--vocab",
        str(args.vocab),
        "--hidden",
        str(args.hidden),
        "--positions",
        str(args.positions),
        "--repeats",
        str(args.repeats),
        "--device",
        args.device,
    ]
    # A fixed mmap threshold makes glibc return every large freed block to the OS at once (and stops
    # it from raising the threshold as it goes), so the resident set follows live tensor memory.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--positions", type=int, default=2048, help="tokens per step (even)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "DENSITY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.method, args.density = args.child[0], float(args.child[1])
        print(json.dumps(measure_one(args)))
        return 0

    print(
        f"loss step (LM head + CE, fwd+bwd) on {args.device}: vocab {args.vocab}, hidden "
        f"{args.hidden}, {args.positions} positions, median of {args.repeats}"
    )
    header = (
        "| density | full s | trained s | time ratio | full MiB | trained MiB | memory ratio "
        "| target | |loss diff| | ok |"
    )
    print(header)
    print("|" + "---|" * 10)
    rows, all_ok = [], True
    for density in DENSITIES:
        full = run_child(args, "full", density)
        trained = run_child(args, "trained", density)
        target = density + 0.1
        time_ratio = trained["seconds"] / full["seconds"]
        memory_ratio = trained["peak_mib"] / full["peak_mib"] if full["peak_mib"] else 0.0
        loss_diff = abs(trained["loss"] - full["loss"])
        ok = time_ratio <= target and memory_ratio <= target and loss_diff <= 1e-5
        all_ok &= ok
        rows.append(
            {
                "density": density,
                "full": full,
                "trained": trained,
                "time_ratio": time_ratio,
                "memory_ratio": memory_ratio,
                "target": target,
                "loss_diff": loss_diff,
                "ok": ok,
            }
        )
        print(
            f"| {density:.0%} | {full['seconds']:.4f} | {trained['seconds']:.4f} "
            f"| {time_ratio:.3f} "
            f"| {full['peak_mib']:.0f} | {trained['peak_mib']:.0f} | {memory_ratio:.3f} "
            f"| <= {target:.2f} | {loss_diff:.1e} | {'yes' if ok else 'NO'} |"
        )
    if args.json is not None:
        settings = {
            k: getattr(args, k) for k in ("vocab", "hidden", "positions", "repeats", "device")
        }
        args.json.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    print("all targets met" if all_ok else "TARGET MISSED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
