"""`lossmask experiment PATH_CONFIG.toml ...`: the paths × masks × seeds grid.

Parses flags into `ExperimentOptions` and calls `execute` (`reference_trainer/grid_command.py`);
torch is imported only when it runs. The options shared with `train` come from `run_options`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from lossmask.cli.train_command import run_options, shared_options
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
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Cells trained at once. Above 1, each cell runs in its own process on one torch thread "
    "(the figures then do not depend on the machine's core count).",
)
@run_options(
    output_dir_default="runs/experiment",
    output_dir_help="Cells go to DIR/<path>/<mask>/seed<N>; the tables and picture to DIR.",
    min_eval=1,
)
def command(
    configs: tuple[str, ...],
    masks: tuple[str, ...],
    seeds: tuple[int, ...],
    jobs: int,
    **values: Any,
) -> None:
    """Train every path CONFIG under every mask and seed; compare how the models stop.

    Each CONFIG is one path (chat template or renderer); the cells differ only in path and mask.
    Prints one table (mean [min–max] over seeds, then one per seed) and writes grid.md, grid.json
    and grid.png (tool calls per turn per cell, loss curves), each with the environment that made
    it (commit, versions, device, threads, load). The experiment:

    \b
        lossmask experiment examples/experiment/chat-template.toml \\
            examples/experiment/renderer.toml --seeds 0,1,2 --jobs 2
    """
    from lossmask.reference_trainer.grid_command import ExperimentOptions, execute

    options = ExperimentOptions(
        configs=configs,
        masks=masks or DEFAULT_MASKS,
        seeds=seeds,
        jobs=jobs,
        run=shared_options(values),
    )
    sys.exit(int(execute(options).exit_code))
