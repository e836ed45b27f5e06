"""The rules around the modes: per-message `train: false`, skipping, seq_len, warnings, stops."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from lossmask.masks import (
    MaskBackend,
    MaskError,
    build_sample,
    build_samples,
    generate_conversations,
    load_backend,
)
from lossmask.masks.assets.embedded import glm45_tokenizer
from lossmask.masks.engine.template_backend import ChatTemplateBackend
from lossmask.schema.roles import LossMaskRolesConfig

BACKENDS = ["glm_renderer", "glm_template", "qwen_renderer", "qwen_template"]
MODES: list[Any] = ["sampled", "all", LossMaskRolesConfig()]
CONVERSATION = generate_conversations(1, seed=5)[0]
BAD_CALL = {"function": {"name": "get_weather", "arguments": "{oops"}}


def with_flag(conversation: dict[str, Any], index: int, train: bool) -> dict[str, Any]:
    changed = copy.deepcopy(conversation)
    changed["messages"][index]["train"] = train
    return changed


@pytest.fixture(scope="module")
def glm_plain_template() -> MaskBackend:
    """GLM-4.5 without `{% generation %}` blocks, with GLM's serving stops."""
    return load_backend(tokenizer="embedded:glm-4.5-notags")


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("mode", MODES, ids=["sampled", "all", "legacy"])
def test_train_false_narrows_and_never_widens(
    request: pytest.FixtureRequest, backend_name: str, mode: Any
) -> None:
    backend = request.getfixturevalue(backend_name)
    base = build_sample(CONVERSATION, mode, backend)
    tool_turn = next(i for i, m in enumerate(CONVERSATION["messages"]) if m.get("tool_calls"))
    narrowed = build_sample(with_flag(CONVERSATION, tool_turn, False), mode, backend)
    assert narrowed.target_ids == base.target_ids
    assert narrowed.num_trained < base.num_trained
    for before, after, origin in zip(
        base.loss_mask, narrowed.loss_mask, narrowed.provenance, strict=True
    ):
        assert after <= before  # never widens
        if before and not after:
            assert origin.rule == "train=false"
    # `train: true` everywhere is the same as no flag at all.
    assert build_sample(with_flag(CONVERSATION, 0, True), mode, backend) == base


def test_train_false_on_an_assistant_also_unmasks_its_closer(glm_template: MaskBackend) -> None:
    tool_turn = next(i for i, m in enumerate(CONVERSATION["messages"]) if m.get("tool_calls"))
    sample = build_sample(with_flag(CONVERSATION, tool_turn, False), "sampled", glm_template)
    observation = glm_template.tokenizer.convert_tokens_to_ids("<|observation|>")
    position = sample.target_ids.index(observation)
    assert not sample.loss_mask[position]
    assert sample.provenance[position].rule == "train=false"


def test_a_sample_with_nothing_to_train_is_skipped_and_counted(glm_renderer: MaskBackend) -> None:
    conversations = generate_conversations(3, seed=2)
    conversations[1] = {
        **conversations[1],
        "messages": [{**m, "train": False} for m in conversations[1]["messages"]],
    }
    samples, stats = build_samples(conversations, "sampled", glm_renderer)
    assert (len(samples), stats.samples, stats.skipped_nothing_to_train) == (2, 2, 1)
    assert all(sample.num_trained > 0 for sample in samples)


def test_seq_len_truncates_and_a_sample_cut_before_any_target_is_skipped(
    glm_renderer: MaskBackend,
) -> None:
    full = build_sample(CONVERSATION, "sampled", glm_renderer)
    first_trained = full.loss_mask.index(True)
    cut = build_sample(CONVERSATION, "sampled", glm_renderer, seq_len=first_trained + 3)
    assert cut.truncated and len(cut.input_ids) == len(cut.target_ids) == first_trained + 3
    assert cut.target_ids == full.target_ids[: first_trained + 3]
    assert cut.loss_mask == full.loss_mask[: first_trained + 3]
    samples, stats = build_samples([CONVERSATION], "sampled", glm_renderer, seq_len=first_trained)
    assert samples == [] and stats.skipped_nothing_to_train == 1 and stats.truncated == 1


def test_an_enabled_role_that_trains_nothing_is_warned_about(
    glm_renderer: MaskBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lossmask.masks"):
        _, stats = build_samples(
            [CONVERSATION], LossMaskRolesConfig(assistant=True, tool=True), glm_renderer
        )
    assert len(stats.warnings) == 1
    assert "'tool'" in stats.warnings[0] and "never marks tool results" in stats.warnings[0]
    assert stats.warnings[0] in caplog.text


def test_sampled_without_generation_blocks_follows_serving_and_warns_nothing(
    glm_plain_template: MaskBackend, glm_renderer: MaskBackend, caplog: pytest.LogCaptureFixture
) -> None:
    conversations = generate_conversations(6, seed=8, exchanges=2)
    with caplog.at_level(logging.WARNING, logger="lossmask"):
        derived = [build_sample(c, "sampled", glm_plain_template) for c in conversations]
    assert caplog.text == ""
    on_renderer = [build_sample(c, "sampled", glm_renderer) for c in conversations]
    assert [s.loss_mask for s in derived] == [s.loss_mask for s in on_renderer]
    assert [s.target_ids for s in derived] == [s.target_ids for s in on_renderer]


def test_chat_template_appends_eos_only_when_the_final_turn_has_no_stop(
    glm_template: MaskBackend, qwen_template: MaskBackend
) -> None:
    glm = build_sample(CONVERSATION, LossMaskRolesConfig(), glm_template)
    assert glm.target_ids[-1] == glm_template.tokenizer.eos_token_id
    assert glm.provenance[-1].rule == "final-stop" and glm.loss_mask[-1]
    qwen = build_sample(CONVERSATION, LossMaskRolesConfig(), qwen_template)
    newline = qwen_template.tokenizer.encode("\n", add_special_tokens=False)
    assert qwen.target_ids[-2:] == [qwen_template.tokenizer.eos_token_id, *newline]


def test_renderer_path_injects_no_tokenizer_eos(qwen_renderer: MaskBackend) -> None:
    sample = build_sample(CONVERSATION, "sampled", qwen_renderer)
    im_end = qwen_renderer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    # ChatML closes the final turn itself: `<|im_end|>` then the scaffolding newline, nothing added.
    assert sample.target_ids[-2] == im_end
    assert qwen_renderer.tokenizer.decode(sample.target_ids[-1:]) == "\n"


def test_chat_template_without_a_trained_stop_is_an_error(
    glm_plain_template: ChatTemplateBackend,
) -> None:
    # Ends on a tool result: no final EOS, and the legacy table never trains `<|observation|>`.
    messages = CONVERSATION["messages"]
    tool_turn = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    cut = {**CONVERSATION, "messages": messages[: tool_turn + 2]}
    with pytest.raises(MaskError, match="no serving stop token is among the trained targets"):
        build_sample(cut, LossMaskRolesConfig(), glm_plain_template)
    assert build_sample(cut, "sampled", glm_plain_template).num_trained
    # Serving that stops only on <|endoftext|> runs on past `</tool_call>`: nothing stops.
    eos_only = ChatTemplateBackend(glm_plain_template.tokenizer)
    with pytest.raises(MaskError, match="no serving stop token"):
        build_sample(cut, "sampled", eos_only)


@pytest.mark.parametrize(
    ("conversation", "message"),
    [
        ({"messages": []}, "non-empty"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "role 'robot'"),
        ({"messages": [{"role": "user", "content": "hi", "train": "no"}]}, '"train" must be'),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}],
                    }
                ]
            },
            "not valid JSON",
        ),
    ],
)
def test_bad_conversations_are_clear_errors(
    glm_renderer: MaskBackend, conversation: dict[str, Any], message: str
) -> None:
    with pytest.raises(MaskError, match=message):
        build_sample(conversation, "sampled", glm_renderer)


def test_a_local_tokenizer_directory_loads_on_both_paths(tmp_path: Any) -> None:
    from lossmask.masks import load_backend

    tokenizer = glm45_tokenizer()
    tokenizer.save_pretrained(tmp_path)
    stops = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|user|>", "<|observation|>"])
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": stops}))
    on_template = load_backend(tokenizer=str(tmp_path))
    assert on_template.stop_token_ids() == stops
    on_renderer = load_backend(tokenizer=str(tmp_path), renderer="glm-4.5")
    embedded = build_sample(CONVERSATION, "sampled", load_backend(renderer="glm-4.5"))
    assert build_sample(CONVERSATION, "sampled", on_renderer) == embedded
    assert build_sample(CONVERSATION, "sampled", on_template).loss_mask == embedded.loss_mask


def test_an_unreachable_hub_id_fails_fast_and_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lossmask.masks import load_backend

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MaskError, match=r"cannot be reached.*local directory"):
        load_backend(tokenizer="no-such-org/no-such-model")
    with pytest.raises(MaskError, match="unknown renderer 'glm-9'"):
        load_backend(renderer="glm-9")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_prompt_ids_take_messages_as_in_the_data(
    request: pytest.FixtureRequest, backend_name: str
) -> None:
    backend = request.getfixturevalue(backend_name)
    messages = CONVERSATION["messages"]
    tool_turn = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    # The prompt for the final answer is the sample's own tokens up to the final assistant opener.
    prompt = backend.prompt_ids(messages[:-1], CONVERSATION["tools"])
    sample = build_sample(CONVERSATION, "all", backend)
    assert [*sample.input_ids, sample.target_ids[-1]][: len(prompt)] == prompt
    assert tool_turn < len(messages) - 1
