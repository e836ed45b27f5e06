"""`lossmask validate PATH...`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.schema.validate_files import ValidateOptions, execute
from lossmask.stacks import StackSyntaxError, split_arguments


@click.command("validate", context_settings={"ignore_unknown_options": True})
@click.argument(
    "paths", nargs=-1, required=True, type=click.UNPROCESSED, metavar="PATH | @ FILE..."
)
@click.option(
    "--schema-version",
    "version",
    type=click.Choice(["1", "2"]),
    default="2",
    show_default=True,
    help="Validate against the legacy (1) or current (2) schema.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print errors only: no warnings, no summary.")
def command(paths: tuple[str, ...], version: str, quiet: bool) -> None:
    """Check config files (or directories of *.toml) against the schema.

    `@ base.toml @ overlay.toml` (prime-rl's syntax, with `--data @ d.toml` fragments) validates
    the composed config, each problem at the file and line that set it. Problems print as
    `path:line: key.path: message`. Exit 0 when every file is valid (warnings
    allowed), 1 when a file is invalid (including malformed TOML), 2 when a file cannot be read.
    """
    try:
        # `@ a.toml @ b.toml` (and `--data @ d.toml`): one stack, validated as composed.
        files, stacks = split_arguments(paths)
    except StackSyntaxError as exc:
        raise click.UsageError(str(exc)) from None
    options = ValidateOptions(paths=files, version=int(version), quiet=quiet, stacks=stacks)
    sys.exit(execute(options, click.echo))
