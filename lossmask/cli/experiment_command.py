"""`lossmask experiment PATH_CONFIG.toml ...`: the paths × masks × seeds grid.

Parses flags into `ExperimentOptions` and calls `execute` (`reference_trainer/grid_command.py`);
torch is imported only when it runs.
"""

from __future__ import annotations

import sys

import click

from lossmask.reference_trainer.grid import DEFAULT_MASKS, MASKS


def _seeds(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    from lossmask.reference_trainer.grid import parse_seeds

    try:
        return parse_seeds(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("experiment")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--mask",
    "masks",
    multiple=True,
    type=click.Choice(list(MASKS)),
    help="A mask axis value (repeatable; default: legacy, sampled, all). legacy is the role table "
    "lossmask migrate writes for a v1 config: assistant = true, other roles false.",
)
@click.option(
    "--seeds", default="0", show_default=True, callback=_seeds, help="Comma-separated seeds."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key in every cell (TOML value), e.g. --set max_steps=60. Repeatable.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False),
    default="runs/experiment",
    show_default=True,
    help="Cells go to DIR/<path>/<mask>/seed<N>; the table and picture to DIR.",
)
@click.option(
    "--eval-examples",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Held-out conversations per cell for the greedy stop eval.",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=160,
    show_default=True,
    help="Token budget of each greedy turn.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars (logs only).")
def command(
    configs: tuple[str, ...],
    masks: tuple[str, ...],
    seeds: tuple[int, ...],
    overrides: tuple[str, ...],
    device: str,
    output_dir: str,
    eval_examples: int,
    max_new_tokens: int,
    no_progress: bool,
) -> None:
    """Train every path CONFIG under every mask and seed; compare how the models stop.

    Each CONFIG is one path (chat template or renderer); the cells differ only in path and mask.
    Prints one table (mean [min–max] over seeds) and writes grid.md, grid.json and grid.png
    (tool calls per turn per cell, loss curves). The experiment:

    \b
        lossmask experiment examples/experiment/chat-template.toml \\
            examples/experiment/renderer.toml --seeds 0,1,2
    """
    from lossmask.reference_trainer.grid_command import ExperimentOptions, execute

    options = ExperimentOptions(
        configs=configs,
        masks=masks or DEFAULT_MASKS,
        seeds=seeds,
        overrides=overrides,
        device=device,
        output_dir=output_dir,
        eval_examples=eval_examples,
        max_new_tokens=max_new_tokens,
        progress=not no_progress,
    )
    sys.exit(int(execute(options).exit_code))
