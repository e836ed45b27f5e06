"""Checks every rewritten text must pass before it may replace a file (black's equivalence idea).

A rewrite is kept only if (a) it parses, (b) under the new schema it means exactly what the old
text meant under the old one, and everything outside the loss mask is equal, (c) migrating it
again changes nothing, and (d) every comment of the old text is still there, in order. Any failure
leaves the file untouched and is reported as an error: this is the guard against tomlkit
mis-renderings (e.g. its issues #145 and #588, where an edit lands under the wrong header).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from typing import Any

from lossmask.errors import Problem
from lossmask.migrate.steps import Config, Step
from lossmask.toml_text import comments, headers

_LONE_LF = re.compile(r"(?<!\r)\n")
_ABSENT = object()


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(needle == candidate for candidate in remaining) for needle in needles)


def keep_line_endings(original: str, rendered: str, *, at_end: bool = True) -> str:
    """Give `rendered` the line-ending habits of `original`: `rendered` is a whole new text, or
    with `at_end=False` a part of one that lines of the original follow.

    tomlkit writes `\\n` for the lines it creates: in a file that uses CRLF throughout, they become
    CRLF too. A file without a final newline keeps having none.
    """
    if "\r\n" in original and _LONE_LF.search(original) is None:
        rendered = _LONE_LF.sub("\r\n", rendered)
    if at_end and original and not original.endswith("\n"):
        if rendered.endswith("\r\n"):
            rendered = rendered[:-2]
        elif rendered.endswith("\n"):
            rendered = rendered[:-1]
    return rendered


SUFFIX = "; the file was left untouched (this is a bug: please report it with the file)"


def verify_text(old_text: str, new_text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The checks every rewrite passes, whatever it edits: it parses, keeps comments and endings."""
    try:
        new = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(f"the rewritten text does not parse ({exc}){SUFFIX}")]
    problems = []
    if not is_subsequence(comments(old_text), comments(new_text)):
        problems.append(Problem(f"the rewrite lost or reordered a comment{SUFFIX}"))
    if ("\r\n" in old_text) != ("\r\n" in new_text):
        problems.append(Problem(f"the rewrite changed the line endings{SUFFIX}"))
    return new, problems


def verify_meaning(step: Step, old: Config, new: Config) -> list[Problem]:
    """The checks on what a rewrite means: only the step's changes, and nothing left to do."""
    problems = [
        Problem(problem.message + SUFFIX, problem.key) for problem in step.differences(old, new)
    ]
    again = step.inspect(new) if not step.translation else None
    if again is not None and (again.changes or again.problems):
        problems.append(Problem(f"migrating the rewritten text again would change it{SUFFIX}"))
    return problems


def verify(
    step: Step, old_text: str, old: Config, new_text: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Run every check on one rewrite; return the new dict and the problems (empty: safe)."""
    new, problems = verify_text(old_text, new_text)
    if new is None:
        return {}, problems
    return new, verify_meaning(step, old, new) + problems


def verify_part(
    text: str,
    old: Config,
    bounds: tuple[int, int],
    following: str,
    new_part: str,
    names: Collection[str],
) -> dict[str, Any] | None:
    """The dict of `text` with `text[start:end]` replaced by `new_part`, if the text checks pass
    on the parts alone; None when they fail or that cannot be shown (then check the whole text).

    `bounds` come from `fragment.span(text, names)`: whole blocks that end before a header
    (`following` is that header's line, or ""), holding every line written under the top-level
    `names`, so no statement outside them can write under those keys. The text around them is
    the same before and after, so the new text parses, keeps its comments and line endings, and
    means the dict returned, when (a) both parts parse and keep comments and line endings, (b)
    the lines before the first header (which can write anywhere) are unchanged, and (c) the
    only top-level keys whose values differ between the parts are among `names`, each with the
    same value in the old part as in the whole old file. This lets a 1 GB file be parsed once
    instead of twice.
    """
    start, end = bounds
    old_part = text[start:end] + following
    try:
        before = tomllib.loads(old_part)
    except tomllib.TOMLDecodeError:
        return None
    after, problems = verify_text(old_part, new_part + following)
    if after is None or problems:
        return None
    if start == 0:
        first_before, first_after = headers(old_part), headers(new_part + following)
        if not first_before or not first_after:
            return None
        if new_part[: first_after[0][0]] != old_part[: first_before[0][0]]:
            return None
    new = dict(old)
    for key in before.keys() | after.keys():
        if before.get(key, _ABSENT) == after.get(key, _ABSENT):
            continue
        if key not in names or old.get(key, _ABSENT) != before.get(key, _ABSENT):
            return None  # an edit outside `names`, or a key the part does not hold whole
        if key in after:
            new[key] = after[key]
        else:
            del new[key]
    return new
