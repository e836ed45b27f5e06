"""What the stop eval calls exact, and how it reads tool calls back, on the real backends.

The reference calls come from the conversation's own `tool_calls` (the data), never from the eval;
the generated turns are hand-written token ids in each family's real syntax (the renderers' own
rendering of a reference turn, or that rendering edited), so the expected verdicts are known
before the eval runs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lossmask.masks import build_sample, load_backend
from lossmask.masks.assets.synthetic import generate_agent_conversations
from lossmask.reference_trainer.evaluate import (
    TurnResult,
    held_out_turns,
    reference_continuation,
    serving_stop_ids,
    summarise,
)
from lossmask.reference_trainer.stop_table import closing_title, format_table
from lossmask.reference_trainer.tool_calls import call_parsers, reference_calls

BACKENDS = {
    "glm chat template": ("embedded:glm-4.5-notags", None, "<|observation|>"),
    "glm renderer": (None, "glm-4.5", "<|observation|>"),
    "qwen3 chat template": ("embedded:qwen3", None, "<|im_end|>"),
    "qwen3 renderer": (None, "qwen3", "<|im_end|>"),
}


def _two_city_turn(tool_schemas: bool = True) -> tuple[dict[str, Any], int]:
    """A held-out conversation whose first assistant turn calls get_weather for two cities."""
    for conversation in generate_agent_conversations(40, seed=3, tool_schemas=tool_schemas):
        for position, message in enumerate(conversation["messages"]):
            if len(message.get("tool_calls") or []) == 2:
                return conversation, position
    raise AssertionError("the generator made no two-call turn in 40 conversations")


@pytest.mark.parametrize("tool_schemas", [True, False], ids=["schemas", "no schemas"])
@pytest.mark.parametrize("name", list(BACKENDS))
def test_the_parser_reads_the_reference_calls_back_and_catches_a_wrong_city(
    name: str, tool_schemas: bool
) -> None:
    """Without schemas GLM's parser cannot type a value: it keeps the text, as vLLM does."""
    tokenizer, renderer, closing = BACKENDS[name]
    backend = load_backend(tokenizer=tokenizer, renderer=renderer)
    conversation, position = _two_city_turn(tool_schemas)
    messages, tools = conversation["messages"], conversation.get("tools")
    wanted = reference_calls(messages[position])
    assert [call.name for call in wanted] == ["get_weather", "get_weather"]
    cities = [json.loads(call.arguments)["city"] for call in wanted]
    prompt = backend.prompt_ids(messages[:position], tools)
    sample = build_sample(conversation, "sampled", backend)
    reference = reference_continuation(prompt, sample, serving_stop_ids(backend))
    assert reference is not None
    assert backend.tokenizer.convert_ids_to_tokens(reference[-1]) == closing
    parsers, reason = call_parsers(backend)
    assert parsers and reason == ""
    parser = parsers[0]
    assert parser.parse(reference, tools) == wanted
    # The same turn with the first city swapped for another: one call wrong, one right.
    text = backend.tokenizer.decode(reference, skip_special_tokens=False)
    other = "Reykjavik" if cities[0] != "Reykjavik" else "Nairobi"
    edited = backend.tokenizer.encode(text.replace(cities[0], other, 1), add_special_tokens=False)
    made = parser.parse(edited, tools)
    assert made[1] == wanted[1] and made[0] != wanted[0]
    assert json.loads(made[0].arguments)["city"] == other  # type: ignore[union-attr]


def _turn(**fields: Any) -> TurnResult:
    base: dict[str, Any] = dict(
        conversation=0,
        kind="tool",
        requested_calls=2,
        calls=2,
        stopped=True,
        stop_token="<|observation|>",
        generated="",
        reference_stop="<|observation|>",
        wanted=['get_weather({"city": "Oslo"})', 'get_weather({"city": "Lima"})'],
        made=['get_weather({"city": "Lima"})', 'get_weather({"city": "Oslo"})'],
        calls_right=2,
    )
    return TurnResult(**{**base, **fields})


def test_exact_needs_a_stop_the_count_and_every_argument() -> None:
    assert _turn().exact is True  # parallel calls in another order are the same calls
    ran_on = _turn(calls=3, stopped=False, stop_token=None, made=[*_turn().made, "(malformed)"])
    assert ran_on.exact is False and ran_on.right_count is False
    # The right calls, then the budget ran out before a stop: not exact ("exact calls" used to
    # count this turn).
    assert _turn(stopped=False, stop_token=None).exact is False
    wrong = _turn(made=['get_weather({"city": "Oslo"})', 'get_weather({"city": "Oslo"})'])
    assert wrong.right_count is True and wrong.exact is False
    assert _turn(made=None).exact is None  # arguments not checked: unknown, never "right"


def test_summary_reports_arguments_and_multi_step_apart_and_names_the_closing_token() -> None:
    turns = [
        _turn(),
        _turn(conversation=1, made=['get_weather({"city": "Oslo"})'] * 2, calls_right=1),
        _turn(
            conversation=2,
            multi_step=True,
            requested_calls=1,
            calls=1,
            wanted=["get_location({})"],
            made=["get_location({})"],
            calls_right=1,
        ),
        _turn(conversation=2, kind="final", requested_calls=0, calls=0, wanted=[], made=[]),
    ]
    summary = summarise("cell", turns)
    assert (summary.tool_turns, summary.final_turns, summary.multi_step_tool_turns) == (3, 1, 1)
    assert summary.pct_right_count == 100.0
    assert summary.pct_exact == pytest.approx(200 / 3)
    assert summary.pct_calls_right == pytest.approx(100 * 4 / 5)
    assert (summary.pct_exact_single_step, summary.pct_exact_multi_step) == (50.0, 100.0)
    assert closing_title([summary]) == "closed with <|observation|>"
    unchecked = summarise("cell", [_turn(made=None)], "no parser here")
    assert unchecked.pct_exact is None and unchecked.pct_calls_right is None
    table = format_table([unchecked])
    assert "n/a" in table and table.endswith("cell: arguments not checked: no parser here")


def test_chatml_closing_token_names_the_column() -> None:
    chatml = summarise("qwen", [_turn(reference_stop="<|im_end|>", stop_token="<|im_end|>")])
    glm = summarise("glm", [_turn()])
    assert chatml.pct_closed == 100.0
    assert closing_title([chatml]) == "closed with <|im_end|>"
    assert closing_title([chatml, glm]) == "closed with <|im_end|> or <|observation|>"


def test_held_out_turns_mark_multi_step_conversations() -> None:
    conversations = generate_agent_conversations(30, seed=11)
    cases = held_out_turns(conversations)
    for case in cases:
        messages = conversations[case.conversation]["messages"]
        locates = any(
            call["function"]["name"] == "get_location"
            for message in messages
            for call in message.get("tool_calls") or []
        )
        assert case.multi_step == locates
    assert {case.multi_step for case in cases} == {True, False}


def test_a_template_no_parser_reads_is_reported_not_guessed() -> None:
    """A chat template whose calls no known parser reads back: arguments are n/a, with why."""
    from lossmask.reference_trainer.evaluate import _checked_parser

    backend = load_backend(tokenizer="embedded:glm-4.5-notags", renderer=None)
    conversation, _ = _two_city_turn()
    cases = held_out_turns([conversation])
    # A reference rendering the parsers cannot read: the call block without its arguments.
    sample = build_sample(conversation, "sampled", backend)
    references = [
        reference_continuation(
            backend.prompt_ids(case.messages, case.tools), sample, serving_stop_ids(backend)
        )
        for case in cases
    ]
    arg = backend.tokenizer.convert_tokens_to_ids("<arg_value>")
    broken = [
        [token for token in reference if token != arg] if reference is not None else None
        for reference in references
    ]
    parser, reason = _checked_parser(backend, cases, broken)
    assert parser is None
    assert reason.startswith("no tool-call parser (glm-4.5")


def test_calls_past_the_requested_number_earn_no_argument_credit() -> None:
    from lossmask.reference_trainer.tool_calls import Call, calls_matched

    oslo, lima, rome = (Call.of("get_weather", {"city": c}) for c in ("Oslo", "Lima", "Rome"))
    assert calls_matched([lima, oslo], [oslo, lima]) == 2  # any order
    assert calls_matched([oslo, oslo], [oslo, lima]) == 1  # each wanted call matched once
    # A turn that ran on: the right city only as its third call, two were requested.
    assert calls_matched([rome, rome, lima, oslo], [oslo, lima]) == 0
    assert calls_matched([None, lima], [oslo, lima]) == 1  # a malformed call matches nothing
