"""`lossmask experiment`: options in, a report out; the report alone decides the exit code.

Every cell is planned and checked first (`grid.plan_cells`: exit 2 with located problems before
anything trains); the cells then train in one process group, one after the other or `jobs` at a
time (`cell_workers.py`), on the skeleton every training command shares (`runner.run_command`).
SIGINT/SIGTERM stop the running cells after they save, skip the rest and exit 130/143. The table
and picture cover the cells that finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lossmask.errors import ConfigError
from lossmask.reference_trainer.runner import (
    Echo,
    Log,
    RunOptions,
    RunReport,
    Warn,
    default_echo,
    run_command,
)

if TYPE_CHECKING:
    from lossmask.errors import Problem
    from lossmask.reference_trainer.distributed import Launch
    from lossmask.reference_trainer.grid import Cell

DEFAULT_OUTPUT_DIR = "runs/experiment"


@dataclass(frozen=True)
class ExperimentOptions:
    configs: tuple[str, ...]
    masks: tuple[str, ...] = ("legacy", "sampled", "all")
    seeds: tuple[int, ...] = (0,)
    jobs: int = 1  # cells at once; above 1, each in its own process on one torch thread
    run: RunOptions = field(default_factory=lambda: RunOptions(output_dir=DEFAULT_OUTPUT_DIR))


@dataclass
class ExperimentReport(RunReport):
    """A `lossmask train` report (the exit code is decided the same way) plus the cells run."""

    cells_run: int = 0


def execute(options: ExperimentOptions, echo: Echo = default_echo) -> ExperimentReport:
    from lossmask.reference_trainer.grid import plan_cells, run_grid
    from lossmask.reference_trainer.grid_report import write_grid_outputs

    shared = options.run
    output_dir = Path(shared.output_dir or DEFAULT_OUTPUT_DIR)
    report = ExperimentReport()

    def plan(launch: Launch) -> tuple[list[Cell], list[Problem]]:
        if options.jobs > 1 and launch.enabled:
            raise ConfigError.single(
                f"--jobs {options.jobs} runs cells in worker processes of its own, which cannot "
                "share a torchrun process group",
                suggestion="under torchrun, leave out --jobs",
            )
        return plan_cells(
            options.configs,
            options.masks,
            options.seeds,
            shared.overrides,
            output_dir=output_dir,
            device=shared.device,
            eval_examples=shared.eval_examples,
            max_new_tokens=shared.max_new_tokens,
            world_size=launch.world_size,
            data_parallel=shared.data_parallel,
        )

    def run(cells: list[Cell], launch: Launch, log: Log, warn: Warn) -> int:
        from lossmask.reference_trainer.figure_environment import FigureEnvironment, load_average

        load_before, started = load_average(), time.perf_counter()
        result = run_grid(
            cells, launch, log=log, warn=warn, progress=shared.progress, jobs=options.jobs
        )
        wall_seconds = time.perf_counter() - started
        report.cells_run = len(result.results)
        # A cell stopped by a signal has no eval: named, left out of the table.
        finished = [cell for cell in result.results if not cell.stopped_by]
        if launch.is_main:
            for stopped in (cell for cell in result.results if cell.stopped_by):
                log_stop = f"{stopped.cell.label} stopped after {len(stopped.losses)} steps"
                echo(f"{log_stop}; the table shows the {len(finished)} cells that finished", True)
            if finished:
                environment = FigureEnvironment.capture(
                    shared.device, _threads(options.jobs), load_before
                )
                write_grid_outputs(
                    finished, output_dir, log, environment, wall_seconds, result.notes
                )
        return result.stopped_by

    return run_command(report, shared, plan, run, echo)


def _threads(jobs: int) -> str:
    if jobs > 1:
        return f"1 torch thread per training, {jobs} trainings at once"
    import torch

    return f"{torch.get_num_threads()} torch threads, one training at a time"
