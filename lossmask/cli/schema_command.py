"""`lossmask schema [--version N] [--output FILE]`: parse options and delegate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lossmask.schema.jsonschema import render_schema


@click.command("schema")
@click.option(
    "--version",
    "version",
    type=click.Choice(["1", "2"]),
    default="2",
    show_default=True,
    help="Schema version to emit.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE instead of standard output.",
)
def command(version: str, output: Path | None) -> None:
    """Print the JSON Schema of a config version, for editors (Taplo, Tombi, VS Code)."""
    text = render_schema(int(version))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        click.echo(f"error: {output}: cannot write: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {output}", err=True)
