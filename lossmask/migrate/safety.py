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

_LONE_LF = re.compile(r"(?<!\r)\n")
# What can start a comment or a string; everything between is skipped in one regex search.
_INTERESTING = re.compile(r"#|\"\"\"|'''|\"|'")
# The body of a basic string: runs of plain characters, each escape taken whole. Written as an
# unrolled loop (`a*(?:\\.a*)*`), so a long string is one regex step per escape, not per character.
_BASIC_BODY = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*', re.DOTALL)
_LITERAL_BODY = re.compile(r"[^'\n]*")


def comments(text: str) -> list[str]:
    """Every comment in a TOML text, in order (a `#` inside a string is not a comment)."""
    found: list[str] = []
    position, length = 0, len(text)
    while True:
        match = _INTERESTING.search(text, position)
        if match is None:
            return found
        position = match.start()
        token = match.group()
        if token == "#":
            end = text.find("\n", position)
            end = length if end < 0 else end
            found.append(text[position:end].rstrip("\r"))
            position = end
        elif len(token) == 3:
            position = end_of_multiline(text, position + 3, token)
        else:
            position = end_of_string(text, position + 1, token)


def end_of_multiline(text: str, position: int, quote: str) -> int:
    while True:
        end = text.find(quote, position)
        if end < 0:
            return len(text)
        if quote == '"""' and _escaped(text, end):
            position = end + 1
            continue
        # Up to two quote characters may directly follow the closing delimiter (`""""`).
        end += 3
        extra = 0
        while extra < 2 and end < len(text) and text[end] == quote[0]:
            end += 1
            extra += 1
        return end


def end_of_string(text: str, position: int, quote: str) -> int:
    """Just past the quote that closes a one-line string opened before `position`.

    In a basic string a backslash escapes the next character, whatever it is; a string left open
    ends at the end of its line. One regex match instead of a loop per character.
    """
    body = _BASIC_BODY if quote == '"' else _LITERAL_BODY
    match = body.match(text, position)
    assert match is not None  # both patterns match the empty string
    return match.end() + 1


def _escaped(text: str, position: int) -> bool:
    backslashes = 0
    while position - backslashes - 1 >= 0 and text[position - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


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
