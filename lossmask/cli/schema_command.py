"""`lossmask schema [--schema-version N] [--output FILE]`: parse options and delegate."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from lossmask.cli.options import SCHEMA_VERSIONS, deprecated_alias, prefer_alias, reader_option
from lossmask.exit_codes import ExitCode
from lossmask.schema.jsonschema import render_schema
from lossmask.schema.versions import LATEST_VERSION


@dataclass(frozen=True)
class SchemaOptions:
    version: int
    output: Path | None


@dataclass(frozen=True)
class SchemaReport:
    written: bool

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.written else ExitCode.ERROR


def execute(options: SchemaOptions) -> SchemaReport:
    text = render_schema(options.version)
    if options.output is None:
        click.echo(text, nl=False)
        return SchemaReport(written=True)
    try:
        options.output.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        click.echo(f"error: {options.output}: cannot write: {exc.strerror or exc}", err=True)
        return SchemaReport(written=False)
    click.echo(f"wrote {options.output}", err=True)
    return SchemaReport(written=True)


@click.command("schema")
@click.option(
    "--schema-version",
    "version",
    type=click.Choice(SCHEMA_VERSIONS),
    default=str(LATEST_VERSION),
    show_default=True,
    callback=prefer_alias,
    help="Schema version to emit.",
)
@deprecated_alias("--version", "version", "--schema-version", SCHEMA_VERSIONS)
@reader_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE instead of standard output.",
)
def command(version: str, reader: str | None, output: Path | None) -> None:
    """Print the JSON Schema of a config version, for editors (Taplo, Tombi, VS Code).

    It describes lossmask's schema; --reader prime-rl-pre-2988 is its version 1. prime-rl main
    reads configs with its own schema (prime-rl's), whose meaning lossmask's hover texts would
    misstate, so --reader prime-rl-main is refused."""
    from lossmask.readers.registry import ReaderChoiceError, choose_reading

    given = click.get_current_context().get_parameter_source("version")
    named_version = int(version) if given is click.core.ParameterSource.COMMANDLINE else None
    try:
        reading = choose_reading(reader, named_version) if reader else None
    except ReaderChoiceError as exc:
        raise click.UsageError(str(exc)) from None
    if reading is not None and reading.is_main:
        raise click.UsageError(
            "no JSON Schema for prime-rl main's reading: lossmask publishes the schema of its own "
            "versions (use --reader lossmask, or --schema-version 1 for the legacy table); "
            "`lossmask validate --reader prime-rl-main` checks what main refuses"
        )
    report = execute(SchemaOptions(reading.version if reading else int(version), output))
    sys.exit(int(report.exit_code))
