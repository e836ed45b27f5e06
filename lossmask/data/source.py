"""The reading API: open a source once, then iterate its conversations (all, or chosen rows).

    source = open_source("data.parquet")          # or a DataSpec, or data_spec(config.data)
    for item in iter_conversations(source):
        if isinstance(item, DataRowError):
            print(item.format())                   # data.parquet: row 11: completion: is empty ...
        else:
            use(item.conversation)                 # {"messages": [...], "tools": [...]}

Rows are numbered across the whole source from 0 (`DataRow.index`, what `--index` and sampling
use); a row's `ref` says where it came from (file or split, the row there, and the JSONL line).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lossmask.data.errors import DataError, DataRowError, DataSourceError, RowFieldError, RowRef
from lossmask.data.loading import CONVERSATIONS, TOKENIZED, resolve_parts
from lossmask.data.normalize import Conversation, normalize_row
from lossmask.data.parts import Part, RawRow
from lossmask.data.spec import DataSpec, data_spec

# Read a chosen set of rows by streaming the range they span once it is this dense.
_STREAM_DENSITY = 1 / 64


@dataclass(slots=True)
class DataRow:
    """One conversation, normalised, and where it came from (not frozen: one is made per row,
    and a frozen dataclass is slower to make)."""

    index: int
    ref: RowRef
    conversation: Conversation


@dataclass(slots=True)
class TokenizedRow:
    """One row a trainer prepared (`input_ids` and mask columns), as stored, and where it came
    from: what a `TOKENIZED` source yields."""

    index: int
    ref: RowRef
    columns: dict[str, Any]


Item = DataRow | TokenizedRow | DataRowError


@dataclass
class DataSource:
    """An opened source: its readable parts in order, and the parts that could not be read."""

    label: str
    parts: list[Part]
    problems: list[DataSourceError] = field(default_factory=list)
    shape: str = CONVERSATIONS  # or TOKENIZED: rows are then `TokenizedRow`s, not conversations

    def __post_init__(self) -> None:
        self._starts = []
        total = 0
        for part in self.parts:
            self._starts.append(total)
            total += part.num_rows
        self._total = total

    def __len__(self) -> int:
        return self._total

    def locate(self, index: int) -> tuple[int, int]:
        """(part number, row in that part) of a global row index."""
        if not 0 <= index < self._total:
            raise IndexError(index)
        low, high = 0, len(self._starts) - 1
        while low < high:  # the last part starting at or before index
            middle = (low + high + 1) // 2
            if self._starts[middle] <= index:
                low = middle
            else:
                high = middle - 1
        return low, index - self._starts[low]

    def part_start(self, part: int) -> int:
        return self._starts[part]


def open_source(
    spec: DataSpec | str, *, cache_dir: str | None = None, shape: str = CONVERSATIONS
) -> DataSource:
    """Open every part of `spec` (a `DataSpec` or a path / hub id).

    Unreadable parts are kept in `problems` and the rest are read; when none is readable this
    raises `DataError`. `cache_dir` is the `datasets` cache (default: `HF_DATASETS_CACHE`).
    `shape=TOKENIZED` opens rows a trainer prepared (`input_ids` and a mask column) instead of
    conversations.
    """
    if shape not in (CONVERSATIONS, TOKENIZED):
        raise ValueError(f"unknown shape {shape!r}")
    if isinstance(spec, str):
        spec = DataSpec(spec)
    resolved = resolve_parts(spec, cache_dir, shape)
    parts = [part for part in resolved if not isinstance(part, DataSourceError)]
    problems = [part for part in resolved if isinstance(part, DataSourceError)]
    if not parts:
        raise DataError(problems)
    return DataSource(spec.label, parts, problems, shape)


def open_data(
    data: Any = None,
    data_path: str | None = None,
    *,
    file: str | None = None,
    cache_dir: str | None = None,
) -> DataSource | None:
    """THE entry point for commands: `--data PATH` (wins) or a config's `[data]` table, opened.

    None when neither names a dataset (the embedded synthetic data). Raises `ConfigError` for bad
    `[data]` values and `DataError` when nothing can be read; `source.problems` holds the parts
    that could not be read while others could.
    """
    spec = data_spec(data, data_path, file=file)
    return None if spec is None else open_source(spec, cache_dir=cache_dir)


def row_item(
    index: int, ref: RowRef, raw: dict[str, Any] | DataRowError, shape: str = CONVERSATIONS
) -> Item:
    """A raw row (or its read error) as the item readers yield: normalised, or the row error."""
    if isinstance(raw, DataRowError):
        return raw
    if shape == TOKENIZED:
        return TokenizedRow(index, ref, raw)
    try:
        return DataRow(index, ref, normalize_row(raw))
    except RowFieldError as problem:
        return DataRowError(ref, problem.message, key=problem.key, suggestion=problem.suggestion)


def iter_range(source: DataSource, start: int = 0, stop: int | None = None) -> Iterator[Item]:
    """Rows `start` to `stop` (global indices) in order, streamed."""
    stop = len(source) if stop is None else min(stop, len(source))
    for number, part in enumerate(source.parts):
        first = source.part_start(number)
        lo, hi = max(start, first), min(stop, first + part.num_rows)
        if lo >= hi:
            continue
        for ref, raw in part.read(lo - first, hi - first):
            yield row_item(first + ref.row, ref, raw, source.shape)


def iter_rows(source: DataSource, rows: Iterable[int]) -> Iterator[Item]:
    """The given global rows, in ascending order (each once)."""
    by_part: dict[int, list[int]] = {}
    for index in sorted(set(rows)):
        number, row = source.locate(index)
        by_part.setdefault(number, []).append(row)
    for number, wanted in by_part.items():
        part = source.parts[number]
        first = source.part_start(number)
        span = wanted[-1] - wanted[0] + 1
        reads: Iterator[RawRow]
        if len(wanted) >= span * _STREAM_DENSITY:
            keep = set(wanted)
            reads = (
                (ref, raw) for ref, raw in part.read(wanted[0], wanted[-1] + 1) if ref.row in keep
            )
        else:
            reads = part.read_at(wanted)
        for ref, raw in reads:
            yield row_item(first + ref.row, ref, raw, source.shape)


def _iter_items(source: DataSource, rows: Iterable[int] | None, progress: bool) -> Iterator[Item]:
    from lossmask.data.progress import progress_bar

    chosen = None if rows is None else sorted(set(rows))
    total = len(source) if chosen is None else len(chosen)
    items = iter_range(source) if chosen is None else iter_rows(source, chosen)
    if not progress:
        yield from items
        return
    with progress_bar(total, f"reading {source.label}") as bar:
        for item in items:
            bar.update(1)
            yield item


def iter_conversations(
    source: DataSource, rows: Iterable[int] | None = None, *, progress: bool = False
) -> Iterator[DataRow | DataRowError]:
    """Every row (or the chosen `rows`) as a `DataRow` or, for a bad row, a `DataRowError`.

    `progress` shows a bar with rows/s on stderr when it is a terminal.
    """
    if source.shape != CONVERSATIONS:
        raise ValueError(f"{source.label} holds {source.shape} rows, not conversations")
    for item in _iter_items(source, rows, progress):
        assert not isinstance(item, TokenizedRow)
        yield item


def iter_tokenized(
    source: DataSource, rows: Iterable[int] | None = None, *, progress: bool = False
) -> Iterator[TokenizedRow | DataRowError]:
    """`iter_conversations` for a source opened with `shape=TOKENIZED`."""
    if source.shape != TOKENIZED:
        raise ValueError(f"{source.label} holds {source.shape}, not tokenized rows")
    for item in _iter_items(source, rows, progress):
        assert not isinstance(item, DataRow)
        yield item


def load_conversations(
    spec: DataSpec | str | os.PathLike[str], *, cache_dir: str | None = None
) -> list[Conversation]:
    """Every conversation of a source, all or nothing: `DataError` naming every bad row (or
    every unreadable part). For a small file a test or a script reads whole; commands stream
    with `iter_conversations` and go on past bad rows."""
    source = open_source(spec if isinstance(spec, DataSpec) else str(spec), cache_dir=cache_dir)
    if source.problems:
        raise DataError(source.problems)
    rows = list(iter_conversations(source))
    bad = [row for row in rows if isinstance(row, DataRowError)]
    if bad:
        raise DataError(bad)
    return [row.conversation for row in rows if isinstance(row, DataRow)]


def sample_rows(total: int, k: int, seed: int = 0) -> list[int]:
    """`k` distinct row indices out of `total`, ascending, the same for the same seed."""
    if k < 0:
        raise ValueError(f"a sample size must be at least 0, not {k}")
    return sorted(random.Random(seed).sample(range(total), min(k, total)))


def select_rows(
    source: DataSource,
    *,
    index: int | None = None,
    random_rows: int | None = None,
    seed: int = 0,
) -> list[int]:
    """Rows for `show --index N` / `--random K` / `audit --sample K --seed S`.

    Raises `ValueError` with a message for the command line when the choice does not fit.
    """
    total = len(source)
    if index is not None and random_rows is not None:
        raise ValueError("give --index or --random, not both")
    if index is not None:
        if not -total <= index < total:
            raise ValueError(f"--index {index} is out of range: {source.label} has {total} rows")
        return [index % total]
    if random_rows is not None:
        if random_rows < 1:
            raise ValueError(f"--random must be at least 1, not {random_rows}")
        return sample_rows(total, random_rows, seed)
    return list(range(total))
