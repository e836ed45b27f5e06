"""The chat-template path: a transformers tokenizer's jinja template, and serving semantics.

Which message wrote which token comes from one tracked render (`template_tracking.py`): message i
owns what the template writes from the start of its loop iteration to the start of the next one.
Messages written before the loop (a system prompt taken out of `messages[0]`) are placed by prefix
renders. The full text is tokenized once with character offsets.

`"sampled"` is derived from serving, on every template, tagged or not: for assistant turn *i* the
model is served the render of `messages[:i]` with `add_generation_prompt=True`, so it samples what
follows that prompt in the full render (found by text, `template_turns.py`), up to and including
the first serving stop id (what vLLM stops on: `generation_config.json` `eos_token_id`, else the
tokenizer's EOS). The search for the stop ends with this message's text, or with the first token
the template writes for the next message (GLM closes a turn with the next role's opener). A turn
whose span cannot be established exactly is refused with its reason (`TurnRefused`), never guessed.
Where a template has `{% generation %}` blocks that disagree, the positions are reported, not used.

Fast path: the generation prompt is rendered once per conversation and kind of preceding message
(a user turn, a tool result) and checked by text at each later turn; the search runs only where
that check fails.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from lossmask.masks.engine.contract import TokenDescription
from lossmask.masks.engine.sample import MaskError
from lossmask.masks.engine.template_arguments import ArgumentsStyle, detect_arguments_style
from lossmask.masks.engine.template_encoding import PreambleEncoder
from lossmask.masks.engine.template_text import content_flags, in_spans, map_end
from lossmask.masks.engine.template_turns import (
    PROMPT_NOT_FOUND,
    TurnContext,
    TurnRefused,
    TurnStart,
    locate_turn,
)

_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


class Structure(NamedTuple):
    """The full render and where each message's text lies in it."""

    full: str
    generation: list[tuple[int, int]]
    """`{% generation %}` character spans."""
    preamble: int
    """End of the text the template writes before any message (it belongs to none)."""
    ends: list[int]
    """End of each message's text (the last one ends with the text)."""
    tracked: bool
    """Whether the tracked render placed every message after the first."""
    loop_end: int
    """Where the template's loop over the messages ended: text after it (Command-R writes a
    dangling generation prompt whatever `add_generation_prompt` says) is no turn's prompt."""


def _first_of(ids: list[int], wanted: Sequence[int], low: int, high: int) -> int:
    """The first position in `ids[low:high]` holding one of `wanted` (`high` when none): one
    C-level scan per wanted id, each ending where the best so far is."""
    first = high
    for token_id in wanted:
        try:
            first = ids.index(token_id, low, first)
        except ValueError:
            continue
    return first


class TemplateRaised(MaskError):
    """The chat template itself refused the conversation (`raise_exception`, or a render error)."""

    reason = "the chat template raised an error"


class ChatTemplateBackend:
    """A tokenizer whose `chat_template` renders conversations; stops from serving."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        serving_stop_ids: list[int] | None = None,
        template_kwargs: dict[str, Any] | None = None,
        tool_arguments: ArgumentsStyle | None = None,
    ) -> None:
        from lossmask.masks.engine.template_tracking import compile_template

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
        self._compiled, self._tracking = compile_template(template)
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
        self._specials = tuple(
            sorted(
                {*tokenizer.all_special_tokens, *tokenizer.get_added_vocab()},
                key=len,
                reverse=True,
            )
        )
        self.tool_arguments = tool_arguments or detect_arguments_style(self._render_plain)
        self._preambles: list[tuple[Any, str | None]] = []  # (tools, text), most recent first
        # The generation prompt after each kind of message (its role, whether tools are given),
        # from a prompt render that was a prefix of the training text; checked by text at each
        # later turn, in every conversation (the fast path).
        self._known_prompts: dict[tuple[str, bool], str] = {}
        # Rows that share tools share the text before the first message (the tool preamble, most
        # of a short tool conversation's tokens): encoded once, checked, then spliced.
        self._encoder = PreambleEncoder(tokenizer._tokenizer)

    def stop_token_ids(self) -> list[int]:
        """The serving stop ids: generation_config.json `eos_token_id`, else the tokenizer's EOS."""
        return list(self._stop_ids)

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """The conversation so far plus the generation prompt; messages as they are in the data."""
        from lossmask.masks.engine.conversation import normalise_conversation

        messages, tools, _ = normalise_conversation({"messages": messages, "tools": tools})
        text = self._render_text(messages, tools, add_generation_prompt=True)
        return list(self.tokenizer._tokenizer.encode(text, add_special_tokens=False).ids)

    # -- rendering ---------------------------------------------------------------------------

    def _template_data(self, messages: list[dict[str, Any]], tools: Any) -> tuple[Any, Any]:
        """Messages and tools as transformers hands them to a template, with tool-call
        arguments in the form this template expects."""
        from transformers.utils.chat_template_utils import (
            _alias_reasoning_fields,
            _plain_template_data,
        )

        messages = self.tool_arguments.apply(messages)
        return _alias_reasoning_fields(_plain_template_data(messages)), _plain_template_data(tools)

    def _render_plain(self, messages: Any, tools: Any, add_generation_prompt: bool) -> str:
        """Render template data as it is (no conversion); the template's errors propagate."""
        return str(
            self._compiled.render(
                messages=messages,
                tools=tools,
                add_generation_prompt=add_generation_prompt,
                **self._template_kwargs,
            )
        )

    def _render_text(
        self, messages: list[dict[str, Any]], tools: Any, *, add_generation_prompt: bool = False
    ) -> str:
        """Messages in, text out; the template's own errors become `TemplateRaised`."""
        plain, plain_tools = self._template_data(messages, tools)
        with self._template_errors(messages):
            return self._render_plain(plain, plain_tools, add_generation_prompt)

    def _render_tracked(
        self,
        messages: list[dict[str, Any]],
        plain: Any,
        plain_tools: Any,
        *,
        add_generation_prompt: bool = False,
    ) -> Any:
        """Render template data (`_template_data` of `messages`) with the tracking copy."""
        from lossmask.masks.engine.template_tracking import render_tracked

        with self._template_errors(messages):
            return render_tracked(
                self._tracking,
                plain,
                plain_tools,
                self._template_kwargs,
                add_generation_prompt=add_generation_prompt,
                track_generation=self.has_generation_markers and not add_generation_prompt,
            )

    @contextlib.contextmanager
    def _template_errors(self, messages: list[dict[str, Any]]) -> Iterator[None]:
        """A template's `raise_exception` (or any jinja error) becomes a per-conversation error;
        where tool calls are involved, it says how their arguments reached the template."""
        from jinja2.exceptions import TemplateError

        try:
            yield
        except MaskError:
            raise
        except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as error:
            note = ""
            # A type error in a conversation with tool calls is most often the arguments' form.
            typed = not isinstance(error, TemplateError) or "argument" in str(error)
            if typed and any(message.get("tool_calls") for message in messages):
                note = f"; {self.tool_arguments.describe()}"
            raise TemplateRaised(f"the chat template raised an error: {error}{note}") from None

    # -- structure ---------------------------------------------------------------------------

    def _boundaries(
        self, messages: list[dict[str, Any]], tools: Any, data: tuple[Any, Any] | None = None
    ) -> Structure:
        """Where each message of the full render starts and ends (`Structure`); `data` is
        `_template_data(messages, tools)` when the caller has it."""
        plain, plain_tools = data or self._template_data(messages, tools)
        tracked = self._render_tracked(messages, plain, plain_tools)
        full = tracked.text
        if not full:
            raise MaskError("the chat template rendered nothing for this conversation")
        preamble = self._preamble_end(tools, full)
        count = len(messages)
        ends: list[int | None] = [None] * count
        ends[-1] = len(full)
        if tracked.starts is not None:
            for index, start in zip(range(tracked.first, count), tracked.starts, strict=True):
                if index:
                    ends[index - 1] = start
        for end in range(1, count):  # messages written before the loop: prefix renders
            if ends[end - 1] is None:
                ends[end - 1] = self._end_in(full, messages[:end], tools, tracked.reads.get(end))
        placed = [end if end is not None else len(full) for end in ends]
        # Boundaries out of order would hand one message's text to another: refuse, never guess.
        previous = preamble
        for index, end in enumerate(placed):
            if not previous <= end <= len(full):
                raise MaskError(
                    f"cannot align the chat template's output: messages[{index}] would end at "
                    f"character {end}, before the previous message ends ({previous}); this "
                    "template renders earlier messages differently depending on later ones"
                )
            previous = end
        loop_end = tracked.loop_end if tracked.loop_end is not None else len(full)
        return Structure(
            full, tracked.generation, preamble, placed, tracked.starts is not None, loop_end
        )

    def _end_in(
        self, full: str, prefix: list[dict[str, Any]], tools: Any, next_read: int | None
    ) -> int:
        """Where the render of `prefix` ends in `full`: its length when it is a prefix of `full`;
        else where the full render first read the next message; else aligned by text."""
        try:
            text = self._render_text(prefix, tools)
        except TemplateRaised:  # Llama 3.1 refuses tools without a user message: no prefix render
            text = None
        if text is not None and full.startswith(text):
            return len(text)
        if next_read is not None:
            return next_read
        return map_end(text, full) if text is not None else len(full)

    def _preamble_end(self, tools: Any, full: str) -> int:
        """Text the template writes before any message (a tools block) belongs to no message: the
        prefix-render rule for an empty conversation. Rendered once per distinct tool list."""
        text = next((text for cached, text in self._preambles if cached == tools), "")
        if text == "":  # tool lists repeat: compared, not serialised
            try:
                text = self._render_text([], tools) or None
            except MaskError:  # templates may refuse an empty conversation: no preamble
                text = None
            self._preambles = [(tools, text), *self._preambles[:7]]
        return len(text) if text is not None and full.startswith(text) else 0

    # -- serving -----------------------------------------------------------------------------

    def _prompt_render(
        self, messages: list[dict[str, Any]], tools: Any, data: tuple[Any, Any], index: int
    ) -> Any:
        """(the render of `messages[:index]` with the generation prompt, where its loop over the
        messages ended)."""
        plain, plain_tools = data
        try:
            tracked = self._render_tracked(
                messages[:index], plain[:index], plain_tools, add_generation_prompt=True
            )
        except TemplateRaised as error:
            raise TurnRefused(
                index, "the template raised an error on the prompt", str(error)
            ) from None
        if tracked.loop_end is not None:
            return tracked.text, tracked.loop_end
        plain = self._render_text(messages[:index], tools)
        if not tracked.text.startswith(plain):
            raise TurnRefused(
                index,
                PROMPT_NOT_FOUND,
                "with add_generation_prompt the template rewrites the conversation so far, so "
                "where its generation prompt starts cannot be told",
            )
        return tracked.text, len(plain)

    def _turn_starts(
        self,
        context: TurnContext,
        messages: list[dict[str, Any]],
        tools: Any,
        data: tuple[Any, Any],
        preamble: int,
        ends: list[int],
        index: int,
        low: int,
        high: int,
    ) -> TurnStart:
        """Where serving starts sampling assistant turn `index` (module doc: fast path first)."""
        full = context.full
        start = ends[index - 1] if index else preamble
        previous = messages[index - 1] if index else {}
        kind = (str(previous.get("role")), bool(tools))
        prompt = self._known_prompts.get(kind)
        if prompt and full.startswith(prompt, start):
            begin = start + len(prompt)
            if begin <= high and context.at_token_start(begin):
                return TurnStart(begin, "prefix")
        text, loop_end = self._prompt_render(messages, tools, data, index)
        content = previous.get("content")
        turn = locate_turn(
            context,
            index,
            text,
            loop_end,
            start=start,
            low=max(low, ends[index - 2] if index > 1 else preamble),
            high=high,
            previous_content=content if isinstance(content, str) else "",
        )
        if turn.begin > high:
            raise TurnRefused(
                index,
                PROMPT_NOT_FOUND,
                "the generation prompt ends after this turn's text in the training render",
            )
        if turn.how == "prefix" and loop_end == start and len(text) > start:
            self._known_prompts[kind] = text[start:]  # checked by text at later turns
        return turn

    def describe(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> TokenDescription:
        data = self._template_data(messages, tools)
        structure = self._boundaries(messages, tools, data)
        full, generation_spans, preamble, ends = structure[:4]
        ids, token_starts, token_ends = self._encoder.encode(full, full[:preamble])
        roles = [message["role"] for message in messages]
        count = len(ids)
        last = len(messages) - 1

        # Message j owns the tokens starting in [end of j-1, end of j): slices, not a loop.
        owners: list[int | None] = [None] * bisect.bisect_left(token_starts, preamble)
        for index, end in enumerate(ends):
            upto = count if index == last else bisect.bisect_left(token_starts, end)
            owners.extend([index] * (upto - len(owners)))

        # Serving: each assistant turn samples from the end of its generation prompt to the first
        # stop id, which may be the first token the template writes with the next message.
        context = TurnContext(full, token_starts, self._specials)
        sampled = [False] * count
        turn = list(owners)
        closed: dict[int, bool] = {}
        missing: list[str] = []
        turn_end = preamble
        refused: TurnRefused | None = None
        for index, role in enumerate(roles):
            if role != "assistant":
                continue
            high = ends[index] if index < last else structure.loop_end
            try:
                found = self._turn_starts(
                    context, messages, tools, data, preamble, ends, index, turn_end, high
                )
            except TurnRefused as error:  # only the modes that need "sampled" fail on it
                refused = refused or error
                continue
            if found.missing:
                missing.append(found.missing)
            # Sampled: from the turn's first token to its first stop id, or to the end of its
            # text and then the next token when that one is a stop (a closer written with the
            # next message). Slices, not a loop per token.
            k = bisect.bisect_left(token_starts, found.begin)
            limit = bisect.bisect_left(token_starts, ends[index], k)
            stop = _first_of(ids, self._stop_ids, k, limit)
            if stop == limit and limit < count and ids[limit] in self._stop_set:
                stop = limit
            after = stop + 1 if stop < count and ids[stop] in self._stop_set else limit
            closed[index] = after > stop
            sampled[k:after] = [True] * (after - k)
            turn[k:after] = [index] * (after - k)
            turn_end = token_ends[after - 1] if after else 0

        disagreements: list[int] = []
        if self.has_generation_markers:
            tagged = in_spans(list(zip(token_starts, token_ends, strict=True)), generation_spans)
            disagreements = [k for k in range(count) if tagged[k] != sampled[k]]
        return TokenDescription(
            ids=ids,
            message=owners,
            turn=turn,
            sampled=sampled,
            content=content_flags(messages, full, (token_starts, token_ends), ends),
            roles=roles,
            stop_ids=list(self._stop_ids),
            final_stop_id=self.final_stop_id,
            final_closed=roles[last] != "assistant" or closed.get(last, False),
            roles_need_sampled=False,
            tag_disagreements=disagreements,
            missing_prompt=missing,
            sampled_refused=refused,
        )
