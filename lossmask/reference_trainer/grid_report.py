"""The grid's outputs: one table (per cell, mean and range over seeds), one PNG, one JSON.

A cell here is a (path, mask) pair; its seeds are pooled. The table prints the mean over seeds and,
with more than one seed, the range `[min–max]`; the picture shows per cell the histogram of tool
calls per held-out tool turn (all seeds pooled, beside the calls the reference turn made) and the
loss curves (mean over seeds, the band spans min to max).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossmask.reference_trainer.grid import (
    GRID_JSON,
    GRID_PLOT,
    GRID_TABLE,
    MASK_TITLES,
    CellResult,
)

# (StopSummary attribute or "final_loss", column title, format of one value)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("pct_ran_on", "ran on past request", "{:.0f}%"),
    ("pct_closed_with_observation", "closed with <|observation|>", "{:.0f}%"),
    ("pct_exact_calls", "exact calls", "{:.0f}%"),
    ("max_calls", "most calls in a turn", "{:.0f}"),
    ("pct_final_stopped", "final turns stopped", "{:.0f}%"),
    ("pct_served_from_prompt", "prompt's next token trained", "{:.0f}%"),
    ("final_loss", "final loss", "{:.4f}"),
)


@dataclass
class CellRow:
    path: str
    mask: str
    seeds: list[int]
    values: dict[str, list[float]]  # column key -> one value per seed
    losses: list[list[float]]  # one curve per seed
    calls: list[int]  # tool calls per held-out tool turn, all seeds pooled
    requested: list[int]  # the reference turn's calls, same order
    tool_turns: int  # per seed
    final_turns: int

    def cell(self, key: str, fmt: str) -> str:
        values = self.values[key]
        if not values:
            return "-"
        mean = fmt.format(sum(values) / len(values))
        if len(values) == 1:
            return mean
        low, high = fmt.format(min(values)), fmt.format(max(values))
        return f"{mean} [{low}–{high}]"


def aggregate(results: Sequence[CellResult]) -> list[CellRow]:
    """One row per (path, mask), in the order the cells first ran."""
    rows: dict[tuple[str, str], CellRow] = {}
    for result in results:
        cell = result.cell
        key = (cell.path, cell.mask)
        if key not in rows:
            values: dict[str, list[float]] = {name: [] for name, _, _ in COLUMNS}
            rows[key] = CellRow(cell.path, cell.mask, [], values, [], [], [], 0, 0)
        row = rows[key]
        row.seeds.append(cell.seed)
        row.losses.append(list(result.losses))
        if result.losses:
            row.values["final_loss"].append(result.losses[-1])
        summary = result.summary
        if summary is None:
            continue
        for name, _, _ in COLUMNS:
            if name != "final_loss":
                row.values[name].append(float(getattr(summary, name)))
        row.tool_turns, row.final_turns = summary.tool_turns, summary.final_turns
        for turn in summary.turns:
            if turn.kind == "tool":
                row.calls.append(turn.calls)
                row.requested.append(turn.requested_calls)
    return list(rows.values())


def format_grid_table(rows: Sequence[CellRow], *, markdown: bool = False) -> str:
    """Aligned for a terminal; `markdown=True` escapes `|` inside cells."""
    header = ["path", "mask", "seeds", *(title for _, title, _ in COLUMNS)]
    body = [
        [
            row.path,
            MASK_TITLES.get(row.mask, row.mask),
            ",".join(str(seed) for seed in row.seeds),
            *(row.cell(key, fmt) for key, _, fmt in COLUMNS),
        ]
        for row in rows
    ]
    if markdown:
        header = [cell.replace("|", "\\|") for cell in header]
        body = [[cell.replace("|", "\\|") for cell in line] for line in body]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


def plot_grid(rows: Sequence[CellRow], path: Path, *, title: str = "") -> None:
    """Tool calls per turn (one panel per cell, paths × masks) above the loss curves."""
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
            counts = [row.calls.count(n) for n in bins]
            reference = [row.requested.count(n) for n in bins]
            axes.bar([n - 0.2 for n in bins], reference, width=0.4, color="0.7", label="reference")
            axes.bar([n + 0.2 for n in bins], counts, width=0.4, color="C0", label="model")
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
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def grid_json(results: Sequence[CellResult]) -> list[dict[str, Any]]:
    """Per cell and seed: the summary figures, the losses and the seconds it took."""
    out = []
    for result in results:
        summary = result.summary
        figures = {}
        if summary is not None:
            figures = {key: getattr(summary, key) for key, _, _ in COLUMNS if key != "final_loss"}
        out.append(
            {
                "path": result.cell.path,
                "mask": result.cell.mask,
                "seed": result.cell.seed,
                "output_dir": str(result.cell.settings.output_dir),
                "seconds": round(result.seconds, 2),
                "losses": result.losses,
                **figures,
            }
        )
    return out


def write_grid_outputs(
    results: Sequence[CellResult], where: Path, log: Callable[[str], None]
) -> list[CellRow]:
    """Print the table; write grid.md, grid.png and grid.json in `where`."""
    rows = aggregate(results)
    where.mkdir(parents=True, exist_ok=True)
    (where / GRID_TABLE).write_text(format_grid_table(rows, markdown=True) + "\n", encoding="utf-8")
    (where / GRID_JSON).write_text(json.dumps(grid_json(results), indent=2) + "\n")
    plot_grid(rows, where / GRID_PLOT, title="lossmask experiment")
    first = next((row for row in rows if row.tool_turns), None)
    turns = f"{first.tool_turns} tool turns and {first.final_turns} final turns" if first else ""
    log(
        f"\nPaths × masks, mean [min–max] over seeds; greedy from each backend's generation "
        f"prompt on {turns} per seed ({where / GRID_TABLE}, {where / GRID_PLOT}):\n"
    )
    log(format_grid_table(rows))
    return rows
