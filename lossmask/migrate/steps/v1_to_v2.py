"""Schema v1 -> v2: give every SFT data section without a loss mask its v1 meaning explicitly.

v1 read a missing `loss_mask` as the legacy default, assistant messages only; v2 reads it as
`"sampled"`. A role table, partial or full, means the same under both (v2 reads the roles left out
with v1's defaults), and so do `"sampled"` and `"all"`. So:

- no `loss_mask`  -> the full legacy role table, with a comment saying why;
- anything else, and every non-SFT table or file -> untouched.

Which tables are SFT data sections is decided by `lossmask.schema.sections.sft_sections`, the same
rule `lossmask validate` uses. Where the new lines go, in the file's own style, is
`lossmask.migrate.placement`'s business; a stack of files is `lossmask.migrate.stacks`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError
from tomlkit import TOMLDocument

from lossmask.errors import Problem
from lossmask.migrate import placement
from lossmask.migrate.compare import first_difference
from lossmask.migrate.steps import Change, Config, Inspection, KeyPath, Step
from lossmask.schema.messages import MODES, reword, toml_value
from lossmask.schema.roles import LEGACY_ROLE_DEFAULTS, ROLES, LossMaskSetting
from lossmask.schema.sections import sft_sections

MISSING_COMMENT = '# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")'
ADDED = "added the v1 default explicitly (assistant only)"
LEGACY_FLAGS: tuple[tuple[str, bool], ...] = tuple(
    (role, LEGACY_ROLE_DEFAULTS[role]) for role in ROLES
)

MISSING = object()
"""Stands for an absent `loss_mask` in `meaning_v1` / `meaning_v2`."""

_LOSS_MASK: TypeAdapter[LossMaskSetting] = TypeAdapter(LossMaskSetting)


def loss_mask_problems(value: Any, path: KeyPath) -> list[Problem]:
    """Why a `loss_mask` value is invalid, word for word what `lossmask validate` says."""
    # The cheap structural check accepts what every valid file holds; anything else goes through
    # pydantic for the message.
    if isinstance(value, str) and value in MODES:
        return []
    if isinstance(value, Mapping) and all(
        key in ROLES and type(flag) is bool for key, flag in value.items()
    ):
        return []
    try:
        _LOSS_MASK.validate_python(value, strict=True)
    except ValidationError as exc:
        wrapped: dict[str, Any] = {}
        node = wrapped
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        return [
            reword({**error, "loc": (*path, *error["loc"])}, wrapped, version=2)
            for error in exc.errors()
        ]
    return []


def inspect(config: Config) -> Inspection:
    result = Inspection()
    for path, section in sft_sections(config):
        key = (*path, "loss_mask")
        value = section.get("loss_mask", MISSING)
        if value is MISSING:
            result.changes.append(Change(key, ADDED))
        else:
            result.problems.extend(loss_mask_problems(value, key))
    return result


def apply(document: TOMLDocument, config: Config, changes: list[Change]) -> None:
    """Write the legacy table for every change's section (which may be absent from the file)."""
    for change in changes:
        placement.add_table(document, change.key[:-1], "loss_mask", LEGACY_FLAGS, MISSING_COMMENT)


# --- the equivalence check ----------------------------------------------------------------------


def meaning_v1(value: Any) -> Any:
    """What a `loss_mask` value trained under v1 (role dict), or the string as written."""
    if value is MISSING:
        return dict(LEGACY_ROLE_DEFAULTS)
    if isinstance(value, Mapping):
        return {**LEGACY_ROLE_DEFAULTS, **value}
    return value


def meaning_v2(value: Any) -> Any:
    """What a `loss_mask` value trains under v2."""
    if value is MISSING:
        return "sampled"
    return meaning_v1(value)


def describe(meaning: Any) -> str:
    if isinstance(meaning, Mapping) and set(meaning) <= set(ROLES):
        return "roles(" + ", ".join(role for role in ROLES if meaning.get(role)) + ")"
    return toml_value(meaning)


def meaning_problem(before: Any, after: Any, key: KeyPath) -> Problem | None:
    if before == after:
        return None
    return Problem(
        f"the rewrite would train {describe(after)} under v2 where v1 trained {describe(before)}",
        key,
    )


def differences(old: Config, new: Config) -> list[Problem]:
    problems = []
    old_sections = dict(sft_sections(old))
    new_sections = dict(sft_sections(new))
    if old_sections.keys() != new_sections.keys():
        problems.append(Problem("the rewrite changed which tables are SFT data sections"))
    for path, section in old_sections.items():
        before = meaning_v1(section.get("loss_mask", MISSING))
        after = meaning_v2(new_sections.get(path, {}).get("loss_mask", MISSING))
        problem = meaning_problem(before, after, (*path, "loss_mask"))
        if problem is not None:
            problems.append(problem)
    skip = (frozenset(old_sections), frozenset(new_sections))
    changed = first_difference(old, new, skip=skip)
    if changed is not None:
        problems.append(Problem("the rewrite changed a value outside loss_mask", changed))
    return problems


STEP = Step(from_version=1, to_version=2, inspect=inspect, apply=apply, differences=differences)
