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

from collections.abc import Collection

from lossmask.toml_text import headers


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
