"""Shared by the trainer-integration tests: tool conversations on disk, a config, a tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import generate_conversations, write_jsonl

pytest.importorskip("datasets")


def write_config(path: Path, tokenizer: str, renderer: str | None = None, **data: str) -> Path:
    lines = [f'[tokenizer]\nname = "{tokenizer}"\n']
    if renderer:
        lines.append(f'[renderer]\nname = "{renderer}"\n')
    lines.append("[data]\n" + "".join(f"{key} = {value}\n" for key, value in data.items()))
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def tool_conversations(tmp_path: Path) -> tuple[list[dict[str, Any]], Path]:
    """GLM-style tool conversations (1-3 parallel calls a turn, two exchanges in some) as JSONL."""
    conversations = generate_conversations(12, seed=11)
    conversations += generate_conversations(4, seed=12, exchanges=2, reasoning_rate=0.5)
    path = tmp_path / "tools.jsonl"
    write_jsonl(conversations, path)
    return conversations, path


def tiny_llama(vocab_size: int) -> Any:
    """A 1-layer, 32-wide Llama, seeded: enough for a trainer to run its real loss."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
    )
    return LlamaForCausalLM(config)
