"""One dataset row -> one conversation `{"messages": [...], "tools": [...]}`, in one canonical form.

Rows come in three shapes, checked in this order (the first two as prime-rl's `SFTDataset` does):

- `messages`: a list of messages. A bare string in the list is an `assistant` message.
- `prompt` + `completion`: each a string, one message or a list; a string (or a bare string in a
  list) is a `user` message in the prompt and an `assistant` message in the completion. An empty
  completion is an error: the row would train nothing.
- ShareGPT `conversations`: `{"from": ..., "value": ...}` turns, mapped by `SHAREGPT_ROLES`
  (see `lossmask.data.sharegpt`).

Every message is then normalised so that the same conversation reads the same from every format:

- `role` must be `system`, `user`, `assistant` or `tool`.
- `content`: a string stays; `null` becomes `""`; a list of text parts
  (`[{"type": "text", "text": ...}]`) becomes their texts joined with no separator; anything else
  (a number, a boolean, an object, an image part) is a row error, never trained as `42`.
- `reasoning` / `thinking` are read as `reasoning_content`.
- tool calls become `{"id"?, "type": "function", "function": {"name", "arguments": {...}}}` with
  `arguments` an object: a JSON string is parsed (invalid JSON or a non-object is a row error), and
  a flat `{"name", "arguments"}` call is wrapped in `function`.
- `null` values are dropped everywhere (messages, tool arguments, tool definitions): Arrow-backed
  formats (parquet, `save_to_disk`, hub datasets) fill every key that *any* row has with `null`, so
  a `null` cannot be told apart from a missing key.
- `tools` (or prime-rl's `tool_defs`): a list, or a JSON string of a list; a bare
  `{"name", "description", "parameters"}` definition is wrapped as `{"type": "function", ...}`.
  An empty list is no tools, and the `tools` key is left out.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from lossmask.data.errors import RowFieldError
from lossmask.schema.messages import did_you_mean
from lossmask.schema.roles import ROLES

Conversation = dict[str, Any]

MESSAGES = "messages"
PROMPT_COMPLETION = "prompt/completion"
SHAREGPT = "sharegpt"
CONVERSATION_COLUMNS_HINT = (
    'give each row a "messages" list, "prompt" and "completion" columns, '
    'or ShareGPT "conversations"'
)


def row_format(columns: Sequence[str]) -> str | None:
    """Which shape a table with these columns holds, or None when it holds none of them."""
    if MESSAGES in columns:
        return MESSAGES
    if "prompt" in columns and "completion" in columns:
        return PROMPT_COMPLETION
    if "conversations" in columns:
        return SHAREGPT
    return None


def drop_nulls(value: Any) -> Any:
    """`value` without `None` values in any dict, at any depth (rows are plain JSON values)."""
    kind = type(value)
    if kind is dict:
        return {
            key: drop_nulls(item) if type(item) in _CONTAINERS else item
            for key, item in value.items()
            if item is not None
        }
    if kind is list:
        return [drop_nulls(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = (dict, list)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def normalize_content(content: Any, key: str) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in content
    ):
        return "".join(part["text"] for part in content)
    raise RowFieldError(
        key,
        f"must be a string, not {_kind(content)} ({_shown(content)})",
        'write the text as a string, or as a list of {"type": "text", "text": ...} parts',
    )


def parse_json_object(value: Any, key: str, what: str) -> dict[str, Any]:
    """Tool-call arguments as an object: a JSON string is parsed, `""`/`null` is `{}`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise RowFieldError(
                key,
                f"{what} are not valid JSON ({error.msg} at column {error.colno})",
                "write them as a JSON object or a JSON-encoded string of one",
            ) from None
    if not isinstance(value, dict):
        raise RowFieldError(
            key, f"{what} must be a JSON object, not {_kind(value)} ({_shown(value)})"
        )
    return drop_nulls(value)


def normalize_tool_call(call: Any, key: str) -> dict[str, Any]:
    """`{"id"?, "type": "function", "function": {"name", "arguments": {...}, ...}}`."""
    if type(call) is not dict:
        raise RowFieldError(key, f"a tool call must be an object, not {_kind(call)}")
    nested = type(call.get("function")) is dict
    source = call["function"] if nested else call
    function = {k: v for k, v in source.items() if v is not None and k not in ("id", "type")}
    name = function.get("name")
    if type(name) is not str or not name:
        raise RowFieldError(
            key, "a tool call needs a function name", 'write "function": {"name": ...}'
        )
    function["arguments"] = parse_json_object(
        function.get("arguments"),
        f"{key}.function.arguments" if nested else f"{key}.arguments",
        "tool call arguments",
    )
    out: dict[str, Any] = {"id": call["id"]} if call.get("id") is not None else {}
    out["type"] = "function"
    out["function"] = function
    if nested:
        for extra, value in call.items():
            if extra not in ("id", "type", "function") and value is not None:
                out[extra] = drop_nulls(value)
    return out


_ROLE_SET = frozenset(ROLES)
_SPECIAL_KEYS = frozenset(("role", "content", "tool_calls"))


def normalize_message(raw: Any, key: str, default_role: str) -> dict[str, Any]:
    if type(raw) is str:
        return {"role": default_role, "content": raw}
    if type(raw) is not dict:
        raise RowFieldError(key, f"a message must be an object or a string, not {_kind(raw)}")
    role = raw.get("role")
    if role not in _ROLE_SET:
        if role is None:
            raise RowFieldError(
                key, "message has no role", f'add "role": one of {", ".join(ROLES)}'
            )
        close = did_you_mean(role, ROLES) if isinstance(role, str) else None
        hint = f"roles are {', '.join(ROLES)}" + (f"; {close}" if close else "")
        raise RowFieldError(f"{key}.role", f"unknown role {_shown(role)}", hint)
    content = raw.get("content")
    message: dict[str, Any] = {
        "role": role,
        "content": content
        if type(content) is str
        else normalize_content(content, f"{key}.content"),
    }
    for field, value in raw.items():
        if value is None or field in _SPECIAL_KEYS:
            continue
        if field in ("reasoning", "thinking", "reasoning_content"):
            if field != "reasoning_content" and raw.get("reasoning_content") is not None:
                continue  # reasoning_content wins over its aliases
            field = "reasoning_content"
            value = normalize_content(value, f"{key}.{field}")
        elif field == "train" and type(value) is not bool:
            raise RowFieldError(f"{key}.train", f"must be true or false, not {_shown(value)}")
        message[field] = drop_nulls(value) if type(value) in _CONTAINERS else value
    calls = raw.get("tool_calls")
    if calls:
        if type(calls) is not list:
            raise RowFieldError(f"{key}.tool_calls", f"must be a list, not {_kind(calls)}")
        message["tool_calls"] = [
            normalize_tool_call(call, f"{key}.tool_calls[{i}]") for i, call in enumerate(calls)
        ]
    return message


def normalize_messages(raw: Any, key: str, default_role: str) -> list[dict[str, Any]]:
    """A string, one message or a list of them, as a list of normalised messages."""
    if raw is None:
        return []
    if isinstance(raw, str | dict):
        return [normalize_message(raw, key, default_role)]
    if not isinstance(raw, list):
        raise RowFieldError(key, f"must be a list of messages or a string, not {_kind(raw)}")
    return [normalize_message(item, f"{key}[{i}]", default_role) for i, item in enumerate(raw)]


def normalize_tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None or raw == "" or raw == []:
        return []
    if not isinstance(raw, str):
        try:  # the same tools repeat on most rows; a JSON key finds them in the cache
            raw = json.dumps(raw, ensure_ascii=False)
        except (TypeError, ValueError):
            return _tool_list(drop_nulls(raw))
    # Datasets often repeat one tool list on every row: parse and normalise each one once.
    return list(_tools_from_json(raw))


@functools.lru_cache(maxsize=256)
def _tools_from_json(text: str) -> tuple[dict[str, Any], ...]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise RowFieldError(
            "tools",
            f"is not valid JSON ({error.msg} at column {error.colno})",
            "write a list of tool definitions, or a JSON-encoded string of one",
        ) from None
    return tuple(_tool_list(drop_nulls(parsed)))


def _tool_list(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise RowFieldError("tools", f"must be a list of tool definitions, not {_kind(raw)}")
    tools = []
    for index, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise RowFieldError(f"tools[{index}]", f"must be an object, not {_kind(tool)}")
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
            tools.append(tool)
        elif isinstance(tool.get("name"), str):
            tools.append({"type": "function", "function": tool})
        else:
            raise RowFieldError(
                f"tools[{index}]",
                "a tool definition needs a name",
                'write {"type": "function", "function": {"name": ..., "parameters": ...}}',
            )
    return tools


def normalize_row(row: Mapping[str, Any]) -> Conversation:
    """The conversation of one row; raises `RowFieldError` naming the field that is wrong."""
    if row.get("messages") is not None:
        messages = normalize_messages(row["messages"], "messages", "assistant")
    elif "prompt" in row and "completion" in row:
        completion = row["completion"]
        if completion is None or completion == "" or completion == []:
            raise RowFieldError(
                "completion",
                "is empty, so the row has nothing to train",
                "give the assistant's reply, or drop the row",
            )
        messages = normalize_messages(row["prompt"], "prompt", "user")
        messages += normalize_messages(completion, "completion", "assistant")
    elif row.get("conversations") is not None:
        from lossmask.data.sharegpt import sharegpt_messages  # it builds on this module

        messages = sharegpt_messages(row["conversations"], row.get("system"))
    else:
        present = ", ".join(sorted(str(key) for key in row)) or "none"
        raise RowFieldError(
            "",
            f"no conversation in this row (its keys: {present})",
            CONVERSATION_COLUMNS_HINT,
        )
    if not messages:
        raise RowFieldError("messages", "is empty", "a conversation needs at least one message")
    conversation: Conversation = {"messages": messages}
    raw_tools = row.get("tools")
    tools = normalize_tools(raw_tools if raw_tools is not None else row.get("tool_defs"))
    if tools:
        conversation["tools"] = tools
    return conversation
