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

import json
from collections.abc import Mapping, Sequence
from typing import Any

from lossmask.data.errors import RowProblem
from lossmask.schema.messages import did_you_mean

Conversation = dict[str, Any]

ROLES = ("system", "user", "assistant", "tool")
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
    """`value` without `None` values in any mapping, at any depth."""
    if isinstance(value, Mapping):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
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
        isinstance(part, Mapping)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
        for part in content
    ):
        return "".join(part["text"] for part in content)
    raise RowProblem(
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
            raise RowProblem(
                key,
                f"{what} are not valid JSON ({error.msg} at column {error.colno})",
                "write them as a JSON object or a JSON-encoded string of one",
            ) from None
    if not isinstance(value, Mapping):
        raise RowProblem(key, f"{what} must be a JSON object, not {_kind(value)} ({_shown(value)})")
    return drop_nulls(dict(value))


def normalize_tool_call(call: Any, key: str) -> dict[str, Any]:
    """`{"id"?, "type": "function", "function": {"name", "arguments": {...}, ...}}`."""
    if not isinstance(call, Mapping):
        raise RowProblem(key, f"a tool call must be an object, not {_kind(call)}")
    call = drop_nulls(dict(call))
    nested = isinstance(call.get("function"), Mapping)
    function = dict(call["function"]) if nested else dict(call)
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise RowProblem(
            key, "a tool call needs a function name", 'write "function": {"name": ...}'
        )
    arguments_key = f"{key}.function.arguments" if nested else f"{key}.arguments"
    function["arguments"] = parse_json_object(
        function.get("arguments"), arguments_key, "tool call arguments"
    )
    out: dict[str, Any] = {"id": call["id"]} if "id" in call else {}
    out["type"] = "function"
    if nested:
        out["function"] = function
        out.update({k: v for k, v in call.items() if k not in ("id", "type", "function")})
    else:
        out["function"] = {k: v for k, v in function.items() if k not in ("id", "type")}
    return out


def normalize_message(raw: Any, key: str, default_role: str) -> dict[str, Any]:
    if isinstance(raw, str):
        return {"role": default_role, "content": raw}
    if not isinstance(raw, Mapping):
        raise RowProblem(key, f"a message must be an object or a string, not {_kind(raw)}")
    message = drop_nulls(dict(raw))
    role = message.get("role")
    if role is None:
        raise RowProblem(key, "message has no role", f'add "role": one of {", ".join(ROLES)}')
    if role not in ROLES:
        close = did_you_mean(str(role), ROLES) if isinstance(role, str) else None
        hint = f"roles are {', '.join(ROLES)}" + (f"; {close}" if close else "")
        raise RowProblem(f"{key}.role", f"unknown role {_shown(role)}", hint)
    message["content"] = normalize_content(raw.get("content"), f"{key}.content")
    for alias in ("reasoning", "thinking"):
        if alias in message:
            value = message.pop(alias)
            message.setdefault("reasoning_content", value)
    if "reasoning_content" in message:
        message["reasoning_content"] = normalize_content(
            message["reasoning_content"], f"{key}.reasoning_content"
        )
    if "train" in message and not isinstance(message["train"], bool):
        raise RowProblem(f"{key}.train", f"must be true or false, not {_shown(message['train'])}")
    calls = message.pop("tool_calls", None)
    if calls:
        if not isinstance(calls, list):
            raise RowProblem(f"{key}.tool_calls", f"must be a list, not {_kind(calls)}")
        message["tool_calls"] = [
            normalize_tool_call(call, f"{key}.tool_calls[{i}]") for i, call in enumerate(calls)
        ]
    return message


def normalize_messages(raw: Any, key: str, default_role: str) -> list[dict[str, Any]]:
    """A string, one message or a list of them, as a list of normalised messages."""
    if raw is None:
        return []
    if isinstance(raw, str | Mapping):
        return [normalize_message(raw, key, default_role)]
    if not isinstance(raw, list):
        raise RowProblem(key, f"must be a list of messages or a string, not {_kind(raw)}")
    return [normalize_message(item, f"{key}[{i}]", default_role) for i, item in enumerate(raw)]


def normalize_tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise RowProblem(
                "tools",
                f"is not valid JSON ({error.msg} at column {error.colno})",
                "write a list of tool definitions, or a JSON-encoded string of one",
            ) from None
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise RowProblem("tools", f"must be a list of tool definitions, not {_kind(raw)}")
    tools = []
    for index, tool in enumerate(drop_nulls(raw)):
        if not isinstance(tool, Mapping):
            raise RowProblem(f"tools[{index}]", f"must be an object, not {_kind(tool)}")
        if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
            tools.append(dict(tool))
        elif isinstance(tool.get("name"), str):
            tools.append({"type": "function", "function": dict(tool)})
        else:
            raise RowProblem(
                f"tools[{index}]",
                "a tool definition needs a name",
                'write {"type": "function", "function": {"name": ..., "parameters": ...}}',
            )
    return tools


def normalize_row(row: Mapping[str, Any]) -> Conversation:
    """The conversation of one row; raises `RowProblem` naming the field that is wrong."""
    from lossmask.data.sharegpt import sharegpt_messages

    if row.get("messages") is not None:
        messages = normalize_messages(row["messages"], "messages", "assistant")
    elif "prompt" in row and "completion" in row:
        completion = row["completion"]
        if completion is None or completion == "" or completion == []:
            raise RowProblem(
                "completion",
                "is empty, so the row has nothing to train",
                "give the assistant's reply, or drop the row",
            )
        messages = normalize_messages(row["prompt"], "prompt", "user")
        messages += normalize_messages(completion, "completion", "assistant")
    elif row.get("conversations") is not None:
        messages = sharegpt_messages(row["conversations"], row.get("system"))
    else:
        present = ", ".join(sorted(str(key) for key in row)) or "none"
        raise RowProblem(
            "",
            f"no conversation in this row (its keys: {present})",
            CONVERSATION_COLUMNS_HINT,
        )
    if not messages:
        raise RowProblem("messages", "is empty", "a conversation needs at least one message")
    conversation: Conversation = {"messages": messages}
    raw_tools = row.get("tools")
    tools = normalize_tools(raw_tools if raw_tools is not None else row.get("tool_defs"))
    if tools:
        conversation["tools"] = tools
    return conversation
