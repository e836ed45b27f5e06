"""Migrate one config's text through every step, with no file I/O: the pure core of `migrate`.

The decision is made on the `tomllib` dict (fast, and most files need nothing); only a file that
needs a change is parsed with tomlkit, edited, rendered and verified.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from lossmask.errors import Problem
from lossmask.migrate import safety
from lossmask.migrate.steps import Change, steps_from
from lossmask.schema.locate import find_line, key_lines


@dataclass
class Outcome:
    """The result of migrating one text: `new_text` is None when nothing changes."""

    new_text: str | None = None
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _located(problems: list[Problem], file: str | None, text: str) -> list[Problem]:
    lines = key_lines(text)
    return [
        Problem(
            problem.message,
            problem.key,
            file=file,
            line=problem.line
            if problem.line is not None
            else (find_line(text, problem.key, lines=lines) if problem.key else None),
            suggestion=problem.suggestion,
            severity=problem.severity,
        )
        for problem in problems
    ]


def migrate_config(
    config: dict[str, Any], text: str, *, file: str | None = None, from_version: int = 1
) -> Outcome:
    """Migrate an already parsed config (`config` is `tomllib.loads(text)`)."""
    current_text, current = text, config
    changes: list[Change] = []
    for step in steps_from(from_version):
        inspection = step.inspect(current)
        if inspection.problems:
            return Outcome(problems=_located(inspection.problems, file, current_text))
        if not inspection.changes:
            continue
        try:
            document = tomlkit.parse(current_text)
            step.apply(document, current, inspection.changes)
            rendered = document.as_string()
        except (TOMLKitError, ValueError, KeyError, AssertionError) as exc:
            # tomlkit rejects some valid TOML (its issue #571) or cannot place an edit; the file is
            # left as it is and reported, so the user can add the table by hand.
            problem = Problem(
                f"cannot rewrite this file with tomlkit: {exc}",
                suggestion="add the loss_mask table by hand; "
                "`lossmask migrate --check` verifies it",
            )
            return Outcome(problems=_located([problem], file, current_text))
        rendered = safety.keep_line_endings(current_text, rendered)
        new, problems = safety.verify(step, current_text, current, rendered)
        if problems:
            return Outcome(problems=_located(problems, file, current_text))
        current_text, current = rendered, new
        changes.extend(inspection.changes)
    return Outcome(new_text=current_text if changes else None, changes=changes)


def migrate_text(text: str, *, file: str | None = None, from_version: int = 1) -> Outcome:
    """Migrate a TOML text. Invalid TOML is a problem, never an exception."""
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Outcome(problems=[Problem(f"invalid TOML: {exc}", file=file)])
    return migrate_config(config, text, file=file, from_version=from_version)
