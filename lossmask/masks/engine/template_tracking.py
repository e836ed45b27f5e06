"""One chat-template render that also says where each message's output starts.

The legacy role mask re-renders every prefix `messages[:i+1]`: O(n^2) template work for n messages.
Here the template renders once over a list that records, for every loop over the messages, two
positions in the output per message: when the loop *asked* for it, and when the template first
*read* it. When the two agree for every message of the loop that wrote the output, that is exactly
the boundary a prefix render gives, in one pass.

They disagree when the template peeks ahead (`loop.last` makes jinja fetch the next message early)
or writes text before reading the message; then `render_tracked` returns no boundaries and the
caller falls back to prefix renders. Where a prefix render is not a prefix of the full text (a
template that renders earlier messages differently once later ones exist), the position where the
template first read the next message locates the boundary in the full text.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

Boundaries = list[int]


class _Recorder:
    def __init__(self) -> None:
        self.length = 0  # characters of output so far
        self.requested: list[dict[int, int]] = []  # per loop: message index -> position
        self.read: list[dict[int, int]] = []

    def new_loop(self) -> int:
        self.requested.append({})
        self.read.append({})
        return len(self.requested) - 1


class _TrackedMessage(dict[str, Any]):
    """A message that notes where the output stood when the template first read it."""

    def __init__(self, message: dict[str, Any], recorder: _Recorder, loop: int, index: int):
        super().__init__(message)
        self._where = (recorder, loop, index)

    def _touch(self) -> None:
        recorder, loop, index = self._where
        recorder.read[loop].setdefault(index, recorder.length)

    def __getitem__(self, key: Any) -> Any:
        self._touch()
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._touch()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._touch()
        return super().__contains__(key)


class _TrackedMessages(list[Any]):
    """The `messages` the template sees: every loop over it (or a slice of it) is recorded."""

    def __init__(self, items: list[Any], indices: list[int], recorder: _Recorder):
        super().__init__(items)
        self._indices = indices
        self._recorder = recorder

    def __iter__(self) -> Iterator[Any]:
        recorder = self._recorder
        loop = recorder.new_loop()
        for index, message in zip(self._indices, list.__iter__(self), strict=True):
            recorder.requested[loop].setdefault(index, recorder.length)
            yield (
                _TrackedMessage(message, recorder, loop, index)
                if isinstance(message, dict)
                else message
            )

    def __reversed__(self) -> Iterator[Any]:
        return iter(self[::-1])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return _TrackedMessages(list.__getitem__(self, key), self._indices[key], self._recorder)
        return list.__getitem__(self, key)


def _boundaries(recorder: _Recorder, count: int) -> tuple[Boundaries | None, Boundaries | None]:
    """(start of each message from the loop that wrote the conversation, or None when ambiguous;
    where that loop first *read* each message, or None), both in the full output."""
    best: Boundaries | None = None
    best_spread = -1
    reads: Boundaries | None = None
    reads_spread = -1
    ambiguous = False
    for requested, read in zip(recorder.requested, recorder.read, strict=True):
        if sorted(requested) != list(range(count)):
            continue
        firsts = [read.get(i) for i in range(count)]
        if all(p is not None for p in firsts):
            positions = [p for p in firsts if p is not None]
            monotonic = all(a <= b for a, b in itertools.pairwise(positions))
            if monotonic and positions[-1] - positions[0] >= reads_spread:
                reads, reads_spread = positions, positions[-1] - positions[0]
        starts = [requested[i] for i in range(count)]
        if any(read.get(i, starts[i]) != starts[i] for i in range(count)):
            ambiguous = True  # peeked ahead or wrote before reading: positions are ambiguous
            continue
        if any(a > b for a, b in itertools.pairwise(starts)):
            continue
        spread = starts[-1] - starts[0]
        if spread >= best_spread:
            best, best_spread = starts, spread
    return (None if ambiguous else best), reads


def render_tracked(
    compiled: Any,
    messages: list[dict[str, Any]],
    tools: Any,
    template_kwargs: dict[str, Any],
    *,
    track_generation: bool,
) -> tuple[str, list[tuple[int, int]], Boundaries | None, Boundaries | None]:
    """(full text, `{% generation %}` character spans, start of each message or None, where the
    template first read each message or None).

    `messages` and `tools` must already be plain template data (what transformers passes).
    """
    recorder = _Recorder()
    tracked = _TrackedMessages(messages, list(range(len(messages))), recorder)
    blocks: list[str] = []
    generation: list[tuple[int, int]] = []
    tracker = (
        compiled.environment.activate_tracker(blocks, generation)
        if track_generation
        else nullcontext()
    )
    with tracker:
        for block in compiled.generate(
            messages=tracked, tools=tools, add_generation_prompt=False, **template_kwargs
        ):
            blocks.append(block)
            recorder.length += len(block)
    starts, reads = _boundaries(recorder, len(messages))
    return "".join(blocks), generation, starts, reads
