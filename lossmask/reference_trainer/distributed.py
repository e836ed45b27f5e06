"""The process group's whole life: read the launch once, join, pin the GPU, leave cleanly.

`torchrun` describes each process in environment variables (RANK, WORLD_SIZE, LOCAL_RANK);
`Launch.from_env()` is the only place they are read. `process_group()` is the only place the group
is created and destroyed, so start-up and teardown cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Launch:
    """Which process this is; one process (rank 0 of 1) when not launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Launch:
        return cls(
            rank=int(os.environ.get("RANK", "0")),
            world_size=int(os.environ.get("WORLD_SIZE", "1")),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def select_device(requested: str, local_rank: int = 0) -> torch.device:
    """`auto` is CUDA when available, else CPU; plain `cuda` means this process's local GPU."""
    import torch

    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(requested)


@contextmanager
def process_group(launch: Launch, device: torch.device) -> Iterator[Launch]:
    """Join the group torchrun set up (NCCL on CUDA, gloo on CPU) for the duration of the block.

    On CUDA the process is pinned to its GPU first, so NCCL and every `.cuda()` use that device
    rather than GPU 0. On a clean exit every rank waits for the others before the group is
    destroyed: a rank that leaves while the group is alive can abort in C++ ("terminate called
    without an active exception") and torchrun then kills the rest. After an error there is no
    barrier (it would hang the healthy ranks waiting for the failed one).
    """
    if not launch.enabled:
        yield launch
        return
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield launch
        dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def all_reduce_sum(values: list[float], launch: Launch, device: torch.device) -> list[float]:
    """The sums over every rank (the values themselves on one process)."""
    if not launch.enabled:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return [float(value) for value in tensor.tolist()]


def all_reduce_max(value: int, launch: Launch, device: torch.device) -> int:
    """The largest value any rank holds: ranks agree on a stop request one of them received."""
    if not launch.enabled:
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())
