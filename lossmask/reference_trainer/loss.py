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


class CausalLMWithTrainedLoss(nn.Module):
    """A Hugging Face causal LM whose forward returns the step-normalised trained-positions loss.

    The loss lives inside `forward` (not in the training loop) so that DistributedDataParallel,
    which only sees `forward`, wraps the decoder *and* the LM head: calling the decoder and head
    directly on a DDP-wrapped model would bypass its gradient synchronisation.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

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
        loss_sum, _ = trained_positions_loss_sum(outputs.last_hidden_state, lm_head, labels)
        if normaliser <= 0:
            # The loop never builds a step without trained tokens (such samples are skipped when
            # the data is built), so this is a bug, not a user error.
            raise ValueError(f"normaliser must be positive, got {normaliser}")
        return loss_sum / normaliser, loss_sum.detach()
