"""Where `show` and `audit` read their rows: `lossmask.data`, the reader training uses.

Any source `lossmask.data` reads works here: a JSONL/JSON/parquet file or folder, a `save_to_disk`
folder or a hub dataset in the local cache, with `messages`, `prompt`/`completion` or ShareGPT rows.
An unreadable source raises `lossmask.data.DataError`, a `ConfigError` every command reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossmask.masks.engine.sample import Conversation


def open_data_source(spec: Any) -> Any:
    """`lossmask.data.open_source(spec)` (a `DataSpec` or a path)."""
    from lossmask import data

    return data.open_source(spec)


def read_rows(path: str | Path) -> list[Any]:
    """Every row of a data source as `lossmask.data` reads it: `DataRow`s and `DataRowError`s."""
    from lossmask.data import iter_conversations

    return list(iter_conversations(open_data_source(str(path))))


def as_rows(conversations: list[Conversation], source: str = "<conversations>") -> list[Any]:
    """In-memory conversations as the `DataRow`s `audit_conversations` reads (row numbers from 0,
    no line)."""
    from lossmask.data import DataRow, RowRef

    return [
        DataRow(index, RowRef(source, index), conversation)
        for index, conversation in enumerate(conversations)
    ]
