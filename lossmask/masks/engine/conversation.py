"""Turning a JSONL row into the messages both backends render.

Both paths see the same normalised messages, so any difference between them is the mask's, never the
input's:
- `content: null` becomes `""`. transformers drops `None` keys before a chat template sees them
  (so the template renders nothing) while a renderer would print the word `None`; `""` is what
  people mean.
- tool-call `arguments` given as a JSON string (the OpenAI wire format) are parsed into an object,
  because jinja templates cannot parse JSON and iterate the arguments as a mapping. Invalid JSON is
  an error naming the message, not a silently empty call. The object keeps the string it came
  from, for templates that write arguments as text (`template_arguments.py`).
- `reasoning` / `thinking` are read as `reasoning_content`, the field both paths understand.
- the optional per-message `"train": false` is taken out and returned as one flag per message.
"""

from __future__ import annotations

import json
from typing import Any

from lossmask.masks.engine.sample import Conversation, MaskError
from lossmask.schema.roles import ROLES


class ParsedArguments(dict[str, Any]):
    """Tool-call arguments parsed from a JSON string, which `source` keeps as written."""

    __slots__ = ("source",)

    def __init__(self, parsed: dict[str, Any], source: str) -> None:
        super().__init__(parsed)
        self.source = source

    def __reduce__(self) -> Any:  # pickled for worker processes: keep the source
        return (ParsedArguments, (dict(self), self.source))


def _normalise_call(call: Any, message_index: int) -> Any:
    if not isinstance(call, dict):
        return call
    function = call.get("function")
    target = function if isinstance(function, dict) else call
    arguments = target.get("arguments")
    if not isinstance(arguments, str):
        return call
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as error:
        raise MaskError(
            f"messages[{message_index}]: tool call arguments are not valid JSON ({error.msg}); "
            "write them as a JSON object or a JSON-encoded string"
        ) from None
    if isinstance(parsed, dict):
        parsed = ParsedArguments(parsed, arguments)
    target = {**target, "arguments": parsed}
    return {**call, "function": target} if isinstance(function, dict) else target


def normalise_conversation(
    conversation: Conversation,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, list[bool]]:
    """(messages, tools, train flags) as both backends render them."""
    raw_messages = conversation.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise MaskError('a conversation needs a non-empty "messages" list')
    messages: list[dict[str, Any]] = []
    train_flags: list[bool] = []
    for index, raw in enumerate(raw_messages):
        if not isinstance(raw, dict) or raw.get("role") not in ROLES:
            role = raw.get("role") if isinstance(raw, dict) else None
            raise MaskError(f"messages[{index}]: role {role!r} is not one of {', '.join(ROLES)}")
        message = {key: value for key, value in raw.items() if key != "train"}
        train = raw.get("train", True)
        if not isinstance(train, bool):
            raise MaskError(f'messages[{index}]: "train" must be true or false, not {train!r}')
        train_flags.append(train)
        if message.get("content") is None:
            message["content"] = ""
        for alias in ("reasoning", "thinking"):
            if alias in message and "reasoning_content" not in message:
                message["reasoning_content"] = message.pop(alias)
        if message.get("reasoning_content") is None:
            message.pop("reasoning_content", None)
        calls = message.get("tool_calls")
        if calls:
            message["tool_calls"] = [_normalise_call(call, index) for call in calls]
        elif "tool_calls" in message:
            del message["tool_calls"]
        messages.append(message)
    tools = conversation.get("tools") or None
    return messages, tools, train_flags
