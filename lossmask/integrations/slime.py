"""slime: an SFT rollout function whose tokens and loss mask are lossmask's.

slime trains SFT through a rollout function (`--rollout-function-path
slime.rollout.sft_rollout.generate_rollout`) that turns each sample's messages into `tokens`, a
`response_length` and a `loss_mask` over the response (the last `response_length` tokens), with
its own per-model mask generator. This one is a drop-in replacement that takes them from
`mask_conversation`, the function `show`, `audit` and `export` use:

    LOSSMASK_CONFIG=sft.toml python train.py ... \\
        --rollout-function-path lossmask.integrations.slime.generate_rollout

`LOSSMASK_CONFIG` names a lossmask config (`[tokenizer]`, `[renderer]`, `[data] loss_mask`);
without it the tokenizer is `--hf-checkpoint`'s, its chat template renders, and `loss_mask =
"sampled"`. A sample that cannot be masked stops the rollout with its index and the reason: slime
would otherwise train on whatever came back.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from lossmask.masks.engine.sample import MaskError


@functools.cache
def _setup(checkpoint: str | None, config: str | None) -> tuple[Any, Any]:
    """(backend, loss_mask), built once per process."""
    from lossmask.masks.app.setup import mask_backend, mask_setup_from_config

    if config:
        setup = mask_setup_from_config(config)
        return setup.backend(), setup.loss_mask
    return mask_backend(tokenizer=checkpoint, model=None, renderer=None), "sampled"


def tokens_and_mask(sample: Any, backend: Any, loss_mask: Any) -> tuple[list[int], int, list[int]]:
    """(tokens, response_length, loss_mask over the response) of one slime sample."""
    from lossmask.masks.engine.build import mask_conversation

    conversation = {"messages": sample.prompt, "tools": (sample.metadata or {}).get("tools")}
    sequence = mask_conversation(conversation, loss_mask, backend)
    bits = [int(bit) for bit in sequence.mask]
    if 1 not in bits[1:]:
        raise MaskError("nothing to train in this sample")
    response = len(bits) - bits.index(1)  # slime's get_response_lengths
    return sequence.ids, response, bits[-response:]


def generate_rollout(args: Any, rollout_id: int, data_buffer: Any, evaluation: bool = False) -> Any:
    """slime's rollout-function signature; fills each sample's tokens, response_length,
    loss_mask and a reward of 0, as `slime.rollout.sft_rollout.generate_rollout` does."""
    if evaluation:
        raise ValueError("an SFT rollout has no evaluation")
    backend, loss_mask = _setup(
        getattr(args, "hf_checkpoint", None), os.environ.get("LOSSMASK_CONFIG") or None
    )
    samples = data_buffer.get_samples(args.rollout_batch_size)
    for index, group in enumerate(samples):
        (sample,) = group
        try:
            sample.tokens, sample.response_length, sample.loss_mask = tokens_and_mask(
                sample, backend, loss_mask
            )
        except MaskError as error:
            raise MaskError(f"rollout {rollout_id}, sample {index}: {error}") from None
        sample.reward = 0
    return samples
