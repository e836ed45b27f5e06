"""`lossmask export CONFIG --data SOURCE --format FORMAT -o OUT`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import data_option, jobs_option, reader_option, set_option
from lossmask.integrations.columns import EXPORT_FORMATS


@click.command("export")
@click.argument("config", type=click.Path(dir_okay=False))
@data_option
@set_option
@reader_option
@click.option(
    "--format",
    "export_format",
    type=click.Choice(list(EXPORT_FORMATS)),
    required=True,
    help="trl: input_ids + assistant_masks; labels: input_ids + labels (-100 untrained; TRL, "
    "axolotl, LLaMA-Factory); verl, slime: input_ids + loss_mask.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="OUT",
    help="OUT.parquet, OUT.arrow, or a folder (save_to_disk).",
)
@click.option(
    "--max-length",
    type=click.IntRange(min=2),
    help="Keep the first N ids of each row (default: the config's seq_len + 1, if set).",
)
@jobs_option
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option(
    "--output-format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the summary (json: the manifest).",
)
def command(
    config: str,
    data: str | None,
    overrides: tuple[str, ...],
    reader: str | None,
    export_format: str,
    output: str,
    max_length: int | None,
    jobs: int,
    force: bool,
    output_format: str,
) -> None:
    """Write the config's mask as pre-tokenised rows a trainer loads as they are.

    Rows of input_ids plus the mask column, unshifted (entry k is about token k as a target),
    rendered and masked exactly as show, audit and train do. A row that cannot be masked is named
    on stderr and skipped; a row with nothing to train is skipped and counted. OUT's manifest
    records the lossmask version, reader, backend, tokenizer, serving stops and counts. Exit 0;
    1 when rows were skipped as errors; 2 on an error (nothing written).
    """
    from lossmask.integrations.export import ExportOptions, execute_export

    options = ExportOptions(
        config,
        data,
        export_format,
        output,
        jobs=jobs,
        max_length=max_length,
        overrides=overrides,
        force=force,
        output_format=output_format,
        reader=reader,
    )
    report = execute_export(options)
    sys.exit(int(report.exit_code))
