"""Row normalisation: every accepted shape gives one canonical conversation; every bad field is a
`RowFieldError` naming the field, with the exact message a user sees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lossmask.data.errors import RowFieldError
from lossmask.data.normalize import normalize_row

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
CALL = {
    "id": "c1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
}


def problem(row: dict[str, Any]) -> tuple[str, str, str | None]:
    with pytest.raises(RowFieldError) as caught:
        normalize_row(row)
    return caught.value.key, caught.value.message, caught.value.suggestion


def test_prompt_and_completion_strings_take_user_and_assistant_roles() -> None:
    assert normalize_row({"prompt": "Hi?", "completion": "Hello."}) == {
        "messages": [
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello."},
        ]
    }


def test_prompt_and_completion_lists_keep_their_roles_and_bare_strings_get_defaults() -> None:
    row = {
        "prompt": [{"role": "system", "content": "Be brief."}, "Hi?"],
        "completion": ["Hello.", {"role": "user", "content": "Bye"}],
    }
    assert [(m["role"], m["content"]) for m in normalize_row(row)["messages"]] == [
        ("system", "Be brief."),
        ("user", "Hi?"),
        ("assistant", "Hello."),
        ("user", "Bye"),
    ]


def test_messages_win_over_prompt_and_completion_and_bare_strings_are_assistant() -> None:
    row = {"messages": ["just text"], "prompt": "ignored", "completion": "ignored"}
    assert normalize_row(row) == {"messages": [{"role": "assistant", "content": "just text"}]}


def test_string_and_object_tool_arguments_normalise_to_the_same_object() -> None:
    as_string = {**CALL, "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    flat = {"id": "c1", "name": "get_weather", "arguments": '{"city": "Oslo"}'}
    rows = [
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
        for call in (CALL, as_string, flat)
    ]
    expected = {"messages": [{"role": "assistant", "content": "", "tool_calls": [CALL]}]}
    assert [normalize_row(row) for row in rows] == [expected] * 3


def test_nulls_that_arrow_fills_in_are_dropped() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Hi", "tool_calls": None, "name": None},
            {"role": "assistant", "content": "Yo", "reasoning_content": None, "train": None},
        ],
        "tools": None,
    }
    assert normalize_row(row) == {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    }


def test_text_parts_are_joined_and_reasoning_aliases_are_renamed() -> None:
    row = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "assistant", "content": "c", "thinking": "t"},
        ]
    }
    assert normalize_row(row)["messages"] == [
        {"role": "user", "content": "ab"},
        {"role": "assistant", "content": "c", "reasoning_content": "t"},
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (42, "must be a string, not a number (42)"),
        ({"text": "hi"}, 'must be a string, not an object ({"text": "hi"})'),
        (True, "must be a string, not a boolean (true)"),
        (
            [{"type": "image_url", "image_url": "x"}],
            'must be a string, not a list ([{"type": "image_url", "image_url": "...)',
        ),
    ],
)
def test_non_string_content_is_a_row_error(content: Any, message: str) -> None:
    row = {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": content}]
    }
    assert problem(row) == (
        "messages[1].content",
        message,
        'write the text as a string, or as a list of {"type": "text", "text": ...} parts',
    )


def test_unknown_role_names_the_message_and_suggests_the_closest() -> None:
    assert problem({"messages": [{"role": "asistant", "content": "x"}]}) == (
        "messages[0].role",
        'unknown role "asistant"',
        'roles are system, user, assistant, tool; did you mean "assistant"?',
    )


def test_invalid_tool_call_json_is_a_row_error() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{city: Oslo}"}}
    assert problem({"messages": [{"role": "assistant", "tool_calls": [call]}]}) == (
        "messages[0].tool_calls[0].function.arguments",
        "tool call arguments are not valid JSON (Expecting property name enclosed in double "
        "quotes at column 2)",
        "write them as a JSON object or a JSON-encoded string of one",
    )


def test_empty_completion_is_a_row_error() -> None:
    for empty in ("", None, []):
        assert problem({"prompt": "Hi?", "completion": empty}) == (
            "completion",
            "is empty, so the row has nothing to train",
            "give the assistant's reply, or drop the row",
        )


def test_row_with_no_conversation_lists_its_keys() -> None:
    assert problem({"text": "x", "label": 1}) == (
        "",
        "no conversation in this row (its keys: label, text)",
        'give each row a "messages" list, "prompt" and "completion" columns, '
        'or ShareGPT "conversations"',
    )


def test_tools_as_json_string_list_or_bare_definitions_normalise_alike() -> None:
    bare = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    messages = [{"role": "user", "content": "q"}]
    forms = [[WEATHER_TOOL], json.dumps([WEATHER_TOOL]), [bare], json.dumps(bare)]
    assert [normalize_row({"messages": messages, "tools": tools})["tools"] for tools in forms] == [
        [WEATHER_TOOL]
    ] * 4
    assert "tools" not in normalize_row({"messages": messages, "tools": "[]"})


def test_tools_that_are_not_json_are_a_row_error() -> None:
    assert problem({"messages": [{"role": "user", "content": "q"}], "tools": "get_weather"}) == (
        "tools",
        "is not valid JSON (Expecting value at column 1)",
        "write a list of tool definitions, or a JSON-encoded string of one",
    )


def test_sharegpt_roles_function_calls_and_system_column() -> None:
    row = {
        "system": "Be brief.",
        "conversations": [
            {"from": "human", "value": "Weather in Oslo?"},
            {
                "from": "function_call",
                "value": '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
            },
            {"from": "observation", "value": '{"temp": 3}'},
            {"from": "GPT", "value": "3 degrees."},
        ],
    }
    assert normalize_row(row) == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                    }
                ],
            },
            {"role": "tool", "content": '{"temp": 3}'},
            {"role": "assistant", "content": "3 degrees."},
        ]
    }


@pytest.mark.parametrize(
    ("speaker", "role"),
    [("system", "system"), ("user", "user"), ("assistant", "assistant"), ("model", "assistant"),
     ("tool", "tool"), ("function", "tool")],
)  # fmt: skip
def test_sharegpt_from_values_map_to_roles(speaker: str, role: str) -> None:
    row = {"conversations": [{"from": speaker, "value": "x"}]}
    assert normalize_row(row)["messages"] == [{"role": role, "content": "x"}]


def test_sharegpt_from_that_maps_to_no_role_is_a_row_error() -> None:
    assert problem(
        {"conversations": [{"from": "human", "value": "x"}, {"from": "bot", "value": "y"}]}
    ) == (
        "conversations[1].from",
        '"bot" maps to no role',
        "known: system, human, user, gpt, assistant, model, tool, function, observation, "
        "function_call",
    )
