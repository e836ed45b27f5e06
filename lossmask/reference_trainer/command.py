"""`lossmask train`: options in, a report out; the report alone decides the exit code.

Plans every config (`train_configs.load_configs`), then trains them in turn inside one process
group (`train_configs.train_configs`), on the skeleton every training command shares
(`runner.run_command`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    from lossmask.reference_trainer.settings import TrainSettings


@dataclass(frozen=True)
class TrainOptions:
    configs: tuple[str, ...]
    run: RunOptions = field(default_factory=RunOptions)
    resume: str | None = None
    reader: str | None = None  # `--reader`: which trainer's reading of the configs to train


def execute(options: TrainOptions, echo: Echo = default_echo) -> RunReport:
    from lossmask.reference_trainer.train_configs import load_configs, train_configs

    shared = options.run

    def plan(launch: Launch) -> tuple[list[TrainSettings], list[Problem]]:
        return load_configs(
            options.configs,
            shared.overrides,
            device=shared.device,
            output_dir=shared.output_dir,
            eval_examples=shared.eval_examples,
            max_new_tokens=shared.max_new_tokens,
            world_size=launch.world_size,
            resume=options.resume,
            reader=options.reader,
            data_parallel=shared.data_parallel,
        )

    def run(runs: list[TrainSettings], launch: Launch, log: Log, warn: Warn) -> int:
        result = train_configs(
            runs, launch, output_dir=shared.output_dir, log=log, warn=warn, progress=shared.progress
        )
        return result.stopped_by

    return run_command(RunReport(), shared, plan, run, echo)
