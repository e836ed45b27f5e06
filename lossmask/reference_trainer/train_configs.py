"""What `lossmask train` runs: one or more configs in turn, each model's stop eval, one table.

`train_and_evaluate` is one run and its stop eval, which the experiment grid (`grid.py`, `lossmask
experiment`) reuses per cell. Every config is loaded and checked (`load_configs`) before the first
run starts, so a typo in the second file does not surface after the first has trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossmask.errors import ConfigError, Problem
from lossmask.reference_trainer.distributed import Launch
from lossmask.reference_trainer.evaluate import StopSummary, evaluate_stopping
from lossmask.reference_trainer.runner import Log, Warn
from lossmask.reference_trainer.settings import TrainSettings, load_settings
from lossmask.reference_trainer.stop_table import format_table, write_summaries

STOP_EVAL_JSON = "stop_eval.json"
STOP_EVAL_TABLE = "stop_eval.md"


@dataclass
class RunOutcome:
    settings: TrainSettings
    losses: list[float]
    summary: StopSummary | None


def load_configs(
    config_paths: Sequence[str | Path],
    overrides: Sequence[str],
    *,
    device: str,
    output_dir: str | Path | None,
    eval_examples: int,
    max_new_tokens: int,
    world_size: int = 1,
    resume: str | Path | None = None,
    reader: str | None = None,
    data_parallel: str = "ddp",
) -> tuple[list[TrainSettings], list[Problem]]:
    """Every config's settings (raises ConfigError on the first bad file), output dirs assigned;
    `reader` is `--reader` (see `lossmask.readers`)."""
    if resume is not None and len(config_paths) > 1:
        raise ConfigError.single(
            f"--resume {resume} names one checkpoint, but {len(config_paths)} configs were given",
            suggestion="resume one config at a time",
        )
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
            world_size=world_size,
            resume=resume,
            reader=reader,
            data_parallel=data_parallel,
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


@dataclass
class TrainConfigsResult:
    outcomes: list[RunOutcome]
    stopped_by: int = 0  # the signal that stopped a run early; later runs did not start


def train_and_evaluate(
    settings: TrainSettings,
    launch: Launch,
    *,
    label: str,
    log: Log = print,
    warn: Warn | None = None,
    progress: bool = True,
    also_evaluate: Sequence[tuple[TrainSettings, str]] = (),
) -> tuple[list[RunOutcome], int]:
    """Train one run, then (main process) its stop eval, saved beside its outputs.

    `also_evaluate`: other (settings, label) pairs that would have trained exactly this run (the
    grid's shared training, `grid.share_training`): the same trained model is evaluated from each
    one's own backend and mask, and saved beside each one's outputs. Returns one outcome per
    evaluated run (this one first) and the signal that stopped training early (0 if none; no eval
    then).
    """
    from lossmask.reference_trainer.loop import train

    trained = train(settings, launch, log=log, warn=warn, progress=progress)
    runs = [(settings, label), *also_evaluate]
    if trained.stopped_by:
        return [RunOutcome(each, trained.losses, None) for each, _ in runs], trained.stopped_by
    outcomes = []
    for each, each_label in runs:
        backend = trained.backend if each is settings else None
        summary = evaluate_run(trained.model, trained.device, each, each_label, launch, backend)
        if summary is None and launch.is_main and each.eval_examples > 0:
            log("stop eval skipped: no held-out conversations (needs synthetic data or [val.data])")
        outcomes.append(RunOutcome(each, trained.losses, summary))
    return outcomes, 0


def evaluate_run(
    model: Any,
    device: Any,
    settings: TrainSettings,
    label: str,
    launch: Launch,
    backend: Any = None,
) -> StopSummary | None:
    """The stop eval of a trained model from `settings`' backend (loaded when not given) on its
    held-out conversations, saved as its stop_eval.json; None off the main process or without
    held-out conversations."""
    from lossmask.reference_trainer.data_prep import held_out_conversations, load_mask_backend

    held_out = held_out_conversations(settings) if launch.is_main else None
    if held_out is None:
        return None
    if backend is None:
        from lossmask.reference_trainer.model import is_embedded, locate_model

        name = settings.model_name
        path = None if name is None or is_embedded(name) else locate_model(name)
        backend = load_mask_backend(settings, path)
    summary = evaluate_stopping(
        model,
        backend,
        held_out,
        loss_mask=settings.data.loss_mask,
        label=label,
        max_new_tokens=settings.max_new_tokens,
        device=device,
    )
    write_summaries([summary], settings.output_dir / STOP_EVAL_JSON)
    return summary


def train_configs(
    runs: Sequence[TrainSettings],
    launch: Launch | None = None,
    *,
    output_dir: str | Path | None,
    log: Log = print,
    warn: Warn | None = None,
    progress: bool = True,
) -> TrainConfigsResult:
    """Train each run in order, evaluate stopping on the main process, print and save the table.

    Runs inside the caller's process group (`distributed.process_group`). A run stopped by a signal
    has saved its outputs; its stop eval and the runs after it are skipped.
    """
    launch = launch or Launch()
    result = TrainConfigsResult([])
    for settings in runs:
        if launch.is_main:
            log(f"== {settings.config_path} -> {settings.output_dir}")
        outcomes, stopped_by = train_and_evaluate(
            settings,
            launch,
            label=Path(settings.config_path or "run").stem,
            log=log,
            warn=warn,
            progress=progress,
        )
        result.outcomes += outcomes
        if stopped_by:
            result.stopped_by = stopped_by
            return result
    summaries = [outcome.summary for outcome in result.outcomes if outcome.summary is not None]
    if launch.is_main and summaries:
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
    return result
