"""ShareGPT rows (`conversations` of `{"from", "value"}` turns, as axolotl and LLaMA-Factory use).

`from` is matched case-insensitively through `SHAREGPT_ROLES`:

| `from`                              | role        |
|-------------------------------------|-------------|
| `system`                            | `system`    |
| `human`, `user`                     | `user`      |
| `gpt`, `assistant`, `model`         | `assistant` |
| `tool`, `function`, `observation`   | `tool`      |
| `function_call`                     | `assistant` with tool calls |

A `function_call` turn's `value` is a JSON object `{"name", "arguments"}` or a list of them (the
LLaMA-Factory form); it becomes an assistant message with empty content and those tool calls. A
turn that already has `role`/`content` keys is taken as a message. An optional `system` column
(LLaMA-Factory) becomes a leading system message unless the turns start with one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lossmask.data.errors import RowFieldError
from lossmask.data.normalize import (
    drop_nulls,
    normalize_content,
    normalize_message,
    normalize_tool_call,
)
from lossmask.schema.messages import did_you_mean

SHAREGPT_ROLES: dict[str, str] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
}
FUNCTION_CALL = "function_call"


def _function_call(value: Any, key: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise RowFieldError(
                key,
                f"a function_call value is not valid JSON ({error.msg} at column {error.colno})",
                'write {"name": ..., "arguments": {...}}',
            ) from None
    calls = drop_nulls(value if isinstance(value, list) else [value])
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [normalize_tool_call(call, f"{key}[{i}]") for i, call in enumerate(calls)],
    }


def sharegpt_messages(turns: Any, system: Any = None) -> list[dict[str, Any]]:
    """The messages of one ShareGPT `conversations` list (and optional `system` column)."""
    if not isinstance(turns, list):
        raise RowFieldError("conversations", "must be a list of {from, value} turns")
    messages: list[dict[str, Any]] = []
    for index, turn in enumerate(turns):
        key = f"conversations[{index}]"
        if not isinstance(turn, Mapping):
            raise RowFieldError(key, "a turn must be an object with from and value")
        if turn.get("from") is None and turn.get("role") is not None:
            messages.append(normalize_message(turn, key, "user"))
            continue
        speaker = turn.get("from")
        if not isinstance(speaker, str):
            raise RowFieldError(f"{key}.from", "is missing", 'write "from": "human" or "gpt"')
        if speaker.lower() == FUNCTION_CALL:
            messages.append(_function_call(turn.get("value"), f"{key}.value"))
            continue
        role = SHAREGPT_ROLES.get(speaker.lower())
        if role is None:
            known = [*SHAREGPT_ROLES, FUNCTION_CALL]
            close = did_you_mean(speaker.lower(), known)
            hint = "known: " + ", ".join(known) + (f"; {close}" if close else "")
            raise RowFieldError(f"{key}.from", f'"{speaker}" maps to no role', hint)
        messages.append(
            {"role": role, "content": normalize_content(turn.get("value"), f"{key}.value")}
        )
    if isinstance(system, str) and system and (not messages or messages[0]["role"] != "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages
