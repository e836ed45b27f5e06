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
from typing import Any

from lossmask.errors import Problem
from lossmask.migrate.steps import Config, Step
from lossmask.toml_text import comments

_LONE_LF = re.compile(r"(?<!\r)\n")


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(needle == candidate for candidate in remaining) for needle in needles)


def keep_line_endings(original: str, rendered: str) -> str:
    """Give `rendered` the line-ending habits of `original`.

    tomlkit writes `\\n` for the lines it creates: in a file that uses CRLF throughout, they become
    CRLF too. A file without a final newline keeps having none.
    """
    if "\r\n" in original and _LONE_LF.search(original) is None:
        rendered = _LONE_LF.sub("\r\n", rendered)
    if original and not original.endswith("\n"):
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


def verify(
    step: Step, old_text: str, old: Config, new_text: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Run every check on one rewrite; return the new dict and the problems (empty: safe)."""
    new, problems = verify_text(old_text, new_text)
    if new is None:
        return {}, problems
    problems = [
        Problem(problem.message + SUFFIX, problem.key) for problem in step.differences(old, new)
    ] + problems
    again = step.inspect(new)
    if again.changes or again.problems:
        problems.append(Problem(f"migrating the rewritten text again would change it{SUFFIX}"))
    return new, problems
