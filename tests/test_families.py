"""The family tokenizers, the family table's measurements, and docs/families.md being current.

The GLM-4.5 facts are computed here from prefix renders and token ids, independently of the
bench's alignment code, and then compared with what the bench counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("renderers")
pytest.importorskip("transformers")

from renderers import build_training_sample

from lossmask.masks.assets.families import (
    FAMILY_SPECIAL_TOKENS,
    family_renderer,
    family_tokenizer,
    renderer_names,
)
from lossmask.masks.assets.synthetic import generate_conversations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import families as bench

CONVERSATION = generate_conversations(1, seed=3, exchanges=2, system_rate=0.0)[0]


def conversation_messages() -> tuple[list[dict], list[dict]]:
    return bench.renderer_messages(CONVERSATION), CONVERSATION["tools"]


def test_every_registered_renderer_has_a_family_token_list() -> None:
    assert sorted(FAMILY_SPECIAL_TOKENS) == renderer_names()


@pytest.mark.parametrize("name", ["glm-4.5", "qwen3", "deepseek-v3", "hy3", "kimi-k2"])
def test_family_tokenizer_keeps_each_special_token_whole(name: str) -> None:
    tokenizer = family_tokenizer(name)
    for index, token in enumerate(FAMILY_SPECIAL_TOKENS[name]):
        assert tokenizer.encode(token, add_special_tokens=False) == [index]
    assert tokenizer.eos_token == FAMILY_SPECIAL_TOKENS[name][0]


def test_glm45_observation_is_sampled_but_rendered_with_the_tool_message() -> None:
    renderer, tokenizer = family_renderer("glm-4.5"), family_tokenizer("glm-4.5")
    messages, tools = conversation_messages()
    call_turn = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    assert messages[call_turn + 1]["role"] == "tool"
    through_call = list(renderer.render_ids(messages[: call_turn + 1], tools=tools))
    through_tool = list(renderer.render_ids(messages[: call_turn + 2], tools=tools))
    observation = tokenizer.convert_tokens_to_ids("<|observation|>")
    # Structurally the closer first appears when the tool message is rendered.
    assert through_tool[: len(through_call)] == through_call
    assert through_tool[len(through_call)] == observation
    assert observation not in through_call[-3:]
    # The renderer gives it to the assistant, samples it, and the role table trains it.
    rendered = renderer.render(messages, tools=tools)
    position = len(through_call)
    assert rendered.token_ids[position] == observation
    assert rendered.message_indices[position] == call_turn
    assert rendered.sampled_mask[position] is True
    legacy = build_training_sample(
        renderer, messages, tools=tools, role_to_mask=lambda m: m["role"] == "assistant"
    )
    assert legacy.loss_mask[position] is True


def test_glm45_bench_counts_match_prefix_renders() -> None:
    renderer, tokenizer = family_renderer("glm-4.5"), family_tokenizer("glm-4.5")
    messages, tools = conversation_messages()
    roles = [m["role"] for m in messages]
    assert roles.count("user") == 2 and roles[-1] == "assistant"
    assert sum(bool(m.get("tool_calls")) for m in messages) == 2
    assistant_turns = [i for i, role in enumerate(roles) if role == "assistant"]
    newline = tokenizer.encode("\n", add_special_tokens=False)
    rendered = renderer.render(messages, tools=tools)
    for i in assistant_turns:
        prompt = list(renderer.render_ids(messages[:i], tools=tools, add_generation_prompt=True))
        assert prompt[-1] == tokenizer.convert_tokens_to_ids("<|assistant|>")
        assert list(rendered.token_ids[len(prompt) : len(prompt) + 1]) == newline
        assert rendered.sampled_mask[len(prompt)] is False

    result = bench.measure_family("glm-4.5", [CONVERSATION])
    # Two tool-call turns close with <|observation|>, the first answer with <|user|>.
    assert dict(result.dropped) == {"<|observation|>": 2, "<|user|>": 1}
    assert dict(result.gaps) == {"\\n": len(assistant_turns)}
    tool, answer, last = bench.TURN_KINDS
    assert (result.legacy_stop[tool].hits, result.legacy_stop[tool].total) == (2, 2)
    assert (result.structural_stop[tool].hits, result.structural_stop[tool].total) == (0, 2)
    assert (result.legacy_stop[answer].hits, result.structural_stop[answer].hits) == (1, 0)
    # The last answer is left open by the template; ensure_final_stop closes it.
    assert (result.legacy_stop[last].hits, result.legacy_stop[last].total) == (0, 1)
    assert (result.last_stop_ensured.hits, result.last_stop_ensured.total) == (1, 1)


def test_hy3_answer_stop_is_rendered_with_the_next_user_message() -> None:
    renderer, tokenizer = family_renderer("hy3"), family_tokenizer("hy3")
    messages, tools = conversation_messages()
    eos = tokenizer.convert_tokens_to_ids("<｜hy_eos:opensource｜>")
    answer = next(i for i, m in enumerate(messages) if i and messages[i - 1]["role"] == "tool"
                  and not m.get("tool_calls"))  # fmt: skip
    call_turn = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    assert messages[answer + 1]["role"] == "user"
    through_answer = list(renderer.render_ids(messages[: answer + 1], tools=tools))
    through_user = list(renderer.render_ids(messages[: answer + 2], tools=tools))
    assert through_user[: len(through_answer)] == through_answer
    assert through_answer[-1] != eos and through_user[len(through_answer)] == eos
    # A tool-call turn, by contrast, ends with its own eos.
    assert list(renderer.render_ids(messages[: call_turn + 1], tools=tools))[-1] == eos

    result = bench.measure_family("hy3", [CONVERSATION])
    assert dict(result.dropped) == {"<｜hy_eos:opensource｜>": 1}
    tool, answer_kind, _ = bench.TURN_KINDS
    assert (result.structural_stop[tool].hits, result.structural_stop[tool].total) == (2, 2)
    assert (result.structural_stop[answer_kind].hits, result.legacy_stop[answer_kind].hits) == (
        0,
        1,
    )


def test_a_renderer_that_cannot_run_is_reported_with_its_error() -> None:
    result = bench.measure_family("gpt-oss", [])
    assert result.skipped is not None and result.skipped.startswith("HarmonyError")


@pytest.mark.slow
def test_docs_families_md_is_current() -> None:
    """Regenerates every family's measurements (about 40 s of CPU)."""
    expected = bench.render_markdown(bench.measure_all())
    assert bench.DOC_PATH.read_text(encoding="utf-8") == expected, (
        "docs/families.md is stale; run `python bench/families.py`"
    )
