"""Training samples, per-token provenance, and the one function that shifts and truncates.

Both backends produce a `MaskedSequence`: the rendered ids with one mask bit and one provenance
record per *token*. `shift_and_truncate` is the only place that turns it into what a trainer
consumes (`input_ids = ids[:-1]`, `target_ids = ids[1:]`, `loss_mask = mask[1:]`), so every view
of a mask, the terminal and HTML views included, is aligned to the token being predicted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, overload

Conversation = dict[str, Any]
"""One JSONL row: `{"messages": [...], "tools": [...]}` (tools optional)."""


class MaskError(ValueError):
    """No trustworthy mask for a conversation or backend; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TokenProvenance:
    """Where one target token came from and which rule decided whether it trains."""

    # None: template text outside any message, or a stop the engine appended.
    message_index: int | None
    role: str | None
    # The renderer's sampled signal; on a chat template its generation blocks, else the role.
    sampled: bool
    # Message content (or model output) rather than template scaffolding.
    content: bool
    # Which rule decided: "sampled", "not-sampled", "all", "role:assistant", "train=false", ...
    rule: str


class ProvenanceColumns(Sequence[TokenProvenance]):
    """Provenance stored as columns and materialised per token on access.

    Building one small object per token would cost more than rendering the conversation; trainers
    rarely look at provenance, `show` and `audit` do, and they pay only for what they read.
    """

    __slots__ = ("content", "message_index", "role", "rule", "sampled")

    def __init__(
        self,
        message_index: list[int | None],
        role: list[str | None],
        sampled: list[bool],
        content: list[bool],
        rule: list[str],
    ) -> None:
        self.message_index = message_index
        self.role = role
        self.sampled = sampled
        self.content = content
        self.rule = rule

    def __len__(self) -> int:
        return len(self.rule)

    @overload
    def __getitem__(self, index: int) -> TokenProvenance: ...
    @overload
    def __getitem__(self, index: slice) -> ProvenanceColumns: ...
    def __getitem__(self, index: int | slice) -> TokenProvenance | ProvenanceColumns:
        if isinstance(index, slice):
            return ProvenanceColumns(
                self.message_index[index],
                self.role[index],
                self.sampled[index],
                self.content[index],
                self.rule[index],
            )
        return TokenProvenance(
            self.message_index[index],
            self.role[index],
            self.sampled[index],
            self.content[index],
            self.rule[index],
        )

    def __iter__(self) -> Iterator[TokenProvenance]:
        for i in range(len(self.rule)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ProvenanceColumns({list(self)!r})"


@dataclass
class MaskedSequence:
    """A rendered conversation before the shift: one mask bit and one provenance per token."""

    ids: list[int]
    mask: list[bool]
    provenance: ProvenanceColumns
    stop_ids: frozenset[int]
    turn_owner: list[int | None] = field(default_factory=list)
    """Per token, the message whose *turn* it belongs to for stop accounting (a closer that the
    template emits with the next message still ends the previous assistant turn)."""
    prompt_gap: list[int] = field(default_factory=list)
    """Positions after the backend's generation prompt, inside an assistant turn, that the backend
    does not mark sampled (what the serving-prompt check in `audit` counts)."""
    tag_disagreements: list[int] = field(default_factory=list)
    """Positions where a template's `{% generation %}` blocks disagree with the derived mask."""
    missing_prompt: list[str] = field(default_factory=list)
    """Per assistant turn whose training text lacks the end of the generation prompt (a `<think>\\n`
    the template prefills when serving), that missing text."""
    # Found on first use and kept: the stop check, the audit's stop table and its stop consistency
    # all ask (a sequence's ids and turns do not change once the contract has made it).
    _stops_at: list[int] | None = field(default=None, init=False, repr=False, compare=False)
    _turn_ends: dict[int, int | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _owners_reversed: list[int | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def stop_positions(self) -> list[int]:
        """Where `ids` holds a serving stop, in order."""
        if self._stops_at is None:
            self._stops_at = positions_of(self.ids, self.stop_ids)
        return self._stops_at

    def turn_end(self, turn: int) -> int | None:
        """The last position whose `turn_owner` is `turn`; None when the turn has no token."""
        if turn not in self._turn_ends:
            if self._owners_reversed is None:
                self._owners_reversed = self.turn_owner[::-1]
            try:  # a C-level scan from the end
                end: int | None = len(self.turn_owner) - 1 - self._owners_reversed.index(turn)
            except ValueError:
                end = None
            self._turn_ends[turn] = end
        return self._turn_ends[turn]


def positions_of(ids: list[int], wanted: Iterable[int]) -> list[int]:
    """Where `ids` holds any of `wanted` (serving stops), in order: one C-level scan per wanted
    id rather than a Python test per token."""
    found: list[int] = []
    for token_id in set(wanted):
        k = -1
        try:
            while True:
                k = ids.index(token_id, k + 1)
                found.append(k)
        except ValueError:
            continue
    found.sort()
    return found


def runs(values: list[Any]) -> Iterator[tuple[Any, int, int]]:
    """(value, start, stop) of each run of equal values: a column (the message of each token) is
    a few runs over hundreds of tokens, and `groupby` walks it at C speed."""
    start = 0
    for value, group in groupby(values):
        stop = start + len(list(group))
        yield value, start, stop
        start = stop


def true_runs(flags: list[bool]) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of true values in a list of bools, by C-level scans."""
    start = 0
    while True:
        try:
            start = flags.index(True, start)
        except ValueError:
            return
        try:
            stop = flags.index(False, start)
        except ValueError:
            stop = len(flags)
        yield start, stop
        start = stop


@dataclass
class TrainingSample:
    """What a trainer consumes. Every list is aligned to `target_ids`, the token being predicted."""

    input_ids: list[int]
    target_ids: list[int]
    loss_mask: list[bool]
    provenance: Sequence[TokenProvenance]
    truncated: bool

    @property
    def num_trained(self) -> int:
        return sum(self.loss_mask)


def target_window(length: int, seq_len: int | None) -> tuple[slice, bool]:
    """(the positions of a `length`-token sequence that are targets, whether `seq_len` cut it):
    position k is the target of input k - 1, and at most `seq_len` inputs survive."""
    if seq_len is not None and length - 1 > seq_len:
        return slice(1, seq_len + 1), True
    return slice(1, length), False


def shift_and_truncate(sequence: MaskedSequence, seq_len: int | None = None) -> TrainingSample:
    """THE shift: inputs are ids[:-1], targets ids[1:], and the mask and provenance of ids[1:].

    `seq_len` bounds the model input: at most `seq_len` inputs (and as many targets) survive.
    """
    ids, mask, provenance = sequence.ids, sequence.mask, sequence.provenance
    targets, truncated = target_window(len(ids), seq_len)
    if truncated:
        end = targets.stop
        ids, mask, provenance = ids[:end], mask[:end], provenance[:end]
    return TrainingSample(
        input_ids=ids[:-1],
        target_ids=ids[1:],
        loss_mask=mask[1:],
        provenance=provenance[1:],
        truncated=truncated,
    )
