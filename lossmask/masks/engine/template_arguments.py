"""Tool-call arguments as a chat template expects them: JSON objects, or JSON strings.

Data carries arguments either way (the OpenAI wire format is a JSON string); lossmask parses them
(`conversation.py`), because most templates iterate them as a mapping (`arguments|items`,
`arguments|tojson`). Some templates concatenate them as text instead: the original DeepSeek-V3
template writes `'```json\\n' + tool['function']['arguments'] + '\\n```'`, which fails on an object
("can only concatenate str (not "dict") to str"), and a template that writes `~ arguments` prints
an object as Python's `{'city': 'Oslo'}`. Which form a template expects is detected once per
template by rendering one tool call both ways (`detect_arguments_style`); an error names the form
used and how it was chosen. For the string form the argument text of the data is passed unchanged
when the data had a string, else the object's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_PROBE_ARGUMENTS = {"city": "Oslo"}
_PROBE_TEXT = json.dumps(_PROBE_ARGUMENTS)
_PROBE_CALL_ID = "call00001"  # Mistral templates require 9 alphanumeric characters


def _probe(arguments: Any) -> list[dict[str, Any]]:
    call = {"name": "get_weather", "arguments": arguments}
    return [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": _PROBE_CALL_ID, "type": "function", "function": call}],
        },
        {"role": "tool", "tool_call_id": _PROBE_CALL_ID, "content": "sunny"},
    ]


_PROBE_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@dataclass(frozen=True)
class ArgumentsStyle:
    """How tool-call arguments reach the template: `"object"` or `"string"`, and why."""

    form: str
    how: str

    def apply(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.form == "object" or not any(m.get("tool_calls") for m in messages):
            return messages
        return [_with_string_arguments(m) if m.get("tool_calls") else m for m in messages]

    def describe(self) -> str:
        form = "JSON objects" if self.form == "object" else "JSON strings"
        return f"tool-call arguments reach this template as {form} ({self.how})"


def _as_text(arguments: Any) -> Any:
    if isinstance(arguments, str):
        return arguments
    source = getattr(arguments, "source", None)
    return source if isinstance(source, str) else json.dumps(arguments, ensure_ascii=False)


def _with_string_arguments(message: dict[str, Any]) -> dict[str, Any]:
    calls = []
    for call in message["tool_calls"]:
        if not isinstance(call, dict):
            calls.append(call)
            continue
        function = call.get("function")
        if isinstance(function, dict) and "arguments" in function:
            function = {**function, "arguments": _as_text(function["arguments"])}
            calls.append({**call, "function": function})
        elif "arguments" in call:
            calls.append({**call, "arguments": _as_text(call["arguments"])})
        else:
            calls.append(call)
    return {**message, "tool_calls": calls}


def detect_arguments_style(
    render: Callable[[Any, Any, bool], str],
) -> ArgumentsStyle:
    """Render one tool call with object arguments and with string arguments; the object form
    unless it fails or prints as a Python dict and the string form renders cleanly."""
    object_text = _try(render, _probe(dict(_PROBE_ARGUMENTS)))
    string_text = _try(render, _probe(_PROBE_TEXT))
    python_repr = repr(_PROBE_ARGUMENTS)
    object_ok = object_text is not None and python_repr not in object_text
    string_ok = string_text is not None and json.dumps(_PROBE_TEXT)[:-1] not in string_text
    if object_ok or not string_ok:
        how = "detected" if object_ok else "the default: the template rendered neither form"
        return ArgumentsStyle("object", how)
    return ArgumentsStyle("string", "detected: the template writes them as text")


def _try(render: Callable[[Any, Any, bool], str], messages: list[dict[str, Any]]) -> str | None:
    try:
        return render(messages, _PROBE_TOOLS, False)
    except Exception:  # any template error: this form does not work
        return None
