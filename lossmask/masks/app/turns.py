"""Finding assistant turns in token ids alone, the way a server samples them.

A server is given the conversation so far plus the template's generation prompt (GLM-4.5:
`<|assistant|>`; Qwen3: `<|im_start|>assistant\\n`), samples from there, and stops at the first
serving stop id. So in a rendered conversation an assistant turn is: the tokens after an
occurrence of the generation prompt, up to and including the first serving stop (GLM: the
`<|observation|>` the template writes with the tool message). That is the definition lossmask's
`"sampled"` mask derives on a chat template; here it is applied to ids a trainer prepared, with no
conversation and no render.

What cannot be established from the ids is said, never guessed: a generation prompt whose text is
there but whose ids are not (tokenised together with the turn's first token) is a turn that could
not be located; a turn that meets the next generation prompt, or the end of the row, before any
stop is unclosed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lossmask.masks.engine.sample import MaskError

_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "lossmask_probe",
        "description": "A probe.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


def _probe_call(n: int) -> dict[str, Any]:
    return {
        "id": f"call_{n}",
        "type": "function",
        "function": {"name": "lossmask_probe", "arguments": {"q": "x"}},
    }


def decode(tokenizer: Any, ids: list[int]) -> str:
    """The text of `ids`, special tokens included, through the Rust tokenizer when there is one
    (transformers' `decode` first copies every id through Python)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return str(backend.decode(ids, skip_special_tokens=False))
    return str(tokenizer.decode(ids))


@dataclass(frozen=True)
class Turn:
    """One located assistant turn: `prompt_at` the generation prompt's first token, `start` the
    first sampled token, `end` the last (inclusive), `closed` when `end` is a serving stop."""

    prompt_at: int
    start: int
    end: int
    closed: bool
    calls: int | None  # tool calls in the turn; None when this template's calls cannot be told
    unclosed_reason: str = ""


@dataclass
class LocatedTurns:
    turns: list[Turn] = field(default_factory=list)
    unlocated: Counter[str] = field(default_factory=Counter)  # reason -> turns


@dataclass(frozen=True)
class TurnLocator:
    """What the ids need to be read as turns, measured once per backend."""

    backend: str
    prompt: tuple[int, ...]
    prompt_text: str
    stops: frozenset[int]
    call_marker: int | None
    call_marker_text: str | None
    no_marker_reason: str | None
    tokenizer: Any = field(compare=False, repr=False)
    prompt_can_merge: bool = True  # False when every prompt token is an added token: BPE never
    # merges those with a neighbour, so the text check below cannot find anything

    @classmethod
    def for_backend(cls, backend: Any) -> TurnLocator:
        """Measure the generation prompt (a one-message render with and without it) and the
        token that opens a tool call (renders with one call and two)."""
        tokenizer = backend.tokenizer
        probe = [{"role": "user", "content": "Hi?"}]
        try:
            plain = list(backend.describe(probe, None).ids)
            prompted = list(backend.prompt_ids(probe, None))
        except MaskError as error:
            raise MaskError(f"cannot measure {backend.name}'s generation prompt: {error}") from None
        if prompted[: len(plain)] != plain or len(prompted) == len(plain):
            raise MaskError(
                f"{backend.name}'s generation prompt is not a suffix of its render, so assistant "
                "turns cannot be found in the ids by it; audit the conversations with a config "
                "instead (lossmask audit CONFIG --data SOURCE)"
            )
        prompt = tuple(prompted[len(plain) :])
        stops = frozenset(backend.stop_token_ids())
        if not stops:
            raise MaskError(f"{backend.name} has no serving stop ids")
        marker, reason = _call_marker(backend, prompt)
        added = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
        return cls(
            backend=backend.name,
            prompt=prompt,
            prompt_text=decode(tokenizer, list(prompt)),
            stops=stops,
            call_marker=marker,
            call_marker_text=None if marker is None else tokenizer.convert_ids_to_tokens(marker),
            no_marker_reason=reason,
            tokenizer=tokenizer,
            prompt_can_merge=not set(prompt) <= added,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "generation_prompt": self.prompt_text,
            "serving_stops": self.tokenizer.convert_ids_to_tokens(sorted(self.stops)),
            "tool_call_token": self.call_marker_text,
            "no_tool_call_token_because": self.no_marker_reason,
        }

    def locate(self, ids: list[int]) -> LocatedTurns:
        """Every assistant turn in `ids`, and the ones whose generation prompt is there as text
        but not as the served ids."""
        found = LocatedTurns()
        width = len(self.prompt)
        starts = _occurrences(ids, self.prompt)
        text_count = (
            decode(self.tokenizer, ids).count(self.prompt_text) if self.prompt_can_merge else 0
        )
        if text_count > len(starts):
            found.unlocated[
                f"the generation prompt {self.prompt_text!r} is in the text but tokenised "
                "differently from the served prompt (merged with the turn's first token)"
            ] += text_count - len(starts)
        bounds = [*starts, len(ids)]
        for at, limit in zip(starts, bounds[1:], strict=False):
            start = at + width
            if start >= limit:
                continue  # a prompt with nothing after it: no turn was sampled here
            end = _first_of(ids, self.stops, start, limit)
            reason = ""
            if end is None:
                end = limit - 1
                reason = "end of the row" if limit == len(ids) else "the next assistant turn"
            calls = None
            if self.call_marker is not None:
                calls = ids[start : end + 1].count(self.call_marker)
            found.turns.append(Turn(at, start, end, not reason, calls, reason))
        return found


# Scans over a row's ids are `list.index` calls (C speed) rather than a Python test per token: an
# audit of tokenised rows reads each row once and does little else.


def _occurrences(ids: list[int], pattern: tuple[int, ...]) -> list[int]:
    """Every position where `pattern` starts in `ids`, in order."""
    found: list[int] = []
    first, width = pattern[0], len(pattern)
    k = -1
    try:
        while True:
            k = ids.index(first, k + 1)
            if width == 1 or tuple(ids[k : k + width]) == pattern:
                found.append(k)
    except ValueError:
        return found


def _first_of(ids: list[int], wanted: Any, start: int, limit: int) -> int | None:
    """The first position in `ids[start:limit]` holding any id of `wanted`; None if none does."""
    best: int | None = None
    for token in wanted:
        try:
            k = ids.index(token, start, limit if best is None else best)
        except ValueError:
            continue
        best = k
    return best


def _after_last(ids: list[int], prompt: tuple[int, ...]) -> list[int]:
    """The ids after the last occurrence of `prompt`: the assistant turn of a probe render."""
    for k in range(len(ids) - len(prompt), -1, -1):
        if tuple(ids[k : k + len(prompt)]) == prompt:
            return ids[k + len(prompt) :]
    return []


def _call_marker(backend: Any, prompt: tuple[int, ...]) -> tuple[int | None, str | None]:
    """The added token that occurs once per tool call in an assistant turn, or why none. Only
    the turn is counted: a tools header may spell the same token in its instructions."""
    tokenizer = backend.tokenizer
    one = [{"role": "user", "content": "Hi?"}]
    try:
        ids1 = list(
            backend.describe(
                [*one, {"role": "assistant", "content": "", "tool_calls": [_probe_call(0)]}],
                [_PROBE_TOOL],
            ).ids
        )
        ids2 = list(
            backend.describe(
                [
                    *one,
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [_probe_call(0), _probe_call(1)],
                    },
                ],
                [_PROBE_TOOL],
            ).ids
        )
    except MaskError as error:
        return None, f"the template refuses a turn with two tool calls ({error})"
    ids1, ids2 = _after_last(ids1, prompt), _after_last(ids2, prompt)
    special = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    once, twice = Counter(ids1), Counter(ids2)
    for token in ids1:
        if token in special and once[token] == 1 and twice[token] == 2:
            return token, None
    return None, "no added token opens each tool call in this template's render"
