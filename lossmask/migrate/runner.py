"""Run a migration over many files: one result per file, one bad file never stops the others.

Files are independent, so `--jobs N` splits them into contiguous batches for a process pool (fork
where the platform has it: no re-import per worker). Results come back in discovery order, so the
output is the same for any N.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from lossmask.errors import ConfigError, Problem
from lossmask.migrate import files
from lossmask.migrate.diff import unified_diff
from lossmask.migrate.engine import migrate_config
from lossmask.migrate.launches import LaunchLine, launch_dependence, launch_lines
from lossmask.schema.validation import read_toml

if TYPE_CHECKING:
    from lossmask.migrate.options import MigrateOptions

Mode = Literal["write", "check", "diff"]
# "undecided": the file looks like an overlay and no stack says how it is launched.
Status = Literal["migrated", "would_migrate", "unchanged", "undecided", "error"]

# Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 64


@dataclass
class FileResult:
    path: str
    status: Status
    target: str | None = None  # the resolved file, when `path` is a symbolic link
    changes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    diff: str | None = None
    new_text: str | None = None  # the rewrite, until it is written
    before: os.stat_result | None = None  # the file as it was read, to detect a later edit
    launches: list[LaunchLine] = field(default_factory=list)  # launch lines in its comments
    depends_on_launch: str | None = None  # why it looks like an overlay, if it does
    warnings: list[Problem] = field(default_factory=list)


def process(job: files.FileJob, options: MigrateOptions) -> FileResult:
    """Read one file and decide its own migration; never writes (see `write`), never raises."""
    result = _process(job, options)
    if job.stale:
        result.warnings.extend(files.stale_temporary_notes(job, remove=options.mode == "write"))
    return result


def _process(job: files.FileJob, options: MigrateOptions) -> FileResult:
    target = job.target if job.is_link else None
    if job.problem is not None:
        return FileResult(job.path, "error", target, problems=[job.problem])
    try:
        # Taken before reading, to detect an edit that lands between read and write.
        before = os.stat(job.target) if options.mode == "write" else None
        config, text = read_toml(job.path)
    except ConfigError as exc:
        return FileResult(job.path, "error", target, problems=list(exc.problems))
    except OSError as exc:
        problem = Problem(f"cannot read: {exc.strerror or exc}", file=job.path)
        return FileResult(job.path, "error", target, problems=[problem])
    launches = launch_lines(text, job.path, comments_only=True)
    depends = launch_dependence(config, job.path)
    outcome = migrate_config(config, text, file=job.path, from_version=options.from_version)
    if outcome.problems:
        return FileResult(job.path, "error", target, problems=outcome.problems, launches=launches)
    if outcome.new_text is None:
        return FileResult(
            job.path, "unchanged", target, launches=launches, depends_on_launch=depends
        )
    changes = [f"{'.'.join(c.key)}: {c.description}" for c in outcome.changes]
    diff = unified_diff(job.path, text, outcome.new_text) if options.show_diff else None
    return FileResult(
        job.path,
        "would_migrate",
        target,
        changes,
        diff=diff,
        new_text=outcome.new_text,
        before=before,
        launches=launches,
        depends_on_launch=depends,
    )


def write(result: FileResult) -> FileResult:
    """Write a decided rewrite atomically; the result says whether it was written."""
    assert result.new_text is not None and result.before is not None
    job = files.FileJob(result.path, result.target or os.path.abspath(result.path))
    try:
        files.check_writable(job)
        files.atomic_write(job.target, result.new_text.encode("utf-8"), result.before)
    except files.WriteRefused as exc:
        problem = exc.problem
        if problem.file != job.path:
            problem = Problem(problem.message, file=job.path, suggestion=problem.suggestion)
        return replace(result, status="error", problems=[problem], new_text=None)
    except OSError as exc:
        problem = Problem(f"cannot write: {exc.strerror or exc}; not rewritten", file=job.path)
        return replace(result, status="error", problems=[problem], new_text=None)
    return replace(result, status="migrated", new_text=None)


# The work list, handed to each worker once when it starts (inherited, not pickled, where
# processes fork); batches then travel as index ranges instead of pickled items.
_worker_items: Sequence[object] = ()
_worker_function: Callable[[Any], FileResult] | None = None


def _adopt(items: Sequence[object], function: Callable[[Any], FileResult]) -> None:
    global _worker_items, _worker_function
    _worker_items, _worker_function = items, function


def _process_range(bounds: tuple[int, int]) -> list[FileResult]:
    start, end = bounds
    assert _worker_function is not None
    return [_worker_function(item) for item in _worker_items[start:end]]


# At most this many files per batch: while one worker finishes the last batch the others idle,
# so a batch should be a small slice of the run (tens of milliseconds, not a sixteenth of it),
# while one round trip to a worker still carries many files.
BATCH_FILES = 32


def _ranges(total: int, count: int) -> list[tuple[int, int]]:
    size = max(1, min(BATCH_FILES, -(-total // count)))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def worker_count(jobs: int | None, file_count: int) -> int:
    if jobs is not None:
        return max(1, min(jobs, file_count or 1))
    if file_count < PARALLEL_THRESHOLD:
        return 1
    return max(1, min(os.cpu_count() or 1, file_count // PARALLEL_THRESHOLD))


T = TypeVar("T")


def map_files(
    function: Callable[[T], FileResult],
    items: Sequence[T],
    workers: int,
    on_result: Callable[[FileResult], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[FileResult]:
    """`function` over `items`, in order, in `workers` processes (fork where the OS has it).

    `meanwhile` runs in this process while the workers start on the items (first, with one).
    """
    results: list[FileResult] = []
    if workers == 1:
        if meanwhile is not None:
            meanwhile()
        for item in items:
            result = function(item)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results
    # Several batches per worker keep both busy to the end and let a progress bar move.
    ranges = _ranges(len(items), workers * 8)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_adopt,
        initargs=(list(items), function),
    ) as pool:
        batches = pool.map(_process_range, ranges)  # submits every batch now
        if meanwhile is not None:
            meanwhile()
        for batch_results in batches:
            results.extend(batch_results)
            if on_result is not None:
                for result in batch_results:
                    on_result(result)
    return results


def process_all(
    jobs: Sequence[files.FileJob],
    options: MigrateOptions,
    on_result: Callable[[FileResult], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[FileResult]:
    """Decide every discovered file on its own, in order (nothing is written yet)."""
    workers = worker_count(options.jobs, len(jobs))
    return map_files(partial(process, options=options), jobs, workers, on_result, meanwhile)


def write_all(results: Sequence[FileResult], jobs: int | None) -> list[FileResult]:
    """Write every decided rewrite, in order."""
    return map_files(write, results, worker_count(jobs, len(results)))
