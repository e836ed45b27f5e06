"""The trained-positions losses (gathered, chunked) equal full-logits CE, normalise per trained
token, never NaN."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lossmask.reference_trainer.loss import (
    DEFAULT_TOKEN_CHUNK_SIZE,
    IGNORE_INDEX,
    CausalLMWithTrainedLoss,
    chunked_trained_positions_loss_sum,
    full_logits_loss_sum,
    resolve_token_chunk_size,
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


# --- the chunked head + CE ---


def _reference_sum(hidden: torch.Tensor, head: nn.Linear, labels: torch.Tensor) -> torch.Tensor:
    """Plain PyTorch, written out here: logits everywhere, fp32 CE, ignored labels dropped."""
    logits = F.linear(hidden, head.weight, head.bias).float()
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum", ignore_index=-100
    )


def _dense_case(density: float, seed: int = 0, bias: bool = False):
    generator = torch.Generator().manual_seed(seed)
    batch, seq, dim, vocab = 2, 50, 24, 97
    hidden = torch.randn(batch, seq, dim, generator=generator)
    labels = torch.randint(0, vocab, (batch, seq), generator=generator)
    order = torch.randperm(batch * seq, generator=generator)
    labels.view(-1)[order[round(density * batch * seq) :]] = IGNORE_INDEX
    head = nn.Linear(dim, vocab, bias=bias)
    with torch.no_grad():
        head.weight.copy_(torch.randn(vocab, dim, generator=generator))
        if bias:
            head.bias.copy_(torch.randn(vocab, generator=generator))
    return hidden, labels, head


def _loss_and_grads(loss_fn, hidden: torch.Tensor, head: nn.Linear, labels: torch.Tensor):  # type: ignore[no-untyped-def]
    hidden = hidden.clone().requires_grad_(True)
    head.zero_grad(set_to_none=True)
    loss_sum = loss_fn(hidden, head, labels)
    (loss_sum * 0.37).backward()  # a non-unit incoming gradient, as after `/ normaliser`
    grads = [hidden.grad, head.weight.grad] + ([head.bias.grad] if head.bias is not None else [])
    return loss_sum.detach(), [grad.clone() for grad in grads]


@pytest.mark.parametrize("density", [0.1, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("chunk", [1, 7, 16, 1000])  # 7 and 16 do not divide the trained counts
def test_chunked_loss_and_gradients_equal_the_full_logits_reference(density: float, chunk: int):
    hidden, labels, head = _dense_case(density)
    trained = int((labels != IGNORE_INDEX).sum())
    assert trained == round(density * 100) and trained % 7 and trained % 16
    expected, expected_grads = _loss_and_grads(_reference_sum, hidden, head, labels)
    loss, grads = _loss_and_grads(
        lambda h, m, y: chunked_trained_positions_loss_sum(h, m, y, chunk)[0], hidden, head, labels
    )
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, reference, rtol=1e-5, atol=1e-5)


def test_chunked_loss_handles_a_bias_and_returns_the_trained_count() -> None:
    hidden, labels, head = _dense_case(0.3, seed=4, bias=True)
    expected, expected_grads = _loss_and_grads(_reference_sum, hidden, head, labels)
    loss, grads = _loss_and_grads(
        lambda h, m, y: chunked_trained_positions_loss_sum(h, m, y, 9)[0], hidden, head, labels
    )
    _, count = chunked_trained_positions_loss_sum(hidden, head, labels, 9)
    assert count == 30
    assert len(grads) == 3
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, reference, rtol=1e-5, atol=1e-5)


def test_chunked_loss_with_no_trained_position_is_zero_with_zero_gradients() -> None:
    hidden, labels, head = _dense_case(0.0)
    hidden.requires_grad_(True)
    loss_sum, count = chunked_trained_positions_loss_sum(hidden, head, labels, 8)
    (loss_sum / 1.0).backward()
    assert count == 0
    assert loss_sum.item() == 0.0
    assert torch.equal(hidden.grad, torch.zeros_like(hidden))
    assert torch.equal(head.weight.grad, torch.zeros_like(head.weight))


def test_chunked_loss_under_bf16_autocast_matches_the_reference_under_the_same_autocast() -> None:
    hidden, labels, head = _dense_case(0.5, seed=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected, expected_grads = _loss_and_grads(_reference_sum, hidden, head, labels)
        loss, grads = _loss_and_grads(
            lambda h, m, y: chunked_trained_positions_loss_sum(h, m, y, 16)[0], hidden, head, labels
        )
    assert loss.dtype == torch.float32
    assert [g.dtype for g in grads] == [torch.float32, torch.float32]
    # bf16 matmuls (8-bit mantissa) on both sides; the chunked side sums its head gradient in fp32.
    torch.testing.assert_close(loss, expected, rtol=2e-3, atol=1e-2)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, reference, rtol=2e-2, atol=2e-2)
    # ...and both are close to the fp32 loss, so the matmuls really ran in bf16 on both sides.
    fp32 = _reference_sum(hidden, head, labels).detach()
    assert 0 < abs(float(loss - fp32)) < 1e-2 * float(fp32)


def test_chunked_loss_without_grad_mode_equals_the_reference_and_builds_no_graph() -> None:
    hidden, labels, head = _dense_case(0.6, seed=3)
    with torch.no_grad():
        loss, _ = chunked_trained_positions_loss_sum(hidden, head, labels, 5)
        expected = _reference_sum(hidden, head, labels)
    assert loss.grad_fn is None
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)


def test_chunked_loss_refuses_a_second_backward_instead_of_wrong_gradients() -> None:
    hidden, labels, head = _dense_case(0.5)
    hidden.requires_grad_(True)
    loss_sum, _ = chunked_trained_positions_loss_sum(hidden, head, labels, 8)
    loss_sum.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="one backward per forward"):
        loss_sum.backward()


def test_chunk_size_must_be_positive() -> None:
    hidden, labels, head = _dense_case(0.5)
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_trained_positions_loss_sum(hidden, head, labels, 0)


@pytest.mark.parametrize("token_chunk_size", [None, 3])
def test_model_loss_is_the_same_chunked_or_not(token_chunk_size: int | None) -> None:
    torch.manual_seed(0)
    lm = _TinyDecoderLM()
    ids = torch.randint(0, 20, (3, 7))
    labels = torch.randint(0, 20, (3, 7))
    labels[:, :3] = IGNORE_INDEX
    ones = torch.ones_like(ids)
    loss, loss_sum = CausalLMWithTrainedLoss(lm, token_chunk_size=token_chunk_size)(
        ids, labels, ones, ones, 12.0
    )
    loss.backward()
    expected = _reference_sum(lm.embed(ids), lm.head, labels)
    torch.testing.assert_close(loss_sum, expected.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss, expected.detach() / 12.0, rtol=1e-5, atol=1e-6)
    assert lm.head.weight.grad is not None and lm.embed.weight.grad is not None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", DEFAULT_TOKEN_CHUNK_SIZE),
        ("fused_lm_head_token_chunk_size = 64", 64),
        ('fused_lm_head_token_chunk_size = "disabled"', None),
        ('fused_lm_head_token_chunk_size = "auto"', DEFAULT_TOKEN_CHUNK_SIZE),
    ],
)
def test_model_chunk_size_key_reaches_the_loss(
    tmp_path: Path, line: str, expected: int | None
) -> None:
    from lossmask.reference_trainer.settings import load_settings

    config = tmp_path / "run.toml"
    config.write_text(f'max_steps = 1\n[model]\n{line}\n[data]\nloss_mask = "all"\n')
    settings, _ = load_settings(config)
    assert "model.fused_lm_head_token_chunk_size" not in settings.unimplemented
    module = CausalLMWithTrainedLoss(_TinyDecoderLM(), settings.fused_lm_head_token_chunk_size)
    assert module.token_chunk_size == expected


@pytest.mark.parametrize("bad", [0, -3, True, "big", 2.5])
def test_a_bad_chunk_size_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="auto"):
        resolve_token_chunk_size(bad)  # type: ignore[arg-type]
