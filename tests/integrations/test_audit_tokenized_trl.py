"""`lossmask audit --tokenized` on what TRL 1.16's own dataset preparation built.

`SFTTrainer` prepares the rows (its `train_dataset` after `__init__`: `input_ids` and `labels`),
with `assistant_only_loss=True` on GLM-4.5 tool conversations (TRL's vendored `glm4moe.jinja`,
which TRL swaps for its tagged training template) and on Qwen3 (the real vocabulary, TRL's
`qwen3.jinja`), and with `completion_only_loss` on prompt/completion rows over the untagged GLM
template. The audit's figures must equal a count made here another way: each assistant turn
found by a prefix render (`apply_chat_template(messages[:i], add_generation_prompt=True)`, the
served prompt) instead of scanning ids, its kind and calls read from the message, the stop the
first serving stop after the prompt.
"""

from __future__ import annotations

import importlib.resources
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import generate_conversations, load_tokenizer
from tests.cli_runner import run_cli
from tests.integrations.conftest import QWEN3_SERVING_STOPS, tiny_llama

pytest.importorskip("trl")

GLM_SERVING_STOPS = ["<|endoftext|>", "<|user|>", "<|observation|>"]  # GLM-4.5's generation_config


def trl_template(name: str) -> str:
    return (importlib.resources.files("trl") / "chat_templates" / f"{name}.jinja").read_text()


def conversations() -> list[dict[str, Any]]:
    """Tool conversations (1-3 calls a turn; two exchanges in some), arguments as objects."""
    found = generate_conversations(10, seed=21) + generate_conversations(3, seed=22, exchanges=2)
    for conversation in found:
        for message in conversation["messages"]:
            for call in message.get("tool_calls", []):
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return found


def trl_prepared(tokenizer: Any, rows: list[dict[str, Any]], tmp_path: Path, **config: Any) -> Any:
    """TRL's own preparation of `rows`, and the chat template it used."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(tmp_path / "trl"), max_length=None, use_cpu=True, report_to="none", **config
    )
    trainer = SFTTrainer(
        model=tiny_llama(len(tokenizer)),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    return trainer.train_dataset, trainer.chat_template or tokenizer.chat_template


def independent_count(
    prepared: Any, convs: list[dict[str, Any]], tokenizer: Any, template: str, stops: set[int]
) -> dict[str, Any]:
    """The audit's figures, counted from prefix renders and the messages themselves."""
    turns: Counter[str] = Counter()
    stop_trained: Counter[str] = Counter()
    calls: Counter[int] = Counter()
    outside = untrained = trained_total = prompt_trained = unclosed = 0
    for row, conversation in zip(prepared, convs, strict=True):
        ids, labels = row["input_ids"], row["labels"]
        messages = conversation["messages"]
        spans: list[tuple[int, int]] = []
        prompt_positions: set[int] = set()
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = tokenizer.apply_chat_template(
                messages[:i],
                tools=conversation["tools"],
                chat_template=template,
                tokenize=True,
                return_dict=False,
            )
            prompt = tokenizer.apply_chat_template(
                messages[:i],
                tools=conversation["tools"],
                chat_template=template,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=False,
            )
            assert ids[: len(prompt)] == prompt  # the served prompt is where the turn starts
            start = len(prompt)
            prompt_positions.update(range(len(before), start))
            stop = next((k for k in range(start, len(ids)) if ids[k] in stops), None)
            kind = "tool_call" if message.get("tool_calls") else "final"
            turns[kind] += 1
            if message.get("tool_calls"):
                calls[len(message["tool_calls"])] += 1
            stop_trained[kind] += stop is not None and labels[stop] != -100
            unclosed += stop is None
            spans.append((start, len(ids) - 1 if stop is None else stop))
        in_span = {k for start, end in spans for k in range(start, end + 1)}
        trained = {k for k, label in enumerate(labels) if label != -100 and k}
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


def audit(rows: Path, tokenizer: str) -> dict[str, Any]:
    result = run_cli(
        ["audit", "--tokenized", str(rows), "--tokenizer", tokenizer, "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    (report,) = json.loads(result.stdout)["reports"]
    return report


def assert_same(report: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: v["turns"] for k, v in report["stop_rate"].items() if v["turns"]} == expected[
        "turns"
    ]
    assert {k: v["stop_trained"] for k, v in report["stop_rate"].items() if v["turns"]} == expected[
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


def glm_tokenizer() -> Any:
    import copy

    tokenizer = copy.copy(load_tokenizer("embedded:glm-4.5"))  # the GLM-4.5 special tokens
    tokenizer.chat_template = trl_template("glm4moe")
    return tokenizer


def save(prepared: Any, path: Path) -> Path:
    prepared.select_columns(["input_ids", "labels"]).to_parquet(str(path))
    return path


def test_glm_assistant_only_loss_with_trls_template(tmp_path: Path) -> None:
    tokenizer = glm_tokenizer()
    convs = conversations()
    rows = [{"messages": c["messages"], "tools": c["tools"]} for c in convs]
    prepared, template = trl_prepared(tokenizer, rows, tmp_path, assistant_only_loss=True)
    assert template == trl_template("glm4moe_training")  # TRL swapped in its tagged template
    stops = set(tokenizer.convert_tokens_to_ids(GLM_SERVING_STOPS))
    expected = independent_count(prepared, convs, tokenizer, template, stops)
    report = audit(save(prepared, tmp_path / "rows.parquet"), "embedded:glm-4.5")
    assert_same(report, expected)
    # TRL's training template trains GLM's stops: every turn learns to stop.
    assert report["stop_rate"]["tool_call"]["rate"] == report["stop_rate"]["final"]["rate"] == 1


def test_glm_completion_only_loss_on_the_untagged_template(tmp_path: Path) -> None:
    tokenizer = glm_tokenizer()
    convs = conversations()
    rows = []
    for conversation in convs:
        messages = conversation["messages"]
        first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
        rows.append(
            {
                "prompt": messages[:first],
                "completion": messages[first:],
                "tools": conversation["tools"],
            }
        )
    prepared, template = trl_prepared(tokenizer, rows, tmp_path, completion_only_loss=True)
    assert template == trl_template("glm4moe")  # untagged: the completion mask is TRL's only cut
    stops = set(tokenizer.convert_tokens_to_ids(GLM_SERVING_STOPS))
    expected = independent_count(prepared, convs, tokenizer, template, stops)
    report = audit(save(prepared, tmp_path / "rows.parquet"), "embedded:glm-4.5")
    assert_same(report, expected)
    # What this costs, as the audit says it: tool results and later generation prompts train,
    # and no conversation's last turn learns to stop (the template writes no stop after the
    # last message); only final turns followed by another user turn do.
    assert report["trained_outside_sampled"]["tokens"] > 0
    final = report["stop_rate"]["final"]
    assert final["stop_trained"] == final["turns"] - len(convs)
    assert report["unclosed_turns"] == {"no serving stop before end of the row": len(convs)}


def test_qwen3_assistant_only_loss_on_the_real_vocabulary(
    tmp_path: Path, qwen3_tokenizer_dir: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(qwen3_tokenizer_dir))
    tokenizer.chat_template = trl_template("qwen3")
    convs = conversations()
    rows = [{"messages": c["messages"], "tools": c["tools"]} for c in convs]
    prepared, template = trl_prepared(tokenizer, rows, tmp_path, assistant_only_loss=True)
    assert template == trl_template("qwen3_training")
    expected = independent_count(prepared, convs, tokenizer, template, set(QWEN3_SERVING_STOPS))
    report = audit(save(prepared, tmp_path / "rows.parquet"), str(qwen3_tokenizer_dir))
    assert_same(report, expected)
    assert report["generation_prompt"] == "<|im_start|>assistant\n"
    assert report["tool_call_token"] == "<tool_call>"
