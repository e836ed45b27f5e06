"""The training loop: config -> conversations -> masked samples -> model -> trained-positions loss.

Deliberately plain PyTorch: one optimizer, gradient accumulation over micro-batches, DDP when
launched by `torchrun`, and outputs a person can open (metrics JSONL, a loss-curve PNG, Hugging Face
checkpoints). Everything that can be wrong with a config is checked before the model is allocated.
"""

from __future__ import annotations

import contextlib
import math
import os
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
from lossmask.reference_trainer.loss import CausalLMWithTrainedLoss
from lossmask.reference_trainer.model import (
    ModelResolveError,
    ModelSource,
    build_model,
    count_parameters,
    resolve_model,
)
from lossmask.reference_trainer.outputs import (
    MetricsWriter,
    plot_loss_curve,
    save_checkpoint,
    write_resolved_config,
)
from lossmask.reference_trainer.settings import (
    HELD_OUT_SEED_OFFSET,
    DataSettings,
    TrainSettings,
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> Distributed:
    """Join the process group `torchrun` set up (gloo on CPU, NCCL on CUDA); else one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def finish_distributed() -> None:
    """Leave the process group cleanly once every rank is done.

    A rank that exits while the process group is alive can abort in C++ ("terminate called without
    an active exception") as its communication threads are torn down, and torchrun then kills the
    other ranks. So every rank waits here (rank 0 may still be evaluating or writing checkpoints),
    then the group is destroyed. Not called after an error: a barrier would hang the healthy ranks.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def select_device(requested: str, local_rank: int = 0) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(requested)


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    # bf16 autocast on CUDA (fp32 master weights, fp32 loss); plain fp32 on CPU, where bf16 matmuls
    # are slower and would make CPU runs differ from the documented figures.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class PreparedData:
    backend: Any  # lossmask.masks.MaskBackend
    samples: list[Any]  # lossmask.masks.TrainingSample
    stats: Any  # lossmask.masks.BuildStats
    val_samples: list[Any] = field(default_factory=list)


def load_conversations(data: DataSettings, seed: int) -> list[dict[str, Any]]:
    from lossmask.masks.app.conversations import read_conversations
    from lossmask.masks.assets.synthetic import generate_conversations

    if data.is_synthetic:
        assert data.num_examples is not None  # settings always give the synthetic pool a size
        return generate_conversations(data.num_examples, seed=seed)
    conversations = read_conversations(data.name)
    return conversations[: data.num_examples] if data.num_examples else conversations


def load_mask_backend(settings: TrainSettings) -> Any:
    from lossmask.masks.app.setup import mask_backend

    return mask_backend(
        tokenizer=settings.tokenizer_name,
        model=settings.model_name,
        renderer=settings.renderer_name,
    )


def prepare(settings: TrainSettings, log: Log) -> tuple[PreparedData, ModelSource]:
    """Everything before the first tensor: backend, samples, model config. Raises ConfigError."""
    from lossmask.masks import build_samples

    file = str(settings.config_path) if settings.config_path else None
    backend = load_mask_backend(settings)
    vocab_size = len(backend.tokenizer)
    try:
        source = resolve_model(settings.model_name, vocab_size, settings.data.seq_len)
    except ModelResolveError as error:
        raise ConfigError(
            [Problem(error.message, ("model", "name"), file, suggestion=error.suggestion)]
        ) from None
    conversations = load_conversations(settings.data, settings.seed)
    samples, stats = build_samples(
        conversations, settings.data.loss_mask, backend, seq_len=settings.data.seq_len
    )
    if not samples:
        raise ConfigError([Problem("no sample has a trained token", ("data", "loss_mask"), file)])
    val_samples: list[Any] = []
    if settings.val_data is not None:
        val_conversations = load_conversations(
            settings.val_data, settings.seed + HELD_OUT_SEED_OFFSET
        )
        val_samples, _ = build_samples(
            val_conversations,
            settings.val_data.loss_mask,
            backend,
            seq_len=settings.val_data.seq_len,
        )
    log(
        f"data: {stats.samples} samples from {len(conversations)} conversations "
        f"({stats.skipped_nothing_to_train} skipped with nothing to train, {stats.truncated} cut "
        f"at seq_len={settings.data.seq_len}); mask backend {backend.name}"
    )
    return PreparedData(backend, samples, stats, val_samples), source


def collate(samples: list[Any], data: DataSettings, pad_id: int) -> MicroBatch:
    if data.pack:
        return pack_batch(samples, data.seq_len, pad_id)
    return pad_batch(samples, pad_id)


def learning_rate(settings: TrainSettings, step: int) -> float:
    """Linear warmup over `warmup_steps`, then constant (prime-rl's default schedule)."""
    if settings.warmup_steps and step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    return settings.lr


@dataclass
class TrainResult:
    model: Any  # the unwrapped transformers model, on its training device
    backend: Any
    device: torch.device
    losses: list[float]
    output_dir: Path
    dist: Distributed
    metrics_path: Path | None = None
    checkpoints: list[Path] = field(default_factory=list)


def _all_reduce_sum(
    values: list[float], dist_ctx: Distributed, device: torch.device
) -> list[float]:
    if not dist_ctx.enabled:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def accumulate_gradients(
    module: torch.nn.Module,
    batches: list[MicroBatch],
    normaliser: float,
    dist_ctx: Distributed,
    device: torch.device,
) -> tuple[float, float]:
    """Forward and backward over this rank's micro-batches; returns (loss sum, real tokens).

    Under DDP the gradients are all-reduced once, on the last micro-batch (`no_sync` before).
    """
    loss_sum, tokens = 0.0, 0.0
    for index, cpu_batch in enumerate(batches):
        batch = cpu_batch.to(device)
        sync: Any = contextlib.nullcontext()
        if dist_ctx.enabled and index < len(batches) - 1:
            sync = module.no_sync()  # type: ignore[operator]
        with sync, autocast(device):
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


def train(settings: TrainSettings, log: Log = print, progress: bool = True) -> TrainResult:
    device = select_device(settings.device, int(os.environ.get("LOCAL_RANK", 0)))
    dist_ctx = init_distributed(device.type)
    quiet: Log = log if dist_ctx.is_main else (lambda _message: None)
    if settings.unimplemented:
        quiet(
            "not implemented by the reference trainer, ignored: "
            + ", ".join(settings.unimplemented)
        )
    prepared, source = prepare(settings, quiet)
    backend = prepared.backend
    pad_id = backend.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = backend.tokenizer.eos_token_id or 0

    model = build_model(source, settings.seed)
    model.to(device)
    model.train()
    module: torch.nn.Module = CausalLMWithTrainedLoss(model)
    if dist_ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        module = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    quiet(
        f"model: {source.describe()}, {count_parameters(model) / 1e6:.2f}M parameters on {device}"
        f"{' (bf16 autocast)' if device.type == 'cuda' else ' (fp32)'}"
        f"{f', {dist_ctx.world_size} processes' if dist_ctx.enabled else ''}"
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay
    )
    data = settings.data
    samples = prepared.samples
    sampler = GlobalBatchSampler(
        len(samples), data.batch_size, settings.seed, dist_ctx.rank, dist_ctx.world_size
    )
    out_dir = settings.output_dir
    metrics = None
    if dist_ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_resolved_config(settings, out_dir / "config.resolved.toml")
        metrics = MetricsWriter(out_dir / "metrics.jsonl")
    metrics_path = metrics.path if metrics is not None else None
    result = TrainResult(model, backend, device, [], out_dir, dist_ctx, metrics_path)

    bar = None
    if progress and dist_ctx.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.max_steps, desc="train", unit="step", dynamic_ncols=True)
    started = time.perf_counter()
    for step in range(settings.max_steps):
        step_started = time.perf_counter()
        lr = learning_rate(settings, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # Every rank knows the whole global batch, so the normaliser needs no collective: each
        # trained token of the step weighs 1 / (trained tokens in the global batch).
        global_trained = sum(samples[i].num_trained for i in sampler.global_batch(step))
        normaliser = global_trained / dist_ctx.world_size  # DDP averages gradients over ranks
        batches = [
            collate([samples[i] for i in chunk], data, pad_id)
            for chunk in micro_batches(sampler.rank_batch(step), data.micro_batch_size)
        ]
        loss_sum, tokens = accumulate_gradients(module, batches, normaliser, dist_ctx, device)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_norm))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum, tokens = _all_reduce_sum([loss_sum, tokens], dist_ctx, device)
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
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"step {step + 1}: loss is {step_loss}")
        if (
            settings.val_interval
            and (step + 1) % settings.val_interval == 0
            and prepared.val_samples
        ):
            record["val_loss"] = validation_loss(
                module, prepared.val_samples, settings.val_data or data, pad_id, device
            )
        if metrics is not None:
            metrics.write(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(
                loss=f"{step_loss:.4f}", trained_tok_s=f"{global_trained / seconds:,.0f}"
            )
        interval = settings.ckpt_interval
        at_interval = interval is not None and (step + 1) % interval == 0
        if (
            settings.checkpoint
            and dist_ctx.is_main
            and (at_interval or step + 1 == settings.max_steps)
        ):
            path = out_dir / "checkpoints" / f"step_{step + 1}"
            save_checkpoint(model, backend, settings, path)
            result.checkpoints.append(path)
    if bar is not None:
        bar.close()
    if prepared.val_samples and not settings.val_interval and metrics is not None:
        metrics.write(
            {
                "step": settings.max_steps,
                "val_loss": validation_loss(
                    module, prepared.val_samples, settings.val_data or data, pad_id, device
                ),
            }
        )
    if dist_ctx.is_main:
        plot_loss_curve(result.losses, out_dir / "loss.png", title=str(settings.config_path or ""))
        quiet(
            f"done: {settings.max_steps} steps in {time.perf_counter() - started:.1f}s, final loss "
            f"{result.losses[-1]:.4f}; outputs in {out_dir}"
        )
    return result
