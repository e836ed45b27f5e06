"""`lossmask migrate PATH...`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import deprecated_alias, prefer_alias
from lossmask.migrate.command import MigrateOptions, execute
from lossmask.migrate.runner import Mode
from lossmask.migrate.steps import SOURCE_VERSIONS


@click.command("migrate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff of each change.")
@click.option(
    "--schema-version",
    "from_version",
    type=click.Choice([str(v) for v in SOURCE_VERSIONS]),
    default=str(SOURCE_VERSIONS[0]),
    show_default=True,
    callback=prefer_alias,
    help="Schema version the files are written for.",
)
@deprecated_alias("--from", "from_version", "--schema-version", [str(v) for v in SOURCE_VERSIONS])
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a line per changed or failed file and a summary, on stderr; "
    "json: one report, on stdout.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Also list unchanged files and each change.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes. Default: one per CPU for large trees, 1 for small ones.",
)
def command(
    paths: tuple[str, ...],
    check: bool,
    diff: bool,
    from_version: str,
    output_format: str,
    quiet: bool,
    verbose: bool,
    jobs: int | None,
) -> None:
    """Rewrite legacy (v1) configs into explicit v2 form without changing what they train.

    PATH may be files or directories (searched for *.toml, skipping hidden directories, .git,
    .venv and node_modules). Files are rewritten in place unless --check or --diff is given.
    Exit 0 when done or nothing to do, 1 when --check finds a file to change, 2 on any error.
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    mode: Mode = "check" if check else "diff" if diff else "write"
    options = MigrateOptions(
        paths=paths,
        mode=mode,
        from_version=int(from_version),
        output_format="json" if output_format == "json" else "text",
        quiet=quiet,
        verbose=verbose,
        jobs=jobs,
    )
    sys.exit(execute(options))
