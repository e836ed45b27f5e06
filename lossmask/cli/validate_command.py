"""`lossmask validate PATH...`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.schema.validate_files import ValidateOptions, execute


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
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

    Problems print as `path:line: key.path: message`. Exit 0 when every file is valid (warnings
    allowed), 1 when a file is invalid (including malformed TOML), 2 when a file cannot be read.
    """
    options = ValidateOptions(paths=paths, version=int(version), quiet=quiet)
    sys.exit(execute(options, click.echo))
