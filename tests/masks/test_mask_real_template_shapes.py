"""Every mode on templates shaped like real hub templates, against references computed here.

The references never call the engine: "sampled" is what a server samples (the text after the
render of `messages[:i]` with `add_generation_prompt=True`, up to and including the first serving
stop id), role tables and "all" come from text renders of every prefix (or, for the non
prefix-stable Qwen3 shape, from the turn markers in the text).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import UndefinedError
from transformers.utils.chat_template_utils import _compile_jinja_template

from lossmask.masks import MaskBackend, MaskError, build_sample, generate_conversations
from lossmask.masks.assets.embedded import build_tiny_tokenizer
from lossmask.masks.engine.backends import load_backend
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.schema.roles import LossMaskRolesConfig
from tests.masks.template_shapes import SHAPES, Shape

LEGACY = LossMaskRolesConfig()
USER_AND_ASSISTANT = LossMaskRolesConfig(user=True, assistant=True)
MODES: list[Any] = ["sampled", "all", LEGACY, USER_AND_ASSISTANT]

# Qwen3's non-prefix-stable repro: reasoning and a tool call, then a later user turn strips it.
REPRO: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "I need the tool for Oslo.",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"t": 3}'},
        {"role": "assistant", "content": "Cold: 3C."},
        {"role": "user", "content": "Again?"},
    ]
}


# (assistant turn opener, what ends the turn's text, whether that closer is part of the turn)
MARKERS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "glm-4.5-hub": ("<|assistant|>", ("<|user|>", "<|observation|>"), False),
    "qwen3-hub": ("<|im_start|>assistant\n", ("<|im_end|>\n",), True),
}


class NotStable(Exception):
    """No independent reference for this (conversation, mode): skip it."""


def single_call(conversation: dict[str, Any]) -> bool:
    return all(len(m.get("tool_calls") or []) <= 1 for m in conversation["messages"])


CONVERSATIONS = [
    *generate_conversations(10, seed=21, exchanges=1, reasoning_rate=0.5),
    *generate_conversations(6, seed=22, exchanges=3, reasoning_rate=0.5),
    REPRO,
]


@pytest.fixture(scope="module")
def shape_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each shape saved as a tokenizer directory with its generation_config.json."""
    dirs = {}
    for name, shape in SHAPES.items():
        tokenizer = build_tiny_tokenizer(shape.specials, name, shape.template, eos_token=shape.eos)
        directory = tmp_path_factory.mktemp(name)
        tokenizer.save_pretrained(directory)
        stops = tokenizer.convert_tokens_to_ids(list(shape.serving_stops))
        (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": stops}))
        dirs[name] = directory
    return dirs


@pytest.fixture(scope="module")
def backends(shape_dirs: dict[str, Path]) -> dict[str, MaskBackend]:
    return {name: load_backend(tokenizer=str(path)) for name, path in shape_dirs.items()}


def conversations_for(shape: Shape) -> list[dict[str, Any]]:
    if shape.name == "llama-3.1":
        return [c for c in CONVERSATIONS if single_call(c)]
    if shape.name in ("body-tags", "multi-token-stop"):  # plain-text templates: no tools
        plain = []
        for conversation in CONVERSATIONS:
            messages = [
                {"role": m["role"], "content": m.get("content") or "(call)"}
                for m in conversation["messages"]
            ]
            plain.append({"messages": messages})
        return plain
    return CONVERSATIONS


def reference_mask(shape: Shape, tokenizer: Any, conversation: dict[str, Any], mode: Any):
    """(ids, mask) before the shift, from prefix renders and serving's stop rule."""
    messages, tools, _ = normalise_conversation(conversation)

    def render(prefix: list[dict[str, Any]], prompt: bool = False) -> str:
        return tokenizer.apply_chat_template(
            prefix, tools=tools, tokenize=False, add_generation_prompt=prompt
        )

    full = render(messages)
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, starts = list(encoded["input_ids"]), [a for a, _ in encoded["offset_mapping"]]
    stops = set(tokenizer.convert_tokens_to_ids(list(shape.serving_stops)))
    roles = [m["role"] for m in messages]

    # Serving: where each assistant turn's sampling starts in the full text.
    assistants = [i for i, role in enumerate(roles) if role == "assistant"]
    begins = []
    stable = all(full.startswith(render(messages[:end])) for end in range(1, len(messages)))
    if stable:
        for i in assistants:
            prompt = render(messages[:i], prompt=True)
            assert full.startswith(prompt)
            begins.append(len(prompt))
    else:  # the j-th generation prompt in the text opens the j-th assistant turn
        at = -1
        for i in assistants:
            assert render(messages[:i], prompt=True).endswith(shape.generation_prompt)
            at = full.index(shape.generation_prompt, at + 1)
            begins.append(at + len(shape.generation_prompt))
    sampled = [False] * len(ids)
    final_closed = roles[-1] != "assistant"
    for i, begin in zip(assistants, begins, strict=True):
        k = next(k for k, s in enumerate(starts) if s >= begin)
        while k < len(ids):
            sampled[k] = True
            if ids[k] in stops:
                final_closed = final_closed or i == len(roles) - 1
                break
            k += 1
        else:
            assert i == len(roles) - 1, "only the final turn may run to the end"

    # Attribution: the message whose prefix render first covers a token.
    if stable:
        ends = [len(render(messages[:end])) for end in range(1, len(messages))]
        # What the template writes for no message at all (a tools block) belongs to none;
        # apply_chat_template refuses an empty conversation, so render the template directly.
        try:
            empty = _compile_jinja_template(tokenizer.chat_template).render(
                messages=[],
                tools=tools,
                add_generation_prompt=False,
                **tokenizer.special_tokens_map,
            )
        except UndefinedError:  # a template that reads messages[0] has no preamble of its own
            empty = ""
        preamble = len(empty) if full.startswith(empty) else 0
        owner: list[int | None] = [
            None if s < preamble else sum(e <= s for e in ends) for s in starts
        ]
    else:  # assistant turns found by their markers: from the opener to the next closer
        opener, closers, closer_included = MARKERS[shape.name]
        owner = [None] * len(ids)
        at = 0
        for i in assistants:
            open_at = full.index(opener, at)
            found = [(full.index(c, open_at + 1), c) for c in closers if c in full[open_at + 1 :]]
            close_at, closer = min(found) if found else (len(full), "")
            if closer_included:
                close_at += len(closer)
            for k, s in enumerate(starts):
                if open_at <= s < close_at:
                    owner[k] = i
            at = close_at

    if mode == "sampled":
        mask = sampled
    elif mode == "all":
        mask = [True] * len(ids)
    else:
        enabled = set(mode.enabled_roles())
        if not stable and enabled != {"assistant"}:
            raise NotStable  # the marker reference knows assistant turns only
        mask = [o is not None and roles[o] in enabled for o in owner]
    trains_final = mode in ("sampled", "all") or mode.assistant
    if not final_closed and trains_final:
        eos = tokenizer.eos_token_id
        ids.append(eos if eos in stops else tokenizer.convert_tokens_to_ids(shape.serving_stops[0]))
        mask.append(True)
    return ids, mask


@pytest.mark.parametrize("mode", MODES, ids=["sampled", "all", "legacy", "user+assistant"])
@pytest.mark.parametrize("shape_name", list(SHAPES))
def test_every_mode_equals_the_reference(
    backends: dict[str, MaskBackend], shape_name: str, mode: Any
) -> None:
    shape, backend = SHAPES[shape_name], backends[shape_name]
    conversations = conversations_for(shape)
    checked = 0
    for conversation in conversations:
        try:
            ids, mask = reference_mask(shape, backend.tokenizer, conversation, mode)
        except NotStable:
            continue
        checked += 1
        stop_ids = set(backend.stop_token_ids())
        if any(mask) and not any(m and t in stop_ids for t, m in zip(ids, mask, strict=True)):
            # The legacy table on GLM trains no closer: an error, never a model that cannot stop.
            with pytest.raises(MaskError, match="no serving stop token"):
                build_sample(conversation, mode, backend)
            continue
        sample = build_sample(conversation, mode, backend)
        assert sample.target_ids == ids[1:]
        assert sample.loss_mask == mask[1:]
    assert checked >= (5 if shape.prefix_stable else 1)


def test_glm_hub_shape_sampled_trains_every_closer_and_no_other_role(
    backends: dict[str, MaskBackend],
) -> None:
    backend = backends["glm-4.5-hub"]
    tokenizer = backend.tokenizer
    observation, user, eos = tokenizer.convert_tokens_to_ids(
        ["<|observation|>", "<|user|>", "<|endoftext|>"]
    )
    end_call = tokenizer.convert_tokens_to_ids("</tool_call>")
    for conversation in CONVERSATIONS:
        sample = build_sample(conversation, "sampled", backend)
        targets, mask = sample.target_ids, sample.loss_mask
        closed = [
            k + 1
            for k in range(len(targets) - 1)
            if targets[k] == end_call and targets[k + 1] == observation
        ]
        tool_turns = sum(bool(m.get("tool_calls")) for m in conversation["messages"])
        assert len(closed) == tool_turns > 0
        assert all(mask[k] for k in closed)
        if conversation["messages"][-1]["role"] == "assistant":
            assert targets[-1] == eos and mask[-1]
        else:  # the final assistant turn is closed by the next `<|user|>`
            last_user = len(targets) - 1 - targets[::-1].index(user)
            assert mask[last_user]
        foreign = {
            t
            for t, m, p in zip(targets, mask, sample.provenance, strict=True)
            if m and p.role in ("user", "system", "tool")
        }
        assert foreign <= {observation, user}


def test_qwen3_shape_role_table_never_trains_a_user_token_and_boundaries_stay_in_order(
    backends: dict[str, MaskBackend],
) -> None:
    backend = backends["qwen3-hub"]
    im_end = backend.tokenizer.convert_tokens_to_ids("<|im_end|>")
    for conversation in CONVERSATIONS:
        sample = build_sample(conversation, LEGACY, backend)
        assert not any(
            m and p.role == "user" for m, p in zip(sample.loss_mask, sample.provenance, strict=True)
        )
        owners = [p.message_index for p in sample.provenance if p.message_index is not None]
        assert owners == sorted(owners)
    # The repro takes the path the bug was on: the template peeks with `loop.last` and the earlier
    # reasoning is stripped, so no prefix render is a prefix of the full text; the tracked render
    # still places every message where its loop iteration starts.
    messages, tools, _ = normalise_conversation(REPRO)
    *_, ends, tracked, _ = backend._boundaries(messages, tools)  # type: ignore[attr-defined]
    assert tracked and ends == sorted(ends)
    # The repro ends with a user turn: nothing is appended, the last target is its `\n`.
    sample = build_sample(REPRO, LEGACY, backend)
    assert sample.provenance[-1].role == "user"
    assert (
        sum(t == im_end and m for t, m in zip(sample.target_ids, sample.loss_mask, strict=True))
        == 2
    )


def test_llama_template_raising_is_a_per_conversation_error(
    backends: dict[str, MaskBackend], tmp_path: Path
) -> None:
    from lossmask.masks.app.audit import audit_conversations

    backend = backends["llama-3.1"]
    two_calls = next(c for c in CONVERSATIONS if not single_call(c))
    with pytest.raises(MaskError, match="only supports single tool-calls"):
        build_sample(two_calls, "sampled", backend)
    good = [c for c in CONVERSATIONS if single_call(c)][:3]
    from lossmask.masks.app.conversations import as_rows

    rows = as_rows([good[0], two_calls, good[1], good[2]])
    report = audit_conversations(rows, "sampled", backend)
    assert report.conversations == 4 and report.stats.samples == 3
    assert [error.row for error in report.errors] == [1]
    assert "only supports single tool-calls" in report.errors[0].message


def test_body_only_tags_disagree_exactly_on_the_closers(backends: dict[str, MaskBackend]) -> None:
    backend = backends["body-tags"]
    im_end = backend.tokenizer.convert_tokens_to_ids("<|im_end|>")
    for conversation in conversations_for(SHAPES["body-tags"]):
        messages, tools, _ = normalise_conversation(conversation)
        description = backend.describe(messages, tools)
        closers = [
            k
            for k, (t, o) in enumerate(zip(description.ids, description.message, strict=True))
            if t == im_end and o is not None and messages[o]["role"] == "assistant"
        ]
        assert description.tag_disagreements == closers
        # The derived mask trains them: served, the model must write `<|im_end|>` to stop.
        assert all(description.sampled[k] for k in closers)


def test_multi_token_stop_samples_through_the_first_serving_stop(
    backends: dict[str, MaskBackend], shape_dirs: dict[str, Path]
) -> None:
    conversation = conversations_for(SHAPES["multi-token-stop"])[0]
    end, eot = backends["multi-token-stop"].tokenizer.convert_tokens_to_ids(["<|end|>", "<|eot|>"])
    sample = build_sample(conversation, "sampled", backends["multi-token-stop"])
    trained = [t for t, m in zip(sample.target_ids, sample.loss_mask, strict=True) if m]
    assert trained[-2:] == [end, eot]
    # Serving that stops on `<|end|>` already samples no `<|eot|>`.
    config = shape_dirs["multi-token-stop"] / "generation_config.json"
    config.write_text(json.dumps({"eos_token_id": [end, eot]}))
    try:
        earlier = load_backend(tokenizer=str(shape_dirs["multi-token-stop"]))
    finally:
        config.write_text(json.dumps({"eos_token_id": [eot]}))
    sample = build_sample(conversation, "sampled", earlier)
    trained = [t for t, m in zip(sample.target_ids, sample.loss_mask, strict=True) if m]
    assert trained[-1] == end and eot not in trained


def test_all_with_train_false_decides_a_closer_by_the_turn_it_closes(
    backends: dict[str, MaskBackend],
) -> None:
    backend = backends["glm-4.5-hub"]
    observation = backend.tokenizer.convert_tokens_to_ids("<|observation|>")
    conversation = copy.deepcopy(generate_conversations(1, seed=3)[0])
    call_turn = next(i for i, m in enumerate(conversation["messages"]) if m.get("tool_calls"))
    conversation["messages"][call_turn]["train"] = False
    sample = build_sample(conversation, "all", backend)
    closers = [k for k, t in enumerate(sample.target_ids) if t == observation]
    assert closers and not any(sample.loss_mask[k] for k in closers)
    # The tool message's own text still trains under "all".
    tool_text = [
        k
        for k, p in enumerate(sample.provenance)
        if p.role == "tool" and sample.target_ids[k] != observation
    ]
    assert tool_text and all(sample.loss_mask[k] for k in tool_text)
