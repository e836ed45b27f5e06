"""Many rows, many processes: `map_chunks` runs a function over contiguous chunks of a source.

    def count(items):                      # top level, so worker processes can import it
        return sum(isinstance(item, DataRow) for item in items)

    total = sum(map_chunks(source, count, jobs=4))

Each worker opens nothing itself: it gets the opened `DataSource` once (inherited with `fork`,
pickled with `spawn`; a `datasets.Dataset` pickles as its memory-mapped file names), then reads
the chunks it is sent by streaming them. `fn` sees the chunk's items (`DataRow | DataRowError`)
and returns whatever should come back, e.g. a partial report to merge; results come back in chunk
order, so the merge is deterministic whatever `jobs` is. `jobs=1` runs in this process.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from lossmask.data.progress import progress_bar
from lossmask.data.source import DataSource, Item, iter_range, iter_rows

R = TypeVar("R")

_worker_source: DataSource | None = None


def plan_chunks(
    total: int, jobs: int, rows: Sequence[int] | None = None, chunk_rows: int | None = None
) -> list[tuple[int, int] | list[int]]:
    """Contiguous ranges (or slices of `rows`) sized so each worker gets several."""
    count = total if rows is None else len(rows)
    size = chunk_rows or max(256, math.ceil(count / max(1, jobs * 8)))
    if rows is None:
        return [(start, min(start + size, total)) for start in range(0, total, size)]
    return [list(rows[start : start + size]) for start in range(0, count, size)]


def _read(source: DataSource, chunk: tuple[int, int] | list[int]) -> Iterator[Item]:
    if isinstance(chunk, tuple):
        return iter_range(source, chunk[0], chunk[1])
    return iter_rows(source, chunk)


def _init_worker(source: DataSource) -> None:
    global _worker_source
    _worker_source = source


def _run_chunk(
    task: tuple[Callable[[Iterable[Item]], R], tuple[int, int] | list[int]],
) -> tuple[R, int]:
    fn, chunk = task
    assert _worker_source is not None
    size = chunk[1] - chunk[0] if isinstance(chunk, tuple) else len(chunk)
    return fn(_read(_worker_source, chunk)), size


def map_chunks(
    source: DataSource,
    fn: Callable[[Iterable[Item]], R],
    *,
    jobs: int = 1,
    rows: Iterable[int] | None = None,
    chunk_rows: int | None = None,
    progress: bool = False,
    start_method: str | None = None,
) -> Iterator[R]:
    """`fn(items)` for each chunk of `source` (or of the chosen `rows`), results in chunk order.

    `jobs > 1` uses that many worker processes; `fn` must then be picklable (a top-level function
    or a `functools.partial` of one). `progress` shows rows done and rows/s on stderr.
    """
    if jobs < 1:
        raise ValueError(f"-j must be at least 1, not {jobs}")
    chosen = None if rows is None else sorted(set(rows))
    total = len(source) if chosen is None else len(chosen)
    with progress_bar(total, f"{source.label}", enabled=None if progress else False) as bar:
        if jobs == 1:
            chunks = [(0, len(source))] if chosen is None else [chosen]
            for chunk in chunks:
                yield fn(_counted(_read(source, chunk), bar))
            return
        plan = plan_chunks(len(source), jobs, chosen, chunk_rows)
        method = start_method or (
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        # Workers fork after a tokenizer may have run here; its thread pool must not be inherited.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        context = multiprocessing.get_context(method)
        with context.Pool(min(jobs, len(plan)), _init_worker, (source,)) as pool:
            for result, size in pool.imap(_run_chunk, [(fn, chunk) for chunk in plan]):
                bar.update(size)
                yield result


def _counted(items: Iterator[Item], bar: Any) -> Iterator[Item]:
    for item in items:
        bar.update(1)
        yield item
