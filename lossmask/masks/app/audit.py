"""`lossmask audit`: what a loss mask trains over a whole dataset, and whether turns learn to stop.

For every assistant turn the audit asks one question: is a serving stop token (the renderer's
`get_stop_token_ids()`, or the template's end-of-turn / EOS) among the *trained* targets right where
the turn ends? A turn's own stop tokens count, and so does the token right after its last token (a
closer the template writes with the next message). Tool-call turns and final turns are counted
apart, because the legacy role table fails only the first kind on GLM-style templates; turns the
data excludes with `"train": false` are counted apart from both.

The report is a list of sections, each with its own counts, `merge`, JSON and lines: the stop
table, the serving-prompt check, the generation-tag check, train/serve stop consistency
(`stop_consistency.py`), and at the end the rows that could not be masked, counted by reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lossmask.errors import Problem
from lossmask.masks.app.stop_consistency import StopConsistency
from lossmask.masks.engine.backends import MaskBackend
from lossmask.masks.engine.build import BuildStats, mask_conversation
from lossmask.masks.engine.contract import coerce_loss_mask
from lossmask.masks.engine.sample import MaskedSequence, MaskError
from lossmask.schema.roles import describe_loss_mask

TOOL_CALL = "tool_call"
FINAL = "final"
EXCLUDED = "excluded"
"""A turn whose message says `"train": false`: excluded on purpose, in no stop rate."""


@dataclass
class StopCount:
    turns: int = 0
    stop_trained: int = 0
    lost_to_truncation: int = 0

    @property
    def rate(self) -> float | None:
        return self.stop_trained / self.turns if self.turns else None


@dataclass(frozen=True)
class RowError:
    """A row that cannot be read or masked: its source, row number (from 0) and, for JSONL, line."""

    source: str
    row: int
    line: int | None
    message: str
    reason: str = ""
    """What the row has in common with others refused the same way (the summary counts by it)."""

    @property
    def where(self) -> str:
        """`line 12` in a JSONL file, else `row 11`."""
        return f"line {self.line}" if self.line is not None else f"row {self.row}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def problem(self) -> Problem:
        """The `file:line: message` line commands print."""
        return Problem(f"row {self.row}: {self.message}", file=self.source, line=self.line)


@dataclass
class ServingPromptCheck:
    """Tokens after the backend's generation prompt, inside an assistant turn, that the backend
    does not mark sampled: served from that prompt the model must produce them anyway."""

    tokens: int = 0
    untrained: int = 0
    example: str | None = None
    missing_turns: int = 0
    """Turns whose training text lacks part of the generation prompt (a prefilled `<think>\\n`)."""
    missing: Counter[str] = field(default_factory=Counter)

    def merge(self, other: ServingPromptCheck) -> None:
        self.tokens += other.tokens
        self.untrained += other.untrained
        self.example = self.example or other.example
        self.missing_turns += other.missing_turns
        self.missing.update(other.missing)

    def to_json(self) -> dict[str, Any]:
        return {
            "unsampled": self.tokens,
            "untrained": self.untrained,
            "example": self.example,
            "turns_missing_prompt_text": self.missing_turns,
            "missing_prompt_text": dict(self.missing.most_common()),
        }


@dataclass
class TagCheck:
    """Where a chat template's `{% generation %}` blocks disagree with serving's sampled mask."""

    tokens: int = 0
    conversations: int = 0
    example: str | None = None

    def merge(self, other: TagCheck) -> None:
        self.tokens += other.tokens
        self.conversations += other.conversations
        self.example = self.example or other.example

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "conversations": self.conversations,
            "example": self.example,
        }


@dataclass
class AuditReport:
    label: str
    backend: str
    loss_mask: str
    seq_len: int | None
    conversations: int = 0
    # Samples, skips, truncation and trained tokens per role, counted as training counts them.
    stats: BuildStats = field(default_factory=BuildStats)
    errors: list[RowError] = field(default_factory=list)
    serving_prompt: ServingPromptCheck = field(default_factory=ServingPromptCheck)
    generation_tags: TagCheck = field(default_factory=TagCheck)
    stops: dict[str, StopCount] = field(
        default_factory=lambda: {TOOL_CALL: StopCount(), FINAL: StopCount()}
    )
    excluded_turns: int = 0
    calls_per_turn: Counter[int] = field(default_factory=Counter)
    stop_consistency: StopConsistency = field(default_factory=StopConsistency)

    def merge(self, other: AuditReport) -> None:
        """Add `other`'s counts (another chunk of the same data, audited with the same setup).

        Call `stats.finish` on the merged report afterwards: its warnings depend on the totals.
        """
        self.conversations += other.conversations
        self.stats.merge(other.stats)
        self.errors += other.errors
        self.serving_prompt.merge(other.serving_prompt)
        self.generation_tags.merge(other.generation_tags)
        for kind, count in other.stops.items():
            total = self.stops[kind]
            total.turns += count.turns
            total.stop_trained += count.stop_trained
            total.lost_to_truncation += count.lost_to_truncation
        self.excluded_turns += other.excluded_turns
        self.calls_per_turn.update(other.calls_per_turn)
        self.stop_consistency.merge(other.stop_consistency)

    def refused(self) -> dict[str, list[RowError]]:
        """The rows that could not be masked or read, by reason, most frequent first."""
        by_reason: dict[str, list[RowError]] = {}
        for error in self.errors:
            by_reason.setdefault(error.reason or error.message, []).append(error)
        return dict(sorted(by_reason.items(), key=lambda item: -len(item[1])))

    def lowest_stop_rate(self) -> float | None:
        rates = [count.rate for count in self.stops.values() if count.rate is not None]
        return min(rates) if rates else None

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.label,
            "backend": self.backend,
            "loss_mask": self.loss_mask,
            "seq_len": self.seq_len,
            "conversations": self.conversations,
            "samples": self.stats.samples,
            "skipped_nothing_to_train": self.stats.skipped_nothing_to_train,
            "truncated": self.stats.truncated,
            "errors": [str(error) for error in self.errors],
            "trained_tokens_by_role": dict(sorted(self.stats.trained_tokens_by_role.items())),
            "stop_rate": {
                kind: {
                    "turns": count.turns,
                    "stop_trained": count.stop_trained,
                    "rate": count.rate,
                    "lost_to_truncation": count.lost_to_truncation,
                }
                for kind, count in self.stops.items()
            },
            "excluded_turns": self.excluded_turns,
            "tool_calls_per_turn": {str(k): v for k, v in sorted(self.calls_per_turn.items())},
            "serving_prompt": self.serving_prompt.to_json(),
            "generation_tags": self.generation_tags.to_json(),
            "stop_consistency": self.stop_consistency.to_json(),
            "refused": {
                reason: {"rows": len(rows), "first": str(rows[0])}
                for reason, rows in self.refused().items()
            },
            "warnings": self.stats.warnings,
        }


def _turn_stops(
    sequence: MaskedSequence,
    messages: list[dict[str, Any]],
    seq_len: int | None,
    stops_at: list[int],
) -> Iterable[tuple[str, bool, bool]]:
    """(kind, stop trained, stop lost to truncation) for every assistant turn; `stops_at` are
    the positions of serving stop ids."""
    owners, ids, stops = sequence.turn_owner, sequence.ids, sequence.stop_ids
    own_stops: dict[int, list[int]] = {}
    for k in stops_at:
        owner = owners[k]
        if owner is not None:
            own_stops.setdefault(owner, []).append(k)
    for index, message in enumerate(messages):
        last = sequence.turn_end(index) if message.get("role") == "assistant" else None
        if last is None:
            continue
        if message.get("train") is False:
            yield EXCLUDED, False, False
            continue
        candidates = list(own_stops.get(index, []))
        after = last + 1  # right after the turn's last token
        if after < len(ids) and ids[after] in stops:
            candidates.append(after)
        # Position k is predicted as target k - 1; with seq_len inputs, targets stop at seq_len.
        trained = [k for k in candidates if k > 0 and sequence.mask[k]]
        kept = [k for k in trained if seq_len is None or k <= seq_len]
        kind = TOOL_CALL if message.get("tool_calls") else FINAL
        yield kind, bool(kept), bool(trained) and not kept


def audit_conversations(
    conversations: Iterable[Any],
    loss_mask: Any,
    backend: MaskBackend,
    *,
    seq_len: int | None = None,
    label: str = "",
    on_progress: Callable[[int], None] | None = None,
    finish: bool = True,
) -> AuditReport:
    """Audit the rows `lossmask.data` reads (`DataRow`s, and `DataRowError`s for bad rows); a row
    that cannot be read or masked is an error entry naming it, and the audit goes on.

    `finish=False` leaves the totals open, for a chunk that `AuditReport.merge` adds up.
    """
    from lossmask.data import DataRowError

    setting = coerce_loss_mask(loss_mask)
    report = AuditReport(label, backend.name, describe_loss_mask(setting), seq_len)
    texts = _TokenTexts(backend)
    report.stop_consistency.serving_stops = [texts[i] for i in backend.stop_token_ids()]
    for item in conversations:
        report.conversations += 1
        if on_progress is not None:
            on_progress(1)
        ref = item.ref
        if isinstance(item, DataRowError):
            message = (f"{item.key}: " if item.key else "") + item.message
            if item.suggestion:
                message += f" ({item.suggestion})"
            reason = f"unreadable row: {item.message}"
            report.errors.append(RowError(ref.source, ref.row, ref.line, message, reason))
            continue
        conversation = item.conversation
        try:
            sequence = mask_conversation(conversation, setting, backend)
        except MaskError as error:
            report.errors.append(
                RowError(ref.source, ref.row, ref.line, str(error), refusal_reason(error))
            )
            continue
        where = f"line {ref.line}" if ref.line is not None else f"row {ref.row}"
        _check_serving_prompt(report.serving_prompt, sequence, backend, where)
        _check_tags(report.generation_tags, sequence, backend, where)
        messages = conversation["messages"]
        for message in messages:
            if message.get("role") == "assistant" and message.get("tool_calls"):
                report.calls_per_turn[len(message["tool_calls"])] += 1
        report.stats.record_sequence(conversation, sequence, seq_len)
        stops_at = sequence.stop_positions()
        for kind, stop_trained, lost in _turn_stops(sequence, messages, seq_len, stops_at):
            if kind == EXCLUDED:
                report.excluded_turns += 1
                continue
            count = report.stops[kind]
            count.turns += 1
            count.stop_trained += stop_trained
            count.lost_to_truncation += lost
        roles = [str(message.get("role")) for message in messages]
        report.stop_consistency.record(sequence, roles, texts.__getitem__, where, stops_at)
    if finish:
        report.stats.finish(setting)
    return report


def refusal_reason(error: MaskError) -> str:
    """What a refusal has in common with others of its kind: a turn's reason, else the message
    without the message index."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    return re.sub(r"^messages\[\d+\]: ", "", str(error))


def _token(backend: MaskBackend, token_id: int) -> str:
    return repr(backend.tokenizer.decode([token_id]))


class _TokenTexts(dict[int, str]):
    """`_token` of each id, decoded once per audit (the stop lines name a few ids, every row)."""

    def __init__(self, backend: MaskBackend) -> None:
        super().__init__()
        self.backend = backend

    def __missing__(self, token_id: int) -> str:
        text = self[token_id] = _token(self.backend, token_id)
        return text


def _check_serving_prompt(
    check: ServingPromptCheck, sequence: MaskedSequence, backend: MaskBackend, where: str
) -> None:
    check.tokens += len(sequence.prompt_gap)
    check.untrained += sum(not sequence.mask[k] for k in sequence.prompt_gap)
    if sequence.missing_prompt:
        check.missing_turns += len(sequence.missing_prompt)
        check.missing.update(sequence.missing_prompt)
    if sequence.prompt_gap and check.example is None:
        k = sequence.prompt_gap[0]
        check.example = (
            f"{where}: {_token(backend, sequence.ids[k])} after "
            f"{_token(backend, sequence.ids[k - 1])}"
        )


def _check_tags(
    check: TagCheck, sequence: MaskedSequence, backend: MaskBackend, where: str
) -> None:
    positions = sequence.tag_disagreements
    if not positions:
        return
    check.tokens += len(positions)
    check.conversations += 1
    if check.example is None:
        k = positions[0]
        side = "outside" if sequence.provenance.sampled[k] else "inside"
        served = "samples" if sequence.provenance.sampled[k] else "does not sample"
        check.example = (
            f"{where}: {_token(backend, sequence.ids[k])} is {side} the tags, but serving "
            f"{served} it"
        )


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def format_report(report: AuditReport) -> str:
    """The plain-text table `lossmask audit` prints."""
    lines = [
        f"{report.label}: {report.loss_mask} on {report.backend}"
        + (f", seq_len {report.seq_len}" if report.seq_len else ""),
        f"  conversations {report.conversations}, samples {report.stats.samples}, "
        f"skipped (nothing to train) {report.stats.skipped_nothing_to_train}, "
        f"truncated {report.stats.truncated}, errors {len(report.errors)}",
        "  trained tokens by role: "
        + (
            ", ".join(
                f"{role} {n}" for role, n in sorted(report.stats.trained_tokens_by_role.items())
            )
            or "none"
        ),
        f"  {'turn kind':<16}{'turns':>7}{'stop trained':>14}{'rate':>9}{'lost to seq_len':>17}",
    ]
    for kind, title in ((TOOL_CALL, "tool-call turns"), (FINAL, "final turns")):
        count = report.stops[kind]
        lines.append(
            f"  {title:<16}{count.turns:>7}{count.stop_trained:>14}{_percent(count.rate):>9}"
            f"{count.lost_to_truncation:>17}"
        )
    if report.excluded_turns:
        lines.append(
            f'  turns excluded with "train": false: {report.excluded_turns} (in no stop rate)'
        )
    calls = report.calls_per_turn
    if calls:
        total = sum(calls.values())
        shown = ", ".join(f"{k} call{'s' if k > 1 else ''}: {v}" for k, v in sorted(calls.items()))
        lines.append(f"  tool calls per assistant turn ({total} turns): {shown}")
    gap = report.serving_prompt
    if gap.tokens:
        lines.append(
            f"  serving prompt: {gap.tokens} tokens after {report.backend}'s generation prompt "
            f"are not marked sampled ({gap.example}); untrained under this mask: {gap.untrained}"
        )
        if gap.untrained:
            lines.append(
                "    a model trained on this mask is never taught these tokens, but serving "
                "expects it to produce them"
            )
    else:
        lines.append(
            f"  serving prompt: every token after {report.backend}'s generation prompt is sampled"
        )
    if gap.missing_turns:
        shown = ", ".join(repr(text) for text, _ in gap.missing.most_common(3))
        lines.append(
            f"  serving prompt: the training text of {gap.missing_turns} turns lacks part of the "
            f"generation prompt ({shown}): served, the model continues a prompt it never saw "
            "in training"
        )
    tags = report.generation_tags
    if tags.tokens:
        lines.append(
            f"  generation tags: {{% generation %}} disagrees with serving on {tags.tokens} tokens "
            f"in {tags.conversations} conversations ({tags.example}); the mask follows serving"
        )
    lines.extend(report.stop_consistency.lines())
    refused = report.refused()
    if refused:
        lines.append(
            f"  refused: {len(report.errors)} rows could not be read or masked exactly (the "
            "others are audited):"
        )
        for reason, rows in refused.items():
            first = rows[0].where if rows[0].message == reason else str(rows[0])
            lines.append(f"    {len(rows):>5}  {reason} (first: {first})")
    return "\n".join(lines)
