"""Cross-entropy over trained positions only.

The LM head is the most expensive matmul of a small-model SFT step at a 32k+ vocabulary, and most of
its output is thrown away when the loss mask is sparse. So the hidden states at trained target
positions are gathered *before* the head: the head, the log-softmax and their backward then cost in
proportion to the number of trained tokens, not the sequence length (`bench/loss_bench.py`).

Normalisation: every trained token of the optimizer step weighs the same, whichever micro-batch or
rank it sits in. The caller passes the step's total trained-token count (summed over gradient-
accumulation micro-batches and all-reduced over ranks) as `normaliser`; each micro-batch returns
`sum(token CE) / normaliser`, so the accumulated gradients equal those of one big batch. A
micro-batch with no trained token returns an exact zero that still depends on every parameter, so
backward and DDP's gradient hooks run as usual and nothing becomes NaN.

Chunking: gathering alone still holds `(trained, vocab)` fp32 logits (and as much again for their
gradient), which at full density is what the full-logits step holds. `chunked_linear_cross_entropy`
runs the head and cross-entropy over `token_chunk_size` gathered positions at a time and computes
the gradients of each chunk right there (softmax minus one-hot, then two matmuls), so only one
chunk of logits is ever alive and backward only scales the stored gradients: the same three
matmuls as the plain step, with memory bounded by the chunk size instead of the density.
`[model] fused_lm_head_token_chunk_size` sets the chunk (prime-rl's name for its own chunked head).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100
"""The label of a position that does not train (padding, prompt, masked roles). The only one."""


def trained_positions_loss_sum(
    hidden: torch.Tensor, lm_head: nn.Module, labels: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Sum of token cross-entropies over positions whose label is not `IGNORE_INDEX`.

    `hidden` is `(batch, seq, dim)`, `labels` `(batch, seq)`, aligned: `labels[b, t]` is the token
    predicted from `hidden[b, t]`. Returns `(loss_sum, trained_count)`; the sum is fp32.
    """
    trained = labels != IGNORE_INDEX
    selected_hidden = hidden[trained]  # (n_trained, dim): the gather that makes the head cheap
    selected_labels = labels[trained]
    logits = lm_head(selected_hidden).float()
    # reduction="sum" of an empty selection is an exact 0.0 (mean would be 0/0 = NaN).
    loss_sum = F.cross_entropy(logits, selected_labels, reduction="sum")
    return loss_sum, int(selected_labels.numel())


def full_logits_loss_sum(
    hidden: torch.Tensor, lm_head: nn.Module, labels: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """The conventional computation: logits at every position, then ignore-index CE.

    Kept as the reference the trained-positions loss is checked and benchmarked against.
    """
    logits = lm_head(hidden).float()
    loss_sum = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return loss_sum, int((labels != IGNORE_INDEX).sum().item())


DEFAULT_TOKEN_CHUNK_SIZE = 256
"""Gathered positions per LM-head chunk when the config leaves it to the trainer ("auto")."""


def _chunked_loss_and_grads(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    labels: torch.Tensor,
    chunk_size: int,
    compute_dtype: torch.dtype,
    want_grads: tuple[bool, bool, bool],
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Loss sum and (unscaled) gradients for hidden, weight and bias, one chunk of rows at a time.

    Matmuls run in `compute_dtype` (the autocast dtype, as `lm_head(hidden)` would under autocast);
    the softmax, the loss and the gradient sums in fp32 (fp64 stays fp64), like the reference's
    `.float()` logits.
    """
    want_hidden, want_weight, want_bias = want_grads
    weight_c = weight.to(compute_dtype)
    bias_c = bias.to(compute_dtype) if bias is not None else None
    hidden_c = hidden.to(compute_dtype)
    count, vocab = hidden.shape[0], weight.shape[0]
    acc_dtype = torch.promote_types(compute_dtype, torch.float32)
    loss = torch.zeros((), dtype=acc_dtype, device=hidden.device)
    grad_hidden = torch.empty_like(hidden) if want_hidden else None
    # Accumulators in acc_dtype: chunks are summed in full precision whatever the matmul dtype.
    grad_weight = (
        torch.zeros(weight.shape, dtype=acc_dtype, device=weight.device) if want_weight else None
    )
    grad_bias = torch.zeros(vocab, dtype=acc_dtype, device=weight.device) if want_bias else None
    for start in range(0, count, chunk_size):
        rows = hidden_c[start : start + chunk_size]
        targets = labels[start : start + chunk_size].unsqueeze(1)
        logits = rows @ weight_c.T
        if bias_c is not None:
            logits = logits + bias_c
        # One (chunk, vocab) buffer, reused in place: logits -> exp -> softmax -> gradient.
        logits = logits.to(acc_dtype)
        target_logit = logits.gather(1, targets)
        top = logits.amax(dim=1, keepdim=True)
        exp_sum = logits.sub_(top).exp_().sum(dim=1, keepdim=True)
        loss += (top + exp_sum.log() - target_logit).sum()
        if not any(want_grads):
            continue
        # d(sum CE)/d(logits) = softmax - one_hot(target)
        probs = logits.div_(exp_sum)
        probs.scatter_add_(1, targets, torch.full_like(target_logit, -1.0))
        grad_logits = probs.to(compute_dtype)
        if grad_hidden is not None:
            grad_hidden[start : start + chunk_size] = grad_logits @ weight_c
        if grad_weight is not None:
            if compute_dtype == acc_dtype:
                grad_weight.addmm_(grad_logits.T, rows)
            else:
                grad_weight += (grad_logits.T @ rows).to(acc_dtype)
        if grad_bias is not None:
            grad_bias += probs.sum(dim=0)
        # Free this chunk's buffer before the next one is allocated: one chunk alive, not two.
        del logits, probs, grad_logits
    return loss, grad_hidden, grad_weight, grad_bias


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    """`sum(CE(hidden @ weight.T + bias, labels))`, gradients computed during forward, per chunk.

    Backward only scales the stored gradients by the incoming one, in place, and hands them over
    (no second weight-sized buffer), so it can run once per forward: a second backward through the
    same graph (`retain_graph=True`) is refused rather than given wrong gradients.
    """

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        labels: torch.Tensor,
        chunk_size: int,
        compute_dtype: torch.dtype,
    ) -> torch.Tensor:
        want = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            bias is not None and ctx.needs_input_grad[2],
        )
        with torch.autocast(hidden.device.type, enabled=False):
            loss, *grads = _chunked_loss_and_grads(
                hidden, weight, bias, labels, chunk_size, compute_dtype, want
            )
        ctx.grads = grads
        ctx.dtypes = (hidden.dtype, weight.dtype, bias.dtype if bias is not None else None)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if ctx.grads is None:
            raise RuntimeError(
                "the chunked LM-head loss supports one backward per forward (no retain_graph)"
            )
        grads, ctx.grads = ctx.grads, None
        out: list[torch.Tensor | None] = []
        for grad, dtype in zip(grads, ctx.dtypes, strict=True):
            out.append(None if grad is None else grad.mul_(grad_loss).to(dtype))
        return (*out, None, None, None)


def chunked_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    labels: torch.Tensor,
    chunk_size: int = DEFAULT_TOKEN_CHUNK_SIZE,
) -> torch.Tensor:
    """fp32 `sum` of token cross-entropies of `hidden @ weight.T (+ bias)`; rows are tokens.

    `hidden` is `(n, dim)`, `labels` `(n,)` with no ignored entry (gather first). Holds at most
    `chunk_size` rows of logits at a time, in forward and backward.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    device_type = hidden.device.type
    if torch.is_autocast_enabled(device_type):
        compute_dtype = torch.get_autocast_dtype(device_type)
    else:
        compute_dtype = torch.promote_types(hidden.dtype, weight.dtype)
    params = (hidden, weight) if bias is None else (hidden, weight, bias)
    if torch.is_grad_enabled() and any(tensor.requires_grad for tensor in params):
        loss: torch.Tensor = _ChunkedLinearCrossEntropy.apply(
            hidden, weight, bias, labels, chunk_size, compute_dtype
        )
        return loss
    with torch.autocast(device_type, enabled=False):
        loss, *_ = _chunked_loss_and_grads(
            hidden, weight, bias, labels, chunk_size, compute_dtype, (False, False, False)
        )
    return loss


def chunked_trained_positions_loss_sum(
    hidden: torch.Tensor,
    lm_head: nn.Module,
    labels: torch.Tensor,
    token_chunk_size: int = DEFAULT_TOKEN_CHUNK_SIZE,
) -> tuple[torch.Tensor, int]:
    """`trained_positions_loss_sum`, with the head and CE run `token_chunk_size` rows at a time.

    `lm_head` must be an `nn.Linear` (the chunked path needs its weight and bias).
    """
    if not isinstance(lm_head, nn.Linear):
        raise TypeError(
            f"the chunked loss needs an nn.Linear LM head, got {type(lm_head).__name__}"
        )
    trained = labels != IGNORE_INDEX
    selected_labels = labels[trained]
    loss_sum = chunked_linear_cross_entropy(
        hidden[trained], lm_head.weight, lm_head.bias, selected_labels, token_chunk_size
    )
    return loss_sum, int(selected_labels.numel())


def resolve_token_chunk_size(setting: int | str | None) -> int | None:
    """The config value (an int, "auto", "disabled") as a chunk size, or `None` for no chunks."""
    if setting is None or setting == "disabled":
        return None
    if setting == "auto":
        return DEFAULT_TOKEN_CHUNK_SIZE
    if isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1:
        return setting
    raise ValueError(f'token chunk size must be an integer >= 1, "auto" or "disabled": {setting!r}')


class CausalLMWithTrainedLoss(nn.Module):
    """A Hugging Face causal LM whose forward returns the step-normalised trained-positions loss.

    The loss lives inside `forward` (not in the training loop) so that DistributedDataParallel,
    which only sees `forward`, wraps the decoder *and* the LM head: calling the decoder and head
    directly on a DDP-wrapped model would bypass its gradient synchronisation.
    """

    def __init__(self, model: nn.Module, token_chunk_size: int | str | None = "auto") -> None:
        """`token_chunk_size`: gathered positions per LM-head chunk (`[model]
        fused_lm_head_token_chunk_size`); "auto" is `DEFAULT_TOKEN_CHUNK_SIZE`; "disabled" or
        `None` runs the head over all trained positions at once (`trained_positions_loss_sum`)."""
        super().__init__()
        self.model = model
        self.token_chunk_size = resolve_token_chunk_size(token_chunk_size)

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        normaliser: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns `(loss_for_backward, loss_sum_detached)`; see the module docstring."""
        decoder: Any = self.model.get_decoder()  # type: ignore[operator]
        lm_head: Any = self.model.get_output_embeddings()  # type: ignore[operator]
        outputs = decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        )
        hidden = outputs.last_hidden_state
        if self.token_chunk_size is not None and isinstance(lm_head, nn.Linear):
            loss_sum, _ = chunked_trained_positions_loss_sum(
                hidden, lm_head, labels, self.token_chunk_size
            )
        else:
            loss_sum, _ = trained_positions_loss_sum(hidden, lm_head, labels)
        if normaliser <= 0:
            # The loop never builds a step without trained tokens (such samples are skipped when
            # the data is built), so this is a bug, not a user error.
            raise ValueError(f"normaliser must be positive, got {normaliser}")
        return loss_sum / normaliser, loss_sum.detach()
