"""Questions about the keys of a TOML text, answered by reading it by hand (`toml_text`'s
scanners): where the keys a few problems name are written, without mapping every key of a big
file (`wanted_lines`); how deep its dotted keys nest tables (`deepest_key`); which key a
`tomllib` duplicate error is about (`duplicate_key`). None of them recurses.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence

from lossmask.toml_text import (
    _BLANKS,
    _SPACE,
    KeyPath,
    _CountingLines,
    _skip_value,
    headers,
    key_lines,
    parse_key,
)


def _statements(text: str) -> Iterator[tuple[int, KeyPath, bool]]:
    """(line, full key path, is a header) of every header and `key = value` line, in order."""
    line_of = _CountingLines(text)
    table: KeyPath = ()
    array_lengths: dict[KeyPath, int] = {}
    position, length = 0, len(text)
    while True:
        position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
        if position >= length:
            return
        line = line_of.at(position)
        if text[position] == "[":
            is_array = text.startswith("[[", position)
            parsed = parse_key(text, position + (2 if is_array else 1))
            if parsed is not None:
                table = tuple(parsed[0])
                if is_array:
                    array_lengths[table] = array_lengths.get(table, 0) + 1
                yield line, table, True
        else:
            parsed = parse_key(text, position)
            if parsed is not None:
                parts, end = parsed
                yield line, (*table, *parts), False
                end = _BLANKS.match(text, end).end()  # type: ignore[union-attr]
                if end < length and text[end] == "=":
                    start = _BLANKS.match(text, end + 1).end()  # type: ignore[union-attr]
                    position = _skip_value(text, start, (*table, *parts), {}, line_of)
        end = text.find("\n", position)
        if end < 0:
            return
        position = end + 1


def deepest_key(text: str) -> tuple[int, int]:
    """(levels, line) of the most deeply nested table a header or dotted key makes: `[a.b.c]`
    nests 3 tables, `b.c = 1` under `[a]` nests 2. Read without recursion, so a 1,000-part header
    costs nothing to measure."""
    deepest, deepest_line = 0, 1
    for line, path, is_header in _statements(text):
        levels = len(path) if is_header else len(path) - 1
        if levels > deepest:
            deepest, deepest_line = levels, line
    return deepest, deepest_line


_DECLARED_TWICE = re.compile(r"Cannot declare \((.*)\) twice")


def duplicate_key(text: str, message: str, line: int | None) -> tuple[KeyPath, int | None] | None:
    """For `tomllib`'s "Cannot declare ('data',) twice" and "Cannot overwrite a value" at
    `line`: the key path defined twice and the line of its first definition, if it can tell."""
    key: KeyPath | None = None
    declared = _DECLARED_TWICE.match(message)
    if declared is not None:
        parts = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", declared.group(1))
        key = tuple(single or double for single, double in parts)
    elif message.startswith("Cannot overwrite a value") and line is not None:
        key = next((path for at, path, _ in _statements(text) if at == line), None)
    if not key or line is None:
        return None
    first = None
    for at, path, _ in _statements(text):
        if at >= line:
            break
        if path[: len(key)] == key:
            first = at
            break
    return key, first


def wanted_lines(text: str, wanted: Collection[Sequence[str | int]]) -> dict[KeyPath, int]:
    """`key_lines(text, wanted)`, reading key by key only the parts of the text that can hold
    the wanted keys: one quick pass finds the table headers (`headers`), then only the top of
    the text and the tables whose first key is a wanted key's are read, so a 50 MB file with an
    error on its last line is not read key by key to get there. Keys inside arrays of tables
    (their index counts every table before) and texts whose headers the quick pass is unsure
    of are read whole."""
    keys = [tuple(key) for key in wanted]
    simple = all(isinstance(part, str) for key in keys for part in key)
    found = headers(text) if keys and simple else None
    if found is None:
        return key_lines(text, keys)
    firsts = {key[0] for key in keys if key}
    ends = [offset for offset, _ in found[1:]] + [len(text)] if found else []
    regions = [(0, found[0][0] if found else len(text))]
    # A wanted key's line may come from any of its prefixes (`find_line` falls back to them).
    targets = {key[:depth] for key in keys for depth in range(1, len(key) + 1)}
    deeper_seen: set[KeyPath] = set()
    for (offset, first), end in zip(found, ends, strict=True):
        if first not in firsts:
            continue
        # The header's key, from its line (`headers` vouches it has no quotes).
        line_end = text.find("\n", offset)
        header = text[offset : len(text) if line_end < 0 else line_end].split("#", 1)[0]
        path = tuple(part.strip(" \t") for part in header.strip(" \t\r[]").split("."))
        # A table on the way to a target (or the target's own) may write it; of the tables
        # under a target, only the first gives it a line (a later one never overrides that).
        on_the_way = any(target[: len(path)] == path for target in targets)
        under = {t for t in targets if path[: len(t)] == t and len(path) > len(t)}
        if on_the_way or under - deeper_seen:
            regions.append((offset, end))
        deeper_seen |= under
    return key_lines(text, keys, regions)
