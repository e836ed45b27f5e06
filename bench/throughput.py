"""Training throughput of a model built from a config: tokens/s and MFU.

Uses the trainer's own pieces (config-only model directory -> `resolve_model` -> `build_model`,
`CausalLMWithTrainedLoss`, bf16 autocast on CUDA, AdamW) on random token batches, so the figure is
what `lossmask train` does per step minus data preparation.

    python bench/throughput.py --preset 0.5b --device cuda     # the GPU figure (>= 0.5B params)
    python bench/throughput.py --preset tiny --device cpu      # a smoke run anywhere

MFU = 6 * parameters * tokens/s / peak dense bf16 FLOP/s (attention FLOPs left out, so it is a
slight underestimate). The peak is looked up from the GPU name, or given with --peak-tflops.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lossmask.reference_trainer.model import TINY_LLAMA

PRESETS: dict[str, dict[str, Any]] = {
    # ~0.6B parameters (Qwen3-0.6B-like widths, 32k vocabulary, untied head).
    "0.5b": {
        "vocab_size": 32768,
        "hidden_size": 1024,
        "intermediate_size": 3072,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "tie_word_embeddings": False,
    },
    # The experiment's model, for a quick CPU smoke run of this script.
    "tiny": {**TINY_LLAMA, "vocab_size": 1024},
}
# Dense bf16 tensor-core peaks (no sparsity), from the vendors' data sheets.
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def peak_tflops(device_name: str) -> float | None:
    for key, value in PEAK_TFLOPS.items():
        if key in device_name:
            return value
    return None


def main() -> int:
    import torch
    from transformers import LlamaConfig

    from lossmask.reference_trainer.loop import autocast
    from lossmask.reference_trainer.loss import IGNORE_INDEX, CausalLMWithTrainedLoss
    from lossmask.reference_trainer.model import build_model, count_parameters, resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="0.5b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up)")
    parser.add_argument("--density", type=float, default=1.0, help="share of trained positions")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        LlamaConfig(max_position_embeddings=args.seq_len, **PRESETS[args.preset]).save_pretrained(
            folder
        )
        source = resolve_model(
            folder, vocab_size=PRESETS[args.preset]["vocab_size"], max_positions=0
        )
        model = build_model(source, seed=0).to(device)
    if device.type == "cuda":
        model.config._attn_implementation = "sdpa"
    parameters = count_parameters(model)
    module = CausalLMWithTrainedLoss(model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    vocab = PRESETS[args.preset]["vocab_size"]
    shape = (args.micro_batch, args.seq_len)
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, vocab, shape, generator=generator).to(device)
    labels = torch.randint(0, vocab, shape, generator=generator)
    labels[torch.rand(shape, generator=generator) >= args.density] = IGNORE_INDEX
    labels = labels.to(device)
    attention = torch.ones(shape, dtype=torch.long, device=device)
    positions = torch.arange(args.seq_len, device=device).expand(shape)
    trained = int((labels != IGNORE_INDEX).sum())

    def step() -> None:
        with autocast(device):
            loss, _ = module(input_ids, labels, attention, positions, float(trained))
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = (time.perf_counter() - start) / args.steps
    tokens_per_s = args.micro_batch * args.seq_len / seconds
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops or peak_tflops(name)
    mfu = 6 * parameters * tokens_per_s / (peak * 1e12) if peak else None
    result = {
        "device": name,
        "preset": args.preset,
        "parameters": parameters,
        "seq_len": args.seq_len,
        "micro_batch": args.micro_batch,
        "density": args.density,
        "step_seconds": seconds,
        "tokens_per_s": tokens_per_s,
        "peak_tflops": peak,
        "mfu": mfu,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None,
    }
    print(
        f"{name}: {parameters / 1e9:.3f}B params, {args.micro_batch}x{args.seq_len} tokens/step, "
        f"{seconds * 1000:.1f} ms/step, {tokens_per_s:,.0f} tokens/s"
        + (f", MFU {mfu:.1%} (peak {peak:.0f} TFLOP/s bf16)" if mfu is not None else "")
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
