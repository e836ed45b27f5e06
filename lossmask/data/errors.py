"""What can be wrong with SFT data: one bad row, or a whole source that cannot be read.

A bad row never stops the reading: it is yielded in the row's place as a `DataRowError` and the
rows after it go on. A source (a file, a split, a hub dataset) that cannot be read at all is a
`DataSourceError`; `open_source` collects one per unreadable part and goes on with the others.
Both print as one line in the `file:line: ...` shape editors jump to, like a config `Problem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lossmask.errors import ConfigError, Problem


class RowRef(NamedTuple):
    """Where a row came from: its source, its 0-based row number there, and (JSONL) its line."""

    # A tuple, not a dataclass: one is made per row read, and tuples are the cheapest to make.
    source: str
    row: int
    line: int | None = None

    def format(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: row {self.row}"


@dataclass(frozen=True)
class DataRowError:
    """One row that cannot become a conversation; `key` is the field inside the row, if known."""

    ref: RowRef
    message: str
    key: str = ""
    suggestion: str | None = None

    def format(self) -> str:
        """`data.jsonl:12: row 11: messages[1].content: must be a string, not 42 (hint)`."""
        text = self.ref.format() + ": " + (f"{self.key}: " if self.key else "") + self.message
        return f"{text} ({self.suggestion})" if self.suggestion else text

    def to_problem(self) -> Problem:
        message = f"row {self.ref.row}: " + (f"{self.key}: " if self.key else "") + self.message
        return Problem(
            message, file=self.ref.source, line=self.ref.line, suggestion=self.suggestion
        )


class DataSourceError(Exception):
    """A source that cannot be read at all: missing, corrupt, not cached, empty, wrong columns."""

    def __init__(
        self, source: str, message: str, *, suggestion: str | None = None, line: int | None = None
    ) -> None:
        self.source = source
        self.message = message
        self.suggestion = suggestion
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: {self.message}"
        return f"{text} ({self.suggestion})" if self.suggestion else text

    def to_problem(self) -> Problem:
        return Problem(self.message, file=self.source, line=self.line, suggestion=self.suggestion)


class RowFieldError(ValueError):
    """Raised inside row normalisation; the reader turns it into a `DataRowError` with the row."""

    def __init__(self, key: str, message: str, suggestion: str | None = None) -> None:
        self.key = key
        self.message = message
        self.suggestion = suggestion
        super().__init__(f"{key}: {message}" if key else message)


class DataError(ConfigError):
    """Data that could not be read: no part of a source (`DataSourceError`s), or, for
    `load_conversations`, rows that are not conversations (`DataRowError`s).

    `errors` holds them; as a `ConfigError`, its `problems` are their `file:line: message` lines,
    which every command prints and exits 2 on.
    """

    def __init__(self, errors: Sequence[DataSourceError | DataRowError]) -> None:
        self.errors = list(errors)
        super().__init__([error.to_problem() for error in self.errors])
