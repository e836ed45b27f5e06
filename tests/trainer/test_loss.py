"""The trained-positions loss equals full-logits CE, normalises per trained token, never NaNs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lossmask.reference_trainer.loss import (
    IGNORE_INDEX,
    CausalLMWithTrainedLoss,
    full_logits_loss_sum,
    trained_positions_loss_sum,
)


def _case(seed: int = 0, batch: int = 3, seq: int = 11, dim: int = 16, vocab: int = 50):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(batch, seq, dim, generator=generator)
    labels = torch.randint(0, vocab, (batch, seq), generator=generator)
    untrained = torch.rand(batch, seq, generator=generator) < 0.6
    labels[untrained] = IGNORE_INDEX
    head = nn.Linear(dim, vocab, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.randn(vocab, dim, generator=generator))
    return hidden, labels, head


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trained_positions_loss_equals_full_logits_loss_and_gradients(seed: int) -> None:
    hidden, labels, head = _case(seed)
    hidden_a = hidden.clone().requires_grad_(True)
    hidden_b = hidden.clone().requires_grad_(True)
    sum_a, count_a = trained_positions_loss_sum(hidden_a, head, labels)
    sum_a.backward()
    grad_head_a = head.weight.grad.clone()
    head.weight.grad = None
    sum_b, count_b = full_logits_loss_sum(hidden_b, head, labels)
    sum_b.backward()
    assert count_a == count_b == int((labels != IGNORE_INDEX).sum())
    torch.testing.assert_close(sum_a, sum_b, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(hidden_a.grad, hidden_b.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_head_a, head.weight.grad, rtol=1e-5, atol=1e-6)


def test_loss_sum_matches_hand_computed_cross_entropy() -> None:
    head = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    hidden = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    labels = torch.tensor([[0, IGNORE_INDEX]])
    loss_sum, count = trained_positions_loss_sum(hidden, head, labels)
    # logits [2, 0, 0] -> -log(e^2 / (e^2 + 2))
    expected = -torch.log(torch.exp(torch.tensor(2.0)) / (torch.exp(torch.tensor(2.0)) + 2))
    assert count == 1
    torch.testing.assert_close(loss_sum, expected)


def test_micro_batch_without_trained_tokens_gives_zero_loss_and_zero_grads() -> None:
    hidden, labels, head = _case()
    labels[:] = IGNORE_INDEX
    hidden.requires_grad_(True)
    loss_sum, count = trained_positions_loss_sum(hidden, head, labels)
    loss_sum.backward()
    assert count == 0
    assert loss_sum.item() == 0.0
    assert torch.equal(hidden.grad, torch.zeros_like(hidden))
    assert torch.equal(head.weight.grad, torch.zeros_like(head.weight))


class _TinyDecoderLM(nn.Module):
    """Just enough of the transformers causal-LM interface for CausalLMWithTrainedLoss."""

    def __init__(self, vocab: int = 20, dim: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def get_decoder(self) -> nn.Module:
        embed = self.embed

        class _Decoder(nn.Module):
            def forward(self, input_ids, **_: object):  # type: ignore[no-untyped-def]
                return type("Out", (), {"last_hidden_state": embed(input_ids)})()

        return _Decoder()

    def get_output_embeddings(self) -> nn.Module:
        return self.head


def test_gradient_accumulation_normalises_by_trained_tokens_of_the_whole_step() -> None:
    torch.manual_seed(0)
    lm = _TinyDecoderLM()
    module = CausalLMWithTrainedLoss(lm)
    ids = torch.randint(0, 20, (4, 6))
    labels = torch.randint(0, 20, (4, 6))
    # Very uneven trained counts per micro-batch: 1 row of 1 token, and a dense one.
    labels[0, 1:] = IGNORE_INDEX
    labels[1, :] = IGNORE_INDEX
    ones = torch.ones_like(ids)
    total = int((labels != IGNORE_INDEX).sum())

    whole, _ = module(ids, labels, ones, ones, float(total))
    whole.backward()
    expected = {name: p.grad.clone() for name, p in lm.named_parameters()}
    lm.zero_grad()
    for rows in (slice(0, 1), slice(1, 2), slice(2, 4)):  # includes a zero-trained micro-batch
        part, _ = module(ids[rows], labels[rows], ones[rows], ones[rows], float(total))
        assert torch.isfinite(part)
        part.backward()
    for name, parameter in lm.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], rtol=1e-5, atol=1e-7)
    # The whole-batch value is the mean CE per trained token.
    loss_sum, count = full_logits_loss_sum(lm.embed(ids), lm.head, labels)
    torch.testing.assert_close(whole, loss_sum / count)


def test_non_positive_normaliser_is_a_bug_not_a_silent_nan() -> None:
    module = CausalLMWithTrainedLoss(_TinyDecoderLM())
    ids = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="normaliser"):
        module(ids, ids, ids, ids, 0.0)
