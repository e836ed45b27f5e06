"""The grid's outputs: one table (per cell, mean and range over seeds), one PNG, one JSON.

A cell here is a (path, mask) pair; its seeds are pooled. The table prints the mean over seeds and,
with more than one seed, the range `[min–max]`; the picture shows per cell the histogram of tool
calls per held-out tool turn (all seeds pooled, beside the calls the reference turn made) and the
loss curves (mean over seeds, the band spans min to max).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmask.reference_trainer.evaluate import StopSummary
from lossmask.reference_trainer.figure_environment import FigureEnvironment
from lossmask.reference_trainer.grid import (
    GRID_JSON,
    GRID_PLOT,
    GRID_TABLE,
    MASK_TITLES,
    CellResult,
)
from lossmask.reference_trainer.stop_table import COLUMNS as STOP_COLUMNS
from lossmask.reference_trainer.stop_table import (
    NO_TURNS,
    aligned_table,
    column_titles,
    column_value,
)

# The stop eval's columns (evaluate.COLUMNS), then the final loss.
COLUMNS: tuple[tuple[str, str, str], ...] = (*STOP_COLUMNS, ("final_loss", "final loss", "{:.4f}"))


@dataclass
class CellRow:
    path: str
    mask: str
    seeds: list[int]
    values: dict[str, list[float | None]]  # column key -> one value per seed (None: n/a)
    losses: list[list[float]]  # one curve per seed
    calls: list[int]  # tool calls per held-out tool turn, all seeds pooled
    requested: list[int]  # the reference turn's calls, same order
    exact: list[bool]  # the turn was exact (stopped, right count, right arguments), same order
    tool_turns: int  # per seed
    final_turns: int
    summaries: list[StopSummary] = field(default_factory=list)

    def cell(self, key: str, fmt: str) -> str:
        values = self.values[key]
        if not values:
            return "-"
        if any(value is None for value in values):
            return "n/a"
        known = [value for value in values if value is not None]
        mean = fmt.format(sum(known) / len(known))
        if len(known) == 1:
            return mean
        return f"{mean} [{fmt.format(min(known))}–{fmt.format(max(known))}]"


def aggregate(results: Sequence[CellResult]) -> list[CellRow]:
    """One row per (path, mask), in the order the cells first ran."""
    rows: dict[tuple[str, str], CellRow] = {}
    for result in results:
        cell = result.cell
        key = (cell.path, cell.mask)
        if key not in rows:
            values: dict[str, list[float | None]] = {name: [] for name, _, _ in COLUMNS}
            rows[key] = CellRow(cell.path, cell.mask, [], values, [], [], [], [], 0, 0)
        row = rows[key]
        row.seeds.append(cell.seed)
        row.losses.append(list(result.losses))
        if result.losses:
            row.values["final_loss"].append(result.losses[-1])
        summary = result.summary
        if summary is None:
            continue
        row.summaries.append(summary)
        for name, _, _ in STOP_COLUMNS:
            value = column_value(summary, name)
            if value != NO_TURNS:  # a column without turns stays empty: "-"
                row.values[name].append(None if value is None else float(value))
        row.tool_turns, row.final_turns = summary.tool_turns, summary.final_turns
        for turn in summary.turns:
            if turn.kind == "tool":
                row.calls.append(turn.calls)
                row.requested.append(turn.requested_calls)
                row.exact.append(bool(turn.exact))
    return list(rows.values())


def format_grid_table(rows: Sequence[CellRow], *, markdown: bool = False) -> str:
    """Aligned for a terminal; `markdown=True` escapes `|` inside cells. Rows whose arguments
    could not be checked say why below the table."""
    summaries = [summary for row in rows for summary in row.summaries]
    header = ["path", "mask", "seeds", *column_titles(summaries), "final loss"]
    body = [
        [
            row.path,
            MASK_TITLES.get(row.mask, row.mask),
            ",".join(str(seed) for seed in row.seeds),
            *(row.cell(key, fmt) for key, _, fmt in COLUMNS),
        ]
        for row in rows
    ]
    notes = sorted(
        {
            f"{s.label}: arguments not checked: {s.arguments_note}"
            for s in summaries
            if s.arguments_note
        }
    )
    return "\n".join([aligned_table(header, body, markdown=markdown), *notes])


def plot_grid(
    rows: Sequence[CellRow], path: Path, *, title: str = "", footer: str = "", stamp: str = ""
) -> None:
    """Tool calls per turn (one panel per cell, paths × masks) above the loss curves.

    The model's bar is split into exact turns (right count and arguments, stopped) and the rest.
    `footer` is printed under the picture; `stamp` (the figure code hash) goes into the PNG's
    metadata, where the staleness test reads it."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    paths = list(dict.fromkeys(row.path for row in rows))
    masks = list(dict.fromkeys(row.mask for row in rows))
    by_key = {(row.path, row.mask): row for row in rows}
    most = max([1, *(max([*row.calls, *row.requested], default=0) for row in rows)])
    bins = list(range(most + 1))
    figure = plt.figure(figsize=(3.4 * len(masks), 2.4 * len(paths) + 3.2), dpi=100)
    grid = figure.add_gridspec(len(paths) + 1, len(masks), height_ratios=[1] * len(paths) + [1.4])
    for i, path_name in enumerate(paths):
        for j, mask in enumerate(masks):
            axes = figure.add_subplot(grid[i, j])
            row = by_key.get((path_name, mask))
            if row is None:
                axes.set_axis_off()
                continue
            pairs = list(zip(row.calls, row.exact, strict=True))
            exact = [sum(c == n and e for c, e in pairs) for n in bins]
            other = [row.calls.count(n) - exact[k] for k, n in enumerate(bins)]
            reference = [row.requested.count(n) for n in bins]
            axes.bar([n - 0.2 for n in bins], reference, width=0.4, color="0.7", label="reference")
            right = [n + 0.2 for n in bins]
            axes.bar(right, exact, width=0.4, color="C0", label="model, exact")
            axes.bar(right, other, width=0.4, bottom=exact, color="C1", label="model, not exact")
            axes.set_title(f"{path_name} · {MASK_TITLES.get(mask, mask)}", fontsize=9)
            axes.set_xticks(bins if most <= 12 else bins[:: max(1, most // 12)])
            axes.tick_params(labelsize=7)
            if j == 0:
                axes.set_ylabel("tool turns", fontsize=8)
            if i == len(paths) - 1:
                axes.set_xlabel("tool calls before a stop (or the budget)", fontsize=8)
            if i == 0 and j == 0:
                axes.legend(fontsize=7)
    axes = figure.add_subplot(grid[len(paths), :])
    for row in rows:
        curves = [curve for curve in row.losses if curve]
        if not curves:
            continue
        length = min(len(curve) for curve in curves)
        steps = range(1, length + 1)
        mean = [sum(curve[k] for curve in curves) / len(curves) for k in range(length)]
        style = ["-", "--", ":"][paths.index(row.path) % 3]
        label = f"{row.path} · {MASK_TITLES.get(row.mask, row.mask)}"
        axes.plot(steps, mean, style, color=f"C{masks.index(row.mask)}", linewidth=1.1, label=label)
        if len(curves) > 1:
            low = [min(curve[k] for curve in curves) for k in range(length)]
            high = [max(curve[k] for curve in curves) for k in range(length)]
            axes.fill_between(steps, low, high, color=f"C{masks.index(row.mask)}", alpha=0.15)
    axes.set_yscale("log")
    plain = matplotlib.ticker.FormatStrFormatter("%g")  # 0.4, not 4×10⁻¹
    axes.yaxis.set_major_formatter(plain)
    axes.yaxis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2.0, 3.0, 5.0)))
    axes.yaxis.set_minor_formatter(plain)
    axes.tick_params(axis="y", which="minor", labelsize=7)
    axes.set_xlabel("step")
    axes.set_ylabel("loss per trained token")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    if title:
        figure.suptitle(title, fontsize=10)
    if footer:
        figure.text(0.5, 0.005, footer, ha="center", va="bottom", fontsize=5.5, wrap=True)
    figure.tight_layout(rect=(0, 0.03 if footer else 0, 1, 1))
    figure.savefig(path, metadata={"lossmask-figure-code": stamp} if stamp else None)
    plt.close(figure)


def grid_json(results: Sequence[CellResult]) -> list[dict[str, Any]]:
    """Per cell and seed: the summary figures, the losses, and the wall and CPU seconds."""
    out = []
    for result in results:
        summary = result.summary
        figures: dict[str, Any] = {}
        if summary is not None:
            figures = {key: getattr(summary, key) for key, _, _ in STOP_COLUMNS}
            figures["closing_tokens"] = summary.closing_tokens
            figures["arguments_note"] = summary.arguments_note
        out.append(
            {
                "path": result.cell.path,
                "mask": result.cell.mask,
                "seed": result.cell.seed,
                "output_dir": str(result.cell.settings.output_dir),
                "seconds": round(result.seconds, 2),
                "cpu_seconds": round(result.cpu_seconds, 2),
                "trained_with": result.trained_with or None,
                "losses": result.losses,
                **figures,
            }
        )
    return out


def time_line(results: Sequence[CellResult], wall_seconds: float) -> str:
    """Wall time of the grid and each training's CPU time, training and evals (what an idle
    machine needs per training); cells that shared a training are counted once."""
    cpu = sorted(result.cpu_seconds for result in results if not result.trained_with)
    if not cpu:
        return f"time: {wall_seconds:.0f} s wall for {len(results)} cells"
    return (
        f"time: {wall_seconds:.0f} s wall for {len(results)} cells ({len(cpu)} trainings); "
        f"CPU per training {cpu[len(cpu) // 2]:.0f} s median [{cpu[0]:.0f}–{cpu[-1]:.0f}], "
        f"{sum(cpu):.0f} s in all"
    )


def budget_line(results: Sequence[CellResult]) -> str:
    """The model and the budget each training ran with (the grid's configs and `--set`s decide
    them, so a table that does not say them cannot be compared with another)."""
    from lossmask.reference_trainer.model import EMBEDDED_MODEL

    budgets = []
    for result in results:
        settings = result.cell.settings
        budget = (
            f"model {settings.model_name or EMBEDDED_MODEL}, {settings.max_steps} steps of "
            f"{settings.data.batch_size} sequences (lr {settings.lr:g})"
        )
        if budget not in budgets:
            budgets.append(budget)
    return "trained: " + "; ".join(budgets)


def grid_tables(results: Sequence[CellResult], *, markdown: bool) -> str:
    """The table over every seed, then (with several seeds) one table per seed."""
    seeds = list(dict.fromkeys(result.cell.seed for result in results))
    parts = [format_grid_table(aggregate(results), markdown=markdown)]
    if len(seeds) > 1:
        for seed in seeds:
            of_seed = [result for result in results if result.cell.seed == seed]
            parts += [f"\nSeed {seed}:\n", format_grid_table(aggregate(of_seed), markdown=markdown)]
    return "\n".join(parts)


def write_grid_outputs(
    results: Sequence[CellResult],
    where: Path,
    log: Callable[[str], None],
    environment: FigureEnvironment,
    wall_seconds: float,
    notes: Sequence[str] = (),
) -> list[CellRow]:
    """Print the tables; write grid.md, grid.png and grid.json in `where`, each with the
    environment that made them."""
    rows = aggregate(results)
    where.mkdir(parents=True, exist_ok=True)
    timing = time_line(results, wall_seconds)
    footer = "\n".join([*notes, budget_line(results), timing, environment.line()])
    markdown = grid_tables(results, markdown=True)
    (where / GRID_TABLE).write_text(f"{markdown}\n\n{footer}\n", encoding="utf-8")
    document = {
        "environment": environment.to_json(),
        "wall_seconds": round(wall_seconds, 1),
        "shared_training": list(notes),
    }
    document["cells"] = grid_json(results)
    (where / GRID_JSON).write_text(json.dumps(document, indent=2) + "\n")
    plot_grid(
        rows,
        where / GRID_PLOT,
        title="lossmask experiment",
        footer=environment.line(),
        stamp=environment.figure_code,
    )
    first = next((row for row in rows if row.tool_turns), None)
    turns = f"{first.tool_turns} tool turns and {first.final_turns} final turns" if first else ""
    log(
        f"\nPaths × masks, mean [min–max] over seeds; greedy from each backend's generation "
        f"prompt on {turns} per seed ({where / GRID_TABLE}, {where / GRID_PLOT}):\n"
    )
    log(grid_tables(results, markdown=False))
    log(f"\n{footer}")
    return rows
