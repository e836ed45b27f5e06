"""`lossmask diff A B [--data SOURCE]`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import (
    data_option,
    jobs_option,
    reader_option,
    report_format_option,
    set_option,
)
from lossmask.readers.registry import READER_NAMES


@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@data_option
@set_option
@reader_option
@click.option(
    "--reader-b",
    type=click.Choice(list(READER_NAMES)),
    default=None,
    help="Read config B with this reader instead (default: --reader): two readers of one config.",
)
@click.option(
    "--mask-column",
    metavar="NAME",
    help="For a side of prepared rows: the mask column (default: the one it has).",
)
@click.option(
    "--show",
    "show_rows",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Show this many differing rows token by token.",
)
@jobs_option
@report_format_option
@click.option(
    "--color/--no-color", default=None, help="Force colours on or off (default: when a terminal)."
)
def command(
    a: str,
    b: str,
    data: str | None,
    overrides: tuple[str, ...],
    reader: str | None,
    reader_b: str | None,
    mask_column: str | None,
    show_rows: int,
    jobs: int,
    output_format: str,
    color: bool | None,
) -> None:
    """Compare two masks over one dataset, token by token.

    A and B are configs (two loss masks, two backends, two configs; one config under two readers
    with --reader-b) or, on one side, rows a
    trainer prepared (input_ids + labels / assistant_masks / completion_mask / loss_mask; row i
    against conversation i of SOURCE). Counts tokens trained in only one, by role and rule, and
    shows the first differing rows (yellow: only A, magenta: only B). Exit 0 when they train the
    same tokens; 1 when they differ; 2 on an error.
    """
    from lossmask.masks.app.diff_command import DiffOptions, execute_diff

    options = DiffOptions(
        a,
        b,
        data,
        output_format=output_format,
        show=show_rows,
        jobs=jobs,
        overrides=overrides,
        mask_column=mask_column,
        color=color,
        reader=reader,
        reader_b=reader_b,
    )
    report = execute_diff(options)
    sys.exit(int(report.exit_code))
