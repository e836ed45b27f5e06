"""The stop eval's table: its columns, one definition for `lossmask train` and the grid.

Every column is a `StopSummary` figure (`evaluate.py`). The closing column is named after what the
reference turns close with (`<|observation|>` on GLM-4.5, `<|im_end|>` on ChatML); a figure the
eval could not establish is `n/a` with the reason under the table, and a column about turns the
eval set does not have (no multi-step conversations) is `-`.
"""

from __future__ import annotations

import json
from pathlib import Path

from lossmask.reference_trainer.evaluate import StopSummary


def closing_title(summaries: list[StopSummary]) -> str:
    """ "closed with <|observation|>": the column is named after what the reference turns close
    with (each backend's own token; several when the rows' backends differ)."""
    tokens = sorted({token for summary in summaries for token in summary.closing_tokens})
    return "closed with " + (" or ".join(tokens) if tokens else "the reference's stop")


CLOSING = "{closing}"  # replaced by `closing_title` of the rows shown
COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (StopSummary attribute, column title, format of one value); the grid adds the final loss
    ("pct_ran_on", "ran on past request", "{:.0f}%"),
    ("pct_closed", CLOSING, "{:.0f}%"),
    ("pct_right_count", "right call count", "{:.0f}%"),
    ("pct_calls_right", "calls with right arguments", "{:.0f}%"),
    ("pct_exact", "exact", "{:.0f}%"),
    ("pct_exact_single_step", "exact, single-step", "{:.0f}%"),
    ("pct_exact_multi_step", "exact, multi-step", "{:.0f}%"),
    ("max_calls", "most calls in a turn", "{:.0f}"),
    ("pct_final_stopped", "final turns stopped", "{:.0f}%"),
    ("pct_served_from_prompt", "prompt's next token trained", "{:.0f}%"),
)
"""What a tool turn is: *exact* = stopped on a serving stop after exactly the requested calls,
each with the right tool and arguments; "right call count" = stopped after exactly the requested
number of calls; "calls with right arguments" = the share of the reference's calls found among
the model's first calls, as many as requested (argument accuracy); n/a = arguments could not be
checked (the note says why)."""


NO_TURNS = "-"  # a column about turns the eval set does not have (no multi-step conversations)


def column_value(summary: StopSummary, key: str) -> float | str | None:
    """The figure of `key`: a number, None (arguments not checked: n/a) or NO_TURNS."""
    if key == "pct_exact_single_step" and summary.tool_turns == summary.multi_step_tool_turns:
        return NO_TURNS
    if key == "pct_exact_multi_step" and not summary.multi_step_tool_turns:
        return NO_TURNS
    value: float | None = getattr(summary, key)
    return value


def column_titles(summaries: list[StopSummary]) -> list[str]:
    closing = closing_title(summaries)
    return [closing if title == CLOSING else title for _, title, _ in COLUMNS]


def format_value(value: float | str | None, fmt: str) -> str:
    if isinstance(value, str):
        return value
    return "n/a" if value is None else fmt.format(value)


def aligned_table(header: list[str], body: list[list[str]], *, markdown: bool) -> str:
    """Columns padded to their widest cell; `markdown=True` escapes `|` inside cells."""
    if markdown:
        header = [cell.replace("|", "\\|") for cell in header]
        body = [[cell.replace("|", "\\|") for cell in line] for line in body]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


def format_table(summaries: list[StopSummary], *, markdown: bool = False) -> str:
    """One row per run; arguments that could not be checked are n/a, with the reason below."""
    header = ["run", "tool turns", *column_titles(summaries)]
    body = [
        [
            s.label,
            str(s.tool_turns),
            *(format_value(column_value(s, key), fmt) for key, _, fmt in COLUMNS),
        ]
        for s in summaries
    ]
    table = aligned_table(header, body, markdown=markdown)
    notes = [
        f"{s.label}: arguments not checked: {s.arguments_note}"
        for s in summaries
        if s.arguments_note
    ]
    return "\n".join([table, *notes])


def write_summaries(summaries: list[StopSummary], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([summary.to_json() for summary in summaries], indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
