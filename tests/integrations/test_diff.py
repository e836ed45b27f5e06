"""`lossmask diff A B --data SOURCE` on the bundled GLM-4.5 example: what differs, counted here.

On GLM-4.5's shape `"sampled"` trains the `<|observation|>` that closes every tool-call turn and
the legacy role table trains the `<|assistant|>` that opens every assistant turn instead (docs/
masks.md, `show`); so the tokens trained only under `"sampled"` are one per tool-call turn, and
those only under the role table one per assistant turn: counted here from the messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lossmask.data import load_conversations
from tests.cli_runner import run_cli

pytest.importorskip("datasets")

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "weather-tools.jsonl"
SAMPLED = ROOT / "examples" / "configs" / "show" / "glm-sampled.toml"
NOTAGS = ROOT / "examples" / "configs" / "show" / "glm-notags-sampled.toml"
LEGACY = ROOT / "examples" / "configs" / "show" / "glm-legacy-roles.toml"


def turn_counts() -> tuple[int, int, int]:
    """(rows, tool-call turns, assistant turns) of the bundled data."""
    conversations = load_conversations(DATA)
    assistants = [m for c in conversations for m in c["messages"] if m["role"] == "assistant"]
    return len(conversations), sum(bool(m.get("tool_calls")) for m in assistants), len(assistants)


def diff_json(*args: str, code: int) -> dict[str, Any]:
    result = run_cli(["diff", *args, "--data", str(DATA), "--format", "json"])
    assert result.exit_code == code, result.stderr
    return dict(json.loads(result.stdout))


def test_sampled_against_the_legacy_role_table() -> None:
    rows, tool_turns, assistant_turns = turn_counts()
    report = diff_json(str(SAMPLED), str(LEGACY), code=1)
    assert report["rows"] == report["rows_differing"] == rows
    # The renderer gives GLM's closing <|observation|> to the assistant it closes.
    assert report["trained_only_in_a"] == [
        {"role": "assistant", "rule_a": "sampled", "rule_b": "role:tool off", "tokens": tool_turns}
    ]
    assert report["trained_only_in_b"] == [
        {
            "role": "assistant",
            "rule_a": "not-sampled",
            "rule_b": "role:assistant",
            "tokens": assistant_turns,
        }
    ]
    assert report["rendered_differently"] == [] and report["differ"] is True


def test_the_same_mask_on_two_backends_is_no_difference() -> None:
    report = diff_json(str(SAMPLED), str(NOTAGS), code=0)
    assert report["rows_differing"] == 0 and report["differ"] is False
    assert report["trained_only_in_a"] == report["trained_only_in_b"] == []


def test_the_first_differing_row_is_shown_token_by_token() -> None:
    result = run_cli(["diff", str(SAMPLED), str(LEGACY), "--data", str(DATA), "--no-color"])
    assert result.exit_code == 1
    text = result.stdout
    assert text.count(f"{DATA}:1\n") == 1  # the first differing row, by file and line
    shown = text.split(f"{DATA}:1\n", 1)[1]
    first = load_conversations(DATA)[0]
    tool_turns = sum(bool(m.get("tool_calls")) for m in first["messages"])
    assistants = sum(m["role"] == "assistant" for m in first["messages"])
    assert shown.count("{+<|observation|>+}") == tool_turns
    assert shown.count("{-<|assistant|>-}") == assistants


def test_exported_rows_against_a_config(tmp_path: Path) -> None:
    rows, tool_turns, assistant_turns = turn_counts()
    out = tmp_path / "rows.parquet"
    exported = run_cli(
        ["export", str(NOTAGS), "--data", str(DATA), "--format", "verl", "-o", str(out)]
    )
    assert exported.exit_code == 0, exported.stderr
    same = diff_json(str(out), str(SAMPLED), code=0)
    assert same["rows"] == rows and same["rows_differing"] == 0
    legacy = diff_json(str(out), str(LEGACY), code=1)
    # On the template path the <|observation|> is the tool message's token.
    assert legacy["trained_only_in_a"] == [
        {"role": "tool", "rule_a": "as stored", "rule_b": "role:tool off", "tokens": tool_turns}
    ]
    assert sum(place["tokens"] for place in legacy["trained_only_in_b"]) == assistant_turns


def test_prepared_rows_must_be_the_sources_rows(tmp_path: Path) -> None:
    out = tmp_path / "few.jsonl"
    out.write_text(json.dumps({"input_ids": [1, 2], "labels": [-100, 2]}) + "\n", encoding="utf-8")
    result = run_cli(["diff", str(out), str(SAMPLED), "--data", str(DATA)])
    assert result.exit_code == 2
    rows, _, _ = turn_counts()
    assert result.stderr.strip() == (
        f"{out}: has 1 rows but {DATA} has {rows}: diff compares row i with conversation i, so "
        "both must hold the same rows in the same order"
    )


def test_one_config_under_two_readers(tmp_path: Path) -> None:
    """`{assistant, tool}` on the GLM-4.5 renderer: prime-rl main trains the tool results' bodies
    (`content_sft_roles`), the pre-#2988 reading never does (tool tokens are never sampled), and
    lossmask's contract trains the serving-prompt gap main leaves out. Both counted here with
    renderers directly, not with lossmask."""
    import renderers
    from renderers.configs import config_from_name

    from lossmask.masks.assets.embedded import embedded_tokenizer
    from tests.masks.test_mask_parity import serving_gap
    from tests.readers.test_reader_masks import _main_messages_and_tools

    config = tmp_path / "glm-tool.toml"
    config.write_text(
        '[tokenizer]\nname = "embedded:glm-4.5"\n\n[renderer]\nname = "glm-4.5"\n\n'
        "[data]\nseq_len = 100000\n\n[data.loss_mask]\nassistant = true\ntool = true\n"
    )
    renderer = renderers.create_renderer(embedded_tokenizer("glm-4.5"), config_from_name("glm-4.5"))
    body_tokens = gap_tokens = 0
    for line in DATA.read_text(encoding="utf-8").splitlines():
        messages, tools = _main_messages_and_tools(json.loads(line))
        with_bodies = renderers.build_training_sample(
            renderer, messages, tools=tools, content_sft_roles={"tool"}, ensure_final_stop=True
        ).loss_mask
        sampled = renderers.build_training_sample(
            renderer, messages, tools=tools, ensure_final_stop=True
        ).loss_mask
        body_tokens += sum(a and not b for a, b in zip(with_bodies, sampled, strict=True))
        gap_tokens += len(serving_gap(renderer, messages, tools))
    assert body_tokens > 0 and gap_tokens > 0

    report = diff_json(
        str(config),
        str(config),
        "--reader",
        "prime-rl-main",
        "--reader-b",
        "prime-rl-pre-2988",
        code=1,
    )
    assert "read as prime-rl main" in report["a"] and "read as prime-rl before #2988" in report["b"]
    only_a, only_b = report["trained_only_in_a"], report["trained_only_in_b"]
    assert {entry["role"] for entry in only_a} == {"tool"}
    assert sum(entry["tokens"] for entry in only_a) == body_tokens
    assert {entry["role"] for entry in only_b} == {"assistant"}
    assert sum(entry["tokens"] for entry in only_b) == gap_tokens
