"""Padding and packing give the model what each sample alone would see; the sampler is exact."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from lossmask.reference_trainer.batching import (
    GlobalBatchSampler,
    micro_batches,
    pack_batch,
    pack_rows,
    pad_batch,
)
from lossmask.reference_trainer.loss import IGNORE_INDEX


@dataclass
class Sample:
    input_ids: list[int]
    target_ids: list[int]
    loss_mask: list[bool]


A = Sample([5, 6, 7, 8], [6, 7, 8, 9], [False, True, False, True])
B = Sample([10, 11], [11, 12], [True, True])
C = Sample([20, 21, 22], [21, 22, 23], [False, False, True])


def test_pad_batch_exact_tensors() -> None:
    batch = pad_batch([A, B], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8], [10, 11, 0, 0]]
    assert batch.labels.tolist() == [
        [IGNORE_INDEX, 7, IGNORE_INDEX, 9],
        [11, 12, IGNORE_INDEX, IGNORE_INDEX],
    ]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert (batch.num_trained, batch.num_tokens) == (4, 6)


def test_pack_rows_first_fit_in_order() -> None:
    assert pack_rows([4, 2, 3, 1], seq_len=6) == [[0, 1], [2, 3]]
    assert pack_rows([5, 5, 1], seq_len=6) == [[0, 2], [1]]
    with pytest.raises(ValueError, match="more than seq_len"):
        pack_rows([7], seq_len=6)


def test_pack_batch_exact_tensors_and_block_diagonal_mask() -> None:
    batch = pack_batch([A, B, C], seq_len=6, pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 10, 11], [20, 21, 22, 0, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 0]]
    assert batch.labels.tolist() == [
        [IGNORE_INDEX, 7, IGNORE_INDEX, 9, 11, 12],
        [IGNORE_INDEX, IGNORE_INDEX, 23, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX],
    ]
    mask = batch.attention_mask[:, 0].int().tolist()
    assert mask[0] == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 0],  # B's first token sees only itself, never A
        [0, 0, 0, 0, 1, 1],
    ]
    assert mask[1] == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],  # padding attends to itself only (no all-masked softmax row)
        [0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 1],
    ]
    assert (batch.num_trained, batch.num_tokens) == (5, 9)


def test_packed_and_padded_logits_equal_unbatched_logits() -> None:
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    model = AutoModelForCausalLM.from_config(config).eval()
    samples = [A, B, C]
    with torch.no_grad():
        alone = [model(torch.tensor([s.input_ids])).logits[0] for s in samples]
        padded = pad_batch(samples, pad_id=0)
        logits = model(
            padded.input_ids,
            attention_mask=padded.attention_mask,
            position_ids=padded.position_ids,
        ).logits
        for row, expected in enumerate(alone):
            torch.testing.assert_close(logits[row, : len(expected)], expected, atol=1e-5, rtol=1e-4)
        packed = pack_batch(samples, seq_len=6, pad_id=0)
        logits = model(
            packed.input_ids,
            attention_mask=packed.attention_mask,
            position_ids=packed.position_ids,
        ).logits
    torch.testing.assert_close(logits[0, :4], alone[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits[0, 4:6], alone[1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits[1, :3], alone[2], atol=1e-5, rtol=1e-4)


def test_sampler_gives_every_world_size_the_same_global_batches() -> None:
    single = GlobalBatchSampler(10, batch_size=4, seed=3)
    ranks = [GlobalBatchSampler(10, batch_size=4, seed=3, rank=r, world_size=2) for r in range(2)]
    for step in range(7):  # crosses epoch boundaries (10 samples, 4 per step)
        whole = single.rank_batch(step)
        assert whole == ranks[0].rank_batch(step) + ranks[1].rank_batch(step)
        assert whole == ranks[1].global_batch(step)


def test_sampler_visits_every_sample_once_per_epoch_and_reshuffles() -> None:
    sampler = GlobalBatchSampler(8, batch_size=4, seed=0)
    epoch_0 = sampler.global_batch(0) + sampler.global_batch(1)
    epoch_1 = sampler.global_batch(2) + sampler.global_batch(3)
    assert sorted(epoch_0) == sorted(epoch_1) == list(range(8))
    assert epoch_0 != epoch_1


def test_sampler_rejects_batch_not_divisible_by_world_size() -> None:
    with pytest.raises(ValueError, match="not divisible"):
        GlobalBatchSampler(8, batch_size=3, seed=0, world_size=2)


def test_micro_batches_split_in_order() -> None:
    assert micro_batches([4, 1, 3, 0, 2], 2) == [[4, 1], [3, 0], [2]]
