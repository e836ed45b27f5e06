"""Checkpoints a run can continue from, and finding the one `[ckpt] resume_step` names.

A checkpoint directory is a Hugging Face model directory (weights in the model's own dtype) plus
`trainer_state.pt`: the optimizer state (unless `[ckpt] skip_optimizer`), the fp32 weights when the
saved ones are narrower, the number of steps done, the loss of each step and the RNG states.
`[ckpt] keep_last = N` keeps the N latest checkpoints. The learning-rate
schedule is a function of the step and the data order a function of (seed, step), so restoring
the step restores both: a resumed run trains exactly the batches, at exactly the rates, that the
uninterrupted run would have.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lossmask.errors import ConfigError
from lossmask.reference_trainer.model import has_weights

if TYPE_CHECKING:
    from lossmask.reference_trainer.parallel import Wrapped
    from lossmask.reference_trainer.settings import TrainSettings

TRAINER_STATE = "trainer_state.pt"
CHECKPOINTS_DIR = "checkpoints"


@dataclass
class TrainerState:
    step: int  # optimizer steps done
    losses: list[float]  # one per step done, so the resumed loss curve starts where it stopped
    optimizer: dict[str, Any] | None  # None: saved with `[ckpt] skip_optimizer = true`
    rng: dict[str, Any]
    fp32_weights: dict[str, Any] | None = None  # when the saved weights are narrower than fp32


def checkpoint_path(output_dir: Path, step: int) -> Path:
    return output_dir / CHECKPOINTS_DIR / f"step_{step}"


def _rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_resumable_checkpoint(
    wrapped: Wrapped,
    backend: Any,
    settings: TrainSettings,
    optimizer: Any,
    losses: list[float],
    path: Path,
    dtype: str,
) -> None:
    """Gather the full weights (and optimizer state) on rank 0 and write them beside the final
    place, then move them there: never half-written. Every rank calls it (a collective under
    FSDP2); only rank 0 writes.

    The weights are saved in `dtype`, the model directory's own (a bf16 model saves bf16). When
    that is narrower than the fp32 weights the trainer steps, `trainer_state.pt` also keeps the
    fp32 weights, so a resume continues the exact run. `[ckpt] skip_optimizer = true` writes
    weights only: no optimizer state and no fp32 copy (a resume then starts a fresh AdamW).
    """
    import torch

    from lossmask.reference_trainer.outputs import save_checkpoint

    weights = wrapped.full_model_state()
    optimizer_state = None if settings.skip_optimizer else wrapped.full_optimizer_state(optimizer)
    if not wrapped.launch.is_main:
        return
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    save_checkpoint(wrapped.model, backend, settings, partial, weights, dtype)
    state: dict[str, Any] = {"step": len(losses), "losses": list(losses), "rng": _rng_state()}
    if optimizer_state is not None:
        state["optimizer"] = optimizer_state
        if getattr(torch, dtype) != torch.float32:
            state["fp32_weights"] = weights
    torch.save(state, partial / TRAINER_STATE)
    if path.exists():
        shutil.rmtree(path)
    partial.rename(path)


def prune_checkpoints(output_dir: Path, keep_last: int | None) -> list[Path]:
    """`[ckpt] keep_last = N`: delete all but the N latest `checkpoints/step_*`; returns them."""
    if keep_last is None:
        return []
    removed = []
    for step in _saved_steps(output_dir)[:-keep_last]:
        path = checkpoint_path(output_dir, step)
        shutil.rmtree(path)
        removed.append(path)
    return removed


def load_trainer_state(path: Path) -> TrainerState:
    import torch

    # weights_only: the file holds tensors, numbers, lists and tuples, nothing to unpickle.
    state = torch.load(path / TRAINER_STATE, map_location="cpu", weights_only=True)
    return TrainerState(
        state["step"],
        state["losses"],
        state.get("optimizer"),
        state["rng"],
        state.get("fp32_weights"),
    )


def _saved_steps(output_dir: Path) -> list[int]:
    folder = output_dir / CHECKPOINTS_DIR
    steps = []
    if folder.is_dir():
        for child in folder.iterdir():
            name = child.name
            if name.startswith("step_") and name[5:].isdigit() and child.is_dir():
                steps.append(int(name[5:]))
    return sorted(steps)


def find_resume_checkpoint(settings: TrainSettings) -> Path | None:
    """The checkpoint to continue from (`--resume DIR`, else `[ckpt] resume_step`), checked."""
    if settings.resume_dir is not None:
        path, key = settings.resume_dir, ("ckpt", "resume_step")
        if not path.is_dir():
            raise ConfigError.single("--resume: not a directory", file=str(path))
    elif settings.resume_step is not None:
        key = ("ckpt", "resume_step")
        steps = _saved_steps(settings.output_dir)
        saved = ", ".join(str(step) for step in steps) or "none"
        folder = settings.output_dir / CHECKPOINTS_DIR
        if settings.resume_step == -1:
            if not steps:
                raise ConfigError(
                    [settings.problem(f"-1 (the latest): no checkpoint in {folder}", key)]
                )
            path = checkpoint_path(settings.output_dir, steps[-1])
        else:
            path = checkpoint_path(settings.output_dir, settings.resume_step)
            if not path.is_dir():
                raise ConfigError(
                    [
                        settings.problem(
                            f"{settings.resume_step}: there is no {path}",
                            key,
                            f"checkpoints saved in {folder}: {saved}",
                        )
                    ]
                )
    else:
        return None

    def missing(message: str, suggestion: str) -> ConfigError:
        if settings.resume_dir is not None:  # said about the directory the user named
            return ConfigError.single(message, file=str(path), suggestion=suggestion)
        return ConfigError([settings.problem(f"{path}: {message}", key, suggestion)])

    if not has_weights(path):
        raise missing(
            "the checkpoint has no model weights (model.safetensors)",
            "resume from a complete checkpoint; a run never trains on from random weights",
        )
    if not (path / TRAINER_STATE).is_file():
        raise missing(
            f"the checkpoint has no {TRAINER_STATE} (optimizer, step and RNG state)",
            "to start a new run from its weights instead, set [model] name to it",
        )
    return path


# Keys a resumed run may change without changing what it trains from then on.
_MAY_CHANGE = frozenset({"max_steps", "output_dir", "ckpt"})


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_settings(settings: TrainSettings, checkpoint: Path) -> list[str]:
    """`key (saved -> now)` for every setting that differs from the checkpoint's resolved config.

    A resume with a different seed, data or optimizer is allowed, but it no longer continues the
    run it resumes, so the trainer says so.
    """
    import tomllib

    from lossmask.reference_trainer.outputs import RESOLVED_CONFIG_NAME

    path = checkpoint / RESOLVED_CONFIG_NAME
    if not path.is_file():
        return []
    saved = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    now = _flatten(settings.resolved())
    keys = sorted(key for key in saved.keys() | now.keys() if key.split(".")[0] not in _MAY_CHANGE)
    return [
        f"{key} ({saved.get(key)!r} -> {now.get(key)!r})"
        for key in keys
        if saved.get(key) != now.get(key)
    ]
