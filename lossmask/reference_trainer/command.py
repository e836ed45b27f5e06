"""`lossmask train`: options in, a report out; the report alone decides the exit code.

`execute` reads the launch once, checks every config, then trains inside one process group. Every
failure a user can cause reaches them as `Problem.format()` lines on stderr and exit 2; a run
stopped by SIGINT/SIGTERM exits 130/143 after saving its outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lossmask.errors import ConfigError, Problem
from lossmask.exit_codes import ExitCode

Echo = Callable[[str, bool], None]  # (text, to stderr)


@dataclass(frozen=True)
class TrainOptions:
    configs: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    device: str = "auto"
    output_dir: str | None = None
    eval_examples: int = 60
    max_new_tokens: int = 160
    progress: bool = True
    resume: str | None = None
    reader: str | None = None  # `--reader`: which trainer's reading of the configs to train


@dataclass
class TrainReport:
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


def _default_echo(text: str, err: bool) -> None:
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


def execute(options: TrainOptions, echo: Echo = _default_echo) -> TrainReport:
    with offline_hub():
        report = _train_all(options, echo)
    return report


def _train_all(options: TrainOptions, echo: Echo) -> TrainReport:
    from lossmask.reference_trainer.distributed import Launch, process_group, select_device
    from lossmask.reference_trainer.experiment import load_all, run_configs

    launch = Launch.from_env()
    report = TrainReport()
    try:
        runs, warnings = load_all(
            options.configs,
            options.overrides,
            device=options.device,
            output_dir=options.output_dir,
            eval_examples=options.eval_examples,
            max_new_tokens=options.max_new_tokens,
            world_size=launch.world_size,
            resume=options.resume,
            reader=options.reader,
        )
        if launch.is_main:  # under torchrun, say it once
            for warning in warnings:
                echo(warning.format(), True)
        device = select_device(options.device, launch.local_rank)
        with process_group(launch, device):
            result = run_configs(
                runs,
                launch,
                output_dir=options.output_dir,
                log=lambda message: echo(message, False),
                warn=lambda problem: echo(problem.format(), True),
                progress=options.progress,
            )
        report.stopped_by = result.stopped_by
    except ConfigError as error:
        report.errors = list(error.problems)
    except KeyboardInterrupt:
        report.interrupted_before_training = True
        echo("interrupted", True)
    if launch.is_main:  # every rank finds the same problems; say them once
        for problem in report.errors:
            echo(problem.format(), True)
    return report
