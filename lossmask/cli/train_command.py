"""`lossmask train CONFIG.toml [CONFIG.toml ...]`: run the reference SFT trainer.

Parses flags into `TrainOptions` and calls `execute`; torch is imported only when it runs.
"""

from __future__ import annotations

import sys

import click

from lossmask.cli.options import reader_option


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
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    default=None,
    help="Continue from this checkpoint directory (model, optimizer, step, RNG, data position); "
    "wins over [ckpt] resume_step.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar (logs only).")
@reader_option
def command(
    configs: tuple[str, ...],
    overrides: tuple[str, ...],
    device: str,
    output_dir: str | None,
    eval_examples: int,
    max_new_tokens: int,
    resume: str | None,
    no_progress: bool,
    reader: str | None,
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
        configs=configs,
        overrides=overrides,
        device=device,
        output_dir=output_dir,
        eval_examples=eval_examples,
        max_new_tokens=max_new_tokens,
        progress=not no_progress,
        resume=resume,
        reader=reader,
    )
    sys.exit(int(execute(options).exit_code))
