"""The chat-template path: a transformers tokenizer's jinja template, and serving semantics.

Which message wrote which token comes from one tracked render (`template_tracking.py`); when that is
ambiguous (templates that peek ahead with `loop.last`), from text renders of every prefix aligned
with the full text. The full text is tokenized once with character offsets.

`"sampled"` is derived from serving, on every template, tagged or not: for assistant turn *i* the
model is served the render of `messages[:i]` with `add_generation_prompt=True`, so it samples what
follows that prompt in the full render, up to and including the first serving stop id (what vLLM
stops on: `generation_config.json` `eos_token_id`, else the tokenizer's EOS). Where a template has
`{% generation %}` blocks that disagree, the positions are reported, not used.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterator
from typing import Any

from lossmask.masks.engine.contract import TokenDescription
from lossmask.masks.engine.sample import MaskError

_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


def _map_end(prefix_text: str, full: str) -> int:
    """Where the end of `prefix_text` (a render of a prefix) falls in `full`, when it is not a
    prefix of it: align the differing tails by text and map the end through the alignment."""
    from difflib import SequenceMatcher

    common = next(
        (k for k, (a, b) in enumerate(zip(prefix_text, full, strict=False)) if a != b),
        min(len(prefix_text), len(full)),
    )
    tail = prefix_text[common:]
    # The same message, rendered a little differently, lies near: a bounded window keeps a longer
    # identical block further on (the next turn's reasoning) from capturing the alignment.
    rest = full[common : common + 2 * len(tail) + 256]
    end = len(tail)
    matcher = SequenceMatcher(None, tail, rest, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if a1 < end <= a2:
            return common + (b1 + (end - a1) if tag == "equal" else b2)
    return common


class TemplateRaised(MaskError):
    """The chat template itself refused the conversation (`raise_exception`, or a render error)."""


class ChatTemplateBackend:
    """A tokenizer whose `chat_template` renders conversations; stops from serving."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        serving_stop_ids: list[int] | None = None,
        template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        template = getattr(tokenizer, "chat_template", None)
        if not isinstance(template, str) or not template:
            raise MaskError(
                f"tokenizer {tokenizer.name_or_path!r} has no chat template; name a renderer "
                "([renderer] name) or use a tokenizer that ships one"
            )
        self.tokenizer = tokenizer
        self.name = "chat-template"
        self.template = template
        self.has_generation_markers = bool(_GENERATION_TAG.search(template))
        self._compiled = _compile_jinja_template(template)
        # apply_chat_template passes the special tokens (bos_token, eos_token, ...) to the template.
        self._template_kwargs = {**tokenizer.special_tokens_map, **(template_kwargs or {})}
        eos = tokenizer.eos_token_id
        stops = list(serving_stop_ids or ([] if eos is None else [eos]))
        if not stops:
            raise MaskError(
                f"tokenizer {tokenizer.name_or_path!r} has no generation_config.json eos_token_id "
                "and no EOS token, so nothing says where serving stops; add a "
                "generation_config.json with eos_token_id next to the tokenizer"
            )
        self._stop_ids = stops
        self._stop_set = frozenset(stops)
        # The stop appended to an unclosed final turn: the tokenizer's EOS when serving stops on it.
        self.final_stop_id: int = eos if eos in self._stop_set else stops[0]

    def stop_token_ids(self) -> list[int]:
        """The serving stop ids: generation_config.json `eos_token_id`, else the tokenizer's EOS."""
        return list(self._stop_ids)

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """The conversation so far plus the generation prompt; messages as they are in the data."""
        from lossmask.masks.engine.conversation import normalise_conversation

        messages, tools, _ = normalise_conversation({"messages": messages, "tools": tools})
        text = self._render_text(messages, tools, add_generation_prompt=True)
        return list(self.tokenizer._tokenizer.encode(text, add_special_tokens=False).ids)

    def _render_text(
        self, messages: list[dict[str, Any]], tools: Any, *, add_generation_prompt: bool = False
    ) -> str:
        """Plain template data in, text out; the template's own errors become `TemplateRaised`."""
        from transformers.utils.chat_template_utils import (
            _alias_reasoning_fields,
            _plain_template_data,
        )

        plain = _alias_reasoning_fields(_plain_template_data(messages))
        with _template_errors():
            return str(
                self._compiled.render(
                    messages=plain,
                    tools=_plain_template_data(tools),
                    add_generation_prompt=add_generation_prompt,
                    **self._template_kwargs,
                )
            )

    def _boundaries(
        self, messages: list[dict[str, Any]], tools: Any
    ) -> tuple[str, list[tuple[int, int]], int, list[int], bool]:
        """(full text, generation spans, end of the preamble, end of each message, stable)."""
        from transformers.utils.chat_template_utils import (
            _alias_reasoning_fields,
            _plain_template_data,
        )

        from lossmask.masks.engine.template_tracking import render_tracked

        plain = _alias_reasoning_fields(_plain_template_data(messages))
        with _template_errors():
            full, generation, starts, reads = render_tracked(
                self._compiled,
                plain,
                _plain_template_data(tools),
                self._template_kwargs,
                track_generation=self.has_generation_markers,
            )
        if not full:
            raise MaskError("the chat template rendered nothing for this conversation")
        # Text before the first message's output belongs to it unless the template writes the same
        # text for an empty conversation (a tools block): the prefix-render rule, kept exactly.
        preamble = self._preamble_end(tools, full)
        if starts is not None:
            ends = [*starts[1:], len(full)]
            stable = True
        else:
            ends = [
                self._end_in(full, messages[:end], tools, reads[end] if reads else None)
                for end in range(1, len(messages))
            ]
            ends.append(len(full))
            stable = False
        # Boundaries out of order would hand one message's text to another: refuse, never guess.
        previous = preamble
        for index, end in enumerate(ends):
            if not previous <= end <= len(full):
                raise MaskError(
                    f"cannot align the chat template's output: messages[{index}] would end at "
                    f"character {end}, before the previous message ends ({previous}); this "
                    "template renders earlier messages differently depending on later ones"
                )
            previous = end
        return full, generation, preamble, ends, stable

    def _end_in(
        self, full: str, prefix: list[dict[str, Any]], tools: Any, next_read: int | None
    ) -> int:
        """Where the render of `prefix` ends in `full`: its length when it is a prefix of `full`;
        else where the full render first read the next message; else aligned by text."""
        text = self._render_text(prefix, tools)
        if full.startswith(text):
            return len(text)
        return next_read if next_read is not None else _map_end(text, full)

    def _preamble_end(self, tools: Any, full: str) -> int:
        """Text the template writes before any message (tools block); it belongs to no message."""
        try:
            text = self._render_text([], tools)
        except MaskError:  # templates may refuse an empty conversation; then there is no preamble
            return 0
        return len(text) if full.startswith(text) else 0

    def _prompt_end(
        self,
        full: str,
        messages: list[dict[str, Any]],
        tools: Any,
        index: int,
        start: int,
        known_prompt: str | None,
    ) -> tuple[int, str | None]:
        """(where the model starts sampling assistant turn `index` in `full`, the generation prompt
        text found for it). `known_prompt`, the prompt text of an earlier turn, is tried first:
        templates append the same generation prompt after every prefix."""
        if known_prompt is not None and full.startswith(known_prompt, start):
            return start + len(known_prompt), known_prompt
        prompted = self._render_text(messages[:index], tools, add_generation_prompt=True)
        plain = self._render_text(messages[:index], tools)
        if prompted.startswith(plain) and full.startswith(prompted[len(plain) :], start):
            prompt = prompted[len(plain) :]
            return start + len(prompt), prompt
        if full.startswith(prompted):
            return len(prompted), None
        raise MaskError(
            f"messages[{index}]: the chat template's generation prompt "
            f"{prompted[len(plain) :]!r} is not where this assistant turn starts in the full "
            "render, so what serving would sample cannot be derived"
        )

    def describe(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> TokenDescription:
        full, generation_spans, preamble, ends, stable = self._boundaries(messages, tools)
        encoding = self.tokenizer._tokenizer.encode(full, add_special_tokens=False)
        ids: list[int] = list(encoding.ids)
        offsets: list[tuple[int, int]] = list(encoding.offsets)
        token_starts = [start for start, _ in offsets]
        roles = [message["role"] for message in messages]
        count = len(ids)
        last = len(messages) - 1

        owners: list[int | None] = []
        for start in token_starts:
            owner = None if start < preamble else bisect.bisect_right(ends, start)
            owners.append(owner if owner is None or owner <= last else last)

        # Serving: each assistant turn samples from the end of its generation prompt to the first
        # stop id, which may be the first token the template writes with the next message.
        sampled = [False] * count
        turn = list(owners)
        closed: dict[int, bool] = {}
        prompt: str | None = None
        for index, role in enumerate(roles):
            if role != "assistant":
                continue
            start = ends[index - 1] if index else preamble
            begin, found = self._prompt_end(
                full, messages, tools, index, start, prompt if stable else None
            )
            prompt = found if found is not None else prompt
            k = bisect.bisect_left(token_starts, begin)
            closed[index] = False
            while k < count and token_starts[k] < ends[index]:
                sampled[k], turn[k] = True, index
                k += 1
                if ids[k - 1] in self._stop_set:
                    closed[index] = True
                    break
            else:
                if k < count and ids[k] in self._stop_set:
                    sampled[k], turn[k] = True, index
                    closed[index] = True

        disagreements: list[int] = []
        if self.has_generation_markers:
            tagged = _in_spans(offsets, generation_spans)
            disagreements = [k for k in range(count) if tagged[k] != sampled[k]]
        return TokenDescription(
            ids=ids,
            message=owners,
            turn=turn,
            sampled=sampled,
            content=self._content_flags(messages, full, offsets, owners, ends),
            roles=roles,
            stop_ids=list(self._stop_ids),
            final_stop_id=self.final_stop_id,
            final_closed=roles[last] != "assistant" or closed.get(last, False),
            roles_need_sampled=False,
            tag_disagreements=disagreements,
        )

    @staticmethod
    def _content_flags(
        messages: list[dict[str, Any]],
        full: str,
        offsets: list[tuple[int, int]],
        owners: list[int | None],
        ends: list[int],
    ) -> list[bool]:
        """Approximate: a token is content when it lies inside its message's content string."""
        spans: list[tuple[int, int]] = []
        for index, message in enumerate(messages):
            start = ends[index - 1] if index else 0
            body = message.get("content")
            if not isinstance(body, str) or not body:
                spans.append((-1, -1))
                continue
            found = full.find(body, start, ends[index])
            spans.append((found, found + len(body)) if found >= 0 else (-1, -1))
        flags = []
        for (start, end), owner in zip(offsets, owners, strict=True):
            lo, hi = spans[owner] if owner is not None else (-1, -1)
            flags.append(lo <= start and end <= hi and lo >= 0)
        return flags


def _in_spans(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[bool]:
    """Per token, whether it overlaps one of the (sorted) character spans."""
    inside = [False] * len(offsets)
    span = 0
    for k, (start, end) in enumerate(offsets):
        while span < len(spans) and start >= spans[span][1]:
            span += 1
        if span == len(spans):
            break
        inside[k] = end > spans[span][0]
    return inside


@contextlib.contextmanager
def _template_errors() -> Iterator[None]:
    """A template's `raise_exception` (or any jinja error) becomes a per-conversation error."""
    from jinja2.exceptions import TemplateError

    try:
        yield
    except MaskError:
        raise
    except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise TemplateRaised(f"the chat template raised an error: {error}") from None
