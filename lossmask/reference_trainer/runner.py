"""The one skeleton `lossmask train` and `lossmask experiment` run on.

Both commands: read the launch once (torchrun's environment), plan every run and check every config
before anything trains, say the warnings once, join the process group for the whole command, train,
and turn what happened into a report whose exit code is decided in one place. Every failure a user
can cause reaches them as `Problem.format()` lines on stderr and exit 2; a run stopped by
SIGINT/SIGTERM exits 130/143 after saving its outputs. The commands differ only in what they plan
and what they run (`command.py`, `grid_command.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from lossmask.errors import ConfigError, Problem
from lossmask.exit_codes import ExitCode

if TYPE_CHECKING:
    from lossmask.reference_trainer.distributed import Launch

Echo = Callable[[str, bool], None]  # (text, to stderr)
Log = Callable[[str], None]
Warn = Callable[[Problem], None]
Plan = TypeVar("Plan")
Report = TypeVar("Report", bound="RunReport")


@dataclass(frozen=True)
class RunOptions:
    """What every training command takes besides its configs (the shared CLI options)."""

    overrides: tuple[str, ...] = ()
    device: str = "auto"
    output_dir: str | None = None
    eval_examples: int = 60
    max_new_tokens: int = 160
    progress: bool = True
    data_parallel: str = "ddp"  # under torchrun: "ddp" or "fsdp2" (parallel.py)


@dataclass
class RunReport:
    errors: list[Problem] = field(default_factory=list)
    stopped_by: int = 0  # signal number; 0 when every run finished or none started
    interrupted_before_training: bool = False

    @property
    def exit_code(self) -> ExitCode:
        from lossmask.reference_trainer.stop_signals import exit_code_for

        if self.errors:
            return ExitCode.ERROR
        if self.stopped_by:
            return exit_code_for(self.stopped_by)
        if self.interrupted_before_training:
            return ExitCode.INTERRUPTED
        return ExitCode.OK


def default_echo(text: str, err: bool) -> None:
    import click

    click.echo(text, err=err)


@contextmanager
def offline_hub() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 while training: a hub id resolves from the local cache or fails at once,
    never a download or a minute of retries against an unreachable hub (set before transformers
    is imported, which reads it then). The caller's environment is restored afterwards."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def run_command(
    report: Report,
    options: RunOptions,
    plan: Callable[[Launch], tuple[Plan, list[Problem]]],
    run: Callable[[Plan, Launch, Log, Warn], int],
    echo: Echo = default_echo,
) -> Report:
    """Plan (raises ConfigError before anything trains), then run inside one process group.

    `run` returns the signal that stopped it (0: none). Problems are said once, by rank 0.
    """
    from lossmask.reference_trainer.distributed import Launch, process_group, select_device

    launch = Launch.from_env()
    with offline_hub():
        try:
            planned, warnings = plan(launch)
            if launch.is_main:  # under torchrun, say it once
                for warning in warnings:
                    echo(warning.format(), True)
            device = select_device(options.device, launch.local_rank)
            with process_group(launch, device):
                report.stopped_by = run(
                    planned,
                    launch,
                    lambda message: echo(message, False),
                    lambda problem: echo(problem.format(), True),
                )
        except ConfigError as error:
            report.errors = list(error.problems)
        except KeyboardInterrupt:
            report.interrupted_before_training = True
            echo("interrupted", True)
    if launch.is_main:  # every rank finds the same problems; say them once
        for problem in report.errors:
            echo(problem.format(), True)
    return report
