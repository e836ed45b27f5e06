"""Where a served model starts sampling each assistant turn, found by text in the training render.

For assistant turn *i* the server is given `P = render(messages[:i], add_generation_prompt=True)`
and samples what follows. In the training text (the render of the whole conversation) that turn
starts where P ends. `locate_turn` finds that place, or refuses with the reason:

1. **prefix**: the training text starts with P: the turn starts at `len(P)`. Exact by definition.
2. **prompt cut short**: the training text has the conversation so far exactly as P has it, then
   only the beginning of the generation prompt (R1-style prompts prefill `<think>\\n`, Command-R7B
   prefills an empty thinking block; the training text of the turn does not contain them). The turn
   starts after the part that is there; the missing end of the prompt is reported.
3. **found by text**: a later message changes how the conversation so far is written (Hermes
   writes `</tool_response>\\n<|im_end|>` when more messages follow and no `\\n` when the tool
   message is last; Mistral moves the system prompt into the last user message; Qwen3 drops old
   reasoning). The generation prompt (what the template writes after its loop over the messages)
   is looked for in the training text between the end of the previous assistant turn and the end
   of this one; the first occurrence wins (gpt-oss writes `<|start|>assistant` twice in one turn:
   analysis, then the call). A prompt written as plain text (no special token) must occur once.
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
    """"prefix", "cut-short", "found" or "history-end"."""
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
    if shared >= loop_end:
        # Same conversation so far; the training text holds only the beginning of the prompt.
        cut = max(context.token_start_at_or_before(shared), loop_end)
        if cut > loop_end and context.has_special(prompt[loop_end:cut]):
            return TurnStart(cut, "cut-short", missing=prompt[cut:])
        raise TurnRefused(
            index,
            PROMPT_NOT_FOUND,
            f"the template prompts with {generation!r} but the training text continues with "
            f"{full[loop_end : loop_end + len(generation) + 8]!r}; {SETTLE}",
        )
    low = max(low, shared)
    if generation:
        found = _find_prompt(context, generation, low, high)
        if found is not None:
            begin, missing = found
            how = "found" if not missing else "cut-short"
            return _checked(context, index, TurnStart(begin, how, missing=missing), prompt)
        raise TurnRefused(
            index,
            PROMPT_NOT_FOUND,
            f"{generation!r} does not occur where this turn starts in the training text "
            f"(characters {low}..{high}); {SETTLE}",
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


def _anchor(prompt: str, previous_content: str) -> str:
    """The end of `prompt` from the previous message's content on ("" when it has none)."""
    if not previous_content:
        return ""
    at = prompt.rfind(previous_content)
    return prompt[at:] if at >= 0 else ""


def _find_prompt(
    context: TurnContext, generation: str, low: int, high: int
) -> tuple[int, str] | None:
    """(where the prompt ends, the part of it missing) for the longest beginning of `generation`
    found in `full[low:high]` that carries a role marker; a full prompt without a special token
    must occur exactly once."""
    full = context.full
    at = full.find(generation, low, high)
    if at >= 0:
        if context.has_special(generation) or full.find(generation, at + 1, high) < 0:
            return at + len(generation), ""
        return None
    # The beginning of the prompt, cut where a special token or a line ends, longest first.
    cuts = sorted(
        {
            k
            for k in range(1, len(generation))
            if generation[k - 1] == "\n"
            or any(generation.endswith(s, 0, k) for s in context.specials)
        },
        reverse=True,
    )
    for cut in cuts:
        head = generation[:cut]
        if not context.has_special(head):
            continue
        at = full.find(head, low, high)
        if at >= 0 and full.find(head, at + 1, high) < 0:
            return at + len(head), generation[cut:]
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
