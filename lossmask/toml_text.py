"""TOML source text scanned without parsing it: comments, table headers and the line of each key.

`tomllib` and tomlkit keep no positions, and the migration's fast paths must not pay for a tomlkit
parse, so every question about *where* something is written in a TOML text is answered here, by one
set of string-skipping rules:

- `comments(text)`: every comment, in order (what the migration's safety check compares).
- `headers(text)`: where each table header starts (what the migration's partial parse cuts at).
- `key_lines(text)` / `find_line(text, key)`: the line a key path is written on (what every error
  message's `file:line` comes from).

Lines are counted as TOML counts them: only LF ends a line (CRLF is LF with a CR before it), so a
U+2028 or U+0085 in a comment or string does not shift the count the way `str.splitlines` would.
The scanners expect text `tomllib` has accepted; on anything else they give a best effort answer
(or None) and never raise or loop. None of them recurses, so a deeply nested value cannot exhaust
the stack.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]
"""Where a value sits in a TOML document: table keys and array indices (`eval.source[0].name`)."""
TablePath = tuple[str, ...]
"""A path of table keys only (`data.loss_mask`): where a table or key is, never inside an array."""

# --- strings -------------------------------------------------------------------------------------

# The body of a basic string: runs of plain characters, each escape taken whole. Written as an
# unrolled loop (`a*(?:\\.a*)*`), so a long string is one regex step per escape, not per character.
_BASIC_BODY = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*', re.DOTALL)
_LITERAL_BODY = re.compile(r"[^'\n]*")


def end_of_multiline(text: str, position: int, quote: str) -> int:
    """Just past the `\"\"\"` or `'''` that closes a multi-line string whose body starts at
    `position` (the end of the text if it is never closed)."""
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


def skip_string(text: str, start: int) -> int:
    """Just past the string (any of TOML's four kinds) whose opening quote is at `start`."""
    quote = text[start]
    triple = quote * 3
    if text.startswith(triple, start):
        return end_of_multiline(text, start + 3, triple)
    return end_of_string(text, start + 1, quote)


_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b"}


def _unescape(body: str) -> str:
    """The value of a basic string's body (escapes decoded, as TOML defines them)."""

    def decode(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        if code is not None:
            return chr(int(code, 16))
        char = match.group(3)
        return _SIMPLE_ESCAPES.get(char, char)

    return _ESCAPE.sub(decode, body) if "\\" in body else body


# --- comments ------------------------------------------------------------------------------------

# What can start a comment or a string; everything between is skipped in one regex search.
_COMMENT_OR_STRING = re.compile(r"#|\"\"\"|'''|\"|'")


def comments(text: str) -> list[str]:
    """Every comment in a TOML text, in order (a `#` inside a string is not a comment)."""
    found: list[str] = []
    position, length = 0, len(text)
    while True:
        match = _COMMENT_OR_STRING.search(text, position)
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


# --- headers -------------------------------------------------------------------------------------

# Everything that can open or close a string, comment, array or header.
_HEADER_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]]")


def headers(text: str) -> list[tuple[int, str]] | None:
    """(offset of the line, first key) of every table header, in order; None when unsure.

    `text` must be valid TOML (it has been parsed with `tomllib`): then a `[` that starts a line
    (after blanks) outside any string or array opens a header, and every other `[` opens an array.
    A quoted header key makes it answer None (the caller then looks at the whole text).
    """
    found: list[tuple[int, str]] = []
    depth = 0  # open arrays, which may span lines
    position = 0
    search = _HEADER_TOKEN.search
    while True:
        match = search(text, position)
        if match is None:
            return found
        token, start = match.group(), match.start()
        if token == "#":
            end = text.find("\n", start)
            position = len(text) if end < 0 else end
        elif token == '"""' or token == "'''":
            position = end_of_multiline(text, start + 3, token)
        elif token == '"' or token == "'":
            position = end_of_string(text, start + 1, token)
        elif token == "]":
            if depth == 0:
                return None  # not valid TOML as this scanner understands it
            depth -= 1
            position = start + 1
        else:
            # The last newline may sit in a multi-line string closed earlier on this line; then
            # its closing quotes lie between, and this `[` is rightly not a header.
            line_start = text.rfind("\n", 0, start) + 1
            if depth > 0 or text[line_start:start].strip(" \t"):
                depth += 1
                position = start + 1
                continue
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            close = text.find("]", start, end)
            name = text[start:close].lstrip("[")
            if close < 0 or '"' in name or "'" in name:
                return None
            found.append((line_start, name.split(".", 1)[0].strip(" \t")))
            position = end


# --- nesting -------------------------------------------------------------------------------------

_NESTING_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}]")


def deepest_nesting(text: str) -> tuple[int, int]:
    """(depth, line) of the most deeply nested array or inline table, for a message that says
    where a text is nested too deeply for a recursive parser. A table header counts as one level
    while it is read, which never matters next to a value deep enough to be a problem."""
    depth = deepest = 0
    deepest_at = position = 0
    while True:
        match = _NESTING_TOKEN.search(text, position)
        if match is None:
            return deepest, text.count("\n", 0, deepest_at) + 1
        token, start = match.group(), match.start()
        if token == "#":
            end = text.find("\n", start)
            position = len(text) if end < 0 else end
        elif token[0] == '"' or token[0] == "'":
            position = skip_string(text, start)
        else:
            position = start + 1
            if token == "[" or token == "{":
                depth += 1
                if depth > deepest:
                    deepest, deepest_at = depth, start
            else:
                depth = max(0, depth - 1)


# --- keys and their lines ------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BLANKS = re.compile(r"[ \t]*")
# Blank space, newlines and comments: what may separate the items of an array.
_SPACE = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
# The rest of a scalar value (number, boolean, date-time): up to what ends a value.
_SCALAR = re.compile(r"[^,\]}\n#]*")


def parse_key(text: str, position: int) -> tuple[list[str], int] | None:
    """A (possibly dotted, possibly quoted) key starting at `position`: its parts and its end."""
    parts: list[str] = []
    length = len(text)
    while True:
        position = _BLANKS.match(text, position).end()  # type: ignore[union-attr]
        if position >= length:
            return None
        char = text[position]
        if char == '"' or char == "'":
            end = end_of_string(text, position + 1, char)
            if end > length or text[end - 1] != char:
                return None
            body = text[position + 1 : end - 1]
            parts.append(_unescape(body) if char == '"' else body)
            position = end
        else:
            match = _BARE.match(text, position)
            if not match:
                return None
            parts.append(match.group())
            position = match.end()
        position = _BLANKS.match(text, position).end()  # type: ignore[union-attr]
        if position < length and text[position] == ".":
            position += 1
            continue
        return parts, position


@dataclass
class _Open:
    """An array or inline table being scanned: its key path and how many items it has so far."""

    is_array: bool
    path: KeyPath
    items: int = 0


def _skip_value(
    text: str, position: int, path: KeyPath, lines: dict[KeyPath, int], line_of: _CountingLines
) -> int:
    """Just past the value that starts at `position`, recording the keys of its inline tables
    (and the items of its arrays) under `path`. A loop with its own stack: never recursion."""
    length = len(text)
    open_values: list[_Open] = []  # innermost last
    value_path: KeyPath | None = path  # not None: a value starts at `position`
    while position < length:
        if value_path is not None:
            char = text[position]
            if char == "[" or char == "{":
                open_values.append(_Open(char == "[", value_path))
                position += 1
            elif char == '"' or char == "'":
                position = skip_string(text, position)
            else:
                position = _SCALAR.match(text, position).end()  # type: ignore[union-attr]
            value_path = None
        if not open_values:
            return position
        # Inside an array or inline table: the next item, a separator or the close.
        position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
        if position >= length:
            return position
        char = text[position]
        innermost = open_values[-1]
        if char == "," or char == "]" or char == "}":
            position += 1
            if char != ",":
                open_values.pop()
                if not open_values:
                    return position
            continue
        if innermost.is_array:
            value_path = (*innermost.path, innermost.items)
            innermost.items += 1
            lines.setdefault(value_path, line_of.at(position))
            continue
        parsed = parse_key(text, position)
        if parsed is None:
            return length  # not TOML this scanner understands; stop here
        parts, end = parsed
        key_path = (*innermost.path, *parts)
        line = line_of.at(position)
        for depth in range(len(innermost.path) + 1, len(key_path) + 1):
            lines.setdefault(key_path[:depth], line)
        position = _BLANKS.match(text, end).end()  # type: ignore[union-attr]
        if position < length and text[position] == "=":
            position = _BLANKS.match(text, position + 1).end()  # type: ignore[union-attr]
        value_path = key_path
    return position


class _Wanted(dict[KeyPath, int]):
    """The part of a `key_lines` map on the way to some wanted keys: other paths are dropped as
    they are recorded. A wanted key is settled once written itself (its header, or its own
    `key = value`); one only implied by a deeper key may still get its own header later."""

    def __init__(self, wanted: Collection[Sequence[str | int]]) -> None:
        super().__init__()
        self.exact = {tuple(key) for key in wanted}
        self.prefixes = {key[:depth] for key in self.exact for depth in range(1, len(key) + 1)}
        self.unsettled = set(self.exact)

    def __setitem__(self, key: KeyPath, line: int) -> None:  # a header: the key itself
        if key in self.prefixes:
            super().__setitem__(key, line)
            self.unsettled.discard(key)

    def setdefault(self, key: KeyPath, line: int) -> int:
        if key in self.prefixes and key not in self:
            super().__setitem__(key, line)
        return self.get(key, line)

    def settle(self, key: KeyPath) -> None:  # `key = value` written: its line is final
        self.unsettled.discard(key)


class _CountingLines:
    """1-based line numbers of offsets, counting LF only (as TOML does), counted as the scan
    moves forward: no list of every line start of a big text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1

    def at(self, offset: int) -> int:
        if offset < self.offset:
            self.offset, self.line = 0, 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def key_lines(
    text: str,
    wanted: Collection[Sequence[str | int]] | None = None,
    regions: Sequence[tuple[int, int]] | None = None,
) -> dict[KeyPath, int]:
    """Map every key path written in `text` to its 1-based line number.

    A table header gives the line to every prefix of its key not written earlier; an array of
    tables gives each of its tables an index (`("eval", "source", 1)`); the keys inside inline
    tables and the items of arrays get the line they start on.

    `wanted`: only the paths on the way to these keys are kept, and the scan stops once each of
    them is settled, so locating a few problems in a 50 MB file holds a handful of entries, not a
    map of every key in it. `regions`: (start, end) offsets, each starting at the top of the text
    or at a table header, the only parts read (`wanted_lines` picks them).
    """
    lines: dict[KeyPath, int] = _Wanted(wanted) if wanted is not None else {}
    wanting = lines if isinstance(lines, _Wanted) else None
    line_of = _CountingLines(text)
    table: KeyPath = ()
    array_lengths: dict[KeyPath, int] = {}
    spans = list(regions) if regions is not None else [(0, len(text))]
    for region_start, length in spans:
        position = region_start
        while True:
            position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
            if position >= length:
                break
            # Under arrays of tables a header may repeat (`[a.b]` in each `[[a]]`), the last
            # one giving the line: no early stop once one has been met.
            if wanting is not None and not wanting.unsettled and not array_lengths:
                return dict(lines)
            line = line_of.at(position)
            if text[position] == "[":
                is_array = text.startswith("[[", position)
                parsed = parse_key(text, position + (2 if is_array else 1))
                if parsed is not None:
                    base = tuple(parsed[0])
                    if is_array:
                        index = array_lengths.get(base, 0)
                        array_lengths[base] = index + 1
                        table = (*base, index)
                    else:
                        table = base
                    for depth in range(1, len(base) + 1):
                        lines.setdefault(base[:depth], line)
                    lines[table] = line
            else:
                parsed = parse_key(text, position)
                if parsed is not None:
                    parts, end = parsed
                    path = (*table, *parts)
                    for depth in range(len(table) + 1, len(path) + 1):
                        lines.setdefault(path[:depth], line)
                    if wanting is not None:
                        wanting.settle(path)
                    end = _BLANKS.match(text, end).end()  # type: ignore[union-attr]
                    if end < length and text[end] == "=":
                        start = _BLANKS.match(text, end + 1).end()  # type: ignore[union-attr]
                        position = _skip_value(text, start, path, lines, line_of)
            # Whatever is left of the line is blank or a comment.
            end = text.find("\n", position)
            if end < 0:
                break
            position = end + 1
    return dict(lines)


def find_line(
    text: str, key: Sequence[str | int], *, lines: dict[KeyPath, int] | None = None
) -> int | None:
    """The line of `key`, or of the closest enclosing key or table that is written in `text`.

    `lines` is `key_lines(text)`, for a caller that locates many keys in one text.
    """
    known = key_lines(text) if lines is None else lines
    path = tuple(key)
    while path:
        if path in known:
            return known[path]
        path = path[:-1]
    return None
