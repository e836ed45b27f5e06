"""`lossmask train CONFIG.toml [CONFIG.toml ...]`: run the reference SFT trainer.

Parses flags into `TrainOptions` and calls `execute`; torch is imported only when it runs. The
options every training command takes (`--set`, `--device`, `--output-dir`, `--eval-examples`,
`--max-new-tokens`, `--data-parallel`, `--no-progress`) are declared once, in `run_options`, for
`train` and `experiment` alike.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from lossmask.cli.options import reader_option

if TYPE_CHECKING:
    from lossmask.reference_trainer.runner import RunOptions

F = Callable[..., Any]


def run_options(
    *, output_dir_default: str | None, output_dir_help: str, min_eval: int
) -> Callable[[F], F]:
    """The options shared by `train` and `experiment`, in one place."""

    def decorate(function: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--set",
                    "overrides",
                    multiple=True,
                    metavar="KEY=VALUE",
                    help="Override a config key (TOML value), e.g. --set data.seq_len=512. "
                    "Repeatable.",
                ),
                click.option(
                    "--device",
                    default="auto",
                    show_default=True,
                    help="auto (CUDA with bf16 autocast if available, else CPU fp32), cpu, cuda "
                    "or cuda:N.",
                ),
                click.option(
                    "--output-dir",
                    type=click.Path(file_okay=False),
                    default=output_dir_default,
                    show_default=output_dir_default is not None,
                    help=output_dir_help,
                ),
                click.option(
                    "--eval-examples",
                    type=click.IntRange(min=min_eval),
                    default=60,
                    show_default=True,
                    help="Held-out conversations for the greedy stop eval after training"
                    + (" (0: skip it)." if min_eval == 0 else "."),
                ),
                click.option(
                    "--max-new-tokens",
                    type=click.IntRange(min=1),
                    default=160,
                    show_default=True,
                    help="Token budget of each greedy turn in the stop eval.",
                ),
                click.option(
                    "--data-parallel",
                    type=click.Choice(["ddp", "fsdp2"]),
                    default="ddp",
                    show_default=True,
                    help="Under torchrun: ddp (each process holds the model) or fsdp2 (each "
                    "decoder block and the root sharded over the processes).",
                ),
                click.option("--no-progress", is_flag=True, help="No progress bar (logs only)."),
            ]
        ):
            function = option(function)
        return function

    return decorate


def shared_options(values: dict[str, Any]) -> RunOptions:
    """Pops the shared options out of a command's keyword arguments."""
    from lossmask.reference_trainer.runner import RunOptions

    return RunOptions(
        overrides=values.pop("overrides"),
        device=values.pop("device"),
        output_dir=values.pop("output_dir"),
        eval_examples=values.pop("eval_examples"),
        max_new_tokens=values.pop("max_new_tokens"),
        progress=not values.pop("no_progress"),
        data_parallel=values.pop("data_parallel"),
    )


@click.command("train")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@run_options(
    output_dir_default=None,
    output_dir_help="Where outputs go (one subfolder per config when several are given). "
    "Default: the config's output_dir, else runs/<config name>.",
    min_eval=0,
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    default=None,
    help="Continue from this checkpoint directory (model, optimizer, step, RNG, data position); "
    "wins over [ckpt] resume_step.",
)
@reader_option
def command(
    configs: tuple[str, ...], resume: str | None, reader: str | None, **values: Any
) -> None:
    """Train on each CONFIG, evaluate how the model stops, and compare the runs.

    Each config trains the mask its reader trains (--reader; default: [tool.lossmask] reader,
    else prime-rl-main), token for token.

    Keys the trainer does not implement are listed at start; invalid or incompatible settings, bad
    data rows and unusable models stop it before anything is allocated (exit 2). SIGINT/SIGTERM
    finish the step, save, and exit 130/143. Several configs run one after the other and end with
    one comparison table, e.g. the experiment:

    \b
        lossmask train examples/experiment/legacy-roles.toml \\
            examples/experiment/sampled.toml
    """
    from lossmask.reference_trainer.command import TrainOptions, execute

    options = TrainOptions(
        configs=configs, run=shared_options(values), resume=resume, reader=reader
    )
    sys.exit(int(execute(options).exit_code))
