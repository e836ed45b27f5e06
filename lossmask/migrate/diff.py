"""The unified diff `migrate --diff` prints: a patch that `patch -p0` and `git apply` accept.

`difflib.unified_diff` leaves a last line without its newline as it is, so the next line of the
output is glued to it and the patch is corrupt. Such a line is followed here by the marker line
`\\ No newline at end of file`, as `diff -u` and git write it.
"""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"


def lines(text: str) -> list[str]:
    """`text` cut after each LF only. `str.splitlines` also cuts at U+2028, U+0085, form feeds and
    other characters that `patch` and TOML treat as part of a line: the hunks would not apply."""
    pieces = text.split("\n")
    out = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        out.append(pieces[-1])
    return out


def unified_diff(path: str, old: str, new: str) -> str:
    """The patch from `old` to `new`, both named `path` (the file is changed in place)."""
    out: list[str] = []
    for line in difflib.unified_diff(lines(old), lines(new), fromfile=path, tofile=path):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + NO_NEWLINE)
    return "".join(out)
