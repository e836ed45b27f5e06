"""The readable pieces of a source: one JSONL file, or one `datasets.Dataset` (a file, a split).

Each part numbers its rows from 0 and reads them two ways: `read(start, stop)` streams a range in
order, `read_at(rows)` fetches a few rows anywhere. Both yield `(RowRef, row dict | DataRowError)`.

JSON Lines are read here, line by line, not through `datasets`: one bad line is then one row
error with its line number instead of a file that fails to load, and rows may differ in shape
(Arrow's JSON reader fails a whole file when one row's `content` is a number). prime-rl likewise
rewrites JSONL files before `datasets` sees them. Every other format goes through `datasets`.

A `datasets.Dataset` is memory-mapped; iterating it through the map makes every page read count
in the process's resident memory, so a 1M-row audit would hold the whole file. `read` streams the
Arrow cache files with ordinary reads instead, one record batch at a time, and memory stays flat.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lossmask.data.errors import DataRowError, RowFieldError, RowRef
from lossmask.data.features import decode_row, json_columns

RawRow = tuple[RowRef, "dict[str, Any] | DataRowError"]

BATCH_ROWS = 1000


def parse_jsonl_line(ref: RowRef, raw: bytes) -> dict[str, Any] | DataRowError:
    """One JSON Lines row: its object, or why it is not one."""
    try:
        value = json.loads(raw.rstrip(b"\r\n"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f" (column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        return DataRowError(
            ref, f"invalid JSON: {reason}{where}", suggestion="each line must be one JSON object"
        )
    if not isinstance(value, dict):
        return DataRowError(
            ref,
            f"expected a JSON object, not {type(value).__name__}",
            suggestion='write {"messages": [...]} on each line',
        )
    return value


class JsonlPart:
    """A `.jsonl` file; rows are its non-blank lines."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self._offsets = array("q")
        self._lines = array("q")
        with open(path, "rb") as handle:
            offset = 0
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    self._offsets.append(offset)
                    self._lines.append(number)
                offset += len(line)

    @property
    def num_rows(self) -> int:
        return len(self._offsets)

    def columns(self) -> list[str] | None:
        """The keys of the first row that is a JSON object (None when there is none)."""
        for _, row in self.read_at(range(min(self.num_rows, 1))):
            return list(row) if isinstance(row, dict) else None
        return None

    def _parse(self, row: int, raw: bytes) -> RawRow:
        ref = RowRef(self.label, row, self._lines[row])
        return ref, parse_jsonl_line(ref, raw)

    def read(self, start: int, stop: int) -> Iterator[RawRow]:
        if start >= stop:
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._offsets[start])
            row = start
            for line in handle:
                if not line.strip():
                    continue
                yield self._parse(row, line)
                row += 1
                if row >= stop:
                    return

    def read_at(self, rows: Iterable[int]) -> Iterator[RawRow]:
        with open(self.path, "rb") as handle:
            for row in rows:
                handle.seek(self._offsets[row])
                yield self._parse(row, handle.readline())


class DatasetPart:
    """One `datasets.Dataset`: a parquet/JSON/Arrow file, a `save_to_disk` split, a hub split."""

    def __init__(self, dataset: Any, label: str) -> None:
        self.dataset = dataset
        self.label = label
        files = [entry["filename"] for entry in dataset.cache_files]
        # Stream the Arrow files only when they are exactly the dataset's rows, in order.
        self._stream_files = files if dataset._indices is None and files else []
        # Rows are read as Arrow stores them; these columns must be decoded as datasets would.
        self._json_columns = json_columns(getattr(dataset, "features", None))

    @property
    def num_rows(self) -> int:
        return len(self.dataset)

    def columns(self) -> list[str]:
        return list(self.dataset.column_names)

    def _batches(self) -> Iterator[Any]:
        import pyarrow as pa

        if self._stream_files:
            for filename in self._stream_files:
                with pa.OSFile(filename) as handle:
                    yield from pa.ipc.open_stream(handle)
        else:
            yield from self.dataset.with_format("arrow").iter(batch_size=BATCH_ROWS)

    def read(self, start: int, stop: int) -> Iterator[RawRow]:
        first = 0  # row number of the batch's first row
        for batch in self._batches():
            end = first + batch.num_rows
            if end > start and first < stop:
                lo, hi = max(start, first) - first, min(stop, end) - first
                for offset, row in enumerate(batch.slice(lo, hi - lo).to_pylist()):
                    yield self.decoded(RowRef(self.label, first + lo + offset), row)
            first = end
            if first >= stop:
                return

    def read_at(self, rows: Iterable[int]) -> Iterator[RawRow]:
        table = self.dataset.with_format("arrow")  # raw values: decoded below, a bad one per row
        for row in rows:
            yield self.decoded(RowRef(self.label, row), table[row].to_pylist()[0])

    def decoded(self, ref: RowRef, row: dict[str, Any]) -> RawRow:
        """A row as Arrow stores it -> as `datasets` decodes it (or the row error saying why)."""
        if not self._json_columns:
            return ref, row
        try:
            return ref, decode_row(row, self._json_columns)
        except RowFieldError as error:
            return ref, DataRowError(ref, error.message, key=error.key, suggestion=error.suggestion)


Part = JsonlPart | DatasetPart
