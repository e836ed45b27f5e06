"""`lossmask audit CONFIG... [--data SOURCE]`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import data_option, reader_option, set_option


@click.command("audit")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@data_option
@set_option
@reader_option
@click.option(
    "--sample", type=click.IntRange(min=1), metavar="K", help="Audit K random rows, not all."
)
@click.option("--seed", default=0, show_default=True, help="Seed of --sample.")
@click.option(
    "-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1), help="Processes."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-under-stop-rate",
    type=click.FloatRange(min=0),
    help="Exit 1 when a tool-call or final-turn stop rate is under this (0.95 or 95).",
)
def command(
    configs: tuple[str, ...],
    data: str | None,
    overrides: tuple[str, ...],
    reader: str | None,
    sample: int | None,
    seed: int,
    jobs: int,
    output_format: str,
    fail_under_stop_rate: float | None,
) -> None:
    """Audit trained tokens and stop rates over a dataset, one table per config.

    For every assistant turn: is a serving stop token among the trained targets where the turn
    ends? Reported for tool-call turns and final turns apart, with trained tokens per role, skipped
    samples, stops lost to seq_len and tool calls per turn, for the mask the config's reader trains
    (--reader; default: [tool.lossmask] reader, else prime-rl-main). Exit 0; 1 when a stop rate
    is under --fail-under-stop-rate or a conversation cannot be masked; 2 on an error.
    """
    from lossmask.masks.app.commands import AuditOptions, execute_audit

    options = AuditOptions(
        configs,
        data,
        output_format,
        fail_under_stop_rate,
        sample=sample,
        seed=seed,
        jobs=jobs,
        overrides=overrides,
        reader=reader,
    )
    report = execute_audit(options)
    sys.exit(int(report.exit_code))
