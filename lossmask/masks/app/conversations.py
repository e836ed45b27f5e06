"""Where `show` and `audit` read their rows: `lossmask.data`, the reader training uses.

Any source `lossmask.data` reads works here: a JSONL/JSON/parquet file or folder, a `save_to_disk`
folder or a hub dataset in the local cache, with `messages`, `prompt`/`completion` or ShareGPT rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossmask.errors import ConfigError
from lossmask.masks.engine.sample import Conversation


class DataError(ConfigError):
    """Data could not be read: a source, or (for `read_conversations`) a bad row."""


def open_data_source(spec: Any) -> Any:
    """`lossmask.data.open_source(spec)` (a `DataSpec` or a path), its failure as `DataError`."""
    from lossmask import data

    try:
        return data.open_source(spec)
    except data.DataError as error:
        raise DataError([part.to_problem() for part in error.errors]) from None


def read_rows(path: str | Path) -> list[Any]:
    """Every row of a data source as `lossmask.data` reads it: `DataRow`s and `DataRowError`s."""
    from lossmask.data import iter_conversations

    return list(iter_conversations(open_data_source(str(path))))


def read_conversations(path: str | Path) -> list[Conversation]:
    """Every conversation of a data source; bad rows raise `DataError`, each named by file and
    line (or row)."""
    from lossmask.data import DataRowError

    rows = read_rows(path)
    bad = [row for row in rows if isinstance(row, DataRowError)]
    if bad:
        raise DataError([row.to_problem() for row in bad])
    return [row.conversation for row in rows]


def as_rows(conversations: list[Conversation], source: str = "<conversations>") -> list[Any]:
    """In-memory conversations as the `DataRow`s `audit_conversations` reads (row numbers from 0,
    no line)."""
    from lossmask.data import DataRow, RowRef

    return [
        DataRow(index, RowRef(source, index), conversation)
        for index, conversation in enumerate(conversations)
    ]
