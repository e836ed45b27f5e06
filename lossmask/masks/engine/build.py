"""The entry points: one conversation -> one `TrainingSample`; a dataset -> samples and counts."""

from __future__ import annotations

import itertools
import logging
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lossmask.masks.engine.backends import MaskBackend
from lossmask.masks.engine.contract import (
    LossMask,
    LossMaskLike,
    MaskRule,
    apply_contract,
    as_rule,
    check_stop_trained,
    coerce_loss_mask,
)
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.masks.engine.sample import (
    Conversation,
    MaskedSequence,
    TrainingSample,
    shift_and_truncate,
    target_window,
)
from lossmask.schema.roles import ROLES, LossMaskRolesConfig, describe_loss_mask

logger = logging.getLogger("lossmask.masks")


def mask_conversation(
    conversation: Conversation, loss_mask: LossMaskLike, backend: MaskBackend
) -> MaskedSequence:
    """Render and mask one conversation, before the shift (what `show` and `audit` inspect)."""
    setting = coerce_loss_mask(loss_mask)
    rule = as_rule(setting)
    messages, tools, train_flags = normalise_conversation(conversation)
    if not rule.train_flags and not all(train_flags):
        warnings.warn(
            f'{rule.reader or "this trainer"} ignores per-message "train": false (it passes no '
            "message_loss_mask to build_training_sample): those messages train as loss_mask says",
            stacklevel=2,
        )
    sequence = apply_contract(backend.describe(messages, tools), rule, train_flags)
    check_stop_trained(sequence, [message["role"] for message in messages], rule)
    window = rule.skip_window
    if window is not None and not any(sequence.mask[1 : window + 1]):
        # The trainer skips this sample (nothing trained in its first `window` targets): it
        # trains no token of it at all.
        sequence.mask = [False] * len(sequence.mask)
    return sequence


def build_sample(
    conversation: Conversation,
    loss_mask: LossMaskLike,
    backend: MaskBackend,
    seq_len: int | None = None,
) -> TrainingSample:
    """THE function that renders, masks and shifts one conversation (semantics: docs/masks.md)."""
    return shift_and_truncate(mask_conversation(conversation, loss_mask, backend), seq_len)


@dataclass
class BuildStats:
    """What happened to a dataset on its way to training samples."""

    samples: int = 0
    skipped_nothing_to_train: int = 0
    truncated: int = 0
    trained_tokens: int = 0
    trained_tokens_by_role: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    roles_seen: set[str] = field(default_factory=set)

    def record(self, conversation: Conversation, sample: TrainingSample) -> bool:
        """Count one built sample (what training keeps); False when it is skipped."""
        roles: Any = getattr(sample.provenance, "role", None)
        if roles is None:
            roles = [p.role for p in sample.provenance]
        return self.record_targets(conversation, sample.loss_mask, roles, sample.truncated)

    def record_sequence(
        self, conversation: Conversation, sequence: MaskedSequence, seq_len: int | None
    ) -> bool:
        """Count a masked sequence as `record` counts its sample, without building the shifted
        sample (`audit` reads counts only): its targets are the positions of `target_window`."""
        targets, truncated = target_window(len(sequence.ids), seq_len)
        return self.record_targets(
            conversation, sequence.mask[targets], sequence.provenance.role[targets], truncated
        )

    def record_targets(
        self,
        conversation: Conversation,
        mask: list[bool],
        roles: list[str | None],
        truncated: bool,
    ) -> bool:
        """Count one sample given its targets' mask and role; False when it is skipped."""
        self.roles_seen.update(m.get("role", "") for m in conversation["messages"])
        self.truncated += truncated
        trained = sum(mask)  # once
        if trained == 0:
            self.skipped_nothing_to_train += 1
            return False
        self.samples += 1
        self.trained_tokens += trained
        if len(roles) != len(mask):
            raise ValueError("provenance and loss mask differ in length")
        for role, count in Counter(itertools.compress(roles, mask)).items():
            self.trained_tokens_by_role[role or "none"] += count  # counted at C speed
        return True

    def merge(self, other: BuildStats) -> None:
        """Add another chunk's counts (before `finish`, whose warnings need the totals)."""
        self.samples += other.samples
        self.skipped_nothing_to_train += other.skipped_nothing_to_train
        self.truncated += other.truncated
        self.trained_tokens += other.trained_tokens
        self.trained_tokens_by_role.update(other.trained_tokens_by_role)
        self.roles_seen |= other.roles_seen

    def finish(self, loss_mask: LossMask | MaskRule) -> None:
        """Add the warning for every enabled role that appeared yet trained nothing."""
        self.warnings = roles_training_nothing(
            loss_mask, self.trained_tokens_by_role, self.roles_seen
        )


def roles_training_nothing(
    loss_mask: LossMask | MaskRule,
    trained_by_role: Mapping[str, int],
    roles_seen: Iterable[str],
) -> list[str]:
    """A warning per enabled role (or content role) that appears in the data yet trained no
    token."""
    rule = as_rule(loss_mask)
    enabled = set(rule.content_roles)
    if isinstance(rule.loss_mask, LossMaskRolesConfig):
        enabled.update(rule.loss_mask.enabled_roles())
    seen = set(roles_seen)
    warnings = []
    for role in [role for role in ROLES if role in enabled]:
        if role in seen and trained_by_role.get(role, 0) == 0:
            why = ""
            if role in rule.content_roles:
                why = " (the renderer marks no token of those messages as content)"
            elif role == "tool":
                why = " (a renderer never marks tool results as sampled)"
            warnings.append(
                f"loss_mask {describe_loss_mask(loss_mask)} enables {role!r}, but no {role} "
                f"token was trained{why}"
            )
    return warnings


def build_samples(
    conversations: Iterable[Conversation],
    loss_mask: LossMaskLike,
    backend: MaskBackend,
    seq_len: int | None = None,
) -> tuple[list[TrainingSample], BuildStats]:
    """Samples with something to train; the rest are skipped and counted, never trained as NaN."""
    setting = coerce_loss_mask(loss_mask)
    samples: list[TrainingSample] = []
    stats = BuildStats()
    for conversation in conversations:
        sample = build_sample(conversation, setting, backend, seq_len)
        if stats.record(conversation, sample):
            samples.append(sample)
    stats.finish(setting)
    for warning in stats.warnings:
        logger.warning(warning)
    return samples, stats
