"""Migrate one config's text through every step, with no file I/O: the pure core of `migrate`.

The decision is made on the `tomllib` dict (fast, and most files need nothing); only a file that
needs a change is parsed with tomlkit, edited, rendered and verified. tomlkit parses ten times
slower than `tomllib`, so it is given only the blocks the edit touches when that is provably the
same (`fragment`); then the text checks run on those blocks too, and the meaning checks on the
new dict they give (`safety.verify_part`), so a big file is parsed whole once, not twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from lossmask.errors import ConfigError, Problem
from lossmask.migrate import fragment, safety
from lossmask.migrate.steps import Change, Step, steps_for, steps_from

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading
from lossmask.schema.locate import located
from lossmask.schema.validation import nesting_problem, parse_toml
from lossmask.toml_keys import deepest_key


@dataclass
class Outcome:
    """The result of migrating one text: `new_text` is None when nothing changes."""

    new_text: str | None = None
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# What a rewrite must mean: (old dict, new dict) -> problems. The text checks (it parses, keeps
# comments and line endings) are the engine's, on the part or the whole text.
Check = Callable[[dict[str, Any], dict[str, Any]], list[Problem]]


def _rewrite_part(
    step: Step,
    text: str,
    config: dict[str, Any],
    changes: list[Change],
    names: set[str],
    check: Check,
) -> tuple[str, dict[str, Any]] | None:
    """The rewrite made by parsing only the blocks under `names` with tomlkit, if it is safe.

    None when the part is the whole text, or when anything fails (tomlkit, the edit or a safety
    check): the caller then parses the whole text, which gives the same result or the same error
    as before this shortcut existed, with positions counted in the whole file.
    """
    bounds = fragment.span(text, names)
    if bounds is None or bounds == (0, len(text)):
        return None
    start, end = bounds
    # The header line that follows the part goes with it, so an edit at the part's end sees that
    # something follows (and keeps a blank line before it), exactly as in the whole text.
    line_end = text.find("\n", end)
    following = text[end : len(text) if line_end < 0 else line_end + 1]
    try:
        document = tomlkit.parse(text[start:end] + following)
        step.apply(document, config, changes)
        part = document.as_string()
    except (TOMLKitError, ValueError, KeyError, AssertionError):
        return None
    if not part.endswith(following):
        return None
    part = safety.keep_line_endings(
        text, part[: len(part) - len(following)], at_end=end == len(text)
    )
    new = safety.verify_part(text, config, bounds, following, part, names)
    if new is None or check(config, new):
        return None
    return _splice(text, bounds, part), new


def _splice(text: str, bounds: tuple[int, int], part: str) -> str:
    """`text[:start] + part + text[end:]`, without a copy of `text[end:]` on the way when the
    old part's first occurrence is at `start` (a 1 GB file then costs one new text, not two)."""
    start, end = bounds
    old = text[start:end]
    if text.find(old, 0, end) == start:
        return text.replace(old, part, 1)
    return text[:start] + part + text[end:]


# tomlkit 0.15.3 refuses a key that nests tables deeper than this (0.13-0.15.0 recurse until
# Python stops them, which `migrate_text` reports with the same words).
TOMLKIT_KEY_LEVELS = 100


def _rewrite_whole(
    step: Step, text: str, config: dict[str, Any], changes: list[Change], check: Check
) -> tuple[str, dict[str, Any]] | list[Problem]:
    """The rewrite made by parsing the whole text with tomlkit, or why there is none."""
    try:
        document = tomlkit.parse(text)
        step.apply(document, config, changes)
        rendered = document.as_string()
    except (TOMLKitError, ValueError, KeyError, AssertionError) as exc:
        if deepest_key(text)[0] > TOMLKIT_KEY_LEVELS:
            # tomlkit's own limit; older tomlkit recurses instead. The same words either way.
            return [nesting_problem(text)]
        # tomlkit rejects some valid TOML (its issue #571) or cannot place an edit; the file is
        # left as it is and reported, so the user can add the table by hand.
        return [
            Problem(
                f"cannot rewrite this file with tomlkit: {exc}",
                suggestion="add the loss_mask table by hand; "
                "`lossmask migrate --check` verifies it",
            )
        ]
    rendered = safety.keep_line_endings(text, rendered)
    new, problems = safety.verify_text(text, rendered)
    if new is None:
        return problems
    problems = check(config, new) + problems
    return problems if problems else (rendered, new)


def rewrite(
    step: Step, text: str, config: dict[str, Any], changes: list[Change], check: Check
) -> tuple[str, dict[str, Any]] | list[Problem]:
    """Apply `step`'s edit for `changes` to `text` and check it: (new text, new dict) or why not."""
    names = {change.key[0] for change in changes}
    return _rewrite_part(step, text, config, changes, names, check) or _rewrite_whole(
        step, text, config, changes, check
    )


def migrate_config(
    config: dict[str, Any],
    text: str,
    *,
    file: str | None = None,
    from_version: int = 1,
    source: Reading | None = None,
) -> Outcome:
    """Migrate an already parsed config (`config` is `tomllib.loads(text)`) from what `source`
    (a `lossmask.readers.Reading`; default: lossmask's schema at `from_version`) means by it."""
    try:
        return _migrate_config(config, text, file, from_version, source)
    except RecursionError:
        # A value nested nearly as deep as `tomllib` allows can still be too deep to compare.
        return Outcome(problems=[nesting_problem(text, file)])


def _migrate_config(
    config: dict[str, Any],
    text: str,
    file: str | None,
    from_version: int,
    source: Reading | None,
) -> Outcome:
    current_text, current = text, config
    changes: list[Change] = []
    for step in steps_for(source) if source is not None else steps_from(from_version):
        inspection = step.inspect(current)
        if inspection.problems:
            return Outcome(problems=located(inspection.problems, file, current_text))
        if not inspection.changes:
            continue
        result = rewrite(
            step, current_text, current, inspection.changes, partial(safety.verify_meaning, step)
        )
        if isinstance(result, list):
            return Outcome(problems=located(result, file, current_text))
        current_text, current = result
        changes.extend(inspection.changes)
    return Outcome(new_text=current_text if changes else None, changes=changes)


def migrate_text(
    text: str, *, file: str | None = None, from_version: int = 1, source: Reading | None = None
) -> Outcome:
    """Migrate a TOML text. Invalid TOML is a problem, never an exception."""
    try:
        config = parse_toml(text, file)
    except ConfigError as exc:
        return Outcome(problems=exc.problems)
    return migrate_config(config, text, file=file, from_version=from_version, source=source)
