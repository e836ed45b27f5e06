"""`audit --tokenized` on rows written in each trainer's documented prepared format.

- axolotl: a pre-tokenised dataset has exactly `input_ids`, `attention_mask`, `labels` (-100 where
  untrained), as JSON Lines (its docs' example) or the `save_to_disk` folder `axolotl preprocess`
  writes under `dataset_prepared_path`;
- LLaMA-Factory: `tokenized_path` is a `save_to_disk` DatasetDict whose `train` split has
  `input_ids`, `attention_mask`, `labels`;
- verl: `MultiTurnSFTDataset` items, `input_ids`, `attention_mask`, `position_ids`, `loss_mask`
  (0/1), right-padded to `max_length` with attention 0;
- slime: `Sample`s, `tokens`, `response_length` and `loss_mask` over the last `response_length`
  tokens (`sft_rollout.generate_rollout`).

Two masks go into each: lossmask's `"sampled"` (every stop trained) and the assistant-only role
mask built here from prefix renders (GLM's `<|observation|>` is the tool message's, so no tool-call
turn learns to stop). The figures must equal `count_by_prefix_renders`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import generate_conversations, load_backend, mask_conversation
from lossmask.masks.engine.conversation import normalise_conversation
from tests.cli_runner import run_cli
from tests.integrations.conftest import (
    assert_audit_counts,
    audit_tokenized_json,
    count_by_prefix_renders,
)

TOKENIZER = "embedded:glm-4.5"
GLM_SERVING_STOPS = ["<|endoftext|>", "<|user|>", "<|observation|>"]
Rows = list[tuple[list[int], list[bool]]]


@pytest.fixture(scope="module")
def glm() -> Any:
    return load_backend(tokenizer=TOKENIZER)


@pytest.fixture(scope="module")
def conversations() -> list[dict[str, Any]]:
    found = generate_conversations(9, seed=31) + generate_conversations(3, seed=32, exchanges=2)
    normalised = []
    for conversation in found:
        messages, tools, _ = normalise_conversation(conversation)
        normalised.append({"messages": messages, "tools": tools})
    return normalised


def sampled_rows(glm: Any, conversations: list[dict[str, Any]]) -> Rows:
    rows = []
    for conversation in conversations:
        sequence = mask_conversation(conversation, "sampled", glm)
        rows.append((sequence.ids, sequence.mask))
    return rows


def role_rows(glm: Any, conversations: list[dict[str, Any]]) -> Rows:
    """Assistant-only by message, from prefix renders: what a role filter trains."""
    tokenizer = glm.tokenizer

    def render(messages: list[dict[str, Any]], tools: Any, prompt: bool = False) -> list[int]:
        ids: list[int] = tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=prompt, tokenize=True, return_dict=False
        )
        return ids

    rows = []
    for conversation in conversations:
        messages, tools = conversation["messages"], conversation["tools"]
        ids = render(messages, tools)
        mask = [False] * len(ids)
        for i, message in enumerate(messages):
            if message["role"] == "assistant":
                start, end = (
                    len(render(messages[:i], tools, True)),
                    len(render(messages[: i + 1], tools)),
                )
                mask[start:end] = [True] * (end - start)
        rows.append((ids, mask))
    return rows


def axolotl_jsonl(rows: Rows, path: Path) -> Path:
    out = path / "axolotl.jsonl"
    lines = [
        {
            "input_ids": ids,
            "attention_mask": [1] * len(ids),
            "labels": [t if bit else -100 for t, bit in zip(ids, mask, strict=True)],
        }
        for ids, mask in rows
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return out


def axolotl_prepared(rows: Rows, path: Path) -> Path:
    import datasets

    out = path / "axolotl-prepared"
    datasets.Dataset.from_list(
        [
            {
                "input_ids": ids,
                "attention_mask": [1] * len(ids),
                "labels": [t if bit else -100 for t, bit in zip(ids, mask, strict=True)],
                "position_ids": list(range(len(ids))),
                "length": len(ids),
            }
            for ids, mask in rows
        ]
    ).save_to_disk(str(out))
    return out


def llamafactory_tokenized_path(rows: Rows, path: Path) -> Path:
    import datasets

    out = path / "llamafactory-tokenized"
    train = datasets.Dataset.from_list(
        [
            {
                "input_ids": ids,
                "attention_mask": [1] * len(ids),
                "labels": [t if bit else -100 for t, bit in zip(ids, mask, strict=True)],
            }
            for ids, mask in rows
        ]
    )
    datasets.DatasetDict({"train": train}).save_to_disk(str(out))
    return out


def verl_parquet(rows: Rows, path: Path) -> Path:
    import datasets

    width = max(len(ids) for ids, _ in rows) + 7
    pad = 0
    out = path / "verl.parquet"
    items = []
    for ids, mask in rows:
        extra = width - len(ids)
        items.append(
            {
                "input_ids": ids + [pad] * extra,
                "attention_mask": [1] * len(ids) + [0] * extra,
                "position_ids": list(range(len(ids))) + [0] * extra,
                "loss_mask": [int(bit) for bit in mask] + [0] * extra,
            }
        )
    datasets.Dataset.from_list(items).to_parquet(str(out))
    return out


def slime_jsonl(rows: Rows, path: Path) -> Path:
    out = path / "slime.jsonl"
    lines = []
    for ids, mask in rows:
        bits = [int(bit) for bit in mask]
        response = len(bits) - bits.index(1)  # slime's get_response_lengths
        lines.append({"tokens": ids, "response_length": response, "loss_mask": bits[-response:]})
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return out


WRITERS: dict[str, Callable[[Rows, Path], Path]] = {
    "axolotl-jsonl": axolotl_jsonl,
    "axolotl-prepared": axolotl_prepared,
    "llamafactory": llamafactory_tokenized_path,
    "verl": verl_parquet,
    "slime": slime_jsonl,
}


@pytest.mark.parametrize("mask", ["sampled", "roles"])
@pytest.mark.parametrize("trainer", list(WRITERS))
def test_each_trainers_format_audits_to_the_independent_count(
    tmp_path: Path, glm: Any, conversations: list[dict[str, Any]], trainer: str, mask: str
) -> None:
    rows = sampled_rows(glm, conversations) if mask == "sampled" else role_rows(glm, conversations)
    stops = set(glm.tokenizer.convert_tokens_to_ids(GLM_SERVING_STOPS))
    expected = count_by_prefix_renders(rows, conversations, glm.tokenizer, None, stops)
    report = audit_tokenized_json(WRITERS[trainer](rows, tmp_path), TOKENIZER)
    assert_audit_counts(report, expected)
    tool_rate = report["stop_rate"]["tool_call"]["rate"]
    assert tool_rate == (1.0 if mask == "sampled" else 0.0)


def test_jobs_give_the_same_report(
    tmp_path: Path, glm: Any, conversations: list[dict[str, Any]]
) -> None:
    rows = role_rows(glm, conversations) * 30
    path = axolotl_jsonl(rows, tmp_path)
    one = audit_tokenized_json(path, TOKENIZER)
    two = audit_tokenized_json(path, TOKENIZER, "-j", "2")
    assert one == two


def test_fail_under_stop_rate_and_the_text_table(
    tmp_path: Path, glm: Any, conversations: list[dict[str, Any]]
) -> None:
    path = axolotl_jsonl(role_rows(glm, conversations), tmp_path)
    result = run_cli(
        [
            "audit",
            "--tokenized",
            str(path),
            "--tokenizer",
            TOKENIZER,
            "--fail-under-stop-rate",
            "95",
        ]
    )
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{path}: labels read against chat-template (generation prompt '<|assistant|>', serving "
        "stops <|endoftext|>, <|user|>, <|observation|>)"
    )
    tool_turns = sum(1 for c in conversations for m in c["messages"] if m.get("tool_calls"))
    assert f"  {'tool-call turns':<16}{tool_turns:>7}{0:>14}{'0.0%':>9}" in lines
    assert lines[-1] == f"FAIL {path}: lowest stop rate 0.0% of labels is under 95.0%"


def test_rows_that_cannot_be_read_as_a_mask_are_named(tmp_path: Path, glm: Any) -> None:
    ids = glm.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        tokenize=True,
        return_dict=False,
    )
    shifted = [*ids[1:], -100]  # labels[k] = input_ids[k + 1]: shifted by one
    lines = [
        {"input_ids": ids, "labels": shifted},
        {"input_ids": ids, "labels": ids[:-1]},
        {"input_ids": [*ids[:-1], 10**6], "labels": ids},
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = run_cli(["audit", "--tokenized", str(path), "--tokenizer", TOKENIZER])
    assert result.exit_code == 1
    vocabulary = len(glm.tokenizer)
    assert result.stderr.splitlines() == [
        f"{path}:1: row 0: labels[0] is {ids[1]}, neither -100 nor input_ids[0] ({ids[0]}) (they "
        "look shifted by one: labels[k] = input_ids[k + 1]; lossmask reads labels aligned to "
        "input_ids, as Hugging Face models take them)",
        f"{path}:2: row 1: labels has {len(ids) - 1} entries but input_ids has {len(ids)}; they "
        "must be aligned token by token",
        f"{path}:3: row 2: input_ids holds id 1000000, but the tokenizer has {vocabulary} tokens: "
        "these rows were made with another tokenizer (pass the one they were made with)",
    ]


def test_mask_columns_are_found_by_name_or_named(tmp_path: Path, glm: Any) -> None:
    ids = [1, 2, 3]
    path = tmp_path / "two.jsonl"
    path.write_text(
        json.dumps({"input_ids": ids, "labels": ids, "loss_mask": [0, 1, 1]}) + "\n",
        encoding="utf-8",
    )
    result = run_cli(["audit", "--tokenized", str(path), "--tokenizer", TOKENIZER])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{path}: has several mask columns (labels, loss_mask); say which one the trainer reads "
        "with --mask-column (TRL uses labels when present)"
    )
    chosen = audit_tokenized_json(path, TOKENIZER, "--mask-column", "loss_mask")
    assert chosen["mask_column"] == "loss_mask" and chosen["trained_tokens"] == 2


def test_rows_without_a_chat_template_have_no_turn_to_locate(
    tmp_path: Path, glm: Any, conversations: list[dict[str, Any]]
) -> None:
    """Plain-text rows (TRL's language-modelling rows: labels = input_ids) trained everywhere:
    no turn is located, and the audit says why instead of reporting 0 turns as if all were well."""
    texts = [" ".join(m["content"] for m in c["messages"] if m["content"]) for c in conversations]
    rows = [(glm.tokenizer(text)["input_ids"], []) for text in texts]
    rows = [(ids, [True] * len(ids)) for ids, _ in rows]
    report = audit_tokenized_json(axolotl_jsonl(rows, tmp_path), TOKENIZER)
    assert report["errors"] == []
    assert report["rows_without_turns"] == {
        "the generation prompt '<|assistant|>' never occurs in the ids (rows made with another "
        "tokenizer or template?)": len(rows)
    }
    assert all(value["turns"] == 0 for value in report["stop_rate"].values())
    assert report["trained_tokens"] == sum(len(ids) - 1 for ids, _ in rows)


def test_show_tokenized_marks_what_the_stored_mask_gets_wrong(
    tmp_path: Path, glm: Any, conversations: list[dict[str, Any]]
) -> None:
    path = axolotl_jsonl(role_rows(glm, conversations[:1]), tmp_path)
    result = run_cli(
        ["show", "--tokenized", str(path), "--tokenizer", TOKENIZER, "--index", "0", "--no-color"]
    )
    assert result.exit_code == 0, result.stderr
    tool_turns = sum(bool(m.get("tool_calls")) for m in conversations[0]["messages"])
    assert tool_turns == result.stdout.count("{-<|observation|>-}") == 1  # sampled, untrained
    assert "{+" not in result.stdout.split("targets, each aligned")[0]  # nothing trained outside
    assert "  {+trained only here+} 0   {-trained only there-} 1" in result.stdout


def test_a_generation_prompt_tokenised_with_the_turn_is_not_located(
    tmp_path: Path, qwen3_tokenizer_dir: Path
) -> None:
    """Real Qwen3: an assistant message starting with a newline tokenises `assistant\\n\\n...`
    as one `\\n\\n` token, so the served prompt `<|im_start|>assistant\\n` is not in the ids: the
    turn cannot be located from the ids, and the audit says so (a model served that prompt
    would see other ids than it was trained on)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(qwen3_tokenizer_dir))
    messages = [
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "\nHello."},
        {"role": "user", "content": "Bye?"},
        {"role": "assistant", "content": "Bye."},
    ]
    ids = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False))["input_ids"]
    path = axolotl_jsonl([(ids, [True] * len(ids))], tmp_path)
    report = audit_tokenized_json(path, str(qwen3_tokenizer_dir))
    assert report["unlocated_turns"] == {
        "the generation prompt '<|im_start|>assistant\\n' is in the text but tokenised "
        "differently from the served prompt (merged with the turn's first token)": 1
    }
    assert report["stop_rate"]["final"]["turns"] == 1  # the second turn is found
