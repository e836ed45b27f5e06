"""Training throughput of a model built from a config: tokens/s, MFU and peak memory.

Uses the trainer's own pieces (config-only model directory -> `resolve_model` -> `build_model`,
`CausalLMWithTrainedLoss` with the chunked head, bf16 autocast on CUDA, AdamW) on random token
batches, so the figure is what `lossmask train` does per step minus data preparation.

    python bench/throughput.py --preset 0.5b --device cuda     # the GPU figure (0.6B params)
    python bench/throughput.py --preset tiny --device cpu      # a smoke run anywhere

FLOPs per optimizer step, counted the standard way (Kaplan et al. 2020; PaLM, Chowdhery et al.
2022, appendix B) and charging the LM head only where it runs:

    decoder: (6 * N + 12 * L * H * Q * T) * processed tokens
    LM head: 6 * V * D * head positions

N is the non-embedding parameter count without the LM head (the decoder's layers and final norm),
L layers, H attention heads, Q head dimension, T sequence length (the 12LHQT term is the attention
score and value matmuls, forward and backward, not halved for the causal mask, as in PaLM), V
vocabulary, D hidden size. Head positions are the trained positions: the trainer gathers them
before the head, chunked or not, so the head never runs elsewhere. MFU = FLOPs / step time / peak
dense bf16 FLOP/s of the GPU (looked up from its name, or `--peak-tflops`).
"""

from __future__ import annotations

import argparse
import json
import re
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
# Dense bf16 tensor-core peaks (no sparsity: half the data sheets' "with sparsity" figures), from
# NVIDIA's data sheets. The H100 and H200 come in variants with different clocks and power: the
# SXM boards (`torch.cuda.get_device_name`: "NVIDIA H100 80GB HBM3", "NVIDIA H200") 989.5, the
# NVL boards ("NVIDIA H100 NVL", "NVIDIA H200 NVL") 835.5, the H100 PCIe ("NVIDIA H100 PCIe") 756.5.
# The first matching row wins, so variants come before the plain names.
PEAK_TFLOPS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("H100", "NVL"), 835.5),
    (("H100", "PCIe"), 756.5),
    (("H100",), 989.5),
    (("H200", "NVL"), 835.5),
    (("H200",), 989.5),
    (("A100",), 312.0),
    (("L40S",), 362.05),
    (("A10",), 125.0),
)


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of the GPU `torch.cuda.get_device_name` names; None if unknown."""
    for words, value in PEAK_TFLOPS:  # whole words: "A10" is not the A10G, "H100" not "H1000"
        if all(re.search(rf"\b{word}\b", device_name) for word in words):
            return value
    return None


def step_flops(model: Any, seq_len: int, processed_tokens: int, head_positions: int) -> float:
    """Model FLOPs of one optimizer step, forward and backward (see the module docstring)."""
    config = model.config
    embedding = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    excluded = {id(embedding), id(head)}
    non_embedding = sum(p.numel() for p in model.parameters() if id(p) not in excluded)
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    decoder = (6 * non_embedding + 12 * layers * heads * head_dim * seq_len) * processed_tokens
    vocab, hidden = head.shape
    return float(decoder + 6 * vocab * hidden * head_positions)


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
    parser.add_argument("--micro-batch", type=int, default=2, help="sequences per micro-batch")
    parser.add_argument("--grad-accum", type=int, default=4, help="micro-batches per step")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up)")
    parser.add_argument("--density", type=float, default=1.0, help="share of trained positions")
    parser.add_argument(
        "--head",
        default="auto",
        help="[model] fused_lm_head_token_chunk_size: auto (the trainer's default), an integer, or "
        "disabled (trained positions at once, no chunks)",
    )
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
    head = args.head if args.head in ("auto", "disabled") else int(args.head)
    module = CausalLMWithTrainedLoss(model, token_chunk_size=head).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    vocab = PRESETS[args.preset]["vocab_size"]
    shape = (args.micro_batch, args.seq_len)
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(args.grad_accum):
        input_ids = torch.randint(0, vocab, shape, generator=generator)
        labels = torch.randint(0, vocab, shape, generator=generator)
        labels[torch.rand(shape, generator=generator) >= args.density] = IGNORE_INDEX
        batches.append((input_ids.to(device), labels.to(device)))
    attention = torch.ones(shape, dtype=torch.long, device=device)
    positions = torch.arange(args.seq_len, device=device).expand(shape)
    trained = sum(int((labels != IGNORE_INDEX).sum()) for _, labels in batches)

    def step() -> None:
        for input_ids, labels in batches:
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
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = (time.perf_counter() - start) / args.steps
    processed = args.grad_accum * args.micro_batch * args.seq_len
    flops = step_flops(model, args.seq_len, processed, trained)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops or peak_tflops(name)
    result = {
        "device": name,
        "preset": args.preset,
        "parameters": parameters,
        "seq_len": args.seq_len,
        "micro_batch": args.micro_batch,
        "grad_accum": args.grad_accum,
        "density": args.density,
        "head": args.head,
        "step_seconds": seconds,
        "tokens_per_s": processed / seconds,
        "trained_tokens_per_s": trained / seconds,
        "step_tflop": flops / 1e12,
        "peak_tflops": peak,
        "mfu": flops / seconds / (peak * 1e12) if peak else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None,
    }
    mfu = result["mfu"]
    print(
        f"{name}: {parameters / 1e9:.3f}B params, {args.grad_accum}x{args.micro_batch}x"
        f"{args.seq_len} tokens/step at density {args.density:.0%}, {seconds * 1000:.1f} ms/step, "
        f"{result['tokens_per_s']:,.0f} tokens/s"
        + (f", MFU {mfu:.1%} (peak {peak:.0f} TFLOP/s bf16)" if mfu is not None else "")
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
