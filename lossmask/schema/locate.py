"""Give problems the line their key is written on, so errors can say `file:line`.

The scanning itself lives in `lossmask.toml_text` (the one place TOML text is read by hand); this is
the one way every command turns a problem's key path into a line.
"""

from __future__ import annotations

from collections.abc import Iterable

from lossmask.errors import Problem
from lossmask.toml_keys import wanted_lines
from lossmask.toml_text import KeyPath, find_line, key_lines

__all__ = ["KeyPath", "find_line", "key_lines", "located"]


def located(problems: Iterable[Problem], file: str | None, text: str | None) -> list[Problem]:
    """`problems` with `file` set and, where a problem has none, the line of its key in `text`.

    A key that is not written (a missing key, a default) gets the line of the closest enclosing
    table or key that is.
    """
    problems = list(problems)
    # Only the keys these problems need: a big file is not mapped key by key for two warnings.
    wanted = [p.key for p in problems if p.line is None and p.key]
    lines = wanted_lines(text, wanted) if text is not None and wanted else {}
    return [
        Problem(
            problem.message,
            problem.key,
            file=file,
            line=problem.line
            if problem.line is not None or text is None or not problem.key
            else find_line(text, problem.key, lines=lines),
            suggestion=problem.suggestion,
            severity=problem.severity,
        )
        for problem in problems
    ]
