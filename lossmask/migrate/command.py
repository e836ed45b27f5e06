"""`lossmask migrate` as a function of its options: decide, check, write, print, report.

1. every discovered file is read and decided on its own (in worker processes, which start on the
   first files while the walk lists the rest; nothing written);
2. the stacks are collected: those given (`@ a.toml @ b.toml`, `--standalone`) and those the
   tree's launch lines compose (TOML comments, scripts, Makefiles, Markdown, CI YAML);
3. every file in a stack is decided by its stacks instead (`stack_plan`); a file that looks like
   an overlay and is in no stack is left undecided;
4. the decided rewrites are written (in worker processes), and the report printed.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import click

from lossmask.config_files import launches
from lossmask.config_files.launch_stacks import Hold
from lossmask.config_files.selection import discover_project_settings
from lossmask.config_files.stacks import SFT_COMMAND, Layer, Stack
from lossmask.errors import ConfigError
from lossmask.exit_codes import ExitCode
from lossmask.migrate import evidence, files, report
from lossmask.migrate.options import MigrateOptions
from lossmask.migrate.report import MigrateReport
from lossmask.migrate.runner import FileResult, process_all, write_all
from lossmask.migrate.stack_plan import held_back, migrate_stacks, rule_for
from lossmask.readers.registry import Reading, choose_reading

# A progress bar is worth drawing only when a run takes noticeable time.
PROGRESS_THRESHOLD = 200


def _display(path: str) -> str:
    return str(Path(path))


def _given_stacks(options: MigrateOptions) -> list[Stack]:
    given = [
        Stack(
            tuple(Layer(_display(layer.path), layer.at) for layer in layers),
            SFT_COMMAND,
            ("the command line",),
        )
        for layers in options.stacks
    ]
    given += [
        Stack((Layer(_display(path)),), SFT_COMMAND, ("--standalone",))
        for path in options.standalone
    ]
    return given


def _merge_stacks(stacks: Sequence[Stack]) -> list[Stack]:
    merged: dict[Stack, list[str]] = {}
    for stack in stacks:
        merged.setdefault(stack, []).extend(stack.sources)
    return [Stack(stack.layers, stack.command, tuple(sources)) for stack, sources in merged.items()]


def source_reading(options: MigrateOptions) -> Reading:
    """What the files mean now: `options.source`, else `--reader` / `--schema-version`, else
    `[tool.lossmask]` above the paths, else the default. Raises `ReaderChoiceError` or
    `ConfigError` (a bad `[tool.lossmask]`)."""
    if options.source is not None:
        return options.source
    paths = [
        *options.paths,
        *options.standalone,
        *(layer.path for stack in options.stacks for layer in stack),
    ]
    project = discover_project_settings(paths)
    return choose_reading(
        options.reader,
        options.from_version,
        project_reader=project.reader,
        project_version=project.schema_version,
    )


def run(options: MigrateOptions, progress: TextIO | None = None) -> MigrateReport:
    """Migrate what `options` names and return the report; prints nothing."""
    source = source_reading(options)
    options = dataclasses.replace(options, source=source)
    given = _given_stacks(options)
    named = [layer.path for stack in given for layer in stack.layers]
    try:
        selection = evidence.selection(options, [*options.paths, *named])
    except ConfigError as exc:  # a wrong [tool.lossmask]: nothing is looked at
        return MigrateReport(
            options.mode,
            [FileResult(exc.problems[0].file or "", "error", problems=list(exc.problems))],
        )
    directories = evidence.searched(options)
    # One walk finds the configs and the scripts, Makefiles, Markdown and CI files beside them.
    discovery = files.Discovery(
        [*options.paths, *named], launch_roots=directories, selection=selection
    )
    script_lines: list[launches.LaunchLine] = []

    def read_scripts() -> None:  # once the walk is done, while the workers read the configs
        script_lines.extend(evidence.script_launches(options, discovery, named, selection))

    if progress is not None:
        jobs = list(discovery)  # a bar needs its length
        if len(jobs) >= PROGRESS_THRESHOLD:
            with click.progressbar(length=len(jobs), label="Migrating", file=progress) as bar:
                results = process_all(jobs, options, lambda _: bar.update(1), read_scripts)
        else:
            results = process_all(jobs, options, meanwhile=read_scripts)
    else:
        results = process_all(discovery, options, meanwhile=read_scripts)
    jobs = discovery.jobs
    # `job.target` is absolute (and resolved, for a link): launch paths are looked up in it.
    by_target = {job.target: job.path for job in jobs}
    # A file named in a stack and met in a walk is one file, named as the walk names it.
    given = [
        Stack(
            tuple(
                Layer(evidence.job_path(by_target, layer.path), layer.at) for layer in stack.layers
            ),
            stack.command,
            stack.sources,
        )
        for stack in given
    ]
    found = evidence.found_stacks(options, named, by_target, results, script_lines)
    stacks = _merge_stacks([*given, *found.stacks])
    in_stacks = {layer.path for stack in stacks for layer in stack.layers}
    # A file a stack given on the command line names is settled by it, whatever a launch says.
    settled = {layer.path for stack in given for layer in stack.layers}
    held: dict[str, list[Hold]] = {}
    holds = []
    for hold in found.holds:
        unsettled = tuple(name for name in hold.files if name not in settled)
        if unsettled:
            holds.append(replace(hold, files=unsettled))
        for name in unsettled:
            held.setdefault(name, []).append(hold)
    decided = migrate_stacks(
        stacks, show_diff=options.show_diff, rule=rule_for(source), held=held
    ).results
    final: list[FileResult] = []
    for result in results:
        if result.path in decided:
            stacked = decided.pop(result.path)
            stacked.target = result.target
            final.append(stacked)
        elif result.status == "error":
            final.append(result)
        elif (
            result.path in held
            and (result.status == "would_migrate" or result.depends_on_launch)
            and result.path not in in_stacks
        ):
            final.append(held_back(result, held[result.path]))
        elif result.depends_on_launch and result.path not in in_stacks:
            final.append(
                FileResult(
                    result.path,
                    "undecided",
                    result.target,
                    depends_on_launch=result.depends_on_launch,
                )
            )
        else:
            final.append(result)
    final.extend(decided.values())  # files of a stack that lie outside the paths given
    if options.mode == "write":
        pending = [index for index, result in enumerate(final) if result.status == "would_migrate"]
        written = write_all([final[index] for index in pending], options.jobs)
        for index, result in zip(pending, written, strict=True):
            final[index] = result
    return MigrateReport(options.mode, final, stacks, found.notes, holds, source)


def execute(
    options: MigrateOptions, out: TextIO | None = None, err: TextIO | None = None
) -> MigrateReport:
    """Run `migrate` and print its report: diffs on `out`, lines and the summary on `err`."""
    out = out or sys.stdout
    err = err or sys.stderr
    text = options.output_format == "text"
    show_progress = text and not options.quiet and err.isatty()
    migrate_report = run(options, err if show_progress else None)
    if not text:
        click.echo(report.as_json(migrate_report), file=out)
        return migrate_report
    if not options.quiet:
        for line in report.stack_lines(migrate_report):
            click.echo(line, file=err)
    for result in migrate_report.files:
        if result.diff:
            click.echo(result.diff, file=out, nl=False)
        for line in report.file_lines(result, options.mode, options.verbose):
            if options.quiet and result.status != "error":
                continue
            click.echo(line, file=err)
    if not options.quiet:
        click.echo(report.summary(migrate_report), file=err)
    return migrate_report


def execute_explain(options: MigrateOptions, file: str, out: TextIO | None = None) -> ExitCode:
    """`--explain FILE`: run in check mode (nothing written) and say why FILE is or is not
    rewritten; exit 2 when FILE cannot be read, else 0."""
    from lossmask.migrate.explain import explain, explain_options

    migrate_report = run(explain_options(options, file))
    for line in explain(migrate_report, file):
        click.echo(line, file=out or sys.stdout)
    failed = any(
        result.status == "error" and os.path.realpath(result.path) == os.path.realpath(file)
        for result in migrate_report.files
    )
    return ExitCode.ERROR if failed or not os.path.isfile(file) else ExitCode.OK
