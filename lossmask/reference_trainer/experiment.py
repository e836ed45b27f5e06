"""Train one or more configs, evaluate how each model stops, and compare them in one table.

`lossmask train examples/experiment/legacy-roles.toml examples/experiment/sampled.toml` is the
experiment: two runs identical but for the loss mask. Every config is loaded and checked before the
first run starts, so a typo in the second file does not surface after the first has trained.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossmask.errors import ConfigError, Problem
from lossmask.reference_trainer.evaluate import (
    StopSummary,
    evaluate_stopping,
    format_table,
    write_summaries,
)
from lossmask.reference_trainer.settings import (
    HELD_OUT_SEED_OFFSET,
    TrainSettings,
    load_settings,
)

Log = Callable[[str], None]
STOP_EVAL_JSON = "stop_eval.json"
STOP_EVAL_TABLE = "stop_eval.md"


@dataclass
class RunOutcome:
    settings: TrainSettings
    losses: list[float]
    summary: StopSummary | None


def held_out_conversations(settings: TrainSettings) -> list[dict[str, Any]] | None:
    """Stop-eval prompts: the synthetic generator under an unused seed, else the val data."""
    from lossmask.masks.assets.synthetic import generate_conversations
    from lossmask.reference_trainer.loop import load_conversations

    if settings.eval_examples <= 0:
        return None
    if settings.data.is_synthetic:
        return generate_conversations(
            settings.eval_examples, seed=settings.seed + HELD_OUT_SEED_OFFSET
        )
    if settings.val_data is not None:
        held_out = load_conversations(settings.val_data, settings.seed + HELD_OUT_SEED_OFFSET)
        return held_out[: settings.eval_examples]
    return None


def load_all(
    config_paths: Sequence[str | Path],
    overrides: Sequence[str],
    *,
    device: str,
    output_dir: str | Path | None,
    eval_examples: int,
    max_new_tokens: int,
) -> tuple[list[TrainSettings], list[Problem]]:
    """Every config's settings (raises ConfigError on the first bad file), output dirs assigned."""
    several = len(config_paths) > 1
    loaded = []
    warnings: list[Problem] = []
    for path in config_paths:
        run_dir: Path | None = None
        if output_dir is not None:
            run_dir = Path(output_dir) / Path(path).stem if several else Path(output_dir)
        settings, found = load_settings(
            path,
            overrides,
            device=device,
            output_dir=run_dir,
            eval_examples=eval_examples,
            max_new_tokens=max_new_tokens,
        )
        loaded.append(settings)
        warnings.extend(found)
    stems = [Path(path).stem for path in config_paths]
    if several and len(set(stems)) != len(stems) and output_dir is not None:
        raise ConfigError.single(
            "two configs have the same file name and would share an output directory",
            suggestion="rename one, or run them separately",
        )
    return loaded, warnings


def comparison_dir(runs: Sequence[TrainSettings], output_dir: str | Path | None) -> Path:
    if output_dir is not None:
        return Path(output_dir)
    if len(runs) == 1:
        return runs[0].output_dir
    return Path(runs[0].output_dir).parent


def run_configs(
    runs: Sequence[TrainSettings],
    *,
    output_dir: str | Path | None,
    log: Log = print,
    progress: bool = True,
) -> list[RunOutcome]:
    """Train each run in order, evaluate stopping on the main process, print and save the table."""
    from lossmask.reference_trainer.loop import finish_distributed, train

    outcomes = []
    is_main = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 reports
    for settings in runs:
        if is_main:
            log(f"== {settings.config_path} -> {settings.output_dir}")
        result = train(settings, log=log, progress=progress)
        is_main = result.dist.is_main
        summary = None
        held_out = held_out_conversations(settings) if is_main else None
        if held_out is not None:
            summary = evaluate_stopping(
                result.model,
                result.backend,
                held_out,
                loss_mask=settings.data.loss_mask,
                label=Path(settings.config_path or "run").stem,
                max_new_tokens=settings.max_new_tokens,
                device=result.device,
            )
            write_summaries([summary], settings.output_dir / STOP_EVAL_JSON)
        elif is_main and settings.eval_examples > 0:
            log("stop eval skipped: no held-out conversations (needs synthetic data or [val.data])")
        outcomes.append(RunOutcome(settings, result.losses, summary))
    summaries = [outcome.summary for outcome in outcomes if outcome.summary is not None]
    if is_main and summaries:
        table = format_table(summaries)
        where = comparison_dir(runs, output_dir)
        where.mkdir(parents=True, exist_ok=True)
        markdown = format_table(summaries, markdown=True)
        (where / STOP_EVAL_TABLE).write_text(markdown + "\n", encoding="utf-8")
        if len(summaries) > 1:
            write_summaries(summaries, where / STOP_EVAL_JSON)
        log(
            f"\nStop behaviour on {summaries[0].tool_turns} held-out tool turns and "
            f"{summaries[0].final_turns} final turns (greedy; {where / STOP_EVAL_TABLE}):\n"
        )
        log(table)
    finish_distributed()
    return outcomes
