"""One chat-template render that also says where the template wrote each message.

Re-rendering every prefix `messages[:i]` to find where message i starts costs O(n^2) template work.
Here the template renders once over a message list that records, for each loop over it, where the
output stood when the loop made each message its *current* item, and where the loop ended. The
loop over all messages that wrote the most text is the conversation's structure: message i owns the
text written from the start of its iteration to the start of the next one. For a template whose
output for earlier messages does not depend on later ones this is exactly the boundary a render of
every prefix gives (tested against prefix renders), in one pass.

Why a loop's *current* item and not the item it fetched: `loop.last`, `loop.nextitem` and
`loop.length` make jinja fetch the next message while the current one is still being written
(Qwen3-Coder closes a run of tool results with `<|im_end|>` after asking `loop.nextitem.role`), so
the fetch position would hand the end of one message to the next. The position where jinja's
`LoopContext` advances is where the template starts writing that message; a private copy of the
compiled template gets a `LoopContext` that records it (jinja looks the class up in the compiled
template's own namespace, so nothing else is affected).

Messages written before the loop (a system prompt a template pulls out of `messages[0]`) have no
iteration; `Tracked.first` says where the loop's coverage starts, and the caller places those
boundaries by prefix renders. The first position where the template *read* each message is kept for
templates that loop over a filtered copy of the messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from jinja2.runtime import LoopContext


class _Recorder:
    def __init__(self) -> None:
        self.length = 0  # characters of output so far
        self.loops: list[_Loop] = []
        self.read: dict[int, int] = {}  # message index -> where the template first read it

    def new_loop(self, indices: list[int]) -> _Loop:
        loop = _Loop(indices)
        self.loops.append(loop)
        return loop


class _Loop:
    """One iteration over (a slice of) the messages."""

    __slots__ = ("current", "driven", "end", "indices")

    def __init__(self, indices: list[int]) -> None:
        self.indices = indices
        self.current: dict[int, int] = {}  # message index -> where its iteration started
        self.end: int | None = None
        self.driven = False  # advanced by a LoopContext: fetch positions are not iteration starts


class _TrackedMessage(dict[str, Any]):
    """A message that notes where the output stood when the template first read it.

    One per message and render, shared by every loop over the messages. After its first read it
    becomes a `_ReadMessage` (the same layout without the overrides): only the first read is
    kept, and the template's later reads then cost what a dict's do."""

    def __init__(self, message: dict[str, Any], recorder: _Recorder, index: int):
        super().__init__(message)
        self._where = (recorder, index)

    def _touch(self) -> None:
        recorder, index = self._where
        recorder.read.setdefault(index, recorder.length)
        self.__class__ = _ReadMessage  # type: ignore[assignment]

    # `dict.` rather than `super()`: after `_touch` the instance is no longer a _TrackedMessage.
    def __getitem__(self, key: Any) -> Any:
        self._touch()
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._touch()
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        self._touch()
        return dict.__contains__(self, key)


class _ReadMessage(dict[str, Any]):
    """A `_TrackedMessage` the template has read: its `_where` stays, its reads are a dict's."""


class _TrackedMessages(list[Any]):
    """The `messages` the template sees: every loop over it (or a slice of it) is recorded."""

    def __init__(self, items: list[Any], indices: list[int], recorder: _Recorder):
        super().__init__(items)
        self._indices = indices
        self._recorder = recorder
        self.loop: _Loop | None = None  # the loop the last __iter__ started

    def __iter__(self) -> Iterator[Any]:
        recorder = self._recorder
        loop = self.loop = recorder.new_loop(self._indices)
        return self._iterate(recorder, loop)

    def _iterate(self, recorder: _Recorder, loop: _Loop) -> Iterator[Any]:
        for index, message in zip(self._indices, list.__iter__(self), strict=True):
            if not loop.driven:
                loop.current.setdefault(index, recorder.length)
            yield message
        if not loop.driven:
            loop.end = recorder.length

    def __reversed__(self) -> Iterator[Any]:
        return iter(self[::-1])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return _TrackedMessages(list.__getitem__(self, key), self._indices[key], self._recorder)
        # `messages[0]` read by index (a system prompt taken out before the loop): the message's
        # own reads count, as in a loop
        return list.__getitem__(self, key)


class _TrackingLoopContext(LoopContext):
    """jinja's loop object, recording where each message's iteration starts and where it ends."""

    def __init__(self, iterable: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(iterable, *args, **kwargs)
        loop = iterable.loop if isinstance(iterable, _TrackedMessages) else None
        self._tracked: tuple[_Recorder, _Loop] | None = None
        if loop is not None:
            loop.driven = True
            self._tracked = (iterable._recorder, loop)

    def __next__(self) -> tuple[Any, LoopContext]:
        if self._tracked is None:
            return super().__next__()
        recorder, loop = self._tracked
        try:
            item, context = super().__next__()
        except StopIteration:
            loop.end = recorder.length
            raise
        where = getattr(item, "_where", None)
        if where is not None:
            loop.current.setdefault(where[1], recorder.length)
        return item, context


def compile_template(template: str) -> tuple[Any, Any]:
    """(transformers' compiled template, a private tracking copy of it)."""
    from transformers.utils.chat_template_utils import _compile_jinja_template

    compiled = _compile_jinja_template(template)
    copy = compiled.environment.from_string(template)
    copy.root_render_func.__globals__["LoopContext"] = _TrackingLoopContext
    return compiled, copy


@dataclass
class Tracked:
    """One render and where the template wrote each message."""

    text: str
    generation: list[tuple[int, int]]
    """`{% generation %}` character spans (when tracked)."""
    starts: list[int] | None
    """Where each message's iteration starts, from `first` on; None when no loop wrote them."""
    first: int
    """The first message the writing loop covers (0 unless earlier ones were written before it)."""
    loop_end: int | None
    """Where the writing loop ended: what follows is written after every message."""
    reads: dict[int, int]
    """Where the template first read each message."""


def _writing_loop(recorder: _Recorder, count: int) -> _Loop | None:
    """The loop over a contiguous tail `first..count-1` of the messages that wrote the most text;
    a loop over the whole list wins a tie."""
    best: _Loop | None = None
    best_key: tuple[int, int] | None = None
    for loop in recorder.loops:
        indices = loop.indices
        if not indices or indices != list(range(indices[0], count)):
            continue
        if any(i not in loop.current for i in indices) or loop.end is None:
            continue
        positions = [loop.current[i] for i in indices]
        if any(a > b for a, b in itertools.pairwise(positions)):
            continue
        key = (loop.end - positions[0], -indices[0])
        if best_key is None or key > best_key:
            best, best_key = loop, key
    return best


def render_tracked(
    tracking: Any,
    messages: list[dict[str, Any]],
    tools: Any,
    template_kwargs: dict[str, Any],
    *,
    add_generation_prompt: bool = False,
    track_generation: bool = False,
) -> Tracked:
    """Render `messages` (plain template data, as transformers passes them) with the tracking copy
    of a template (`compile_template`)."""
    recorder = _Recorder()
    items = [
        _TrackedMessage(message, recorder, index) if isinstance(message, dict) else message
        for index, message in enumerate(messages)
    ]
    tracked = _TrackedMessages(items, list(range(len(messages))), recorder)
    blocks: list[str] = []
    generation: list[tuple[int, int]] = []
    tracker = (
        tracking.environment.activate_tracker(blocks, generation)
        if track_generation
        else nullcontext()
    )
    with tracker:
        for block in tracking.generate(
            messages=tracked,
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            **template_kwargs,
        ):
            blocks.append(block)
            recorder.length += len(block)
    loop = _writing_loop(recorder, len(messages)) if messages else None
    if loop is None:
        starts, first, end = None, 0, None
    else:
        starts = [loop.current[i] for i in loop.indices]
        first, end = loop.indices[0], loop.end
    return Tracked("".join(blocks), generation, starts, first, end, dict(recorder.read))
