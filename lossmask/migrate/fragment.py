"""The part of a TOML text that an edit under some top-level keys can touch, found without parsing.

tomlkit parses about ten times slower than `tomllib`, and a migration edits only the data tables of
a file. So the engine hands tomlkit only the smallest run of whole top-level blocks (the lines from
one table header to the next) that holds every line written under those top-level keys, and keeps
the text around it as it is. The safety checks still run on the whole new text.

Why the blocks outside the run cannot matter: a table header's keys are relative to it, so only
headers whose first key is one of the names, and the root block (before the first header, where
dotted keys and inline tables can reach any top-level key), can write under those names. The run
starts and ends at the start of a header line, where no string, array or comment is open. Anything
this scanner is not sure about (a quoted header key) makes it answer None: parse the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from lossmask.migrate.safety import end_of_multiline, end_of_string

# Everything that can open or close a string, comment, array or header.
_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]]")


def headers(text: str) -> list[tuple[int, str]] | None:
    """(offset of the line, first key) of every table header, in order; None when unsure.

    `text` must be valid TOML (it has been parsed with `tomllib`): then a `[` that starts a line
    (after blanks) outside any string or array opens a header, and every other `[` opens an array.
    """
    found: list[tuple[int, str]] = []
    depth = 0  # open arrays, which may span lines
    position = 0
    search = _TOKEN.search
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


def span(text: str, names: Collection[str]) -> tuple[int, int] | None:
    """(start, end) of the smallest run of whole blocks holding every line under `names`.

    None when the scanner is unsure or finds nothing: the caller then uses the whole text.
    """
    found = headers(text)
    if found is None:
        return None
    bounds = [offset for offset, _ in found] + [len(text)]
    start = end = None
    root = text[: bounds[0]]
    # A substring test is conservative ("data" in a comment only widens the run); a backslash may
    # spell a name in a quoted key (`"d\u0061ta"`), so it widens the run too.
    if "\\" in root or any(name in root for name in names):
        start, end = 0, bounds[0]
    for index, (offset, key) in enumerate(found):
        if key in names:
            start = offset if start is None else start
            end = bounds[index + 1]
    if start is None or end is None:
        return None
    return start, end
