"""`lossmask migrate PATH... [@ base.toml @ overlay.toml]`: parse options and delegate."""

from __future__ import annotations

import shlex
import sys

import click

from lossmask.cli.options import deprecated_alias, prefer_alias, reader_option, selection_options
from lossmask.config_files.stacks import Layer, StackSyntaxError, split_arguments
from lossmask.exit_codes import ExitCode
from lossmask.migrate.command import execute, execute_explain
from lossmask.migrate.options import MigrateOptions
from lossmask.migrate.runner import Mode
from lossmask.migrate.steps import SOURCE_VERSIONS


@click.command(
    "migrate", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True}
)
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="[PATH | @ FILE]...")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option(
    "--diff",
    is_flag=True,
    help="Write nothing; print a unified diff of each change (with "
    "--check: and exit 1 if there is one).",
)
@click.option(
    "--stack",
    "stack_texts",
    multiple=True,
    metavar='"@ A.toml @ B.toml"',
    help="A stack of files composed as prime-rl composes them; repeatable.",
)
@click.option(
    "--standalone",
    multiple=True,
    type=click.Path(),
    metavar="FILE",
    help="FILE is launched alone (`uv run sft @ FILE`), though it looks like an overlay.",
)
@click.option(
    "--no-launches",
    is_flag=True,
    help="Do not search the directories given for launch lines (`uv run sft @ a.toml ...`).",
)
@reader_option
@click.option(
    "--schema-version",
    "from_version",
    type=click.Choice([str(v) for v in SOURCE_VERSIONS]),
    default=None,
    callback=prefer_alias,
    help="The lossmask schema version the files are written for (1: prime-rl before #2988); "
    "implies --reader lossmask. Default: [tool.lossmask], else what --reader reads.",
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
@click.option(
    "--explain",
    "explain_file",
    type=click.Path(),
    metavar="FILE",
    help="Write nothing; say every stack FILE belongs to (and where each was found), what each "
    "trains before and after, and why FILE is or is not rewritten.",
)
@selection_options
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
    words: tuple[str, ...],
    check: bool,
    diff: bool,
    stack_texts: tuple[str, ...],
    standalone: tuple[str, ...],
    no_launches: bool,
    reader: str | None,
    explain_file: str | None,
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    force_exclude: bool,
    respect_gitignore: bool | None,
    from_version: str | None,
    output_format: str,
    quiet: bool,
    verbose: bool,
    jobs: int | None,
) -> None:
    """Rewrite configs into lossmask's latest schema without changing what they train.

    What they train now is what their reader says (--reader; default: [tool.lossmask] reader,
    else prime-rl-main): under prime-rl main, a role table becomes "sampled" (+ content_roles) and
    a missing [renderer] becomes name = "auto"; under prime-rl-pre-2988 (schema 1), a missing
    loss_mask becomes the explicit legacy table. A file whose meaning the latest schema cannot
    keep exactly is refused, saying why.

    PATH may be files or directories (searched for *.toml, skipping hidden directories, .git,
    .venv and node_modules). `@ base.toml @ overlay.toml` (and `--data @ data.toml`) names a
    stack, composed as prime-rl composes it; directories are also searched for such launch lines.
    Launch lines are also read from the top level of the git repository holding the paths, so
    a hook given only changed .toml files still sees their stacks. A launch lossmask cannot
    resolve (a variable set elsewhere, a glob, a command substitution) holds back every file it
    could name until --stack or --standalone settles it. Files are rewritten in place unless
    --check, --diff or --explain is given. Exit 0 when done or nothing to do, 1 when --check
    finds a file to change or to decide, 2 on any error or conflict, 130 when interrupted.
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    try:
        paths, stacks = split_arguments(words)
        for text in stack_texts:
            extra_paths, extra = split_arguments(shlex.split(text))
            if extra_paths or len(extra) != 1:
                raise StackSyntaxError(f"--stack {text!r} is not one `@ FILE @ FILE...` stack")
            stacks.extend(extra)
    except (StackSyntaxError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if not (paths or stacks or standalone or explain_file):
        raise click.UsageError("give at least one PATH, `@ FILE` stack or --standalone FILE")
    from lossmask.readers.registry import ReaderChoiceError, choose_reading

    try:
        if reader is not None or from_version is not None:
            choose_reading(reader, int(from_version) if from_version else None)
    except ReaderChoiceError as exc:
        raise click.UsageError(str(exc)) from None
    mode: Mode = "check" if check else "diff" if diff else "write"
    options = MigrateOptions(
        paths=paths,
        stacks=[tuple(Layer(layer.path, layer.at) for layer in stack) for stack in stacks],
        standalone=standalone,
        mode=mode,
        show_diff=diff,
        from_version=int(from_version) if from_version is not None else None,
        reader=reader,
        output_format="json" if output_format == "json" else "text",
        quiet=quiet,
        verbose=verbose,
        jobs=jobs,
        find_launches=not no_launches,
        exclude=exclude or None,
        extend_exclude=extend_exclude,
        force_exclude=force_exclude,
        respect_gitignore=respect_gitignore,
    )
    try:
        if explain_file is not None:
            sys.exit(int(execute_explain(options, explain_file)))
        sys.exit(int(execute(options).exit_code))
    except KeyboardInterrupt:
        # Not click's "Aborted!" and exit 1, which would read as "--check found changes".
        click.echo("Interrupted: every file is either rewritten whole or untouched.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
