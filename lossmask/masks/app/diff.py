"""`lossmask diff A B --data SOURCE`: two masks over one dataset, token by token.

A and B are each a config (two configs, two backends, two loss masks, or one config under two
readers) or, for one of them, rows a trainer prepared (`input_ids` and a mask column, as
`audit --tokenized` reads them). Row i of the prepared rows is compared with conversation i of
SOURCE: trainers keep the order of their data (TRL drops rows only where truncation leaves
nothing to train). Where the two sides hold the same ids, every token trained under one side
only is counted by the role of the message that wrote it and the rule the config side applied
(`show`'s provenance); where one side's ids extend the other's (lossmask appends GLM's final stop,
TRL's GLM training template writes `<|user|>` after the last turn), the common part is compared
and the extra trained tokens counted apart (also where each side ends on one token of its own: a
final stop written differently); ids that differ otherwise are a row that "renders differently",
named, never compared as if aligned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lossmask.masks.app.audit import RowError

ONLY_A, ONLY_B = "only A", "only B"
STORED = "as stored"  # the rule of every token of prepared rows: the trainer's column said so
Side = tuple[list[int], list[bool], Any]  # ids, mask, provenance (None: prepared rows)
Place = tuple[str, str, str]  # role of the token, A's rule, B's rule


@dataclass
class RowDiff:
    """One row whose masks differ, kept for showing token by token."""

    where: str
    ids: list[int]
    mask_a: list[bool]
    mask_b: list[bool]
    provenance: Any  # the config side's provenance over `ids`, for the view's roles and rules


@dataclass
class DiffReport:
    label_a: str
    label_b: str
    rows: int = 0
    rows_differing: int = 0
    tokens_compared: int = 0
    only: dict[str, Counter[Place]] = field(
        default_factory=lambda: {ONLY_A: Counter(), ONLY_B: Counter()}
    )
    extra_ids: dict[str, int] = field(default_factory=lambda: {ONLY_A: 0, ONLY_B: 0})
    # (row, first differing position, A's id there, B's id there)
    rendered_differently: list[tuple[str, int, int, int]] = field(default_factory=list)
    token_text: Any = None  # id -> text, for naming the ids that differ (set before output)
    errors: list[RowError] = field(default_factory=list)
    shown: list[RowDiff] = field(default_factory=list)
    show_rows: int = 1

    @property
    def differs(self) -> bool:
        return bool(self.rows_differing or self.rendered_differently)

    def merge(self, other: DiffReport) -> None:
        self.rows += other.rows
        self.rows_differing += other.rows_differing
        self.tokens_compared += other.tokens_compared
        for side in (ONLY_A, ONLY_B):
            self.only[side].update(other.only[side])
            self.extra_ids[side] += other.extra_ids[side]
        self.rendered_differently += other.rendered_differently
        self.errors += other.errors
        self.shown += other.shown[: max(0, self.show_rows - len(self.shown))]

    def add_row(self, where: str, a: Side, b: Side) -> None:
        """Compare one row: each side's (ids, mask, provenance or None for prepared rows)."""
        (ids_a, mask_a, prov_a), (ids_b, mask_b, prov_b) = a, b
        provenance = prov_a if prov_a is not None else prov_b
        assert provenance is not None  # one side at least is a config
        self.rows += 1
        shorter = min(len(ids_a), len(ids_b))
        common = next((k for k in range(shorter) if ids_a[k] != ids_b[k]), shorter)
        # Past the common ids each side may hold one token of its own: the final stop that one
        # side appends or writes differently (GLM: lossmask's <|endoftext|>, TRL's <|user|>).
        # More than that is another render, never compared as if aligned.
        if len(ids_a) - common > 1 and len(ids_b) - common > 1:
            self.rendered_differently.append((where, common, ids_a[common], ids_b[common]))
            return
        self.tokens_compared += common
        differing = False
        for k in range(1, common):  # token 0 is never a target
            if mask_a[k] != mask_b[k]:
                differing = True
                side = ONLY_A if mask_a[k] else ONLY_B
                rule_a, rule_b = (STORED if p is None else p.rule[k] for p in (prov_a, prov_b))
                self.only[side][(provenance.role[k] or "template", rule_a, rule_b)] += 1
        for side, mask in ((ONLY_A, mask_a), (ONLY_B, mask_b)):
            extra = sum(mask[common:])
            self.extra_ids[side] += extra
            differing = differing or bool(extra)
        if differing:
            self.rows_differing += 1
            if len(self.shown) < self.show_rows:
                self.shown.append(
                    RowDiff(where, ids_a[:common], mask_a[:common], mask_b[:common], provenance)
                )

    def describe(self, row: tuple[str, int, int, int]) -> str:
        """`data.jsonl:3 (first at token 281: '<think>' in A, '\\n' in B)`."""
        where, k, a, b = row
        name = self.token_text or str
        return f"{where} (first at token {k}: {name(a)!r} in A, {name(b)!r} in B)"

    def to_json(self) -> dict[str, Any]:
        def by_place(counter: Counter[Place]) -> list[dict[str, Any]]:
            return [
                {"role": role, "rule_a": rule_a, "rule_b": rule_b, "tokens": n}
                for (role, rule_a, rule_b), n in sorted(counter.items())
            ]

        return {
            "a": self.label_a,
            "b": self.label_b,
            "rows": self.rows,
            "rows_differing": self.rows_differing,
            "tokens_compared": self.tokens_compared,
            "trained_only_in_a": by_place(self.only[ONLY_A]),
            "trained_only_in_b": by_place(self.only[ONLY_B]),
            "trained_beyond_the_other_sides_ids": {
                "a": self.extra_ids[ONLY_A],
                "b": self.extra_ids[ONLY_B],
            },
            "rendered_differently": [self.describe(row) for row in self.rendered_differently],
            "errors": [str(error) for error in self.errors],
            "differ": self.differs,
        }


def format_diff(report: DiffReport) -> str:
    lines = [
        f"A: {report.label_a}",
        f"B: {report.label_b}",
        f"  rows {report.rows}, differing {report.rows_differing}, rendered differently "
        f"{len(report.rendered_differently)}, errors {len(report.errors)}; tokens compared "
        f"{report.tokens_compared}",
    ]
    for side, title in ((ONLY_A, "trained only in A"), (ONLY_B, "trained only in B")):
        counter = report.only[side]
        total = sum(counter.values())
        detail = ", ".join(
            f"{role} (A: {rule_a}, B: {rule_b}) {n}"
            for (role, rule_a, rule_b), n in sorted(counter.items())
        )
        lines.append(f"  {title}: {total}" + (f": {detail}" if detail else ""))
    for side, name in ((ONLY_A, "A"), (ONLY_B, "B")):
        if report.extra_ids[side]:
            lines.append(
                f"  trained in {name} beyond the other side's ids: {report.extra_ids[side]} "
                "(final tokens only this side has: a stop it appends or writes differently)"
            )
    for row in report.rendered_differently[:5]:
        lines.append(f"  renders differently: {report.describe(row)}")
    if len(report.rendered_differently) > 5:
        lines.append(f"  ... and {len(report.rendered_differently) - 5} more")
    lines.append("  the masks differ" if report.differs else "  the masks are the same")
    return "\n".join(lines)
