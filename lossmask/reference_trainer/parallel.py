"""How the processes of a torchrun launch share the model: DDP or FSDP2 (one process: neither).

- `ddp`: every process holds the whole model, gradients are averaged after backward.
- `fsdp2`: `torch.distributed.fsdp.fully_shard` on every decoder block and on the root (the loss
  module, which owns the embeddings, the final norm and the LM head) over a 1-D device mesh, so
  parameters, gradients and AdamW state are split across the processes. It is what prime-rl and
  TRL users move to when one GPU is not enough, and it runs on CPU with gloo (tested).

Both average gradients over processes, so the loop divides each micro-batch's summed loss by the
global batch's trained-token count divided by the number of processes: each trained token of the
step weighs the same, whichever process it is in. Checkpoints are written from full state dicts
gathered on rank 0 (`full_model_state`, `full_optimizer_state`), so a checkpoint is a plain
Hugging Face directory whatever the engine, and `from_pretrained` loads it.

Each process builds the whole model before sharding it: the reference trainer does not initialise
on the meta device, so a model must fit in one process's memory once, at start.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from lossmask.reference_trainer.distributed import Launch

Engine = Literal["ddp", "fsdp2"]
ENGINES: tuple[str, ...] = ("ddp", "fsdp2")


@dataclass
class Wrapped:
    """The model as the loop trains it: `module` runs forward/backward, `model` holds the
    parameters the optimizer steps (sharded DTensors under FSDP2)."""

    model: nn.Module  # the Hugging Face model
    module: nn.Module  # what the loop calls: the loss module, wrapped for the engine
    launch: Launch
    engine: str  # "single", "ddp" or "fsdp2"

    @property
    def sharded(self) -> bool:
        return self.engine == "fsdp2"

    def gradient_sync(self, last_micro_batch: bool) -> contextlib.AbstractContextManager[Any]:
        """Gradients are reduced once per optimizer step, on its last micro-batch."""
        if self.engine == "ddp" and not last_micro_batch:
            return self.module.no_sync()  # type: ignore[operator]
        if self.engine == "fsdp2":
            self.module.set_requires_gradient_sync(last_micro_batch)  # type: ignore[operator]
        return contextlib.nullcontext()

    def clip_grad_norm(self, max_norm: float) -> float:
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        if hasattr(norm, "full_tensor"):  # a DTensor under FSDP2: the norm over every shard
            norm = norm.full_tensor()
        return float(norm)

    def full_model_state(self) -> dict[str, torch.Tensor]:
        """Every weight, whole, on CPU, on rank 0 (other ranks get {}). A collective under FSDP2:
        every rank must call it."""
        if not self.sharded:
            return {key: value.detach().cpu() for key, value in self.model.state_dict().items()}
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        state = get_model_state_dict(self.model, options=options)
        return {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}

    def full_optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer state keyed by parameter name, whole, on rank 0 (a collective)."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )

        options = StateDictOptions(full_state_dict=self.sharded, cpu_offload=True)
        return get_optimizer_state_dict(self.model, optimizer, options=options)

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        """Restore `full_optimizer_state`'s output (every rank passes the whole state)."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )

        groups = state.get("param_groups") or [{"params": []}]
        if any(isinstance(key, int) for key in groups[0]["params"]):
            optimizer.load_state_dict(state)  # a checkpoint from before names were used
            return
        options = StateDictOptions(full_state_dict=self.sharded)
        set_optimizer_state_dict(self.model, optimizer, optim_state_dict=state, options=options)

    def eval_model(self, state: dict[str, torch.Tensor] | None = None) -> nn.Module:
        """A model the main process can generate with alone. Under FSDP2 the sharded model needs
        every rank for each forward, so rank 0 gets an unsharded copy built from `state` (the
        full state dict)."""
        if not self.sharded:
            return self.model
        from transformers import AutoModelForCausalLM

        assert state is not None, "an FSDP2 eval model is built from the full state dict"
        config: Any = self.model.config
        copy = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        copy.load_state_dict(state)
        device = next(iter(self.model.parameters())).device
        return copy.to(device)


def wrap_for_training(
    model: nn.Module, module: nn.Module, launch: Launch, device: torch.device, engine: str
) -> Wrapped:
    """`module` (the loss module holding `model`) wrapped for the launch and engine."""
    if not launch.enabled:
        return Wrapped(model, module, launch, "single")
    if engine == "fsdp2":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(device.type, (launch.world_size,))
        for block in _decoder_blocks(model):
            fully_shard(block, mesh=mesh)
        fully_shard(module, mesh=mesh)  # the root: embeddings, final norm, LM head
        return Wrapped(model, module, launch, "fsdp2")
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return Wrapped(model, DistributedDataParallel(module, device_ids=ids), launch, "ddp")


def _decoder_blocks(model: nn.Module) -> list[nn.Module]:
    """The decoder's repeated blocks (`model.model.layers` in Llama, Qwen, GLM, SmolLM2, ...)."""
    decoder: Any = model.get_decoder()  # type: ignore[operator]
    layers = getattr(decoder, "layers", None)
    if not isinstance(layers, nn.ModuleList) or not len(layers):
        raise ValueError(
            f"{type(model).__name__}: no decoder blocks found at get_decoder().layers; FSDP2 "
            "shards each block"
        )
    return list(layers)
