"""Reading tool calls back from generated tokens, so the stop eval can check arguments.

A generated tool turn is right only when it stopped after exactly the requested calls *and* each
call names the right tool with the right arguments. The calls are read with the `renderers`
parser of the backend's model family (`parse_response`, what a vLLM-style server does with the
completion): the renderer itself on the renderer path; on the chat-template path the renderer of
the tokenizer's family (renderers' own choice from its name; the embedded GLM-4.5 tokenizers are
GLM-4.5).

Fail closed: a parser is trusted only after it reads every reference turn's calls back from the
reference's own rendering of that turn. When it cannot (no renderer for the family, a template
whose tool-call syntax the parser does not know), arguments are reported as not checked, with the
reason, never as right or wrong.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

EMBEDDED_FAMILIES = {
    "embedded:glm-4.5": "glm-4.5",
    "embedded:glm-4.5-notags": "glm-4.5",
    "embedded:qwen3": "qwen3",
}
"""Embedded tokenizer name -> the renderer whose parser reads its tool calls."""


@dataclass(frozen=True, order=True)
class Call:
    """One tool call: the tool's name and its arguments as canonical JSON (sorted keys)."""

    name: str
    arguments: str

    @classmethod
    def of(cls, name: str, arguments: Any) -> Call:
        if isinstance(arguments, str):
            # Text that is not JSON is kept as it is: it can only equal the same text.
            with contextlib.suppress(json.JSONDecodeError):
                arguments = json.loads(arguments) if arguments.strip() else {}
        return cls(name, json.dumps(arguments, sort_keys=True, ensure_ascii=False))

    def show(self) -> str:
        return f"{self.name}({self.arguments})"


def reference_calls(message: dict[str, Any]) -> list[Call]:
    """The calls an assistant message of the data makes (OpenAI shape, arguments JSON or object)."""
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function", call)
        calls.append(Call.of(str(function.get("name")), function.get("arguments") or {}))
    return calls


def calls_matched(made: list[Call | None], wanted: list[Call]) -> int:
    """How many of the wanted calls are among the model's first `len(wanted)` calls, each matched
    at most once (in any order). Calls past the requested number earn nothing: a turn that runs on
    would otherwise get credit for guessing again."""
    first = [call for call in made[: len(wanted)] if call is not None]
    return sum((Counter(first) & Counter(wanted)).values())


class CallParser:
    """Completion token ids -> the tool calls in them, with one family's `renderers` parser."""

    def __init__(self, renderer: Any, family: str) -> None:
        self.renderer = renderer
        self.family = family

    def parse(self, ids: list[int], tools: list[dict[str, Any]] | None) -> list[Call | None]:
        """Every tool-call block in order; None for a block the parser found malformed."""
        from renderers.base import ToolCallParseStatus

        parsed = self.renderer.parse_response(list(ids), tools=tools)
        calls: list[Call | None] = []
        for call in parsed.tool_calls:
            # INVALID_JSON with arguments read: a value that is not JSON, kept as its text (what
            # vLLM's parser passes on when the request declares no schema for it).
            read = call.status == ToolCallParseStatus.OK or (
                call.status == ToolCallParseStatus.INVALID_JSON and isinstance(call.arguments, dict)
            )
            if not read or call.name is None:
                calls.append(None)
            else:
                calls.append(Call.of(call.name, call.arguments or {}))
        return calls


PARSER_FAMILIES: tuple[str, ...] = ("glm-4.5", "qwen3")
"""Parsers tried on the chat-template path after renderers' own choice: GLM's `<arg_key>` XML and
the Hermes/ChatML JSON in `<tool_call>` cover the templates tool-calling SFT data mostly uses."""


def call_parsers(backend: Any) -> tuple[list[CallParser], str]:
    """The parsers that may read this backend's tool calls, best first, or none and why.

    The renderer path has exactly one: its renderer. The chat-template path tries the renderer of
    the tokenizer's family (the embedded tokenizers' own; else renderers' choice from the name),
    then PARSER_FAMILIES; the caller keeps the first that reads the reference calls back.
    """
    renderer = getattr(backend, "renderer", None)
    if renderer is not None:
        return [CallParser(renderer, getattr(backend, "renderer_name", "renderer"))], ""
    import renderers
    from renderers.configs import config_from_name

    tokenizer = backend.tokenizer
    name = str(getattr(tokenizer, "name_or_path", "") or "")
    own = EMBEDDED_FAMILIES.get(name)
    parsers: list[CallParser] = []
    errors: list[str] = []
    for family in dict.fromkeys([own, None, *PARSER_FAMILIES]):
        try:
            config = config_from_name(family) if family else None
            created = renderers.create_renderer(tokenizer, config)
        except Exception as error:  # renderers raises several types for a tokenizer it cannot use
            errors.append(f"{family or 'auto'}: {error}")
            continue
        resolved = getattr(getattr(created, "config", None), "name", None) or family or "auto"
        parsers.append(CallParser(created, str(resolved)))
    if not parsers:
        return [], f"no `renderers` parser works with tokenizer {name!r} ({'; '.join(errors)})"
    return parsers, ""
