"""`lossmask experiment`: options in, a report out; the report alone decides the exit code.

Every cell is loaded and checked first (exit 2 with located problems before anything trains); the
cells then train one after the other in one process group; SIGINT/SIGTERM stop the running cell
after it saves, skip the rest and exit 130/143. The table and picture cover the cells that finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lossmask.errors import ConfigError
from lossmask.reference_trainer.command import Echo, TrainReport, _default_echo


@dataclass(frozen=True)
class ExperimentOptions:
    configs: tuple[str, ...]
    masks: tuple[str, ...] = ("legacy", "sampled", "all")
    seeds: tuple[int, ...] = (0,)
    overrides: tuple[str, ...] = ()
    device: str = "auto"
    output_dir: str = "runs/experiment"
    eval_examples: int = 60
    max_new_tokens: int = 160
    progress: bool = True


@dataclass
class ExperimentReport(TrainReport):
    """A `lossmask train` report (the exit code is decided the same way) plus the cells run."""

    cells_run: int = 0


def execute(options: ExperimentOptions, echo: Echo = _default_echo) -> ExperimentReport:
    # The same offline rule as `lossmask train`: a hub id resolves from the cache or fails at once.
    from lossmask.reference_trainer.command import offline_hub

    with offline_hub():
        return _run(options, echo)


def _run(options: ExperimentOptions, echo: Echo) -> ExperimentReport:
    from lossmask.reference_trainer.distributed import Launch, process_group, select_device
    from lossmask.reference_trainer.grid import plan_cells, run_grid
    from lossmask.reference_trainer.grid_report import write_grid_outputs

    launch = Launch.from_env()
    report = ExperimentReport()
    try:
        cells, warnings = plan_cells(
            options.configs,
            options.masks,
            options.seeds,
            options.overrides,
            output_dir=options.output_dir,
            device=options.device,
            eval_examples=options.eval_examples,
            max_new_tokens=options.max_new_tokens,
        )
        if launch.is_main:
            for warning in warnings:
                echo(warning.format(), True)
        device = select_device(options.device, launch.local_rank)
        with process_group(launch, device):
            result = run_grid(
                cells,
                launch,
                log=lambda message: echo(message, False),
                warn=lambda problem: echo(problem.format(), True),
                progress=options.progress,
            )
        report.stopped_by = result.stopped_by
        report.cells_run = len(result.results)
        # A cell stopped by a signal (always the last) has no eval: named, left out of the table.
        finished = result.results[:-1] if result.stopped_by else result.results
        if launch.is_main and result.stopped_by:
            stopped = result.results[-1]
            echo(
                f"{stopped.cell.label} stopped after {len(stopped.losses)} steps; the table shows "
                f"the {len(finished)} cells that finished",
                True,
            )
        if launch.is_main and finished:
            write_grid_outputs(finished, Path(options.output_dir), lambda text: echo(text, False))
    except ConfigError as error:
        report.errors = list(error.problems)
    except KeyboardInterrupt:
        report.interrupted_before_training = True
        echo("interrupted", True)
    if launch.is_main:
        for problem in report.errors:
            echo(problem.format(), True)
    return report
