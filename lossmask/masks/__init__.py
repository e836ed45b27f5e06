"""The one place that turns (conversation, loss_mask, renderer or template) into a training sample.

Three layers: `engine/` (backends describe tokens, `engine/contract.py` decides which train, one
shift), `assets/` (embedded tokenizers and templates, synthetic data), `app/` (config -> mask setup,
reading conversations, `show` and `audit`). Importing this package is cheap: torch, transformers
and renderers load when a backend is built.
"""

from lossmask.data import load_conversations
from lossmask.masks.app.setup import mask_backend
from lossmask.masks.assets.synthetic import generate_conversations, write_jsonl
from lossmask.masks.engine.backends import MaskBackend, load_backend, load_tokenizer
from lossmask.masks.engine.build import (
    BuildStats,
    build_sample,
    build_samples,
    mask_conversation,
)
from lossmask.masks.engine.contract import TokenDescription, apply_contract, coerce_loss_mask
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
    "MaskBackend",
    "MaskError",
    "MaskedSequence",
    "TokenDescription",
    "TokenProvenance",
    "TrainingSample",
    "apply_contract",
    "build_sample",
    "build_samples",
    "coerce_loss_mask",
    "generate_conversations",
    "load_backend",
    "load_conversations",
    "load_tokenizer",
    "mask_backend",
    "mask_conversation",
    "shift_and_truncate",
    "write_jsonl",
]
