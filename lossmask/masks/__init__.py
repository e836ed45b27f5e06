"""The one place that turns (conversation, loss_mask, renderer or template) into a training sample.

Importing this package is cheap: torch, transformers and renderers load when a backend is built.
"""

from lossmask.masks.app.conversations import DataError, read_conversations
from lossmask.masks.assets.synthetic import generate_conversations, write_jsonl
from lossmask.masks.engine.backends import MaskBackend, load_backend, load_tokenizer
from lossmask.masks.engine.build import (
    BuildStats,
    build_sample,
    build_samples,
    coerce_loss_mask,
    mask_conversation,
)
from lossmask.masks.engine.sample import (
    Conversation,
    MaskedSequence,
    MaskError,
    TokenProvenance,
    TrainingSample,
    shift_and_truncate,
)

__all__ = [
    "BuildStats",
    "Conversation",
    "DataError",
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
    "read_conversations",
    "shift_and_truncate",
    "write_jsonl",
]
