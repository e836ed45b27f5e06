"""The experiment grid: paths × masks × seeds from one config set, one table, one picture.

Each path is one v2 config (`examples/experiment/chat-template.toml`, `renderer.toml`): the configs
differ only in how tokens are rendered. A cell is a path config with `seed` and `data.loss_mask`
set by `--set`-style overrides, so every cell of a seed has the same model init (the embedded
tokenizers share one vocabulary), the same data and batch order, the same steps and the same
held-out eval prompts; nothing but the path and the mask differs. Every cell is evaluated from its
backend's own generation prompt (`evaluate.py`), and the table says, per cell, how often that
prompt's next token was a trained target.

All cells are loaded and checked before the first one trains, so a typo fails in a second.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lossmask.errors import ConfigError, Problem
from lossmask.reference_trainer.distributed import Launch
from lossmask.reference_trainer.runner import Log, Warn
from lossmask.reference_trainer.settings import TrainSettings, load_settings

if TYPE_CHECKING:  # evaluate imports torch; the CLI reads MASKS without it
    from lossmask.reference_trainer.evaluate import StopSummary
    from lossmask.reference_trainer.shared_training import TrainingUnit


MASKS: dict[str, str] = {
    # What `lossmask migrate` writes for a v1 config that never set loss_mask.
    "legacy": "{system = false, user = false, assistant = true, tool = false}",
    "sampled": '"sampled"',
    "all": '"all"',
}
"""Mask name on the command line -> the TOML value of `data.loss_mask` for that cell."""
MASK_TITLES: dict[str, str] = {
    "legacy": "legacy role table",
    "sampled": '"sampled"',
    "all": '"all"',
}
DEFAULT_MASKS = ("legacy", "sampled", "all")
GRID_TABLE = "grid.md"
GRID_PLOT = "grid.png"
GRID_JSON = "grid.json"


@dataclass(frozen=True)
class Cell:
    path: str  # the path config's file stem, e.g. "chat-template"
    mask: str  # a MASKS key
    seed: int
    settings: TrainSettings

    @property
    def label(self) -> str:
        return f"{self.path}/{self.mask}/seed{self.seed}"


@dataclass
class CellResult:
    cell: Cell
    losses: list[float]
    summary: StopSummary | None
    seconds: float  # wall time of training and eval
    cpu_seconds: float = 0.0  # CPU time of the process that ran the cell, all its threads
    stopped_by: int = 0  # the signal that stopped the cell's training (0: it ran to the end)
    trained_with: str = ""  # the cell whose training it shares (shared_training.py); "" = its own


@dataclass
class GridResult:
    results: list[CellResult] = field(default_factory=list)
    stopped_by: int = 0  # the signal that stopped a cell early; later cells did not start
    notes: list[str] = field(default_factory=list)  # which cells shared a training, and why


def parse_seeds(text: str) -> tuple[int, ...]:
    """`"0,1,2"` -> (0, 1, 2); raises ValueError with a readable message."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.lstrip("-").isdigit() for part in parts):
        raise ValueError(f"expected comma-separated integers such as 0,1,2, not {text!r}")
    seeds = tuple(int(part) for part in parts)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"a seed is repeated in {text!r}")
    return seeds


def plan_cells(
    configs: Sequence[str | Path],
    masks: Sequence[str],
    seeds: Sequence[int],
    overrides: Sequence[str],
    *,
    output_dir: str | Path,
    device: str,
    eval_examples: int,
    max_new_tokens: int,
    world_size: int = 1,
    data_parallel: str = "ddp",
) -> tuple[list[Cell], list[Problem]]:
    """Every cell's settings, in run order (seed, then path, then mask). Raises ConfigError."""
    stems = [Path(config).stem for config in configs]
    if len(set(stems)) != len(stems):
        raise ConfigError.single(
            "two path configs have the same file name and would share an output directory",
            suggestion="rename one",
        )
    unknown = [mask for mask in masks if mask not in MASKS]
    if unknown:
        raise ConfigError.single(
            f"unknown mask {unknown[0]!r}", suggestion="choose from " + ", ".join(MASKS)
        )
    cells: list[Cell] = []
    warnings: list[Problem] = []
    seen: set[str] = set()
    for seed in seeds:
        for config, stem in zip(configs, stems, strict=True):
            for mask in masks:
                cell_overrides = [*overrides, f"seed={seed}", f"data.loss_mask={MASKS[mask]}"]
                settings, found = load_settings(
                    config,
                    cell_overrides,
                    device=device,
                    output_dir=Path(output_dir) / stem / mask / f"seed{seed}",
                    eval_examples=eval_examples,
                    max_new_tokens=max_new_tokens,
                    world_size=world_size,
                    data_parallel=data_parallel,
                    # The cells' masks are lossmask's modes ("sampled", "all", the legacy
                    # table): the grid reads its configs as lossmask's schema, always.
                    reader="lossmask",
                )
                cells.append(Cell(stem, mask, seed, settings))
                for warning in found:  # the same warning from every cell of a config: once
                    if warning.format() not in seen:
                        seen.add(warning.format())
                        warnings.append(warning)
    return cells, warnings


def run_grid(
    cells: Sequence[Cell],
    launch: Launch | None = None,
    *,
    log: Log = print,
    warn: Warn | None = None,
    progress: bool = True,
    jobs: int = 1,
    share: bool = True,
) -> GridResult:
    """Train and evaluate every cell: in order in this process (inside the caller's process
    group), or `jobs` trainings at a time in worker processes of one torch thread each
    (`cell_workers`). With `share`, cells that would train token-identical samples under equal
    settings train once and are each evaluated on that model (`shared_training`)."""
    from lossmask.reference_trainer.shared_training import (
        TrainingUnit,
        share_training,
        shared_note,
    )

    launch = launch or Launch()
    if share:
        units = share_training(cells)
    else:
        units = [TrainingUnit((index,)) for index in range(len(cells))]
    if jobs > 1:
        from lossmask.reference_trainer.cell_workers import run_units_in_parallel

        result = run_units_in_parallel(cells, units, jobs, log, warn or (lambda p: log(p.format())))
    else:
        result = _run_units(cells, units, launch, log, warn, progress)
    result.notes = shared_note(cells, units)
    return result


def unit_title(cells: Sequence[Cell], unit: TrainingUnit, number: int, total: int) -> str:
    trains = cells[unit.trains]
    shared = [cells[index].label for index in unit.cells[1:]]
    also = f" (also evaluated as {', '.join(shared)})" if shared else ""
    return f"== training {number}/{total}: {trains.label} -> {trains.settings.output_dir}{also}"


def unit_results(
    cells: Sequence[Cell],
    unit: TrainingUnit,
    outcomes: Sequence[Any],
    seconds: float,
    cpu_seconds: float,
    stopped_by: int,
) -> list[CellResult]:
    """One result per cell of a training unit (the time is the unit's, training and evals)."""
    trains = cells[unit.trains].label
    return [
        CellResult(
            cells[index],
            outcome.losses,
            outcome.summary,
            seconds,
            cpu_seconds,
            stopped_by,
            "" if index == unit.trains else trains,
        )
        for index, outcome in zip(unit.cells, outcomes, strict=True)
    ]


def _run_units(
    cells: Sequence[Cell],
    units: Sequence[TrainingUnit],
    launch: Launch,
    log: Log,
    warn: Warn | None,
    progress: bool,
) -> GridResult:
    from lossmask.reference_trainer.train_configs import train_and_evaluate

    result = GridResult()
    for number, unit in enumerate(units, start=1):
        trains = cells[unit.trains]
        if launch.is_main:
            log(unit_title(cells, unit, number, len(units)))
        started, cpu_started = time.perf_counter(), time.process_time()
        outcomes, stopped_by = train_and_evaluate(
            trains.settings,
            launch,
            label=trains.label,
            log=log,
            warn=warn,
            progress=progress,
            also_evaluate=[(cells[i].settings, cells[i].label) for i in unit.cells[1:]],
        )
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        result.results += unit_results(cells, unit, outcomes, seconds, cpu_seconds, stopped_by)
        if stopped_by:
            result.stopped_by = stopped_by
            break
    return result
