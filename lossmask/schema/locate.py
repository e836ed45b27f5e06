"""Find the line a TOML key path is written on, so errors can say `file:line`.

`tomllib` and tomlkit keep no positions, so this is a small line scanner. It understands what
configs
really contain (headers, arrays of tables, dotted and quoted keys, inline tables on one line,
multi-line strings and arrays) and answers with the closest line it knows: a key that is missing
points at its table's header, a key inside an inline table at the line of that inline table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _parse_key(text: str, pos: int) -> tuple[list[str], int] | None:
    """Parse a (possibly dotted, possibly quoted) key starting at `pos`; return parts and end."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            return None
        char = text[pos]
        if char == '"':
            end = pos + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                return None
            parts.append(text[pos + 1 : end].encode().decode("unicode_escape"))
            pos = end + 1
        elif char == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                return None
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            match = _BARE.match(text, pos)
            if not match:
                return None
            parts.append(match.group())
            pos = match.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


def _inline_table_keys(text: str, start: int) -> list[tuple[list[str], int]]:
    """Top-level `key =` pairs of an inline table that opens at `start` (same line only)."""
    found: list[tuple[list[str], int]] = []
    depth, pos, expect_key = 0, start, True
    while pos < len(text):
        char = text[pos]
        if char in "{[":
            depth += 1
            expect_key = char == "{" and depth == 1
            pos += 1
        elif char in "}]":
            depth -= 1
            pos += 1
        elif char in "\"'":
            if expect_key and depth == 1:
                parsed = _parse_key(text, pos)
                if parsed is None:
                    break
                found.append((parsed[0], pos))
                pos, expect_key = parsed[1], False
                continue
            end = text.find(char, pos + 1)
            while end > 0 and char == '"' and text[end - 1] == "\\":
                end = text.find(char, end + 1)
            pos = len(text) if end < 0 else end + 1
        elif char == "," and depth == 1:
            expect_key = True
            pos += 1
        elif expect_key and depth == 1 and _BARE.match(text, pos):
            parsed = _parse_key(text, pos)
            if parsed is None:
                break
            found.append((parsed[0], pos))
            pos, expect_key = parsed[1], False
        else:
            pos += 1
    return found


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path written in `text` to its 1-based line number."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    array_lengths: dict[KeyPath, int] = {}
    open_multiline: str | None = None
    bracket_depth = 0  # inside a multi-line array value
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if open_multiline is not None:
            if line.count(open_multiline) % 2 == 1:
                open_multiline = None
            continue
        if bracket_depth > 0:
            bracket_depth += line.count("[") - line.count("]")
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            parsed = _parse_key(line, 2)
            if parsed is not None:
                base = tuple(parsed[0])
                index = array_lengths.get(base, 0)
                array_lengths[base] = index + 1
                table = (*base, index)
                for depth in range(1, len(base) + 1):
                    lines.setdefault(base[:depth], number)
                lines[table] = number
            continue
        if line.startswith("["):
            parsed = _parse_key(line, 1)
            if parsed is not None:
                table = tuple(parsed[0])
                for depth in range(1, len(table) + 1):
                    lines.setdefault(table[:depth], number)
            continue
        parsed = _parse_key(line, 0)
        if parsed is None or parsed[1] >= len(line) or line[parsed[1]] != "=":
            continue
        path = (*table, *parsed[0])
        for depth in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:depth], number)
        value = line[parsed[1] + 1 :].lstrip()
        for delimiter in ('"""', "'''"):
            if value.startswith(delimiter) and value.count(delimiter) == 1:
                open_multiline = delimiter
        if value.startswith("{"):
            for inner, _ in _inline_table_keys(value, 0):
                lines.setdefault((*path, *inner), number)
        elif value.startswith("["):
            bracket_depth = value.count("[") - value.count("]")
    return lines


def find_line(
    text: str, key: Sequence[str | int], *, lines: dict[KeyPath, int] | None = None
) -> int | None:
    """The line of `key`, or of the closest enclosing key or table that is written in `text`."""
    known = key_lines(text) if lines is None else lines
    path = tuple(key)
    while path:
        if path in known:
            return known[path]
        path = path[:-1]
    return None
