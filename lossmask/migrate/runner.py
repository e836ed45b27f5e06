"""Run a migration over many files: one result per file, one bad file never stops the others.

Files are independent, so `--jobs N` hands them in contiguous batches to a process pool (fork
where the platform has it: no re-import per worker), as discovery finds them. Results come back
in discovery order, so the output is the same for any N.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from lossmask.config_files.launches import LaunchLine, launch_dependence, launch_lines
from lossmask.errors import ConfigError, Problem
from lossmask.migrate import files
from lossmask.migrate.diff import unified_diff
from lossmask.migrate.engine import migrate_config
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
    # Launches that cannot be resolved and may compose this file (it is held back), in words.
    held_by: list[str] = field(default_factory=list)


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
    outcome = migrate_config(config, text, file=job.path, source=options.source)
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
        files.atomic_write(job.target, result.new_text, result.before)
    except files.WriteRefused as exc:
        problem = exc.problem
        if problem.file != job.path:
            problem = Problem(problem.message, file=job.path, suggestion=problem.suggestion)
        return replace(result, status="error", problems=[problem], new_text=None)
    except OSError as exc:
        problem = Problem(f"cannot write: {exc.strerror or exc}; not rewritten", file=job.path)
        return replace(result, status="error", problems=[problem], new_text=None)
    return replace(result, status="migrated", new_text=None)


# The function, handed to each worker once when it starts (inherited, not pickled, where
# processes fork); the items then travel in batches.
_worker_function: Callable[[Any], FileResult] | None = None


def _adopt(function: Callable[[Any], FileResult]) -> None:
    global _worker_function
    _worker_function = function
    # A worker stops on SIGTERM and Ctrl-C as a process of its own would (removing a temporary
    # file it is writing, `files.atomic_write`), whatever handler its parent had when it forked.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _workers_stop_with_us(pool: ProcessPoolExecutor) -> Iterator[None]:
    """SIGTERM or Ctrl-C in this process stops the workers first, each removing the temporary
    file it may be writing, so nothing is written after the run was stopped and no temporary
    file is left; then this process stops as it was asked to (`files.terminate_cleanly`)."""
    try:
        yield
    except (KeyboardInterrupt, files.Terminated):
        workers = list(getattr(pool, "_processes", {}).values())
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.terminate()
        for worker in workers:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                worker.join(timeout=30)
        raise


def _process_batch(batch: Sequence[object]) -> list[FileResult]:
    assert _worker_function is not None
    return [_worker_function(item) for item in batch]


# At most this many files per batch: while one worker finishes the last batch the others idle,
# so a batch should be a small slice of the run (tens of milliseconds, not a sixteenth of it),
# while one round trip to a worker still carries many files.
BATCH_FILES = 64


def worker_count(jobs: int | None, file_count: int) -> int:
    if jobs is not None:
        return max(1, min(jobs, file_count or 1))
    if file_count < PARALLEL_THRESHOLD:
        return 1
    return max(1, min(os.cpu_count() or 1, file_count // PARALLEL_THRESHOLD))


def _enough_to_decide(jobs: int | None) -> int:
    """How many items settle `worker_count`: any count above this gives the same answer."""
    return jobs if jobs is not None else (os.cpu_count() or 1) * PARALLEL_THRESHOLD


T = TypeVar("T")


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items in order, the last one shorter (`itertools.batched` is 3.12+)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def map_files(
    function: Callable[[T], FileResult],
    items: Iterable[T],
    jobs: int | None,
    on_result: Callable[[FileResult], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[FileResult]:
    """`function` over `items`, in order, in `worker_count` processes (fork where the OS has it).

    `items` may be a generator that is still finding them (`files.Discovery`): the workers start
    on the first batches while it finds the rest. `meanwhile` runs in this process once every
    item has been handed out (before the first, in one process).
    """
    iterator = iter(items)
    head = list(itertools.islice(iterator, _enough_to_decide(jobs)))
    workers = worker_count(jobs, len(head))
    results: list[FileResult] = []
    if workers == 1:
        rest = list(iterator)
        if meanwhile is not None:
            meanwhile()
        for item in itertools.chain(head, rest):
            result = function(item)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results
    # Several batches per worker keep both busy to the end and let a progress bar move; a known
    # total is cut into at least eight batches per worker.
    known = len(items) if isinstance(items, Sized) else None
    size = BATCH_FILES if known is None else max(1, min(BATCH_FILES, -(-known // (workers * 8))))
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with (
        files.terminate_cleanly(),
        ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_adopt, initargs=(function,)
        ) as pool,
        _workers_stop_with_us(pool),
    ):
        pending = itertools.chain(head, iterator)
        batches = [pool.submit(_process_batch, batch) for batch in _batched(pending, size)]
        if meanwhile is not None:
            meanwhile()
        for batch in batches:
            batch_results = batch.result()
            results.extend(batch_results)
            if on_result is not None:
                for result in batch_results:
                    on_result(result)
    return results


def process_all(
    jobs: Iterable[files.FileJob],
    options: MigrateOptions,
    on_result: Callable[[FileResult], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[FileResult]:
    """Decide every discovered file on its own, in order (nothing is written yet)."""
    return map_files(partial(process, options=options), jobs, options.jobs, on_result, meanwhile)


def write_all(results: Sequence[FileResult], jobs: int | None) -> list[FileResult]:
    """Write every decided rewrite, in order."""
    return map_files(write, results, jobs)
