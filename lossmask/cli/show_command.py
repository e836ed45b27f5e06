"""`lossmask show CONFIG [--data SOURCE]`: parse options and delegate."""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import data_option, reader_option, set_option
from lossmask.cli.tokenized_options import check_tokenized_use, tokenized_options
from lossmask.masks.app.setup import MODE_CHOICES


@click.command("show")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@data_option
@click.option("--index", type=click.IntRange(min=0), help="Which row to show, from 0 (default: 0).")
@click.option("--random", "random_rows", type=click.IntRange(min=1), help="Show K random rows.")
@click.option("--seed", default=0, show_default=True, help="Seed of --random.")
@set_option
@reader_option
@click.option(
    "--compare",
    type=click.Path(dir_okay=False),
    help="A second config: mark every token whose status differs.",
)
@click.option(
    "--mode",
    type=click.Choice(MODE_CHOICES),
    help="Compare with the same config under this mask (legacy: the v1 assistant-only table).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write a self-contained HTML page with per-token details on hover.",
)
@click.option(
    "--ids", is_flag=True, help="Also list every target: position, token id, trained, token."
)
@click.option(
    "--color/--no-color", default=None, help="Force colours on or off (default: when a terminal)."
)
@tokenized_options
def command(
    config: str | None,
    data: str | None,
    index: int | None,
    random_rows: int | None,
    seed: int,
    overrides: tuple[str, ...],
    reader: str | None,
    compare: str | None,
    mode: str | None,
    html_path: str | None,
    ids: bool,
    color: bool | None,
    tokenized: str | None,
    tokenizer: str | None,
    renderer: str | None,
    mask_column: str | None,
) -> None:
    """Show which tokens of one sample train.

    Each token is a target (the token being predicted): green trains, grey is context. With
    --compare or --mode, tokens trained under only one of the two settings are highlighted
    (yellow: only this config, magenta: only the other); ⚑ marks a token whose {% generation %}
    tags disagree with serving. The mask is the one the config's reader trains (--reader; default:
    [tool.lossmask] reader, else prime-rl-main). Exit 0; 1 when the row cannot be masked; 2 on an
    error.

    With --tokenized SOURCE, row --index of rows a trainer prepared, against the sampled spans
    located in its ids: yellow is trained outside any sampled span, magenta sampled but untrained.
    """
    check_tokenized_use(
        (config,) if config else (),
        tokenized,
        tokenizer,
        renderer=renderer,
        mask_column=mask_column,
    )
    if tokenized is not None:
        from lossmask.masks.app.tokenized_command import TokenizedOptions, execute_show_tokenized

        tokenized_report = execute_show_tokenized(
            TokenizedOptions(
                tokenized,
                config=config,
                tokenizer=tokenizer,
                renderer=renderer,
                mask_column=mask_column,
                overrides=overrides,
                reader=reader,
                index=index,
                color=color,
                html=html_path,
            )
        )
        sys.exit(int(tokenized_report.exit_code))
    assert config is not None
    from lossmask.masks.app.commands import ShowOptions, execute_show

    options = ShowOptions(
        config,
        data,
        index,
        compare,
        mode,
        html_path,
        color,
        random=random_rows,
        seed=seed,
        overrides=overrides,
        ids=ids,
        reader=reader,
    )
    report = execute_show(options)
    sys.exit(int(report.exit_code))
