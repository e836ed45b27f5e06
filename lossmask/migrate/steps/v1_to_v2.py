"""Schema v1 -> v2: make every SFT data section's loss mask explicit, so it keeps its v1 meaning.

v1 read a missing `loss_mask` (and any role left out of the table) as the legacy default,
assistant messages only. v2 reads a missing `loss_mask` as `"sampled"`. So:

- no `loss_mask`        -> the full legacy role table, with a comment saying why;
- a partial role table  -> the missing roles written out with their legacy defaults, in the
                           user's own style (table, inline table, dotted keys);
- full table, "sampled", "all", and every non-SFT table or file -> untouched.

Which tables are SFT data sections is decided by `lossmask.schema.sections.sft_sections`, the same
rule `lossmask validate` uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from pydantic import TypeAdapter, ValidationError
from tomlkit import TOMLDocument
from tomlkit.items import InlineTable, Item, Key

from lossmask.errors import Problem, format_key
from lossmask.migrate import tomlkit_edit as edit
from lossmask.migrate.steps import Change, Config, Inspection, KeyPath, Step
from lossmask.schema.messages import MODES, reword, toml_value
from lossmask.schema.roles import LEGACY_ROLE_DEFAULTS, ROLES, LossMaskSetting
from lossmask.schema.sections import sft_sections

MISSING_COMMENT = '# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")'
PARTIAL_COMMENT = "# lossmask migrate: roles left out, written with their v1 defaults"

_MISSING = object()
_LOSS_MASK = TypeAdapter(LossMaskSetting)


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


def _loss_mask_problems(value: Any, path: KeyPath) -> list[Problem]:
    # The cheap structural check accepts what every valid file holds; anything else goes through
    # pydantic so the message is word for word what `lossmask validate` says.
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
        value = section.get("loss_mask", _MISSING)
        if value is _MISSING:
            result.changes.append(Change(key, "added the v1 default explicitly (assistant only)"))
            continue
        problems = _loss_mask_problems(value, key)
        if problems:
            result.problems.extend(problems)
            continue
        if isinstance(value, Mapping):
            missing = [role for role in ROLES if role not in value]
            if missing:
                written = ", ".join(
                    f"{role} = {_toml_bool(LEGACY_ROLE_DEFAULTS[role])}" for role in missing
                )
                result.changes.append(Change(key, f"wrote out the v1 defaults: {written}"))
    return result


# --- the edit -----------------------------------------------------------------------------------


def _role_value(role: str) -> str:
    return _toml_bool(LEGACY_ROLE_DEFAULTS[role])


def _inline_pairs_text(pairs: list[tuple[str, str]], spaced: bool) -> str:
    inner = ", ".join(f"{key} = {value}" for key, value in pairs)
    return "{ " + inner + " }" if spaced else "{" + inner + "}"


def _extend_inline(entry: edit.Entry, pairs: list[tuple[str, str]]) -> None:
    """Append `key = value` pairs to a one-line inline table, keeping its spacing.

    tomlkit's own append renders `{ a = 1,  b = 2}` (space moved, doubled); rewriting the inline
    table's text and re-parsing it keeps the user's `{ a = 1 }` or `{a = 1}` style.
    """
    text = entry.item.as_string()
    if "\n" in text or not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"{format_key(entry.path)} is not a one-line inline table")
    inner = text[1:-1]
    body = inner.rstrip()
    trailing = inner[len(body) :]
    addition = ", ".join(f"{key} = {value}" for key, value in pairs)
    if body.strip():
        new_inner = f"{body}, {addition}{trailing}"
    else:
        leading = inner[: len(inner) - len(inner.lstrip())]
        new_inner = f"{leading}{addition}{trailing}"
    edit.replace_item(entry, edit.parse_value("{" + new_inner + "}"))


def _line_indent(entry: edit.Entry) -> str:
    item: Item = entry.container.body[entry.index][1]
    while (
        not isinstance(item, InlineTable) and hasattr(item, "value") and hasattr(item.value, "body")
    ):
        children = [child for key, child in item.value.body if key is not None]
        if not children:
            break
        item = children[0]
    return str(item.trivia.indent)


def _comment_above(entry: edit.Entry, text: str) -> None:
    edit.insert_entries(
        entry.container, entry.index, [edit.comment_entry(text, _line_indent(entry))]
    )


def _outermost_implicit(document: TOMLDocument, entry: edit.Entry) -> edit.Entry:
    """The outermost header-less table that holds `entry` (`val` for an implicit `val.data`)."""
    for depth in range(1, len(entry.path)):
        for outer in edit.entries_at(document, entry.path[:depth]):
            if outer.kind == "super" and _holds(outer.item, entry.item):
                return outer
    return entry


def _holds(outer: Item, inner: Item) -> bool:
    children = [child for key, child in outer.value.body if key is not None]
    return any(
        child is inner
        or (hasattr(child, "value") and hasattr(child.value, "body") and _holds(child, inner))
        for child in children
    )


def _add_legacy_table(document: TOMLDocument, path: KeyPath) -> None:
    entries = edit.entries_at(document, path)
    legacy = [(role, _role_value(role)) for role in ROLES]
    flags = [(role, LEGACY_ROLE_DEFAULTS[role]) for role in ROLES]
    inline = next((e for e in entries if e.kind == "inline"), None)
    if inline is not None:
        spaced = inline.item.as_string().startswith("{ ")
        _extend_inline(inline, [("loss_mask", _inline_pairs_text(legacy, spaced))])
        _comment_above(inline, MISSING_COMMENT)
        return
    header = next((e for e in entries if e.kind == "header"), None)
    if header is not None:
        container = header.item.value
        at = edit.own_keys_end(header.item)  # type: ignore[arg-type]
        block = [edit.comment_entry(MISSING_COMMENT), edit.table_entry((*path, "loss_mask"), flags)]
        edit.insert_entries(container, at, [edit.blank_line(), *block] if at > 0 else block)
        return
    dotted = [e for e in entries if e.kind == "dotted"]
    if dotted:
        last = max(dotted, key=lambda e: e.index)
        indent = _line_indent(last)
        block = [edit.comment_entry(MISSING_COMMENT, indent)] + [
            edit.dotted_line((*last.relative, "loss_mask", role), value, indent)
            for role, value in flags
        ]
        edit.insert_entries(last.container, last.index + 1, block)
        return
    implicit = next((e for e in entries if e.kind == "super"), None)
    if implicit is not None:
        # Only sub-tables such as `[data.extra]` define the section: put the new table first. The
        # comment goes in the parent, above the implicit table: inside it, tomlkit would have to
        # write a `[data]` header for it.
        table = edit.table_entry((*path, "loss_mask"), flags)
        edit.insert_entries(implicit.item.value, 0, [table, edit.blank_line()])
        outer = _outermost_implicit(document, implicit)
        edit.insert_entries(outer.owner, outer.owner_index, [edit.comment_entry(MISSING_COMMENT)])
        return
    raise ValueError(f"cannot find where {format_key(path)} is written")


def _complete_roles(document: TOMLDocument, path: KeyPath, present: Mapping[str, Any]) -> None:
    key = (*path, "loss_mask")
    missing = [(role, _role_value(role)) for role in ROLES if role not in present]
    flags = [(role, LEGACY_ROLE_DEFAULTS[role]) for role in ROLES if role not in present]
    entries = edit.entries_at(document, key)
    inline = next((e for e in entries if e.kind == "inline"), None)
    if inline is not None:
        _extend_inline(inline, missing)
        _comment_above(inline, PARTIAL_COMMENT)
        return
    header = next((e for e in entries if e.kind == "header"), None)
    if header is not None:
        container = header.item.value
        at = edit.own_keys_end(header.item)  # type: ignore[arg-type]
        indent = edit.last_indent(container, at)
        block: list[tuple[Key | None, Item]] = [edit.comment_entry(PARTIAL_COMMENT, indent)]
        block += [edit.key_value(role, value, indent) for role, value in flags]
        edit.insert_entries(container, at, block)
        return
    dotted = [e for e in entries if e.kind == "dotted"]
    if dotted:
        last = max(dotted, key=lambda e: e.index)
        indent = _line_indent(last)
        lines: list[tuple[Key | None, Item]] = [
            edit.dotted_line((*last.relative, role), value, indent) for role, value in flags
        ]
        block = [edit.comment_entry(PARTIAL_COMMENT, indent), *lines]
        edit.insert_entries(last.container, last.index + 1, block)
        return
    raise ValueError(f"cannot find where {format_key(key)} is written")


def apply(document: TOMLDocument, config: Config, changes: list[Change]) -> None:
    wanted = {change.key[:-1] for change in changes}
    for path, section in sft_sections(config):
        if path not in wanted:
            continue
        value = section.get("loss_mask", _MISSING)
        if value is _MISSING:
            _add_legacy_table(document, path)
        else:
            _complete_roles(document, path, value)


# --- the equivalence check ----------------------------------------------------------------------


def meaning_v1(value: Any) -> Any:
    """What a `loss_mask` value trained under v1 (role dict), or the string as written."""
    if value is _MISSING:
        return dict(LEGACY_ROLE_DEFAULTS)
    if isinstance(value, Mapping):
        return {**LEGACY_ROLE_DEFAULTS, **value}
    return value


def meaning_v2(value: Any) -> Any:
    """What a `loss_mask` value trains under v2."""
    if value is _MISSING:
        return "sampled"
    return meaning_v1(value)


def _describe(meaning: Any) -> str:
    if isinstance(meaning, Mapping) and set(meaning) <= set(ROLES):
        return "roles(" + ", ".join(role for role in ROLES if meaning.get(role)) + ")"
    return toml_value(meaning)


# Values `tomllib` returns that are compared with `==` (after their types): the hot path of the
# comparison, taken before the slower `Mapping` and `list` checks.
_SCALARS = frozenset({str, int, float, bool, datetime, date, time})
_NOTHING_SKIPPED: tuple[frozenset[KeyPath], frozenset[KeyPath]] = (frozenset(), frozenset())


def first_difference(
    old: Any,
    new: Any,
    path: tuple[str | int, ...] = (),
    skip: tuple[frozenset[KeyPath], frozenset[KeyPath]] = _NOTHING_SKIPPED,
) -> tuple[str | int, ...] | None:
    """The key path of the first value that differs (NaN equals NaN; 1, 1.0 and true differ).

    `skip` holds, for old and for new, the tables whose `loss_mask` key is left out of the
    comparison (as if deleted), so the two configs need not be copied to drop it.
    """
    kind = type(old)
    if kind is type(new) and kind in _SCALARS:
        if old == new or (kind is float and math.isnan(old) and math.isnan(new)):
            return None
        return path
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        old_skips = "loss_mask" in old and path in skip[0]
        new_skips = "loss_mask" in new and path in skip[1]
        for key, value in old.items():
            if old_skips and key == "loss_mask":
                continue
            if key not in new or (new_skips and key == "loss_mask"):
                return (*path, key)
            found = first_difference(value, new[key], (*path, key), skip)
            if found is not None:
                return found
        for key in new:
            if (key not in old or (old_skips and key == "loss_mask")) and not (
                new_skips and key == "loss_mask"
            ):
                return (*path, key)
        return None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return path
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found = first_difference(a, b, (*path, index), skip)
            if found is not None:
                return found
        return None
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return None
    if type(old) is not type(new) or old != new:
        return path
    return None


def differences(old: Config, new: Config) -> list[Problem]:
    problems = []
    old_sections = dict(sft_sections(old))
    new_sections = dict(sft_sections(new))
    if old_sections.keys() != new_sections.keys():
        problems.append(Problem("the rewrite changed which tables are SFT data sections"))
    for path, section in old_sections.items():
        before = meaning_v1(section.get("loss_mask", _MISSING))
        after = meaning_v2(new_sections.get(path, {}).get("loss_mask", _MISSING))
        if before != after:
            problems.append(
                Problem(
                    f"the rewrite would train {_describe(after)} under v2 where v1 trained "
                    f"{_describe(before)}",
                    (*path, "loss_mask"),
                )
            )
    skip = (frozenset(old_sections), frozenset(new_sections))
    changed = first_difference(old, new, skip=skip)
    if changed is not None:
        problems.append(Problem("the rewrite changed a value outside loss_mask", changed))
    return problems


STEP = Step(from_version=1, to_version=2, inspect=inspect, apply=apply, differences=differences)
