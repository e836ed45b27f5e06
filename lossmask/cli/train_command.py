"""`lossmask train CONFIG.toml [CONFIG.toml ...]`: run the reference SFT trainer.

Parses options and delegates to `lossmask.reference_trainer`; torch is imported only when it runs.
"""

from __future__ import annotations

import os
import sys

import click


@click.command("train")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key (TOML value), e.g. --set data.seq_len=512. Repeatable.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA with bf16 autocast if available, else CPU fp32), cpu, cuda or cuda:N.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where outputs go (one subfolder per config when several are given). "
    "Default: the config's output_dir, else runs/<config name>.",
)
@click.option(
    "--eval-examples",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Held-out conversations for the greedy stop eval after training (0: skip it).",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=160,
    show_default=True,
    help="Token budget of each greedy turn in the stop eval.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar (logs only).")
def command(
    configs: tuple[str, ...],
    overrides: tuple[str, ...],
    device: str,
    output_dir: str | None,
    eval_examples: int,
    max_new_tokens: int,
    no_progress: bool,
) -> None:
    """Train on each v2 CONFIG, evaluate how the model stops, and compare the runs.

    Keys the trainer does not implement are listed at start; invalid or incompatible settings stop
    it before anything is allocated (exit 2). Several configs run one after the other and end with
    one comparison table, e.g. the experiment:

    \b
        lossmask train examples/experiment/legacy-roles.toml \\
            examples/experiment/sampled.toml
    """
    from lossmask.errors import ConfigError
    from lossmask.reference_trainer.experiment import load_all, run_configs

    def log(message: str) -> None:
        click.echo(message, err=False)

    try:
        runs, warnings = load_all(
            configs,
            overrides,
            device=device,
            output_dir=output_dir,
            eval_examples=eval_examples,
            max_new_tokens=max_new_tokens,
        )
        if os.environ.get("RANK", "0") == "0":  # under torchrun, say it once
            for warning in warnings:
                click.echo(warning.format(), err=True)
        run_configs(runs, output_dir=output_dir, log=log, progress=not no_progress)
    except ConfigError as error:
        for problem in error.problems:
            click.echo(problem.format(), err=True)
        sys.exit(2)
