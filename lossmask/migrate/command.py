"""`lossmask migrate` as a function of its options: run, print, return the exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

import click

from lossmask.migrate import files, report
from lossmask.migrate.runner import FileResult, Mode, Options, run_jobs

# A progress bar is worth drawing only when a run takes noticeable time.
PROGRESS_THRESHOLD = 200


@dataclass(frozen=True)
class MigrateOptions:
    paths: Sequence[str]
    mode: Mode = "write"
    from_version: int = 1
    output_format: Literal["text", "json"] = "text"
    quiet: bool = False
    verbose: bool = False
    jobs: int | None = None
    show_diff: bool = False  # with mode "check": print the diff too


def execute(options: MigrateOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    jobs = files.discover(options.paths)
    run_options = Options(options.mode, options.from_version, options.jobs, options.show_diff)
    text = options.output_format == "text"
    show_progress = text and not options.quiet and len(jobs) >= PROGRESS_THRESHOLD and err.isatty()

    def emit(result: FileResult) -> None:
        if result.diff:
            click.echo(result.diff, file=out, nl=False)
        for line in report.file_lines(result, options.mode, options.verbose):
            if options.quiet and result.status != "error":
                continue
            click.echo(line, file=err)

    if show_progress:
        # Lines printed while the bar is drawn would tear it; print them once it is done.
        with click.progressbar(length=len(jobs), label="Migrating", file=err) as bar:
            result_run = run_jobs(jobs, run_options, on_result=lambda _: bar.update(1))
        for result in result_run.files:
            emit(result)
    else:
        result_run = run_jobs(jobs, run_options, on_result=emit if text else None)
    if text:
        if not options.quiet:
            click.echo(report.summary(result_run), file=err)
    else:
        click.echo(report.as_json(result_run), file=out)
    return result_run.exit_code
