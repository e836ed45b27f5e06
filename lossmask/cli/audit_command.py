"""`lossmask audit CONFIG... [--data SOURCE]`: parse options and delegate."""

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
from lossmask.cli.tokenized_options import check_tokenized_use, tokenized_options


@click.command("audit")
@click.argument("configs", nargs=-1, type=click.Path(dir_okay=False))
@data_option
@set_option
@reader_option
@click.option(
    "--sample", type=click.IntRange(min=1), metavar="K", help="Audit K random rows, not all."
)
@click.option("--seed", default=0, show_default=True, help="Seed of --sample.")
@jobs_option
@report_format_option
@click.option(
    "--fail-under-stop-rate",
    type=click.FloatRange(min=0),
    help="Exit 1 when a tool-call or final-turn stop rate is under this (0.95 or 95).",
)
@tokenized_options
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
    tokenized: str | None,
    tokenizer: str | None,
    renderer: str | None,
    mask_column: str | None,
) -> None:
    """Audit trained tokens and stop rates over a dataset, one table per config.

    For every assistant turn: is a serving stop token among the trained targets where the turn
    ends? Reported for tool-call turns and final turns apart, with trained tokens per role, skipped
    samples, stops lost to seq_len and tool calls per turn, for the mask the config's reader trains
    (--reader; default: [tool.lossmask] reader, else prime-rl-main). Exit 0; 1 when a stop rate
    is under --fail-under-stop-rate or a conversation cannot be masked; 2 on an error.

    With --tokenized SOURCE, rows a trainer prepared (TRL, axolotl, LLaMA-Factory, verl, slime)
    are audited as they are: each assistant turn is located in the ids, and tokens trained outside
    it, sampled tokens left untrained and turns that cannot be located are reported too.
    """
    check_tokenized_use(configs, tokenized, tokenizer, renderer=renderer, mask_column=mask_column)
    if tokenized is not None:
        from lossmask.masks.app.tokenized_command import TokenizedOptions, execute_audit_tokenized

        tokenized_report = execute_audit_tokenized(
            TokenizedOptions(
                tokenized,
                config=configs[0] if configs else None,
                tokenizer=tokenizer,
                renderer=renderer,
                mask_column=mask_column,
                output_format=output_format,
                fail_under_stop_rate=fail_under_stop_rate,
                jobs=jobs,
                overrides=overrides,
                reader=reader,
            )
        )
        sys.exit(int(tokenized_report.exit_code))
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
