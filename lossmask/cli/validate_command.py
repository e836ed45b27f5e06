"""`lossmask validate PATH...`: parse options into `ValidateOptions` and call `execute`."""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import SCHEMA_VERSIONS, reader_option, selection_options
from lossmask.config_files.stacks import StackSyntaxError, split_arguments
from lossmask.exit_codes import ExitCode
from lossmask.validate.command import ValidateOptions, execute
from lossmask.validate.output import report_writer


@click.command("validate", context_settings={"ignore_unknown_options": True})
@click.argument(
    "paths", nargs=-1, required=True, type=click.UNPROCESSED, metavar="PATH | @ FILE..."
)
@click.option(
    "--schema-version",
    "version",
    type=click.Choice(SCHEMA_VERSIONS),
    default=None,
    help="Validate against this version of lossmask's schema (1: legacy; the latest: "
    f"{SCHEMA_VERSIONS[-1]}); implies --reader lossmask. Default: [tool.lossmask] "
    "schema-version, else the latest.",
)
@reader_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: problems and a summary on stderr; json: one report on stdout; "
    "github: GitHub Actions annotations on stdout.",
)
@click.option(
    "--warnings-as-errors",
    is_flag=True,
    default=None,
    help="Exit 1 when any warning is found.",
)
@selection_options
@click.option(
    "--stdin-filename",
    metavar="NAME",
    help="With `-` as a path: the name standard input is reported as (and matched by excludes).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print errors only: no warnings, no summary.")
def command(
    paths: tuple[str, ...],
    version: str | None,
    reader: str | None,
    output_format: str,
    warnings_as_errors: bool | None,
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    force_exclude: bool,
    respect_gitignore: bool | None,
    stdin_filename: str | None,
    quiet: bool,
) -> None:
    """Check config files (directories of *.toml; `-` for standard input) as a trainer reads them.

    --reader says which trainer reads them (default: [tool.lossmask] reader, else prime-rl-main):
    its refusals are errors, and what is said about a file's meaning is true for that trainer.
    Configs that prime-rl launches with another entrypoint (rl, evals, inference; known from
    launch lines under the directories given, or from their tables) get one note each.

    `@ base.toml @ overlay.toml` (prime-rl's syntax, with `--data @ d.toml` fragments) validates
    the composed config, each problem at the file and line that set it. Problems print as
    `path:line: key.path: message`. Exit 0 when every file is valid (warnings
    allowed unless --warnings-as-errors), 1 when a file is invalid (including malformed TOML),
    2 when a file cannot be read or [tool.lossmask] is wrong.
    """
    try:
        # `@ a.toml @ b.toml` (and `--data @ d.toml`): one stack, validated as composed.
        files, stacks = split_arguments(paths)
    except StackSyntaxError as exc:
        raise click.UsageError(str(exc)) from None
    options = ValidateOptions(
        paths=files,
        stacks=stacks,
        version=int(version) if version is not None else None,
        reader=reader,
        quiet=quiet,
        output_format=output_format,  # type: ignore[arg-type]  # click.Choice checked it
        warnings_as_errors=warnings_as_errors,
        exclude=exclude or None,
        extend_exclude=extend_exclude,
        force_exclude=force_exclude,
        respect_gitignore=respect_gitignore,
        stdin_filename=stdin_filename,
    )
    try:
        report = execute(options, report_writer(click.echo))
    except KeyboardInterrupt:
        # Not click's "Aborted!" and exit 1, which would read as "a config is invalid".
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    sys.exit(int(report.exit_code))
