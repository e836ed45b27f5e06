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
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import generate_conversations, load_tokenizer
from tests.integrations.conftest import (
    QWEN3_SERVING_STOPS,
    assert_audit_counts,
    audit_tokenized_json,
    count_by_prefix_renders,
    tiny_llama,
)

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


def audit(rows: Path, tokenizer: str) -> dict[str, Any]:
    return audit_tokenized_json(rows, tokenizer)


def trl_rows(prepared: Any) -> list[tuple[list[int], list[bool]]]:
    return [(row["input_ids"], [label != -100 for label in row["labels"]]) for row in prepared]


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
    expected = count_by_prefix_renders(trl_rows(prepared), convs, tokenizer, template, stops)
    report = audit(save(prepared, tmp_path / "rows.parquet"), "embedded:glm-4.5")
    assert_audit_counts(report, expected)
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
    expected = count_by_prefix_renders(trl_rows(prepared), convs, tokenizer, template, stops)
    report = audit(save(prepared, tmp_path / "rows.parquet"), "embedded:glm-4.5")
    assert_audit_counts(report, expected)
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
    expected = count_by_prefix_renders(
        trl_rows(prepared), convs, tokenizer, template, set(QWEN3_SERVING_STOPS)
    )
    report = audit(save(prepared, tmp_path / "rows.parquet"), str(qwen3_tokenizer_dir))
    assert_audit_counts(report, expected)
    assert report["generation_prompt"] == "<|im_start|>assistant\n"
    assert report["tool_call_token"] == "<tool_call>"
