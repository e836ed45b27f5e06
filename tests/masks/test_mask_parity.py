"""The embedded chat templates are token-identical to the `renderers` renderers, and the renderer
path equals `renderers.build_training_sample` called directly."""

from __future__ import annotations

from typing import Any

import pytest
import renderers

from lossmask.masks import MaskBackend, build_sample, generate_conversations
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.schema.roles import LossMaskRolesConfig


def parity_conversations() -> list[dict[str, Any]]:
    """Tools, one to three calls per turn, tool messages in a row, reasoning, several exchanges."""
    conversations = generate_conversations(24, seed=11, exchanges=1, reasoning_rate=0.5)
    conversations += generate_conversations(16, seed=12, exchanges=3, reasoning_rate=0.5)
    # Without a tools block, with inline <think> reasoning, and with text next to a call.
    for conversation in generate_conversations(8, seed=13, exchanges=2):
        conversation.pop("tools")
        tool_turn = next(m for m in conversation["messages"] if m.get("tool_calls"))
        tool_turn["content"] = "Let me check."
        last = conversation["messages"][-1]
        last["content"] = "<think>Summing up.</think>" + last["content"]
        conversations.append(conversation)
    return conversations


CONVERSATIONS = parity_conversations()


def serving_gap(renderer: Any, messages: list[dict[str, Any]], tools: Any) -> set[int]:
    """Positions a server must sample yet the renderer leaves unsampled, from prefix renders: for
    each assistant turn i, the generation prompt `render_ids(messages[:i], add_generation_prompt=
    True)` adds to `render_ids(messages[:i])`; where turn i opens with it in the full render, the
    turn's tokens after it and before the renderer's first sampled token of the turn. (Aligned by
    the turn's first token: earlier reasoning may render differently once a later user exists.)"""
    rendered = renderer.render(messages, tools=tools)
    ids, owner, sampled = rendered.token_ids, rendered.message_indices, rendered.sampled_mask
    gap: set[int] = set()
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        plain = renderer.render_ids(messages[:index], tools=tools)
        prompted = renderer.render_ids(messages[:index], tools=tools, add_generation_prompt=True)
        assert prompted[: len(plain)] == plain
        prompt = prompted[len(plain) :]
        first = owner.index(index)
        if ids[first : first + len(prompt)] != prompt:
            continue
        k = first + len(prompt)
        while k < len(ids) and owner[k] == index and not sampled[k]:
            gap.add(k)
            k += 1
    return gap


def test_the_parity_set_covers_the_hard_cases() -> None:
    call_counts = {
        len(m["tool_calls"]) for c in CONVERSATIONS for m in c["messages"] if m.get("tool_calls")
    }
    assert call_counts == {1, 2, 3}
    assert any("reasoning_content" in m for c in CONVERSATIONS for m in c["messages"])
    assert any(sum(m["role"] == "user" for m in c["messages"]) == 3 for c in CONVERSATIONS)


@pytest.mark.parametrize(
    ("renderer_fixture", "template_fixture"),
    [
        ("glm_renderer", "glm_template"),
        ("qwen_renderer", "qwen_template"),
    ],
)
def test_template_ids_and_generation_masks_equal_the_renderer(
    request: pytest.FixtureRequest, renderer_fixture: str, template_fixture: str
) -> None:
    renderer_backend = request.getfixturevalue(renderer_fixture)
    tokenizer = request.getfixturevalue(template_fixture).tokenizer
    for conversation in CONVERSATIONS:
        messages, tools, _ = normalise_conversation(conversation)
        rendered = renderer_backend.renderer.render(messages, tools=tools)
        templated = tokenizer.apply_chat_template(
            messages,
            tools=tools,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        assert list(templated["input_ids"]) == rendered.token_ids
        gap = serving_gap(renderer_backend.renderer, messages, tools)
        served = [s or k in gap for k, s in enumerate(rendered.sampled_mask)]
        assert [bool(b) for b in templated["assistant_masks"]] == served
        for prompt_end in (1, 3):
            prompt = messages[:prompt_end]
            assert tokenizer.apply_chat_template(
                prompt, tools=tools, tokenize=True, return_dict=False, add_generation_prompt=True
            ) == renderer_backend.renderer.render_ids(
                prompt, tools=tools, add_generation_prompt=True
            )


@pytest.mark.parametrize("renderer_fixture", ["glm_renderer", "qwen_renderer"])
@pytest.mark.parametrize(
    "roles",
    [None, LossMaskRolesConfig(), LossMaskRolesConfig(user=True, assistant=True)],
    ids=["sampled", "legacy", "user+assistant"],
)
def test_renderer_path_equals_build_training_sample(
    request: pytest.FixtureRequest, renderer_fixture: str, roles: LossMaskRolesConfig | None
) -> None:
    backend: MaskBackend = request.getfixturevalue(renderer_fixture)
    # The reference is `renderers` over the transformers tokenizer, as a user's own call builds it
    # (lossmask hands its renderer a DirectTokenizer: engine/renderer_tokenizer.py).
    plain = renderers.create_renderer(backend.tokenizer, backend.renderer.config)  # type: ignore[attr-defined]
    for number, conversation in enumerate(CONVERSATIONS):
        conversation = {**conversation, "messages": [dict(m) for m in conversation["messages"]]}
        if number % 3 == 0:  # narrow some samples with a per-message flag
            conversation["messages"][-1]["train"] = False
        messages, tools, flags = normalise_conversation(conversation)
        role_to_mask = (
            None if roles is None else (lambda m, r=roles: m["role"] in r.enabled_roles())
        )
        expected = renderers.build_training_sample(
            plain,
            messages,
            role_to_mask=role_to_mask,
            tools=tools,
            ensure_final_stop=True,
            message_loss_mask=None if all(flags) else flags,
        )
        sample = build_sample(conversation, "sampled" if roles is None else roles, backend)
        assert sample.input_ids + sample.target_ids[-1:] == expected.token_ids
        # build_training_sample plus the serving-prompt gap, which trains as sampled tokens do.
        owners = plain.render(messages, tools=tools).message_indices
        gap_trains = roles is None or roles.assistant
        mask = list(expected.loss_mask)
        for k in serving_gap(plain, messages, tools):
            mask[k] = mask[k] or (gap_trains and flags[owners[k]])
        assert sample.loss_mask == mask[1:]


@pytest.mark.parametrize(
    "fixture", ["glm_renderer", "qwen_renderer", "glm_template", "qwen_template"]
)
def test_all_trains_every_target(request: pytest.FixtureRequest, fixture: str) -> None:
    backend = request.getfixturevalue(fixture)
    for conversation in CONVERSATIONS[:10]:
        sample = build_sample(conversation, "all", backend)
        assert sample.num_trained == len(sample.target_ids) > 0


@pytest.mark.parametrize(
    ("renderer_fixture", "template_fixture"),
    [
        ("glm_renderer", "glm_template"),
        ("qwen_renderer", "qwen_template"),
    ],
)
def test_sampled_is_the_same_on_both_paths_when_the_template_marks_generation(
    request: pytest.FixtureRequest, renderer_fixture: str, template_fixture: str
) -> None:
    renderer_backend = request.getfixturevalue(renderer_fixture)
    template_backend = request.getfixturevalue(template_fixture)
    for conversation in CONVERSATIONS:
        on_renderer = build_sample(conversation, "sampled", renderer_backend)
        on_template = build_sample(conversation, "sampled", template_backend)
        assert on_template.target_ids == on_renderer.target_ids
        assert on_template.loss_mask == on_renderer.loss_mask


@pytest.mark.parametrize("template_fixture", ["glm_template", "qwen_template"])
def test_one_tracked_render_attributes_like_rendering_every_prefix(
    request: pytest.FixtureRequest, template_fixture: str
) -> None:
    backend = request.getfixturevalue(template_fixture)
    for conversation in CONVERSATIONS[:24]:
        messages, tools, _ = normalise_conversation(conversation)
        full, _, _, ends, stable, _ = backend._boundaries(messages, tools)
        render = backend.tokenizer.apply_chat_template
        assert stable
        assert full == render(messages, tools=tools, tokenize=False)
        assert ends[-1] == len(full)
        checked = 0
        for end in range(1, len(messages)):
            text = render(messages[:end], tools=tools, tokenize=False)
            if full.startswith(text):  # Qwen3 renders a final assistant turn differently
                assert ends[end - 1] == len(text)
                checked += 1
        assert checked >= len(messages) // 2


def test_a_template_that_peeks_ahead_attributes_like_one_that_does_not(
    qwen_template: MaskBackend,
) -> None:
    from lossmask.masks.engine.template_backend import ChatTemplateBackend

    tokenizer = qwen_template.tokenizer
    peeking = tokenizer.__class__(
        tokenizer_object=tokenizer.backend_tokenizer, eos_token="<|im_end|>"
    )
    peeking.chat_template = tokenizer.chat_template.replace(
        "loop.index0 == messages | length - 1", "loop.last"
    )
    assert peeking.chat_template != tokenizer.chat_template
    fallback = ChatTemplateBackend(peeking)
    legacy = LossMaskRolesConfig()
    for conversation in CONVERSATIONS:
        expected = build_sample(conversation, legacy, qwen_template)
        actual = build_sample(conversation, legacy, fallback)
        assert actual.target_ids == expected.target_ids
        assert actual.loss_mask == expected.loss_mask
        # Which of two consecutive tool messages owns the newline between them can differ.
        assert [p.role for p in actual.provenance] == [p.role for p in expected.provenance]
