"""`lossmask audit --tokenized SOURCE`: what another trainer's prepared rows train.

Rows of `input_ids` plus one mask column (`labels` with -100, TRL's `assistant_masks` /
`completion_mask`, verl's and slime's `loss_mask`; `lossmask.integrations.columns`) are read as
they are stored; every assistant turn is located in the ids (`turns.TurnLocator`: after the
generation prompt, up to and including the first serving stop), and the audit reports what
`lossmask audit` reports for lossmask's own masks (stop trained at the end of tool-call and final
turns, tool calls per turn) and what only a foreign mask can get wrong: tokens trained outside any
sampled span (the generation prompt, system/user text, tool results), sampled tokens left
untrained, and turns that could not be located, with the reason. Nothing is rendered: the ids are
read, so it runs at the speed of reading them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lossmask.masks.app.audit import FINAL, TOOL_CALL, RowError, StopCount
from lossmask.masks.app.turns import LocatedTurns, TurnLocator

TURN = "turn"  # the kind of every turn when tool calls cannot be told apart on a template

# Where a token trained outside every sampled span lies (the role whose text it is).
GENERATION_PROMPT = "generation prompt"
BEFORE_FIRST_TURN = "before the first assistant turn (system, user)"
AFTER_TOOL_CALL = "after a tool-call turn's stop (tool results)"
AFTER_FINAL = "after a final turn's stop (user)"
AFTER_LAST = "after the last assistant turn's stop"


@dataclass
class Example:
    """The first place a figure was seen: `where` (row) and what."""

    count: int = 0
    example: str | None = None

    def add(self, count: int, example: str) -> None:
        if count and self.example is None:
            self.example = example
        self.count += count


@dataclass
class TokenizedAudit:
    """The figures of one tokenised dataset; `merge` adds another chunk's."""

    label: str
    mask_column: str
    locator: dict[str, Any]
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    nothing_trained: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    stops: dict[str, StopCount] = field(
        default_factory=lambda: {TOOL_CALL: StopCount(), FINAL: StopCount(), TURN: StopCount()}
    )
    calls_per_turn: Counter[int] = field(default_factory=Counter)
    sampled_untrained: Example = field(default_factory=Example)
    trained_outside: Counter[str] = field(default_factory=Counter)
    trained_outside_example: Example = field(default_factory=Example)
    unclosed: Counter[str] = field(default_factory=Counter)
    unlocated: Counter[str] = field(default_factory=Counter)
    unlocated_rows: Counter[str] = field(default_factory=Counter)  # rows with no turn found

    def merge(self, other: TokenizedAudit) -> None:
        self.rows += other.rows
        self.errors += other.errors
        self.nothing_trained += other.nothing_trained
        self.tokens += other.tokens
        self.trained_tokens += other.trained_tokens
        for kind, count in other.stops.items():
            total = self.stops[kind]
            total.turns += count.turns
            total.stop_trained += count.stop_trained
        self.calls_per_turn.update(other.calls_per_turn)
        for mine, theirs in (
            (self.sampled_untrained, other.sampled_untrained),
            (self.trained_outside_example, other.trained_outside_example),
        ):
            mine.add(theirs.count, theirs.example or "")
        self.trained_outside.update(other.trained_outside)
        self.unclosed.update(other.unclosed)
        self.unlocated.update(other.unlocated)
        self.unlocated_rows.update(other.unlocated_rows)

    def lowest_stop_rate(self) -> float | None:
        rates = [count.rate for count in self.stops.values() if count.rate is not None]
        return min(rates) if rates else None

    def to_json(self) -> dict[str, Any]:
        return {
            "tokenized": self.label,
            "mask_column": self.mask_column,
            **self.locator,
            "rows": self.rows,
            "errors": [str(error) for error in self.errors],
            "nothing_trained": self.nothing_trained,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "stop_rate": {
                kind: {"turns": c.turns, "stop_trained": c.stop_trained, "rate": c.rate}
                for kind, c in self.stops.items()
                if c.turns or kind != TURN
            },
            "tool_calls_per_turn": {str(k): v for k, v in sorted(self.calls_per_turn.items())},
            "sampled_untrained": {
                "tokens": self.sampled_untrained.count,
                "example": self.sampled_untrained.example,
            },
            "trained_outside_sampled": {
                "tokens": self.trained_outside_example.count,
                "by_place": dict(sorted(self.trained_outside.items())),
                "example": self.trained_outside_example.example,
            },
            "unclosed_turns": dict(sorted(self.unclosed.items())),
            "unlocated_turns": dict(sorted(self.unlocated.items())),
            "rows_without_turns": dict(sorted(self.unlocated_rows.items())),
        }


def region_of(k: int, located: LocatedTurns) -> str:
    """Where an untrained-by-serving position k lies, named by whose text it is."""
    previous = None
    for turn in located.turns:
        if k < turn.prompt_at:
            break
        if k < turn.start:
            return GENERATION_PROMPT
        previous = turn
    if previous is None:
        return BEFORE_FIRST_TURN
    later = [turn for turn in located.turns if turn.prompt_at > k]
    if not later:
        return AFTER_LAST
    return AFTER_TOOL_CALL if previous.calls else AFTER_FINAL


def _show(locator: TurnLocator, ids: list[int], k: int) -> str:
    before = locator.tokenizer.decode(ids[max(0, k - 3) : k])
    return f"{locator.tokenizer.decode([ids[k]])!r} after {before!r}"


def audit_row(
    report: TokenizedAudit, locator: TurnLocator, ids: list[int], mask: list[bool], where: str
) -> None:
    """Add one row's figures: its turns, their stops and what is trained where. Counted span by
    span with C-level list operations (a few turns per row); positions are listed token by token
    only where a figure needs them, for a row that trains outside its sampled spans."""
    report.tokens += len(ids)
    trained_count = mask[1:].count(True)  # token 0 is never a target
    report.trained_tokens += trained_count
    if not trained_count:
        report.nothing_trained += 1
    located = locator.locate(ids)
    report.unlocated.update(located.unlocated)
    if not located.turns:
        if trained_count:
            reason = (
                f"the generation prompt {locator.prompt_text!r} never occurs in the ids (rows "
                "made with another tokenizer or template?)"
            )
            report.unlocated_rows[reason] += 1
        return
    trained_inside = untrained = 0
    first_untrained: int | None = None
    for turn in located.turns:
        span = mask[turn.start : turn.end + 1]
        inside = span.count(True)
        trained_inside += inside
        if inside < len(span):
            untrained += len(span) - inside
            if first_untrained is None:
                first_untrained = turn.start + span.index(False)
        kind = TURN if turn.calls is None else (TOOL_CALL if turn.calls else FINAL)
        count = report.stops[kind]
        count.turns += 1
        count.stop_trained += turn.closed and mask[turn.end]
        if turn.calls:
            report.calls_per_turn[turn.calls] += 1
        if not turn.closed:
            report.unclosed[f"no serving stop before {turn.unclosed_reason}"] += 1
    if first_untrained is not None:
        report.sampled_untrained.add(untrained, f"{where}: {_show(locator, ids, first_untrained)}")
    if trained_count > trained_inside:  # turn starts are >= 1, so position 0 is never inside
        sampled = [False] * len(ids)
        for turn in located.turns:
            sampled[turn.start : turn.end + 1] = [True] * (turn.end + 1 - turn.start)
        outside = [k for k in range(1, len(ids)) if mask[k] and not sampled[k]]
        report.trained_outside.update(region_of(k, located) for k in outside)
        report.trained_outside_example.add(
            len(outside),
            f"{where}: {_show(locator, ids, outside[0])} ({region_of(outside[0], located)})",
        )


def audit_tokenized_rows(
    items: Iterable[Any], locator: TurnLocator, mask_column: Any, *, label: str
) -> TokenizedAudit:
    """Audit `TokenizedRow`s (and `DataRowError`s for unreadable rows) read by `lossmask.data`."""
    from lossmask.data import DataRowError
    from lossmask.integrations.columns import ColumnError, read_row

    report = TokenizedAudit(label, mask_column.name, locator.describe())
    vocabulary = len(locator.tokenizer)
    for item in items:
        report.rows += 1
        ref = item.ref
        if isinstance(item, DataRowError):
            report.errors.append(RowError(ref.source, ref.row, ref.line, item.message))
            continue
        try:
            ids, mask = read_row(item.columns, mask_column, vocabulary)
        except ColumnError as error:
            report.errors.append(RowError(ref.source, ref.row, ref.line, str(error)))
            continue
        where = f"line {ref.line}" if ref.line is not None else f"row {ref.row}"
        audit_row(report, locator, ids, mask, where)
    return report


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def format_tokenized(report: TokenizedAudit) -> str:
    """The plain-text table of `lossmask audit --tokenized`."""
    described = report.locator
    lines = [
        f"{report.label}: {report.mask_column} read against {described['backend']} "
        f"(generation prompt {described['generation_prompt']!r}, serving stops "
        f"{', '.join(described['serving_stops'])})",
        f"  rows {report.rows}, nothing trained {report.nothing_trained}, errors "
        f"{len(report.errors)}; tokens {report.tokens}, trained {report.trained_tokens}",
        f"  {'turn kind':<16}{'turns':>7}{'stop trained':>14}{'rate':>9}",
    ]
    for kind, title in ((TOOL_CALL, "tool-call turns"), (FINAL, "final turns"), (TURN, "turns")):
        count = report.stops[kind]
        if kind == TURN and not count.turns:
            continue
        lines.append(
            f"  {title:<16}{count.turns:>7}{count.stop_trained:>14}{_percent(count.rate):>9}"
        )
    if report.stops[TURN].turns:
        lines.append(
            "  tool-call and final turns cannot be told apart: "
            + str(described.get("no_tool_call_token_because"))
        )
    calls = report.calls_per_turn
    if calls:
        total = sum(calls.values())
        shown = ", ".join(f"{k} call{'s' if k > 1 else ''}: {v}" for k, v in sorted(calls.items()))
        lines.append(f"  tool calls per assistant turn ({total} turns): {shown}")
    outside = report.trained_outside_example
    lines.append(
        f"  trained outside any sampled span: {outside.count}"
        + (
            " ("
            + ", ".join(f"{place} {n}" for place, n in sorted(report.trained_outside.items()))
            + f"; first: {outside.example})"
            if outside.count
            else ""
        )
    )
    untrained = report.sampled_untrained
    lines.append(
        f"  sampled but untrained: {untrained.count}"
        + (f" (first: {untrained.example})" if untrained.count else "")
    )
    for reason, n in sorted(report.unclosed.items()):
        lines.append(f"  unclosed turns: {n}, {reason}")
    for reason, n in sorted(report.unlocated.items()):
        lines.append(f"  turns not located: {n}: {reason}")
    for reason, n in sorted(report.unlocated_rows.items()):
        lines.append(f"  rows with trained tokens but no turn located: {n}: {reason}")
    return "\n".join(lines)
