"""The training loop: prepared samples -> model -> trained-positions loss, step by step.

Deliberately plain PyTorch: one optimizer, gradient accumulation over micro-batches, DDP when
launched by `torchrun`, and outputs a person can open (metrics JSONL, a loss-curve PNG, Hugging Face
checkpoints). Everything that can be wrong with a config, the data or the model is checked by
`prepare` before the model is allocated; a run stopped by SIGINT/SIGTERM saves before it exits,
and `[ckpt] resume_step` continues it as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lossmask.errors import ConfigError, Problem
from lossmask.reference_trainer.batching import (
    GlobalBatchSampler,
    MicroBatch,
    micro_batches,
    pack_batch,
    pad_batch,
)
from lossmask.reference_trainer.data_prep import PreparedData, load_mask_backend, prepare_data
from lossmask.reference_trainer.distributed import (
    Launch,
    all_reduce_max,
    all_reduce_sum,
    select_device,
)
from lossmask.reference_trainer.loss import CausalLMWithTrainedLoss
from lossmask.reference_trainer.model import (
    ModelResolveError,
    ModelSource,
    build_model,
    count_parameters,
    is_embedded,
    locate_model,
    resolve_model,
)
from lossmask.reference_trainer.outputs import MetricsWriter, plot_loss_curve, write_resolved_config
from lossmask.reference_trainer.parallel import Wrapped, wrap_for_training
from lossmask.reference_trainer.resume import (
    TrainerState,
    changed_settings,
    checkpoint_path,
    find_resume_checkpoint,
    load_trainer_state,
    prune_checkpoints,
    restore_rng,
    save_resumable_checkpoint,
)
from lossmask.reference_trainer.settings import DataSettings, TrainSettings
from lossmask.reference_trainer.stop_signals import StopRequests

Log = Callable[[str], None]
Warn = Callable[[Problem], None]


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    # bf16 autocast on CUDA (fp32 master weights, fp32 loss); plain fp32 on CPU, where bf16 matmuls
    # are slower and would make CPU runs differ from the documented figures.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Prepared:
    """Everything a run needs before its first tensor."""

    data: PreparedData
    source: ModelSource
    resume_from: Path | None = None
    state: TrainerState | None = None
    warnings: list[Problem] = field(default_factory=list)


def _model_problem(settings: TrainSettings, error: ModelResolveError, resuming: bool) -> Problem:
    if resuming and settings.resume_dir is not None:
        return Problem(error.message, (), str(settings.resume_dir), suggestion=error.suggestion)
    key = ("ckpt", "resume_step") if resuming else ("model", "name")
    return settings.problem(error.message, key, error.suggestion)


def prepare(settings: TrainSettings, log: Log) -> Prepared:
    """Model location, mask backend, resume checkpoint, model config, samples. Raises ConfigError.

    Cheap checks first: a wrong model name fails before the data is tokenised.
    """
    model_path = None
    try:
        if not is_embedded(settings.model_name):
            assert settings.model_name is not None
            model_path = locate_model(settings.model_name)
    except ModelResolveError as error:
        raise ConfigError([_model_problem(settings, error, resuming=False)]) from None
    backend = load_mask_backend(settings, model_path)
    resume_from = find_resume_checkpoint(settings)
    name = str(resume_from) if resume_from is not None else settings.model_name
    try:
        source = resolve_model(name, len(backend.tokenizer), settings.data.seq_len)
    except ModelResolveError as error:
        raise ConfigError([_model_problem(settings, error, resume_from is not None)]) from None
    state = None
    warnings: list[Problem] = []
    if resume_from is not None:
        changed = changed_settings(settings, resume_from)
        if changed:
            message = (
                f"resuming {resume_from} with settings that differ from its own: "
                + ", ".join(changed)
                + "; the run goes on from its weights but no longer continues its loss curve"
            )
            warnings.append(settings.problem(message, ("ckpt", "resume_step"), severity="warning"))
        state = load_trainer_state(resume_from)
        if state.step >= settings.max_steps:
            raise ConfigError(
                [
                    settings.problem(
                        f"the checkpoint {resume_from} is at step {state.step}, and max_steps is "
                        f"{settings.max_steps}: nothing left to train",
                        ("max_steps",),
                        f"raise max_steps above {state.step}",
                    )
                ]
            )
    data = prepare_data(settings, backend, log)
    warnings += data.warnings
    return Prepared(data, source, resume_from, state, warnings)


def collate(samples: list[Any], data: DataSettings, pad_id: int) -> MicroBatch:
    if data.pack:
        return pack_batch(samples, data.seq_len, pad_id)
    return pad_batch(samples, pad_id)


def learning_rate(settings: TrainSettings, step: int) -> float:
    """The rate of step `step`: the config's schedule (`reference_trainer/schedule.py`)."""
    return settings.schedule.learning_rate(settings.lr, settings.max_steps, step)


@dataclass
class TrainResult:
    model: Any  # the unwrapped transformers model, on its training device
    backend: Any
    device: torch.device
    losses: list[float]  # every step's loss, resumed steps included
    output_dir: Path
    launch: Launch
    metrics_path: Path | None = None
    checkpoints: list[Path] = field(default_factory=list)
    stopped_by: int = 0  # the signal that stopped the run early (0: it ran to max_steps)


def accumulate_gradients(
    wrapped: Wrapped,
    batches: list[MicroBatch],
    normaliser: float,
    device: torch.device,
) -> tuple[float, float]:
    """Forward and backward over this rank's micro-batches; returns (loss sum, real tokens).

    Under DDP and FSDP2 the gradients are reduced once, on the last micro-batch.
    """
    module = wrapped.module
    loss_sum, tokens = 0.0, 0.0
    for index, cpu_batch in enumerate(batches):
        batch = cpu_batch.to(device)
        with wrapped.gradient_sync(index == len(batches) - 1), autocast(device):
            loss, detached = module(
                batch.input_ids, batch.labels, batch.attention_mask, batch.position_ids, normaliser
            )
            loss.backward()
        loss_sum += float(detached)
        tokens += batch.num_tokens
    return loss_sum, tokens


@torch.no_grad()
def validation_loss(
    module: torch.nn.Module,
    samples: list[Any],
    data: DataSettings,
    pad_id: int,
    device: torch.device,
) -> float:
    """Mean CE per trained token over all of `samples` (computed on every rank alike)."""
    module.eval()
    total, count = 0.0, 0
    for chunk in micro_batches(range(len(samples)), data.micro_batch_size):
        batch = collate([samples[i] for i in chunk], data, pad_id).to(device)
        with autocast(device):
            _, loss_sum = module(
                batch.input_ids, batch.labels, batch.attention_mask, batch.position_ids, 1.0
            )
        total += float(loss_sum)
        count += batch.num_trained
    module.train()
    return total / max(count, 1)


def _build_module(
    source: ModelSource,
    settings: TrainSettings,
    launch: Launch,
    device: torch.device,
    state: TrainerState | None,
) -> Wrapped:
    model = build_model(source, settings.seed)
    if state is not None and state.fp32_weights is not None:
        model.load_state_dict(state.fp32_weights)  # the exact weights, not their bf16 copy
    model.to(device)
    model.train()
    module = CausalLMWithTrainedLoss(model, settings.fused_lm_head_token_chunk_size)
    return wrap_for_training(model, module, launch, device, settings.data_parallel)


def train(
    settings: TrainSettings,
    launch: Launch | None = None,
    *,
    log: Log = print,
    warn: Warn | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train `settings` on this process (one rank of `launch`, inside its process group)."""
    launch = launch or Launch()
    device = select_device(settings.device, launch.local_rank)
    quiet: Log = log if launch.is_main else (lambda _message: None)
    if settings.unimplemented:
        quiet(
            "not implemented by the reference trainer, ignored: "
            + ", ".join(settings.unimplemented)
        )
    prepared = prepare(settings, quiet)
    if launch.is_main:
        for warning in prepared.warnings:
            (warn or (lambda problem: log(problem.format())))(warning)
    backend = prepared.data.backend
    pad_id = backend.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = backend.tokenizer.eos_token_id or 0

    wrapped = _build_module(prepared.source, settings, launch, device, prepared.state)
    model, module = wrapped.model, wrapped.module
    engine = f", {launch.world_size} processes ({wrapped.engine})" if launch.enabled else ""
    quiet(
        f"model: {prepared.source.describe()}, {count_parameters(model) / 1e6:.2f}M parameters "
        f"on {device}{' (bf16 autocast)' if device.type == 'cuda' else ' (fp32)'}{engine}"
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay
    )
    first_step = 0
    losses: list[float] = []
    if prepared.state is not None:
        if prepared.state.optimizer is not None and not settings.skip_optimizer:
            wrapped.load_optimizer_state(optimizer, prepared.state.optimizer)
        else:
            quiet("the checkpoint's optimizer state is not loaded: AdamW starts afresh")
        restore_rng(prepared.state.rng)
        first_step, losses = prepared.state.step, list(prepared.state.losses)
        quiet(f"resumed from {prepared.resume_from} at step {first_step}")
    data = settings.data
    samples = prepared.data.samples
    sampler = GlobalBatchSampler(
        len(samples), data.batch_size, settings.seed, launch.rank, launch.world_size
    )
    out_dir = settings.output_dir
    metrics = None
    if launch.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_resolved_config(settings, out_dir / "config.resolved.toml")
        metrics = MetricsWriter(out_dir / "metrics.jsonl", keep_through_step=first_step)
    metrics_path = metrics.path if metrics is not None else None
    result = TrainResult(model, backend, device, losses, out_dir, launch, metrics_path)
    val_data = settings.val_data or data

    def save(step: int) -> None:
        if not settings.checkpoint:
            return
        path = checkpoint_path(out_dir, step)
        save_resumable_checkpoint(
            wrapped, backend, settings, optimizer, result.losses, path, prepared.source.dtype
        )
        if launch.is_main:
            result.checkpoints.append(path)
            removed = prune_checkpoints(out_dir, settings.keep_last)
            result.checkpoints = [kept for kept in result.checkpoints if kept not in removed]

    bar = None
    if progress and launch.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=settings.max_steps,
            initial=first_step,
            desc="train",
            unit="step",
            dynamic_ncols=True,
        )
    started = time.perf_counter()
    with StopRequests() as stop:
        for step in range(first_step, settings.max_steps):
            step_started = time.perf_counter()
            lr = learning_rate(settings, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # Every rank knows the whole global batch, so the normaliser needs no collective:
            # each trained token of the step weighs 1 / (trained tokens in the global batch).
            global_trained = sum(samples[i].num_trained for i in sampler.global_batch(step))
            # DDP and FSDP2 average gradients over ranks.
            normaliser = global_trained / launch.world_size
            batches = [
                collate([samples[i] for i in chunk], data, pad_id)
                for chunk in micro_batches(sampler.rank_batch(step), data.micro_batch_size)
            ]
            loss_sum, tokens = accumulate_gradients(wrapped, batches, normaliser, device)
            grad_norm = wrapped.clip_grad_norm(settings.max_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum, tokens = all_reduce_sum([loss_sum, tokens], launch, device)
            step_loss = loss_sum / global_trained
            result.losses.append(step_loss)
            seconds = time.perf_counter() - step_started
            record = {
                "step": step + 1,
                "loss": step_loss,
                "lr": lr,
                "grad_norm": grad_norm,
                "trained_tokens": global_trained,
                "tokens": int(tokens),
                "trained_tokens_per_s": global_trained / seconds,
                "tokens_per_s": tokens / seconds,
                "elapsed_s": time.perf_counter() - started,
            }
            if not math.isfinite(step_loss):  # every rank sees it: the loss is all-reduced
                raise ConfigError(
                    [
                        settings.problem(
                            f"the loss is {step_loss} at step {step + 1}",
                            ("optim", "lr"),
                            "lower lr or raise warmup_steps",
                        )
                    ]
                )
            at_val = settings.val_interval and (step + 1) % settings.val_interval == 0
            if at_val and prepared.data.val_samples:
                record["val_loss"] = validation_loss(
                    module, prepared.data.val_samples, val_data, pad_id, device
                )
            if metrics is not None:
                metrics.write(record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{step_loss:.4f}", trained_tok_s=f"{global_trained / seconds:,.0f}"
                )
            # Ranks agree on a stop (one collective per step): a signal may reach only some.
            result.stopped_by = all_reduce_max(stop.requested, launch, device)
            interval = settings.ckpt_interval
            at_interval = interval is not None and (step + 1) % interval == 0
            if at_interval or step + 1 == settings.max_steps or result.stopped_by:
                save(step + 1)
            if result.stopped_by:
                break
    if bar is not None:
        bar.close()
    once_at_end = prepared.data.val_samples and not settings.val_interval
    if once_at_end and not result.stopped_by:  # every rank: FSDP2's forward is a collective
        val_loss = validation_loss(module, prepared.data.val_samples, val_data, pad_id, device)
        if metrics is not None:
            metrics.write({"step": settings.max_steps, "val_loss": val_loss})
    if wrapped.sharded and settings.eval_examples > 0 and not result.stopped_by:
        # The stop eval generates on rank 0 alone: give it an unsharded copy.
        full = wrapped.full_model_state()
        result.model = wrapped.eval_model(full) if launch.is_main else None
    if launch.is_main:
        plot_loss_curve(result.losses, out_dir / "loss.png", title=str(settings.config_path or ""))
        ran = f"{len(result.losses) - first_step} steps in {time.perf_counter() - started:.1f}s"
        if result.stopped_by:
            import signal

            saved = f", checkpoint {result.checkpoints[-1]}" if settings.checkpoint else ""
            quiet(
                f"stopped by {signal.Signals(result.stopped_by).name} after step "
                f"{len(result.losses)} ({ran}){saved}; outputs in {out_dir}"
            )
        else:
            quiet(f"done: {ran}, final loss {result.losses[-1]:.4f}; outputs in {out_dir}")
    return result
