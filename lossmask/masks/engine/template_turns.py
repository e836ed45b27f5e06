"""Where a served model starts sampling each assistant turn, found by text in the training render.

For assistant turn *i* the server is given `P = render(messages[:i], add_generation_prompt=True)`
and samples what follows. In the training text (the render of the whole conversation) that turn
starts where P ends. `locate_turn` finds that place, or refuses with the reason:

1. **prefix**: the training text starts with P: the turn starts at `len(P)`. Exact by definition.
2. **found**: the training text writes the conversation so far differently (Hermes writes
   `</tool_response>\\n<|im_end|>` when more messages follow and no `\\n` when the tool message is
   last; Mistral moves the system prompt into the last user message; Qwen3 and gpt-oss drop old
   reasoning). The generation prompt (what the template writes after its loop over the messages)
   is looked for by its text, after the text both renders share and the end of the previous
   assistant turn, before the end of this message; the first occurrence wins (gpt-oss writes
   `<|start|>assistant` twice in one turn: analysis, then the call). A prompt without a special
   token must occur once.
3. **partial**: the training text holds only part of the prompt: R1-style prompts prefill
   `<think>\\n` that the training text of the turn does not contain, Command-R7B prefills an empty
   thinking block, Command-R+ writes its tool instructions into the prompt only. The longest piece
   of the prompt that carries a special token (the role marker) and is there decides; the turn
   starts after it, and what the training text lacks is reported (`audit`'s serving-prompt line).
4. **history end**: the generation prompt is empty (DeepSeek after a tool result, Mistral): the turn
   starts where the previous message ends, provided the training text there ends with the same
   text as P (the previous message's content and what follows it).

An empty prompt never counts as found by text, and a turn that starts inside a token is refused:
the first sampled token could not be told apart from the prompt.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from lossmask.masks.engine.sample import MaskError


class TurnRefused(MaskError):
    """The span a served model samples for one assistant turn cannot be established exactly.

    `reason` is short and the same for every turn refused the same way (audit counts by it);
    the message adds the turn, the text involved and how to settle it."""

    def __init__(self, index: int, reason: str, detail: str) -> None:
        super().__init__(f"messages[{index}]: {reason}: {detail}")
        self.reason = reason


PROMPT_NOT_FOUND = "generation prompt not in the training text"
PROMPT_SPLITS_TOKEN = "generation prompt ends inside a token"
EMPTY_PROMPT = "empty generation prompt, previous message not found"
SETTLE = (
    "use a renderer ([renderer] name) or a chat template whose generation prompt the training "
    'render contains, or leave this conversation out; loss_mask = "all" or a role table do not '
    "need it"
)


@dataclass(frozen=True)
class TurnStart:
    begin: int
    """Character position in the training text where the model starts sampling."""
    how: str
    """"prefix", "found", "partial" (part of the prompt missing) or "history-end"."""
    missing: str = ""
    """The end of the generation prompt that the training text does not contain."""


def common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of `a` and `b` (C speed: compares halves, not characters)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass
class TurnContext:
    """What `locate_turn` needs about the training text."""

    full: str
    token_starts: list[int]
    specials: tuple[str, ...]
    """The tokenizer's special and added tokens: a prompt carrying one is a role marker."""

    def at_token_start(self, position: int) -> bool:
        if position >= len(self.full):
            return position == len(self.full)
        k = bisect.bisect_left(self.token_starts, position)
        return k < len(self.token_starts) and self.token_starts[k] == position

    def token_start_at_or_before(self, position: int) -> int:
        k = bisect.bisect_right(self.token_starts, position)
        return self.token_starts[k - 1] if k else 0

    def has_special(self, text: str) -> bool:
        return any(special in text for special in self.specials)


def locate_turn(
    context: TurnContext,
    index: int,
    prompt: str,
    loop_end: int,
    *,
    start: int,
    low: int,
    high: int,
    previous_content: str,
) -> TurnStart:
    """Where assistant turn `index` starts being sampled in `context.full` (module doc).

    `prompt` is the render of the messages before it with the generation prompt, `loop_end` where
    that render's loop over the messages ended (what follows is the generation prompt), `start`
    where the training render starts writing this message, `[low, high)` the window the turn's
    prompt must lie in (from the end of the previous assistant turn to the end of this message),
    `previous_content` the content of the message before it."""
    full = context.full
    shared = common_prefix(prompt, full)
    if shared == len(prompt):
        return _checked(context, index, TurnStart(len(prompt), "prefix"), prompt)
    generation = prompt[loop_end:]
    # Where the prompt can be: after the text both renders share, from the previous turn's end.
    low = max(low, min(shared, loop_end))
    if generation:
        found = _find_prompt(context, generation, low, high)
        if found is not None:
            begin, missing = found
            how = "found" if not missing else "partial"
            return _checked(context, index, TurnStart(begin, how, missing=missing), prompt)
        raise TurnRefused(
            index,
            PROMPT_NOT_FOUND,
            f"the template prompts with {_clip(generation)!r}, which is not where this turn starts "
            f"in the training text ({_clip(full[low:high])!r}); {SETTLE}",
        )
    # An empty prompt: the turn starts where the previous message ends, if that end is the same.
    anchor = _anchor(prompt, previous_content)
    if anchor and low <= start <= high and full.endswith(anchor, 0, start):
        return _checked(context, index, TurnStart(start, "history-end"), prompt)
    raise TurnRefused(
        index,
        EMPTY_PROMPT,
        "the template adds nothing for the generation prompt and the end of the previous "
        f"message ({prompt[-40:]!r}) is not where this turn starts in the training text; {SETTLE}",
    )


def _clip(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _anchor(prompt: str, previous_content: str) -> str:
    """The end of `prompt` from the previous message's content on ("" when it has none)."""
    if not previous_content:
        return ""
    at = prompt.rfind(previous_content)
    return prompt[at:] if at >= 0 else ""


def _find_prompt(
    context: TurnContext, generation: str, low: int, high: int
) -> tuple[int, str] | None:
    """(where the prompt ends in `full[low:high]`, the part of it the training text lacks).

    The whole prompt when it is there (first occurrence; a prompt without any special token must
    occur once). Otherwise the longest piece of it, cut where a special token or a line begins or
    ends, that carries a special token (the role marker): the training text lacks what comes before
    it (Command-R+ writes its tool instructions into the prompt only) or after it (a `<think>\\n`
    prefilled for the model)."""
    full = context.full
    at = full.find(generation, low, high)
    if at >= 0:
        if context.has_special(generation) or full.find(generation, at + 1, high) < 0:
            return at + len(generation), ""
        return None
    cuts = {0, len(generation)}
    for k in range(1, len(generation)):
        if generation[k - 1] == "\n" or generation[k] == "\n":
            cuts.add(k)
    for special in context.specials:
        at = generation.find(special)
        while at >= 0:
            cuts.update((at, at + len(special)))
            at = generation.find(special, at + 1)
    ordered = sorted(cuts)
    pieces = sorted(
        (
            (a, b)
            for i, a in enumerate(ordered)
            for b in ordered[i + 1 :]
            if (a, b) != (0, len(generation))
        ),
        key=lambda piece: (piece[0] - piece[1], -piece[1]),
    )
    for a, b in pieces:
        piece = generation[a:b]
        if not context.has_special(piece):
            continue
        at = full.find(piece, low, high)
        if at >= 0:
            missing = (_clip(generation[:a], 40) + " ... " if a else "") + generation[b:]
            return at + len(piece), missing
    return None


def _checked(context: TurnContext, index: int, turn: TurnStart, prompt: str) -> TurnStart:
    if context.at_token_start(turn.begin):
        return turn
    full = context.full
    straddling = context.token_start_at_or_before(turn.begin)
    raise TurnRefused(
        index,
        PROMPT_SPLITS_TOKEN,
        f"the prompt ends at {prompt[-12:]!r}, inside the training text's token "
        f"{full[straddling : turn.begin + 4]!r}, so the first sampled token cannot be told apart "
        "from the prompt; the tokenizer merges the prompt's last characters with what the model "
        "writes",
    )
