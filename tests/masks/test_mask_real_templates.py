"""`"sampled"` on real published chat templates (tests/masks/real_templates/, with provenance).

Each family runs on a tiny tokenizer with its special tokens and a generation_config.json with the
real model's serving stops (bench/template_families.py builds them). References never call the
engine: the template's own prefix renders, turn patterns read from the template, and serving's
stop rule. The defects of issue 17 each have a test here, on the family's public template.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import MaskBackend, MaskError, build_sample
from lossmask.masks.engine.backends import load_backend
from lossmask.masks.engine.build import mask_conversation
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.masks.engine.template_turns import TurnRefused
from lossmask.schema.roles import LossMaskRolesConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import template_families as survey

FAMILIES = {family.name: family for family in survey.load_families()}


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {name: survey.save_tokenizer(f, root / name) for name, f in FAMILIES.items()}


@pytest.fixture(scope="module")
def backends(family_dirs: dict[str, Path]) -> dict[str, MaskBackend]:
    return {name: load_backend(tokenizer=str(path)) for name, path in family_dirs.items()}


@pytest.fixture(scope="module")
def results() -> list[survey.FamilyResult]:
    return survey.check_all()


def prefix_reference(backend: MaskBackend, conversation: dict[str, Any]) -> tuple[list, list]:
    """(ids, mask) from the definition: every prompt render is a prefix of the full render (the
    test asserts it); every token after it up to and including the first serving stop."""
    tokenizer = backend.tokenizer
    messages, tools, _ = normalise_conversation(conversation)

    def render(prefix: list[dict[str, Any]], prompt: bool = False) -> str:
        return str(
            tokenizer.apply_chat_template(
                prefix, tools=tools, tokenize=False, add_generation_prompt=prompt
            )
        )

    full = render(messages)
    encoded = tokenizer._tokenizer.encode(full, add_special_tokens=False)
    ids, starts = list(encoded.ids), [a for a, _ in encoded.offsets]
    stops = set(backend.stop_token_ids())
    mask = [False] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render(messages[:i], prompt=True)
        assert full.startswith(prompt)
        k = starts.index(len(prompt))
        while True:
            mask[k] = True
            if ids[k] in stops:
                break
            k += 1
    return ids, mask


def tool_exchanges(exchanges: int, seed: int = 22) -> list[dict[str, Any]]:
    """Six seeded tool chats (1-3 parallel calls, reasoning in half the turns)."""
    from lossmask.masks.assets.synthetic import generate_conversations

    chats = generate_conversations(6, seed=seed, exchanges=exchanges, reasoning_rate=0.5)
    return [survey.nine_character_ids(c) for c in chats]


# -- the survey ------------------------------------------------------------------------------


def test_every_real_template_is_exact_or_refuses_with_a_reason(
    results: list[survey.FamilyResult],
) -> None:
    for result in results:
        assert result.failures == [], (result.family.name, result.failures)
        accounted = (
            result.exact + sum(result.refused.values()) + sum(result.template_rejects.values())
        )
        assert accounted == result.conversations
    exact_tool_families = [r for r in results if r.exact_tool_chats]
    assert len(exact_tool_families) >= 20


def test_the_family_table_in_docs_masks_md_is_current(results: list[survey.FamilyResult]) -> None:
    expected = survey.updated_doc(survey.render_table(results))
    assert survey.DOC_PATH.read_text(encoding="utf-8") == expected, (
        "the family table in docs/masks.md is stale; run `python bench/template_families.py`"
    )


def test_every_template_is_carried_with_its_provenance() -> None:
    provenance = (survey.DATA / "PROVENANCE.md").read_text(encoding="utf-8")
    carried = sorted(p.name for p in (survey.DATA / "templates").glob("*.jinja"))
    assert carried == sorted(f.template for f in FAMILIES.values())
    for name in carried:
        digest = hashlib.sha256((survey.DATA / "templates" / name).read_bytes()).hexdigest()
        assert f"| `{name}` |" in provenance and f"`{digest[:16]}` |" in provenance
    trl = pytest.importorskip("trl", reason="TRL (the dev extra) vendors the originals")
    originals = Path(trl.__file__).parent / "chat_templates"
    for carried_name, original in [
        ("glm-4.5.jinja", "glm4moe.jinja"),
        ("deepseek-v3.jinja", "deepseekv3.jinja"),
        ("gemma-3.jinja", "gemma3.jinja"),
        ("gpt-oss.jinja", "gptoss.jinja"),  # llama.cpp's copy is TRL's, byte for byte
        ("llama-3.1.jinja", "llama3_1.jinja"),
    ]:
        assert (survey.DATA / "templates" / carried_name).read_bytes() == (
            originals / original
        ).read_bytes()


def test_one_tracked_render_places_messages_like_prefix_renders_on_real_templates(
    backends: dict[str, MaskBackend],
) -> None:
    """Where every prefix render is a prefix of the full render, the boundaries the single
    tracked render gives (loop iterations) are exactly the prefix renders' lengths."""
    checked = 0
    differ: set[str] = set()
    for name, backend in backends.items():
        for conversation in survey.conversations(FAMILIES[name]):
            messages, tools = survey.template_messages(FAMILIES[name], conversation)
            render = backend.tokenizer.apply_chat_template
            try:
                full = render(messages, tools=tools, tokenize=False)
                prefixes = [
                    render(messages[:end], tools=tools, tokenize=False)
                    for end in range(1, len(messages))
                ]
            except Exception:  # the template refuses a conversation or a prefix
                continue
            if not all(full.startswith(text) for text in prefixes):
                continue
            structure = backend._boundaries(messages, tools)  # type: ignore[attr-defined]
            if structure.ends[:-1] != [len(text) for text in prefixes]:
                differ.add(name)
            checked += 1
    assert checked > 200
    # TRL's DeepSeek-V3 writes the `<｜tool▁outputs▁end｜>` that closes a run of tool results
    # after its loop when a tool message is last, and in the assistant's iteration otherwise: in
    # the full render the assistant's iteration writes it (docs/masks.md, "Known limits").
    assert differ == {"deepseek-v3"}


# -- the defects of the issue, one test each ---------------------------------------------------


def test_deepseek_v31_an_empty_prompt_after_a_tool_is_never_reused(
    backends: dict[str, MaskBackend],
) -> None:
    """After a tool result DeepSeek-V3.1's generation prompt is empty; the next turn after a user
    message must still find its own `<｜Assistant｜><think></think>`, never train it."""
    backend = backends["deepseek-v3.1"]
    header = backend.tokenizer.convert_tokens_to_ids("<｜Assistant｜>")
    conversations = tool_exchanges(2)
    for conversation in conversations:
        sequence = mask_conversation(conversation, "sampled", backend)
        ids, mask = prefix_reference(backend, conversation)
        assert (sequence.ids, sequence.mask) == (ids, mask)
        assert not any(m for t, m in zip(sequence.ids, sequence.mask, strict=True) if t == header)


def test_command_r7b_never_trains_the_turn_header(backends: dict[str, MaskBackend]) -> None:
    backend = backends["command-r7b"]
    family = FAMILIES["command-r7b"]
    opener = backend.tokenizer.convert_tokens_to_ids(
        ["<|START_OF_TURN_TOKEN|>", "<|CHATBOT_TOKEN|>"]
    )
    for conversation in tool_exchanges(1) + tool_exchanges(2):
        ref = survey.reference(family, backend.tokenizer, conversation)
        sequence = mask_conversation(conversation, "sampled", backend)
        assert ref.undefined is None and ref.unclosed == []
        assert (sequence.ids, sequence.mask) == (ref.ids, ref.mask)
        trained = {t for t, m in zip(sequence.ids, sequence.mask, strict=True) if m}
        assert not trained & set(opener)


@pytest.mark.parametrize("name", ["hermes-2-pro", "hermes-3"])
def test_hermes_tool_result_then_answer_is_aligned(
    backends: dict[str, MaskBackend], name: str
) -> None:
    """The template writes `</tool_response>\\n<|im_end|>` when more messages follow and no `\\n`
    when the tool message is last, so no prompt render is a prefix; the prompt is in the text."""
    backend, family = backends[name], FAMILIES[name]
    for conversation in tool_exchanges(1) + tool_exchanges(2):
        messages, tools, _ = normalise_conversation(conversation)
        tool = next(i for i, m in enumerate(messages) if m["role"] == "tool")
        full = backend.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
        prompt = backend.tokenizer.apply_chat_template(
            messages[: tool + 1], tools=tools, tokenize=False, add_generation_prompt=True
        )
        assert not full.startswith(prompt)
        ref = survey.reference(family, backend.tokenizer, conversation)
        sequence = mask_conversation(conversation, "sampled", backend)
        assert (sequence.ids, sequence.mask) == (ref.ids, ref.mask)


def test_deepseek_r1_style_prompt_ending_mid_reasoning(backends: dict[str, MaskBackend]) -> None:
    """TRL's deepseekv3.jinja prompts with `<｜Assistant｜><think>\\n`; the training text of a
    turn has `<｜Assistant｜>` then the answer. The turn is sampled from after the header and
    the missing `<think>\\n` is reported."""
    backend = backends["deepseek-v3"]
    chat = survey.PLAIN_CHATS[0]
    sequence = mask_conversation(chat, "sampled", backend)
    tokenizer = backend.tokenizer
    messages, _, _ = normalise_conversation(chat)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    header, eos = "<｜Assistant｜>", "<｜end▁of▁sentence｜>"
    encoded = tokenizer._tokenizer.encode(full, add_special_tokens=False)
    assert sequence.ids == encoded.ids
    # Reference: every token from the end of each `<｜Assistant｜>` through the next EOS.
    expected = [False] * len(encoded.ids)
    starts = [start for start, _ in encoded.offsets]
    at = full.find(header)
    while at >= 0:
        k = starts.index(at + len(header))
        while True:
            expected[k] = True
            if encoded.ids[k] == tokenizer.convert_tokens_to_ids(eos):
                break
            k += 1
        at = full.find(header, at + 1)
    assert sequence.mask == expected
    trained_text = tokenizer.decode(
        [t for t, m in zip(sequence.ids, sequence.mask, strict=True) if m]
    )
    assert trained_text == f"Oslo.{eos}Stockholm.{eos}"
    assert full.count(header) == 2 and sequence.missing_prompt == ["<think>\n", "<think>\n"]


@pytest.mark.parametrize("name", ["mistral-nemo", "mistral-small-3.2", "gpt-oss"])
def test_system_prompt_and_two_user_turns_align(
    backends: dict[str, MaskBackend], name: str
) -> None:
    """Mistral moves the system prompt into the last user message and gpt-oss drops earlier
    analysis: no prompt render is a prefix, and both used to be refused as unalignable."""
    backend, family = backends[name], FAMILIES[name]
    chat = survey.PLAIN_CHATS[0]
    ref = survey.reference(family, backend.tokenizer, chat)
    sequence = mask_conversation(chat, "sampled", backend)
    assert ref.undefined is None
    assert survey.compare(ref, sequence.ids, sequence.mask, set(backend.stop_token_ids())) is None
    trained_text = backend.tokenizer.decode(
        [t for t, m in zip(sequence.ids, sequence.mask, strict=True) if m]
    )
    assert "Oslo." in trained_text and "Stockholm." in trained_text
    assert "capital" not in trained_text and "short sentence" not in trained_text


def test_deepseek_v3_arguments_reach_the_template_as_strings(
    family_dirs: dict[str, Path], backends: dict[str, MaskBackend]
) -> None:
    """The original DeepSeek-V3 template concatenates `arguments` as text: detected, and the
    data's own argument text is what the template writes."""
    from lossmask.masks.engine.template_arguments import ArgumentsStyle
    from lossmask.masks.engine.template_backend import ChatTemplateBackend

    backend = backends["deepseek-v3"]
    assert backend.tool_arguments.form == "string"  # type: ignore[attr-defined]
    conversation = tool_exchanges(1)[0]
    raw = conversation["messages"]
    call = next(m for m in raw if m.get("tool_calls"))["tool_calls"][0]["function"]["arguments"]
    sequence = mask_conversation(conversation, "sampled", backend)
    text = backend.tokenizer.decode(sequence.ids)
    assert f"```json\n{call}\n```" in text
    ref = survey.reference(FAMILIES["deepseek-v3"], backend.tokenizer, conversation)
    if ref.undefined is None:
        assert (sequence.ids, sequence.mask) == (ref.ids, ref.mask)
    forced = ChatTemplateBackend(
        backend.tokenizer,
        serving_stop_ids=backend.stop_token_ids(),
        tool_arguments=ArgumentsStyle("object", "set by the caller"),
    )
    with pytest.raises(MaskError) as raised:
        mask_conversation(conversation, "sampled", forced)
    assert str(raised.value) == (
        'the chat template raised an error: can only concatenate str (not "dict") to str; '
        "tool-call arguments reach this template as JSON objects (set by the caller)"
    )


def test_qwen3_coder_legacy_keeps_the_structural_meaning(backends: dict[str, MaskBackend]) -> None:
    """Qwen3-Coder closes a run of tool results with `<|im_end|>\\n` after asking
    `loop.nextitem.role`; structurally (prefix renders) it belongs to the tool message, so the
    legacy role table must not train it."""
    backend = backends["qwen3-coder"]
    legacy = LossMaskRolesConfig()
    for conversation in tool_exchanges(1) + tool_exchanges(2):
        messages, tools, _ = normalise_conversation(conversation)
        tokenizer = backend.tokenizer
        full = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
        ends = [
            len(tokenizer.apply_chat_template(messages[:end], tools=tools, tokenize=False))
            for end in range(1, len(messages))
        ]
        encoded = tokenizer._tokenizer.encode(full, add_special_tokens=False)
        owners = [sum(e <= start for e in ends) for start, _ in encoded.offsets]
        expected = [messages[o]["role"] == "assistant" for o in owners]
        sequence = mask_conversation(conversation, legacy, backend)
        assert sequence.ids[: len(expected)] == list(encoded.ids)
        assert sequence.mask[: len(expected)] == expected
        run_end = full.index("</tool_response>\n<|im_end|>\n") + len("</tool_response>\n")
        closer = next(k for k, (s, _) in enumerate(encoded.offsets) if s == run_end)
        assert messages[owners[closer]]["role"] == "tool" and not sequence.mask[closer]


def test_a_turn_that_cannot_be_established_is_refused_with_its_reason(
    backends: dict[str, MaskBackend],
) -> None:
    """TRL's deepseekv3.jinja writes no `<｜Assistant｜>` before a second tool-calling turn: what
    serving would sample there is undefined, so the row is refused, never guessed."""
    backend = backends["deepseek-v3"]
    refused = 0
    for conversation in tool_exchanges(2):
        ref = survey.reference(FAMILIES["deepseek-v3"], backend.tokenizer, conversation)
        if ref.undefined is None:
            continue
        with pytest.raises(TurnRefused) as raised:
            build_sample(conversation, "sampled", backend)
        assert raised.value.reason == "generation prompt not in the training text"
        # The modes that do not need what serving samples still mask the row.
        legacy = mask_conversation(conversation, LossMaskRolesConfig(), backend)
        everything = mask_conversation(conversation, "all", backend)
        assert ref.ids == everything.ids[: len(ref.ids)] == legacy.ids[: len(ref.ids)]
        assert all(everything.mask)
        refused += 1
    assert refused >= 1


def test_renderer_name_without_a_tokenizer_uses_the_family_tokenizer(tmp_path: Path) -> None:
    from renderers import build_training_sample

    from lossmask.masks.app.setup import mask_backend
    from lossmask.masks.assets.families import family_renderer

    backend = mask_backend(tokenizer=None, model=None, renderer="llama-3")
    assert backend.tokenizer.name_or_path == "embedded:llama-3"
    renderer = family_renderer("llama-3")
    for conversation in tool_exchanges(1):
        messages, tools, _ = normalise_conversation(conversation)
        if any(len(m.get("tool_calls") or []) > 1 for m in messages):
            continue
        expected = build_training_sample(renderer, messages, tools=tools, ensure_final_stop=True)
        sample = build_sample(conversation, "sampled", backend)
        assert sample.input_ids + sample.target_ids[-1:] == list(expected.token_ids)
        assert sample.loss_mask == list(expected.loss_mask)[1:]


def test_renderer_name_whose_family_tokenizer_cannot_run_says_what_to_set(tmp_path: Path) -> None:
    from tests.cli_runner import run_cli

    path = tmp_path / "c.toml"
    path.write_text('[renderer]\nname = "gpt-oss"\n\n[data]\nloss_mask = "sampled"\n')
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(survey.PLAIN_CHATS[1]) + "\n")
    result = run_cli(["audit", str(path), "--data", str(data)])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f'{path}: [renderer] name = "gpt-oss" runs on the embedded gpt-oss ')
    assert line.endswith(
        "set [tokenizer] name to the model's tokenizer (a local directory or a hub id)"
    )
