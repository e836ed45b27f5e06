"""Text helpers of the chat-template path: aligning renders, and per-token flags from spans."""

from __future__ import annotations

import bisect
from typing import Any


def map_end(prefix_text: str, full: str) -> int:
    """Where the end of `prefix_text` (a render of a prefix) falls in `full`, when it is not a
    prefix of it: align the differing tails by text and map the end through the alignment."""
    from difflib import SequenceMatcher

    from lossmask.masks.engine.template_turns import common_prefix

    common = common_prefix(prefix_text, full)
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


def content_flags(
    messages: list[dict[str, Any]],
    full: str,
    starts_and_ends: tuple[list[int], list[int]],
    ends: list[int],
) -> list[bool]:
    """Approximate: a token is content when it lies inside its message's content string."""
    starts, token_ends = starts_and_ends
    flags = [False] * len(starts)
    for index, message in enumerate(messages):
        body = message.get("content")
        if not isinstance(body, str) or not body:
            continue
        lo = full.find(body, ends[index - 1] if index else 0, ends[index])
        if lo < 0:
            continue
        # The tokens inside the span, all owned by this message: one slice.
        first, after = (
            bisect.bisect_left(starts, lo),
            bisect.bisect_right(token_ends, lo + len(body)),
        )
        if after > first:
            flags[first:after] = [True] * (after - first)
    return flags


def in_spans(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[bool]:
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
