"""From training samples to model inputs: padding or packing, and which rank trains which sample.

Both layouts give the model exactly what one sample alone would see:
- padding: right-padded rows, a 2-D attention mask, positions counting from 0 in every row;
- packing: samples laid end to end in rows of `seq_len`, a block-diagonal causal 4-D mask so no
  token attends across a sample boundary, and positions restarting at 0 at every sample.
Labels are `target_id` where the loss mask is true and `IGNORE_INDEX` everywhere else (prompt,
masked roles, padding), so the loss never sees a pad.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from lossmask.reference_trainer.loss import IGNORE_INDEX


class SampleLike(Protocol):
    """What batching needs from a sample (the mask engine's `TrainingSample` has it)."""

    @property
    def input_ids(self) -> list[int]: ...
    @property
    def target_ids(self) -> list[int]: ...
    @property
    def loss_mask(self) -> list[bool]: ...


@dataclass
class MicroBatch:
    input_ids: torch.Tensor  # (rows, length)
    labels: torch.Tensor  # (rows, length), IGNORE_INDEX where nothing trains
    attention_mask: torch.Tensor  # (rows, length) 0/1 when padded; (rows, 1, L, L) bool when packed
    position_ids: torch.Tensor  # (rows, length)
    num_trained: int
    num_tokens: int  # real tokens, padding excluded

    def to(self, device: torch.device | str) -> MicroBatch:
        return MicroBatch(
            self.input_ids.to(device),
            self.labels.to(device),
            self.attention_mask.to(device),
            self.position_ids.to(device),
            self.num_trained,
            self.num_tokens,
        )


def sample_labels(sample: SampleLike) -> list[int]:
    return [
        target if trained else IGNORE_INDEX
        for target, trained in zip(sample.target_ids, sample.loss_mask, strict=True)
    ]


def pad_batch(samples: Sequence[SampleLike], pad_id: int) -> MicroBatch:
    """Right-pad `samples` to the longest one."""
    if not samples:
        raise ValueError("cannot batch zero samples")
    length = max(len(sample.input_ids) for sample in samples)
    rows = len(samples)
    input_ids = torch.full((rows, length), pad_id, dtype=torch.long)
    labels = torch.full((rows, length), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((rows, length), dtype=torch.long)
    for row, sample in enumerate(samples):
        n = len(sample.input_ids)
        input_ids[row, :n] = torch.tensor(sample.input_ids, dtype=torch.long)
        labels[row, :n] = torch.tensor(sample_labels(sample), dtype=torch.long)
        attention[row, :n] = 1
    positions = torch.arange(length, dtype=torch.long).expand(rows, length).clone()
    return MicroBatch(
        input_ids,
        labels,
        attention,
        positions,
        num_trained=int((labels != IGNORE_INDEX).sum()),
        num_tokens=int(attention.sum()),
    )


def pack_rows(lengths: Sequence[int], seq_len: int) -> list[list[int]]:
    """First-fit, in order: which sample indices share each row of `seq_len` tokens."""
    rows: list[list[int]] = []
    free: list[int] = []
    for index, length in enumerate(lengths):
        if length > seq_len:
            raise ValueError(f"sample {index} has {length} tokens, more than seq_len={seq_len}")
        for row, space in enumerate(free):
            if length <= space:
                rows[row].append(index)
                free[row] -= length
                break
        else:
            rows.append([index])
            free.append(seq_len - length)
    return rows


def pack_batch(samples: Sequence[SampleLike], seq_len: int, pad_id: int) -> MicroBatch:
    """Pack `samples` into as few rows of at most `seq_len` tokens as first-fit allows."""
    if not samples:
        raise ValueError("cannot batch zero samples")
    layout = pack_rows([len(sample.input_ids) for sample in samples], seq_len)
    length = max(sum(len(samples[i].input_ids) for i in row) for row in layout)
    rows = len(layout)
    input_ids = torch.full((rows, length), pad_id, dtype=torch.long)
    labels = torch.full((rows, length), IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros((rows, length), dtype=torch.long)
    # Segment id per token; padding gets -1 and attends only to itself (a row of all-False would
    # make softmax NaN, even though its outputs are never trained).
    segments = torch.full((rows, length), -1, dtype=torch.long)
    for row, members in enumerate(layout):
        start = 0
        for segment, index in enumerate(members):
            sample = samples[index]
            n = len(sample.input_ids)
            input_ids[row, start : start + n] = torch.tensor(sample.input_ids, dtype=torch.long)
            labels[row, start : start + n] = torch.tensor(sample_labels(sample), dtype=torch.long)
            positions[row, start : start + n] = torch.arange(n)
            segments[row, start : start + n] = segment
            start += n
    causal = torch.tril(torch.ones((length, length), dtype=torch.bool))
    same_segment = segments[:, :, None] == segments[:, None, :]
    is_pad = segments == -1
    pad_self = torch.eye(length, dtype=torch.bool)[None] & is_pad[:, :, None]
    mask = (causal[None] & same_segment & ~is_pad[:, :, None]) | pad_self
    return MicroBatch(
        input_ids,
        labels,
        mask[:, None],
        positions,
        num_trained=int((labels != IGNORE_INDEX).sum()),
        num_tokens=int((segments != -1).sum()),
    )


class GlobalBatchSampler:
    """Which samples each rank trains at each step, the same global batch for any world size.

    The global batch of step `s` is items `s*B .. (s+1)*B` of an endless stream made of seeded
    per-epoch permutations. Rank `r` of `W` takes the `r`-th contiguous `B/W` share of it. A run on
    one process and a run on `W` processes therefore see the same samples in every step, which is
    what makes their loss curves comparable (tests/trainer/test_distributed.py).
    """

    def __init__(
        self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if num_samples <= 0:
            raise ValueError("no samples to train on")
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by world size {world_size}")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self._epochs: dict[int, list[int]] = {}

    def _epoch(self, epoch: int) -> list[int]:
        if epoch not in self._epochs:
            order = list(range(self.num_samples))
            random.Random(f"{self.seed}:{epoch}").shuffle(order)
            self._epochs[epoch] = order
            # Steps only move forward and a batch spans at most two epochs: keep the last two.
            for old in sorted(self._epochs)[:-2]:
                del self._epochs[old]
        return self._epochs[epoch]

    def global_batch(self, step: int) -> list[int]:
        start = step * self.batch_size
        return [
            self._epoch(i // self.num_samples)[i % self.num_samples]
            for i in range(start, start + self.batch_size)
        ]

    def rank_batch(self, step: int) -> list[int]:
        share = self.batch_size // self.world_size
        return self.global_batch(step)[self.rank * share : (self.rank + 1) * share]


def micro_batches(indices: Sequence[int], micro_batch_size: int) -> list[list[int]]:
    return [
        list(indices[i : i + micro_batch_size]) for i in range(0, len(indices), micro_batch_size)
    ]
