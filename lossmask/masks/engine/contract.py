"""The mask contract: one function decides which tokens train, for every backend.

A backend only *describes* a rendered conversation (`TokenDescription`): the ids, which message
wrote each token, which turn each token belongs to (a closer the template writes with the next
message belongs to the assistant turn it closes), whether the model samples it when served, the
serving stop ids and whether the final assistant turn is already closed. `apply_contract` turns a
description, a `loss_mask` and the per-message `"train"` flags into a `MaskedSequence`, applying the
mode table of docs/masks.md, the final stop and `"train": false` in one place.

Two choices both paths share (documented in docs/masks.md):
- the final stop is appended only when the final turn is an unclosed assistant turn *and* the mode
  trains it; it is then a trained target (an untrained appended token would teach nothing and
  would only make the sequence differ from what the template renders);
- the `"train"` flag of a token is read from the turn it belongs to (`turn`), in every mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lossmask.masks.engine.sample import MaskedSequence, MaskError, ProvenanceColumns
from lossmask.schema.roles import MODE_DESCRIPTIONS, LossMaskRolesConfig

MODES: tuple[str, ...] = tuple(MODE_DESCRIPTIONS)
"""The named `loss_mask` modes, as the config schema defines them; anything else is a role table."""

LossMask = str | LossMaskRolesConfig
LossMaskLike = str | LossMaskRolesConfig | Mapping[str, bool]


def bad_mode(value: object) -> MaskError:
    """The one message for a `loss_mask` that is neither a mode nor a role table."""
    names = " or ".join(f'"{mode}"' for mode in MODES)
    return MaskError(f"unknown loss_mask {value!r}; use {names} or a role table")


def coerce_loss_mask(loss_mask: LossMaskLike) -> LossMask:
    """Accept a mode name, a `LossMaskRolesConfig` or a plain role dict."""
    if isinstance(loss_mask, LossMaskRolesConfig):
        return loss_mask
    if isinstance(loss_mask, str):
        if loss_mask not in MODES:
            raise bad_mode(loss_mask)
        return loss_mask
    if isinstance(loss_mask, Mapping):
        return LossMaskRolesConfig(**dict(loss_mask))
    raise bad_mode(loss_mask)


@dataclass
class TokenDescription:
    """What a backend knows about each rendered token; no decision about training."""

    ids: list[int]
    message: list[int | None]
    """The message whose text produced the token; None for text outside every message."""
    turn: list[int | None]
    """The message whose turn the token belongs to: a closer goes to the assistant it closes."""
    sampled: list[bool]
    """The model produces this token when served from the backend's generation prompt."""
    content: list[bool]
    roles: list[str]
    """One role per message."""
    stop_ids: list[int]
    """Serving stop ids (what the server stops on)."""
    final_stop_id: int
    """The stop appended when the final assistant turn is left unclosed."""
    final_closed: bool
    """The final message is not an assistant turn, or the template already closed it."""
    roles_need_sampled: bool
    """Role tables AND the sampled signal (renderer path) or filter by role alone (template)."""
    sampled_rule: list[str] | None = None
    """Per token, why it is sampled ("sampled", "serving-prompt", ...); default "sampled"."""
    prompt_gap: list[int] = field(default_factory=list)
    """Positions after the generation prompt in an assistant turn the backend leaves unsampled."""
    tag_disagreements: list[int] = field(default_factory=list)
    """Positions where a template's `{% generation %}` blocks disagree with `sampled`."""
    missing_prompt: list[str] = field(default_factory=list)
    """Per assistant turn whose training text lacks the end of the generation prompt, that text."""
    sampled_refused: MaskError | None = None
    """Why `sampled` could not be established for some turn: raised by the modes that need it."""
    has_sampled_signal: bool = True
    """False for a renderer that gives no per-token signal: only `"all"` can be applied."""


def _mode_table(
    loss_mask: LossMask,
    sampled: list[bool],
    sampled_rule: list[str],
    token_roles: list[str | None],
    needs_sampled: bool,
) -> tuple[list[bool], list[str]]:
    """(mask, rule) per token for one mode: the table of docs/masks.md. Written as whole-list
    comprehensions, not a call per token: this runs for every sample a trainer builds."""
    count = len(sampled)
    if loss_mask == "all":
        return [True] * count, ["all"] * count
    if loss_mask == "sampled":
        mask = [s and r is not None for s, r in zip(sampled, token_roles, strict=True)]
        rules = [
            rule if m else ("outside-messages" if r is None else "not-sampled")
            for m, rule, r in zip(mask, sampled_rule, token_roles, strict=True)
        ]
        return mask, rules
    if isinstance(loss_mask, LossMaskRolesConfig):
        enabled = set(loss_mask.enabled_roles())
        mask, rules = [], []
        for s, role in zip(sampled, token_roles, strict=True):
            if role is None:
                mask.append(False)
                rules.append("outside-messages")
            elif needs_sampled and not s:
                mask.append(False)
                rules.append("not-sampled")
            elif role in enabled:
                mask.append(True)
                rules.append(f"role:{role}")
            else:
                mask.append(False)
                rules.append(f"role:{role} off")
        return mask, rules
    raise bad_mode(loss_mask)


def trains_final_turn(loss_mask: LossMask) -> bool:
    return not isinstance(loss_mask, LossMaskRolesConfig) or loss_mask.assistant


def apply_contract(
    description: TokenDescription, loss_mask: LossMask, train_flags: list[bool]
) -> MaskedSequence:
    """THE mask: mode table, final stop, then `"train": false` (docs/masks.md "Semantics")."""
    d = description
    if isinstance(loss_mask, str) and loss_mask not in MODES:
        raise bad_mode(loss_mask)
    if not d.has_sampled_signal and loss_mask != "all":
        raise MaskError(
            f"this backend gives no per-token sampled signal, so loss_mask = {loss_mask!r} has "
            'nothing to follow; name a model-specific renderer, use loss_mask = "all", or drop '
            "[renderer] to use the chat template"
        )
    if d.sampled_refused is not None and (
        loss_mask == "sampled"
        or (isinstance(loss_mask, LossMaskRolesConfig) and d.roles_need_sampled)
    ):
        raise d.sampled_refused
    ids = list(d.ids)
    message = list(d.message)
    turn = list(d.turn)
    sampled = list(d.sampled)
    content = list(d.content)
    token_roles: list[str | None] = [d.roles[m] if m is not None else None for m in message]
    sampled_rule = d.sampled_rule or ["sampled"] * len(ids)
    mask, rules = _mode_table(loss_mask, sampled, sampled_rule, token_roles, d.roles_need_sampled)

    final = len(d.roles) - 1
    if d.roles[final] == "assistant" and not d.final_closed and trains_final_turn(loss_mask):
        ids.append(d.final_stop_id)
        mask.append(True)
        rules.append("final-stop")
        message.append(None)
        turn.append(final)
        token_roles.append("assistant")
        sampled.append(True)
        content.append(True)

    if not all(train_flags):
        for k, owner in enumerate(turn):
            if mask[k] and owner is not None and not train_flags[owner]:
                mask[k] = False
                rules[k] = "train=false"

    provenance = ProvenanceColumns(message, token_roles, sampled, content, rules)
    return MaskedSequence(
        ids,
        mask,
        provenance,
        frozenset(d.stop_ids),
        turn,
        prompt_gap=list(d.prompt_gap),
        tag_disagreements=list(d.tag_disagreements),
        missing_prompt=list(d.missing_prompt),
    )


def check_stop_trained(sequence: MaskedSequence, roles: list[str]) -> None:
    """A mask that trains assistant tokens but no serving stop would never teach the model to
    stop: a per-conversation error rather than a silent, endless model."""
    mask, stops = sequence.mask, sequence.stop_ids
    if any(mask[k] for k, token_id in enumerate(sequence.ids) if token_id in stops):
        return  # a stop trains (checked first: the common case, and the cheaper test)
    if any(
        m and o is not None and roles[o] == "assistant"
        for m, o in zip(mask, sequence.turn_owner, strict=True)
    ):
        raise MaskError(
            "no serving stop token is among the trained targets, so the model would never learn "
            f"to stop (serving stops on ids {sorted(sequence.stop_ids)}); check the tokenizer's "
            "generation_config.json eos_token_id, or name a renderer"
        )
