"""Options several commands spell the same way, and the old spellings kept as aliases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from lossmask.readers.registry import READER_NAMES
from lossmask.schema.versions import CHOICES as SCHEMA_VERSIONS

F = TypeVar("F", bound=Callable[..., Any])
__all__ = [
    "SCHEMA_VERSIONS",
    "deprecated_alias",
    "jobs_option",
    "prefer_alias",
    "reader_option",
    "report_format_option",
    "selection_options",
]


def deprecated_alias(
    flag: str, target: str, new_flag: str, choices: Sequence[str]
) -> Callable[[F], F]:
    """A hidden option `flag` that sets the parameter `target` (spelled `new_flag` now).

    It still works and says once, on stderr, which spelling to use. The value given under the new
    name wins when both are given.
    """

    def store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is None:
            return
        click.echo(f"lossmask: {flag} is deprecated; use {new_flag}", err=True)
        if ctx.get_parameter_source(target) is ParameterSource.COMMANDLINE:
            return
        # Parameters are processed in command-line order: the target may be set already (to its
        # default) or not yet; `prefer_alias` on the target picks this value up in that case.
        ctx.meta[f"lossmask.alias.{target}"] = value
        if target in ctx.params:
            ctx.params[target] = value

    return click.option(
        flag,
        # Its own name: the flag's (`--version` -> `version`) may be the target's.
        f"deprecated_alias_of_{target}",
        type=click.Choice(list(choices)),
        default=None,
        hidden=True,
        expose_value=False,
        callback=store,
    )


def prefer_alias(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Callback of an option that has a `deprecated_alias`: the alias's value, if it came first."""
    assert param.name is not None
    if ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        return value
    return ctx.meta.get(f"lossmask.alias.{param.name}", value)


# `show` and `audit`: where the rows come from, and `--set` overrides of the config.
data_option = click.option(
    "--data",
    metavar="SOURCE",
    help="A JSONL/JSON/parquet file or folder, a save_to_disk folder or a cached hub dataset id "
    "(default: the config's [data] name, subsets, splits and data_files).",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key (TOML value), e.g. --set tokenizer.name=./tok. Repeatable.",
)


# Every command: which trainer's reading of the config it follows (lossmask.readers).
reader_option = click.option(
    "--reader",
    type=click.Choice(list(READER_NAMES)),
    default=None,
    help="Which trainer reads the configs: prime-rl-main (prime-rl since PR #2988), "
    "prime-rl-pre-2988 (= lossmask schema 1), or lossmask (lossmask's schema, read by its "
    "reference trainer). Default: [tool.lossmask] reader, else prime-rl-main.",
)


def selection_options(function: F) -> F:
    """The file-selection flags of `validate` and `migrate` (one rule: `config_files.selection`)."""
    for option in reversed(
        [
            click.option(
                "--exclude",
                multiple=True,
                metavar="PATTERN",
                help="Gitignore-style pattern of files to skip under directories; replaces the "
                "default (pyproject.toml and other tool configs). Repeatable.",
            ),
            click.option(
                "--extend-exclude",
                multiple=True,
                metavar="PATTERN",
                help="Like --exclude, but adds to the default and to [tool.lossmask] exclude.",
            ),
            click.option(
                "--force-exclude",
                is_flag=True,
                help="Apply the excludes to files named on the command line too (for pre-commit).",
            ),
            click.option(
                "--respect-gitignore/--no-respect-gitignore",
                default=None,
                help="Skip files git ignores (default: yes).",
            ),
        ]
    ):
        function = option(function)
    return function


# `audit`, `diff` and `export`: rows read and masked in this many processes.
jobs_option = click.option(
    "-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1), help="Processes."
)
# `audit` and `diff`: a text report, or one JSON document on stdout.
report_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
