"""Reading conversations from a data file: the one entry point `show`, `audit` and training use.

Today this reads JSONL (one `{"messages": [...], "tools": [...]}` object per line). It sits behind
`iter_conversations` / `read_conversations` so that a richer reader (Hugging Face datasets, parquet,
ShareGPT columns) can replace it without touching the commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from lossmask.errors import ConfigError, Problem
from lossmask.masks.engine.sample import Conversation


class DataError(ConfigError):
    """A data row could not be read; its problem names the file and the line."""


def _bad_row(path: str | Path, line: int, message: str, suggestion: str) -> DataError:
    return DataError([Problem(message, file=str(path), line=line, suggestion=suggestion)])


def iter_conversations(path: str | Path) -> Iterator[tuple[int, Conversation]]:
    """(line number, conversation) for every non-blank line; a bad line raises `DataError`."""
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise _bad_row(
                    path,
                    line_number,
                    f"invalid JSON: {error.msg} (column {error.colno})",
                    "each line must be one JSON object",
                ) from None
            if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
                raise _bad_row(
                    path,
                    line_number,
                    'expected an object with a "messages" list',
                    'write {"messages": [{"role": ..., "content": ...}, ...]}',
                )
            yield line_number, row


def read_conversations(path: str | Path) -> list[Conversation]:
    """Every conversation of a data file; a bad line raises `DataError` naming file and line."""
    return [conversation for _, conversation in iter_conversations(path)]


def count_rows(path: str | Path) -> int:
    """Non-blank lines: the progress bar's length."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())
