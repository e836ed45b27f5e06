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
from typing import Literal

from lossmask.masks.engine.sample import (
    MaskedSequence,
    MaskError,
    ProvenanceColumns,
    runs,
    true_runs,
)
from lossmask.schema.roles import MODE_DESCRIPTIONS, LossMaskRolesConfig

MODES: tuple[str, ...] = tuple(MODE_DESCRIPTIONS)
"""The named `loss_mask` modes, as the config schema defines them; anything else is a role table."""

LossMask = str | LossMaskRolesConfig


@dataclass(frozen=True)
class MaskRule:
    """A `loss_mask` with everything else a trainer decides about which tokens train.

    A bare `loss_mask` is lossmask's own reading (`MaskRule(loss_mask)`); a reader of another
    trainer (`lossmask.readers`) sets the rest as that trainer does:

    - `content_roles`: messages of these roles train exactly their body (the tokens the backend
      marks content), whatever `loss_mask` says about them (schema v3, prime-rl main);
    - `serving_gap`: tokens after the generation prompt that a renderer leaves unsampled train as
      sampled (lossmask, docs/masks.md) or not at all (prime-rl main calls `renderers` as is);
    - `final_stop`: when a stop is appended to an unclosed final assistant turn: when the backend
      says the turn is unclosed (lossmask), or when the last *trained* token is not a stop
      (`renderers.build_training_sample(..., ensure_final_stop=True)`, what prime-rl main does);
    - `train_flags`: whether per-message `"train": false` restricts the mask (prime-rl main
      ignores it);
    - `stop_check`: what a conversation must have to be a sample: a trained serving stop
      (lossmask), or any renderer stop among its targets (prime-rl main's assertion);
    - `skip_window`: a sample with nothing trained in its first this many targets is skipped
      (prime-rl main looks at `seq_len` targets, and cuts a sample at `seq_len *
      micro_batch_size` when it packs it); None: the whole (truncated) sample.
    """

    loss_mask: LossMask
    content_roles: frozenset[str] = frozenset()
    serving_gap: bool = True
    final_stop: Literal["unclosed-turn", "last-trained"] = "unclosed-turn"
    train_flags: bool = True
    stop_check: Literal["trained", "in-targets"] = "trained"
    skip_window: int | None = None
    reader: str | None = None
    """The reading this rule is, for reports ("prime-rl main"); None: lossmask's own."""


LossMaskLike = str | LossMaskRolesConfig | Mapping[str, bool] | MaskRule


def bad_mode(value: object) -> MaskError:
    """The one message for a `loss_mask` that is neither a mode nor a role table."""
    names = " or ".join(f'"{mode}"' for mode in MODES)
    return MaskError(f"unknown loss_mask {value!r}; use {names} or a role table")


def coerce_loss_mask(loss_mask: LossMaskLike) -> LossMask | MaskRule:
    """Accept a mode name, a `LossMaskRolesConfig`, a plain role dict or a `MaskRule`."""
    if isinstance(loss_mask, MaskRule):
        coerce_loss_mask(loss_mask.loss_mask)
        return loss_mask
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
    has_content_signal: bool = False
    """`content` says exactly which tokens are each message's body (a renderer's `is_content`);
    only then can `content_roles` be applied."""


def _mode_table(
    loss_mask: LossMask,
    sampled: list[bool],
    sampled_rule: list[str],
    token_roles: list[str | None],
    needs_sampled: bool,
    message_runs: list[tuple[int | None, int, int]],
) -> tuple[list[bool], list[str]]:
    """(mask, rule) per token for one mode: the table of docs/masks.md. Written with whole-list
    and run-by-run operations, not a call per token: this runs for every sample a trainer
    builds."""
    count = len(sampled)
    if loss_mask == "all":
        return [True] * count, ["all"] * count
    if loss_mask == "sampled":
        # Trained: the sampled tokens a message wrote. Backends mark only such tokens sampled,
        # so the mask is `sampled` itself; that is checked run by run, and only a description
        # that marks text outside every message sampled is masked token by token.
        sampled_runs = list(true_runs(sampled))
        if any(None in token_roles[start:stop] for start, stop in sampled_runs):
            mask = [s and r is not None for s, r in zip(sampled, token_roles, strict=True)]
            sampled_runs = list(true_runs(mask))
        else:
            mask = list(sampled)
        # Untrained tokens: outside every message, or not sampled; trained ones: the sampled
        # signal's rule. Run by run (a few per conversation), not token by token.
        rules: list[str] = []
        for index, start, stop in message_runs:
            rules += ["outside-messages" if index is None else "not-sampled"] * (stop - start)
        for start, stop in sampled_runs:
            rules[start:stop] = sampled_rule[start:stop]
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


def as_rule(loss_mask: LossMask | MaskRule) -> MaskRule:
    return loss_mask if isinstance(loss_mask, MaskRule) else MaskRule(loss_mask)


def trains_final_turn(loss_mask: LossMask | MaskRule) -> bool:
    base = as_rule(loss_mask).loss_mask
    return not isinstance(base, LossMaskRolesConfig) or base.assistant


def _content_override(
    rule: MaskRule,
    d: TokenDescription,
    token_roles: list[str | None],
    mask: list[bool],
    rules: list[str],
) -> None:
    """Messages of `content_roles` train exactly their body (renderers' `content_sft_roles`)."""
    if not rule.content_roles:
        return
    if not d.has_content_signal:
        if rule.reader is not None:
            return  # as prime-rl main: `renderers` ignores content_sft_roles without the signal
        raise MaskError(
            "content_roles needs a backend that marks each message's body (a renderer); this "
            f"one does not, so {', '.join(sorted(rule.content_roles))} would train nothing. "
            "Name a renderer in [renderer] name, or drop content_roles"
        )
    for k, role in enumerate(token_roles):
        if role in rule.content_roles:
            mask[k] = d.content[k]
            rules[k] = f"content:{role}" if d.content[k] else f"content:{role} off"


def _needs_final_stop(
    rule: MaskRule, d: TokenDescription, ids: list[int], mask: list[bool]
) -> bool:
    if d.roles[-1] != "assistant" or not trains_final_turn(rule):
        return False
    if rule.final_stop == "unclosed-turn":
        return not d.final_closed
    if not d.has_sampled_signal:
        return False
    last = next((k for k in range(len(mask) - 1, -1, -1) if mask[k]), None)
    return last is None or ids[last] not in set(d.stop_ids)


def apply_contract(
    description: TokenDescription, loss_mask: LossMask | MaskRule, train_flags: list[bool]
) -> MaskedSequence:
    """THE mask: mode table, content roles, final stop, then `"train": false` (docs/masks.md)."""
    d = description
    rule = as_rule(loss_mask)
    loss_mask = rule.loss_mask
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
    # The description's columns are read, never changed: a column is copied only where this
    # sequence changes it (the serving gap below, the appended final stop), so one description
    # can be masked under several rules (`diff`, `show` of two configs).
    ids, message, turn, sampled, content = d.ids, d.message, d.turn, d.sampled, d.content
    sampled_rule = d.sampled_rule or ["sampled"] * len(ids)
    if not len(ids) == len(message) == len(turn) == len(sampled) == len(content):
        raise ValueError("a token description's columns differ in length")  # a backend's bug
    message_runs = list(runs(message))
    token_roles: list[str | None] = []
    for index, start, stop in message_runs:  # the role of each token's message, run by run
        token_roles += [None if index is None else d.roles[index]] * (stop - start)
    if not rule.serving_gap and d.prompt_gap:
        sampled, sampled_rule = list(sampled), list(sampled_rule)
        for k in d.prompt_gap:  # as the backend's own signal has them: not sampled
            sampled[k] = False
            sampled_rule[k] = "not-sampled"
    mask, rules = _mode_table(
        loss_mask, sampled, sampled_rule, token_roles, d.roles_need_sampled, message_runs
    )
    _content_override(rule, d, token_roles, mask, rules)

    final = len(d.roles) - 1
    if _needs_final_stop(rule, d, ids, mask):
        ids, message, turn, sampled, content = (
            list(ids),
            list(message),
            list(turn),
            list(sampled),
            list(content),
        )
        ids.append(d.final_stop_id)
        mask.append(True)
        rules.append("final-stop")
        message.append(None)
        turn.append(final)
        token_roles.append("assistant")
        sampled.append(True)
        content.append(True)

    if rule.train_flags and not all(train_flags):
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


def check_stop_trained(
    sequence: MaskedSequence, roles: list[str], rule: MaskRule | None = None
) -> None:
    """A mask that trains assistant tokens but no serving stop would never teach the model to
    stop: a per-conversation error rather than a silent, endless model. Under a rule with
    `stop_check = "in-targets"` (prime-rl main) the check is that trainer's own: some stop id
    among the targets, trained or not, or it stops on an assertion."""
    if rule is not None and rule.stop_check == "in-targets":
        if not sequence.stop_ids & set(sequence.ids[1:]):
            raise MaskError(
                f"{rule.reader or 'this trainer'} stops on this conversation: no renderer stop "
                f"token (ids {sorted(sequence.stop_ids)}) is among its targets (its assertion "
                '"A renderer stop token must be present in target_ids")'
            )
        return
    mask = sequence.mask
    if any(mask[k] for k in sequence.stop_positions()):
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
