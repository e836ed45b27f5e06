"""The one place that turns (conversation, loss_mask, renderer or template) into a training sample.

Importing this package is cheap: torch, transformers and renderers load when a backend is built.
"""

from lossmask.masks.backends import MaskBackend, load_backend, load_tokenizer
from lossmask.masks.build import (
    BuildStats,
    build_sample,
    build_samples,
    coerce_loss_mask,
    mask_conversation,
)
from lossmask.masks.sample import (
    Conversation,
    MaskedSequence,
    MaskError,
    TokenProvenance,
    TrainingSample,
    shift_and_truncate,
)
from lossmask.masks.synthetic import generate_conversations, read_jsonl, write_jsonl

__all__ = [
    "BuildStats",
    "Conversation",
    "MaskBackend",
    "MaskError",
    "MaskedSequence",
    "TokenProvenance",
    "TrainingSample",
    "build_sample",
    "build_samples",
    "coerce_loss_mask",
    "generate_conversations",
    "load_backend",
    "load_tokenizer",
    "mask_conversation",
    "read_jsonl",
    "shift_and_truncate",
    "write_jsonl",
]
