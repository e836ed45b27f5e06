"""A data section's mask under a reading, as the mask engine applies it (`MaskRule`).

The meaning (`meanings.py`) says which rule selects tokens; the reading adds how its trainer
applies it. prime-rl main calls `renderers.build_training_sample(renderer, messages,
role_to_mask=..., tools=..., content_sft_roles=..., ensure_final_stop=True)` as it is: no
serving-prompt gap trained, a stop appended when the last trained token is not one, per-message
`"train"` flags ignored, a sample with no renderer stop among its targets an assertion error, and a
sample with nothing trained in its first `seq_len` targets skipped. lossmask's schema keeps
lossmask's contract (docs/masks.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lossmask.masks.engine.contract import MaskRule
from lossmask.readers import prime_rl_main
from lossmask.readers.meanings import section_meaning
from lossmask.readers.registry import Reading
from lossmask.schema.role_names import ROLES
from lossmask.schema.roles import LossMaskRolesConfig


def mask_rule(section: Mapping[str, Any] | None, reading: Reading) -> MaskRule:
    """The rule a data section (parsed TOML; None when absent) trains with under `reading`."""
    meaning = section_meaning(section, reading)
    if isinstance(meaning.loss_mask, str):
        loss_mask: str | LossMaskRolesConfig = meaning.loss_mask
    else:
        loss_mask = LossMaskRolesConfig(**{role: role in meaning.loss_mask for role in ROLES})
    content = frozenset(meaning.content_roles)
    if not reading.is_main:
        return MaskRule(loss_mask, content)
    return MaskRule(
        loss_mask,
        content,
        serving_gap=False,
        final_stop="last-trained",
        train_flags=False,
        stop_check="in-targets",
        skip_window=seq_len(section, reading),
        reader=reading.label,
    )


def seq_len(section: Mapping[str, Any] | None, reading: Reading, default: int = 2048) -> int:
    """The section's `seq_len` (the reading's default when absent)."""
    value = (section or {}).get("seq_len")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return prime_rl_main.DEFAULT_SEQ_LEN if reading.is_main else default


def truncation(section: Mapping[str, Any] | None, reading: Reading, default: int = 2048) -> int:
    """Where a sample is cut: `seq_len`; under prime-rl main, `seq_len * micro_batch_size`, the
    size of the bin its packer fills (a longer sample gets a bin of its own, cut to that size)."""
    length = seq_len(section, reading, default)
    if not reading.is_main:
        return length
    micro = (section or {}).get("micro_batch_size", prime_rl_main.DEFAULT_MICRO_BATCH_SIZE)
    return length * micro if isinstance(micro, int) and not isinstance(micro, bool) else length
