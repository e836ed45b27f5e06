"""Held-out tests of the readers' masks, on every bundled conversation and five role tables.

- prime-rl main: lossmask's ids, targets and mask (read through a config, as `show`, `audit` and
  `train` read it) equal, token for token, a direct call of `renderers.build_training_sample` with
  the arguments prime-rl main's `SFTDataset._process` passes (`559b447`), on the raw JSONL row
  prepared as main prepares it, shifted as main shifts (ids[:-1], ids[1:], mask[1:]), and a sample
  main skips is one lossmask trains nothing of.
- prime-rl before #2988: the reader gives today's v1 results (the engine called with the v1 role
  table, without any reader).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import renderers
from renderers.configs import config_from_name

from lossmask.data import load_conversations
from lossmask.masks import build_sample
from lossmask.masks.app.setup import mask_setup_from_config
from lossmask.masks.assets.embedded import embedded_tokenizer
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.schema.roles import LossMaskRolesConfig
from tests.conftest import REPO_ROOT
from tests.masks.test_mask_parity import serving_gap

DATA = REPO_ROOT / "examples" / "data" / "weather-tools.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
CONVERSATIONS = load_conversations(DATA)
# The role tables of the issue: {} (main's defaults), {assistant}, {assistant, tool},
# {assistant, user}, and {user} with assistant false.
TABLES: dict[str, dict[str, bool]] = {
    "empty": {},
    "assistant": {"assistant": True},
    "assistant+tool": {"assistant": True, "tool": True},
    "assistant+user": {"assistant": True, "user": True},
    "user-only": {"assistant": False, "user": True},
}
FAMILIES = {"glm-4.5": "embedded:glm-4.5", "qwen3": "embedded:qwen3"}
SEQ_LEN = 100_000  # nothing is cut: main does not cut a text sample before it packs it


def _config(tmp_path: Path, renderer: str, table: dict[str, bool], seq_len: int) -> Path:
    lines = [
        "[tokenizer]",
        f'name = "{FAMILIES[renderer]}"',
        "",
        "[renderer]",
        f'name = "{renderer}"',
        "",
        "[data]",
        f"seq_len = {seq_len}",
        "",
        "[data.loss_mask]",
        *(f"{role} = {'true' if on else 'false'}" for role, on in table.items()),
    ]
    path = tmp_path / f"{renderer}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- prime-rl main's preparation of a row, written from its source (not from lossmask) --------


def _drop_null_fields(value: Any, path: tuple[str, ...] = ()) -> Any:
    if path[-3:] == ("tool_calls", "function", "arguments"):
        return value
    if isinstance(value, dict):
        return {k: _drop_null_fields(v, (*path, k)) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_null_fields(v, path) for v in value]
    return value


def _main_messages_and_tools(row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    messages = [_drop_null_fields(dict(m)) for m in row["messages"]]
    for message in messages:
        if "tool_calls" in message:
            message["tool_calls"] = [
                {
                    **call,
                    "function": {
                        **call["function"],
                        "arguments": json.loads(call["function"]["arguments"])
                        if isinstance(call["function"]["arguments"], str)
                        else call["function"]["arguments"],
                    },
                }
                for call in message.get("tool_calls") or []
            ]
    tools = row.get("tools") or []
    if isinstance(tools, str):
        tools = json.loads(tools)
    return messages, tools


def _main_sample(
    renderer: Any, row: dict[str, Any], table: dict[str, bool], seq_len: int
) -> tuple[list[int], list[int], list[bool]] | None:
    """`SFTDataset._process` up to the sample it yields; None when it skips the row."""
    flags = {"system": False, "user": False, "assistant": True, "tool": False, **table}
    messages, tools = _main_messages_and_tools(row)
    role_to_mask = None if flags["assistant"] else (lambda m: flags[m["role"]])
    content = {role for role in ("user", "system", "tool") if flags[role]}
    sample = renderers.build_training_sample(
        renderer,
        messages,
        role_to_mask=role_to_mask,
        tools=tools,
        content_sft_roles=content or None,
        ensure_final_stop=True,
    )
    ids, mask = list(sample.token_ids), list(sample.loss_mask)
    inputs, targets, mask = ids[:-1], ids[1:], mask[1:]
    if sum(mask[:seq_len]) == 0:
        return None
    return inputs, targets, mask


@pytest.mark.parametrize("renderer_name", list(FAMILIES))
@pytest.mark.parametrize("table_name", list(TABLES))
def test_main_reader_equals_build_training_sample_called_as_main_calls_it(
    tmp_path: Path, renderer_name: str, table_name: str
) -> None:
    table = TABLES[table_name]
    setup = mask_setup_from_config(
        _config(tmp_path, renderer_name, table, SEQ_LEN), reader="prime-rl-main"
    )
    backend = setup.backend()
    family = FAMILIES[renderer_name].split(":", 1)[1]
    renderer = renderers.create_renderer(
        embedded_tokenizer(family), config_from_name(renderer_name)
    )
    skipped = 0
    for row, conversation in zip(ROWS, CONVERSATIONS, strict=True):
        expected = _main_sample(renderer, row, table, SEQ_LEN)
        sample = build_sample(conversation, setup.loss_mask, backend, setup.seq_len)
        if expected is None:
            skipped += 1
            assert sample.num_trained == 0
            continue
        assert (sample.input_ids, sample.target_ids, sample.loss_mask) == expected
    # {user} alone trains user bodies: nothing is skipped on this data, and every table trains.
    assert skipped == 0


def test_the_issue_figures_for_main_on_the_first_bundled_conversation(tmp_path: Path) -> None:
    """`[renderer] glm-4.5`, `assistant = true, tool = true`: main trains the sampled tokens and
    the tool result's body; the final answer's stop is appended."""
    setup = mask_setup_from_config(
        _config(tmp_path, "glm-4.5", TABLES["assistant+tool"], SEQ_LEN), reader="prime-rl-main"
    )
    sample = build_sample(CONVERSATIONS[0], setup.loss_mask, setup.backend(), setup.seq_len)
    trained: dict[str, int] = {}
    for on, provenance in zip(sample.loss_mask, sample.provenance, strict=True):
        if on:
            key = "appended stop" if provenance.rule == "final-stop" else str(provenance.role)
            trained[key] = trained.get(key, 0) + 1
    assert trained == {"assistant": 31, "tool": 19, "appended stop": 1}


def test_main_skips_a_sample_with_nothing_trained_in_its_first_seq_len_targets(
    tmp_path: Path,
) -> None:
    # {user} trains the user question's body only; with seq_len 3 it lies past the window.
    setup = mask_setup_from_config(
        _config(tmp_path, "glm-4.5", TABLES["user-only"], 3), reader="prime-rl-main"
    )
    renderer = renderers.create_renderer(embedded_tokenizer("glm-4.5"), config_from_name("glm-4.5"))
    assert _main_sample(renderer, ROWS[0], TABLES["user-only"], 3) is None
    sample = build_sample(CONVERSATIONS[0], setup.loss_mask, setup.backend(), setup.seq_len)
    assert sample.num_trained == 0


@pytest.mark.parametrize("renderer_name", [None, "glm-4.5"])
@pytest.mark.parametrize("table_name", list(TABLES))
def test_pre_2988_reader_equals_todays_v1_results(
    tmp_path: Path, renderer_name: str | None, table_name: str
) -> None:
    table = TABLES[table_name]
    path = _config(tmp_path, renderer_name or "glm-4.5", table, 4096)
    if renderer_name is None:  # the chat-template path: no [renderer]
        path.write_text(path.read_text().replace('[renderer]\nname = "glm-4.5"\n', ""))
    setup = mask_setup_from_config(path, reader="prime-rl-pre-2988")
    assert setup.renderer == renderer_name
    v1 = LossMaskRolesConfig(**table)
    backend = setup.backend()
    for conversation in CONVERSATIONS:
        expected = build_sample(conversation, v1, backend, 4096)
        sample = build_sample(conversation, setup.loss_mask, backend, setup.seq_len)
        assert (sample.input_ids, sample.target_ids, sample.loss_mask) == (
            expected.input_ids,
            expected.target_ids,
            expected.loss_mask,
        )


def _v3_config(tmp_path: Path) -> Path:
    path = tmp_path / "v3.toml"
    path.write_text(
        '[tokenizer]\nname = "embedded:glm-4.5"\n\n[renderer]\nname = "glm-4.5"\n\n'
        f'[data]\nseq_len = {SEQ_LEN}\nloss_mask = "sampled"\ncontent_roles = ["tool"]\n'
    )
    return path


def test_lossmask_v3_content_roles_are_build_training_sample_plus_the_serving_gap(
    tmp_path: Path,
) -> None:
    """Schema v3 `"sampled"` + `content_roles = ["tool"]`, as lossmask's trainer reads it:
    `build_training_sample(role_to_mask=None, content_sft_roles={"tool"}, ensure_final_stop=True)`
    plus the serving-prompt gap, which lossmask trains as sampled (docs/masks.md)."""
    setup = mask_setup_from_config(_v3_config(tmp_path), reader="lossmask")
    backend = setup.backend()
    renderer = renderers.create_renderer(embedded_tokenizer("glm-4.5"), config_from_name("glm-4.5"))
    for conversation in CONVERSATIONS:
        messages, tools, _ = normalise_conversation(conversation)
        expected = renderers.build_training_sample(
            renderer,
            messages,
            role_to_mask=None,
            tools=tools,
            content_sft_roles={"tool"},
            ensure_final_stop=True,
        )
        mask = list(expected.loss_mask)
        for k in serving_gap(renderer, messages, tools):
            mask[k] = True
        sample = build_sample(conversation, setup.loss_mask, backend, setup.seq_len)
        assert sample.input_ids + sample.target_ids[-1:] == expected.token_ids
        assert sample.loss_mask == mask[1:]


def test_main_and_its_v3_translation_differ_only_where_renderers_leave_the_prompt_gap(
    tmp_path: Path,
) -> None:
    """What `lossmask migrate --reader prime-rl-main` writes for `assistant = true, tool = true`
    trains, under lossmask's trainer, what main trains plus the serving-prompt gap tokens: a
    difference of the two trainers (docs/readers.md), not of the config."""
    main = mask_setup_from_config(
        _config(tmp_path, "glm-4.5", TABLES["assistant+tool"], SEQ_LEN), reader="prime-rl-main"
    )
    ours = mask_setup_from_config(_v3_config(tmp_path), reader="lossmask")
    backend = main.backend()
    renderer = renderers.create_renderer(embedded_tokenizer("glm-4.5"), config_from_name("glm-4.5"))
    for conversation in CONVERSATIONS:
        messages, tools, _ = normalise_conversation(conversation)
        gap = {k - 1 for k in serving_gap(renderer, messages, tools)}  # target positions
        theirs = build_sample(conversation, main.loss_mask, backend, main.seq_len)
        mine = build_sample(conversation, ours.loss_mask, ours.backend(), ours.seq_len)
        assert mine.target_ids == theirs.target_ids
        pairs = enumerate(zip(mine.loss_mask, theirs.loss_mask, strict=True))
        differ = {k for k, (a, b) in pairs if a != b}
        assert differ == gap
